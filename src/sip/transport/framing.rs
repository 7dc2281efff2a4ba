//! Stream framing of SIP over TCP (RFC 3261 §18.3): a message ends after its Content-Length.
//!
//! Sans-IO, mini-redis style: bytes go in, whole messages come out, and "need more bytes" is not
//! an error. CRLF keep-alives between messages (RFC 5626 §3.5.1) are skipped.

use bytes::{Buf, Bytes, BytesMut};
use thiserror::Error;

/// Largest header section we accept before declaring the stream broken.
pub const MAX_HEADER_BYTES: usize = 64 * 1024;
/// Largest body we accept.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Why a stream cannot be framed any further.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum FramingError {
    /// No blank line within [`MAX_HEADER_BYTES`].
    #[error("header section exceeds {MAX_HEADER_BYTES} bytes")]
    HeaderTooLong,
    /// A stream message without Content-Length (mandatory on streams, RFC 3261 §18.3).
    #[error("message on a stream has no Content-Length")]
    MissingContentLength,
    /// Content-Length is not a number or is too large.
    #[error("invalid Content-Length {0:?}")]
    BadContentLength(String),
}

/// Accumulates stream bytes and yields complete SIP messages.
#[derive(Debug, Default)]
pub struct StreamFramer {
    buf: BytesMut,
}

impl StreamFramer {
    /// An empty framer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends bytes read from the stream.
    pub fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// The next complete message, `Ok(None)` when more bytes are needed.
    pub fn next_message(&mut self) -> Result<Option<Bytes>, FramingError> {
        while self.buf.starts_with(b"\r\n") {
            self.buf.advance(2);
        }
        let Some(end) = find(&self.buf, b"\r\n\r\n") else {
            if self.buf.len() > MAX_HEADER_BYTES {
                return Err(FramingError::HeaderTooLong);
            }
            return Ok(None);
        };
        let head = &self.buf[..end];
        let len = content_length(head)?;
        let total = end + 4 + len;
        if self.buf.len() < total {
            return Ok(None);
        }
        Ok(Some(self.buf.split_to(total).freeze()))
    }

    /// Bytes buffered but not yet framed.
    pub fn pending(&self) -> usize {
        self.buf.len()
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn content_length(head: &[u8]) -> Result<usize, FramingError> {
    for line in head.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let name = String::from_utf8_lossy(&line[..colon]);
        let name = name.trim();
        if name.eq_ignore_ascii_case("content-length") || name.eq_ignore_ascii_case("l") {
            let v = String::from_utf8_lossy(&line[colon + 1..])
                .trim()
                .to_string();
            return match v.parse::<usize>() {
                Ok(n) if n <= MAX_BODY_BYTES => Ok(n),
                _ => Err(FramingError::BadContentLength(v)),
            };
        }
    }
    Err(FramingError::MissingContentLength)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MSG: &[u8] = b"OPTIONS sip:a@b SIP/2.0\r\nCall-ID: x\r\nl: 5\r\n\r\nhello";

    #[test]
    fn frames_split_and_joined_messages() {
        let mut f = StreamFramer::new();
        let mut stream = b"\r\n\r\n".to_vec();
        stream.extend_from_slice(MSG);
        stream.extend_from_slice(MSG);
        for chunk in stream.chunks(7) {
            f.push(chunk);
        }
        assert_eq!(f.next_message().unwrap().unwrap().as_ref(), MSG);
        assert_eq!(f.next_message().unwrap().unwrap().as_ref(), MSG);
        assert_eq!(f.next_message().unwrap(), None);
        assert_eq!(f.pending(), 0);
    }

    #[test]
    fn waits_for_the_body() {
        let mut f = StreamFramer::new();
        f.push(&MSG[..MSG.len() - 2]);
        assert_eq!(f.next_message().unwrap(), None);
        f.push(&MSG[MSG.len() - 2..]);
        assert!(f.next_message().unwrap().is_some());
    }

    #[test]
    fn broken_streams_are_errors() {
        let mut f = StreamFramer::new();
        f.push(b"BYE sip:a SIP/2.0\r\nCall-ID: y\r\n\r\n");
        assert_eq!(f.next_message(), Err(FramingError::MissingContentLength));
        let mut f = StreamFramer::new();
        f.push(b"BYE sip:a SIP/2.0\r\nContent-Length: -1\r\n\r\n");
        assert!(matches!(
            f.next_message(),
            Err(FramingError::BadContentLength(_))
        ));
        let mut f = StreamFramer::new();
        f.push(&vec![b'a'; MAX_HEADER_BYTES + 1]);
        assert_eq!(f.next_message(), Err(FramingError::HeaderTooLong));
    }
}
