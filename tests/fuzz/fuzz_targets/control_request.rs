//! A control-socket request, as any local user may send it: the request line read, its
//! operation and arguments checked (a typed request or the transitional command-line words,
//! parsed as a command line and routed). Refusal or error, never a panic.
#![no_main]

use evidock::control::wire::{Call, Request};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(request) = serde_json::from_slice::<Request>(data) else { return };
    match request.call() {
        Ok(Call::Typed(typed)) => {
            let op = typed.op();
            let _ = (op.name(), op.words(), op.roles(), op.is_quick());
            // What was read writes back as a request line that reads the same.
            let again = Request::typed(&typed).expect("a typed request serializes");
            match again.call() {
                Ok(Call::Typed(back)) => assert_eq!(back, typed),
                other => panic!("a typed request read back as {other:?}"),
            }
        }
        Ok(Call::Argv(words)) => {
            let argv = std::iter::once("evidock".to_string()).chain(words);
            if let Ok(cli) = <evidock::cli::Cli as clap::Parser>::try_parse_from(argv) {
                let _ = evidock::cli::invoke::rule(&cli.command);
                let _ = evidock::cli::invoke::command_name(&cli.command);
            }
        }
        Err(_) => {}
    }
});
