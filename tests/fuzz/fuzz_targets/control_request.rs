//! A control-socket request, as any local user may send it: the request line read, its
//! operation and arguments checked. Refusal or error, never a panic; a request that reads
//! writes back as a line that reads the same.
#![no_main]

use evidock::control::wire::Request;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(request) = serde_json::from_slice::<Request>(data) else { return };
    if let Ok(typed) = request.call() {
        let op = typed.op();
        let _ = (op.name(), op.words(), op.roles(), op.is_quick(), op.takes_files(), op.hands_over_a_file());
        let again = Request::typed(&typed).expect("a typed request serializes");
        assert_eq!(again.call().expect("what was read reads again"), typed);
    }
});
