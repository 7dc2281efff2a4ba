//! STYLE.md rule 5: WWW-Authenticate challenges and Authorization values from the network never
//! panic the digest code (RFC 7616).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = callcert::sip::auth::Challenge::parse(text);
        let _ = callcert::sip::auth::Authorization::parse(text);
        let _ = callcert::sip::auth::verify(text, "INVITE", "nonce", "realm", |_| {
            Some("secret".to_string())
        });
    }
});
