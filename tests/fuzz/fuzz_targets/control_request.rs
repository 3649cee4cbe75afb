//! A control-socket request, as any local user may send it: the request line, then its
//! arguments parsed as a command line and routed. Refusal or error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(request) = serde_json::from_slice::<evidock::control::wire::Request>(data) else { return };
    let argv = std::iter::once("evidock".to_string()).chain(request.argv);
    if let Ok(cli) = <evidock::cli::Cli as clap::Parser>::try_parse_from(argv) {
        let _ = evidock::cli::invoke::rule(&cli.command);
        let _ = evidock::cli::invoke::command_name(&cli.command);
    }
});
