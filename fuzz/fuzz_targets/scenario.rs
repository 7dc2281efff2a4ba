//! STYLE.md rule 5: a scenario file, however broken, gives an error with a position, never a
//! panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let path = std::path::Path::new("fuzz.yaml");
        let _ = callcert::scenario::parse_scenario_with_env(text, path, &|_| None);
        let _ = callcert::sut::config::parse_sut_config(text, path);
    }
});
