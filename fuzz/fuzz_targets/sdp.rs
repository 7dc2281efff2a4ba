//! STYLE.md rule 5: an SDP body (RFC 4566) from the network never panics the parser.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = callcert::sip::sdp::parse_sdp(data);
});
