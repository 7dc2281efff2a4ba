//! Media: RTP/RTCP sessions, receive statistics, audio sources, voice onset.
