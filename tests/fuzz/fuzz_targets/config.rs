//! The configuration file: a configuration or an error naming the file, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let path = std::path::Path::new("/etc/evidock/evidock.toml");
        if let Err(e) = evidock::config::Config::parse(text, path) {
            assert!(e.to_string().contains("/etc/evidock/evidock.toml"));
        }
    }
});
