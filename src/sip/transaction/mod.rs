//! SIP transactions (RFC 3261 §17).
