//! A recorder's identity file (GBK text from the device): a value or a clear error, never a
//! panic; a parsed identity's serial is always a safe path component.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(id) = evidock::recorder::format::Identity::parse(data) {
        assert!(!id.serial.is_empty() && !id.serial.contains('/') && id.serial != ".." && id.serial != ".");
    }
});
