//! STYLE.md rule 5: a compound RTCP datagram (RFC 3550 §6) from the network never panics the
//! parser.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = callcert::media::rtcp::parse_compound(data);
});
