//! A custody extract as it arrives with an export or a disc, checked against a fixed
//! checkpoint: a report, never a panic; nothing forged passes.
#![no_main]

use evidock::custody::checkpoint::Checkpoint;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let cp = Checkpoint { origin: "fuzz".into(), size: 20, root: [7; 32], extensions: vec![] };
    let report = evidock::custody::extract::verify(text, &cp);
    // No leaf hashes to a root of all 7s: nothing may be proven.
    assert_eq!(report.proven + report.withheld, 0);
});
