//! STYLE.md rule 5: RFC 4733 telephone-event payloads (§2.3) and SIP INFO DTMF bodies from the
//! network never panic the parsers or the receiver fed with them.
#![no_main]

use callcert::media::dtmf::{parse_info, Rfc4733Receiver, TelephoneEvent};
use libfuzzer_sys::fuzz_target;
use std::time::{Duration, Instant};

/// Content types tried on every input, including casing and parameters peers send.
const CONTENT_TYPES: [&str; 4] = [
    "application/dtmf-relay",
    "application/dtmf",
    "Application/DTMF-Relay; charset=UTF-8",
    "text/plain",
];

fuzz_target!(|data: &[u8]| {
    let _ = TelephoneEvent::parse(data);
    for content_type in CONTENT_TYPES {
        let _ = parse_info(content_type, data);
    }

    // The input as a packet stream: per packet 2 octets of timestamp (in 160-sample steps, so
    // events repeat and continue), 1 octet of marker bit and arrival delay, then up to 4
    // octets of payload (shorter at the end of the input).
    // The fuzzer is a driver: it may read the clock once for its fake base instant.
    #[allow(clippy::disallowed_methods)]
    let mut now = Instant::now();
    let mut rx = Rfc4733Receiver::new();
    for chunk in data.chunks(7) {
        let [hi, lo, flags, payload @ ..] = chunk else {
            break;
        };
        let timestamp = u32::from(u16::from_be_bytes([*hi, *lo])).wrapping_mul(160);
        now += Duration::from_millis(u64::from(flags & 0x7F));
        let _ = rx.on_packet(timestamp, flags & 0x80 != 0, payload, now);
        if let Some(deadline) = rx.poll_timeout() {
            if deadline <= now + Duration::from_millis(60) {
                rx.handle_timeout(deadline);
            }
        }
        while rx.poll().is_some() {}
    }
    let _ = rx.stats();
});
