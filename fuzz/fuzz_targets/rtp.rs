//! STYLE.md rule 5: an RTP datagram (RFC 3550 §5.1) from the network never panics the parser.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = callcert::media::rtp::parse_rtp(data);
});
