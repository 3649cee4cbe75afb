//! A recorder's chain file: every line is a record or a reported bad line, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let chain = evidock::recorder::format::ChainFile::parse(data);
    let lines = data.split(|b| *b == b'\n').filter(|l| !l.is_empty()).count();
    assert!(chain.records.len() + chain.bad_lines.len() <= lines.max(1));
});
