//! `evidock daemon`: the service. SIGTERM and SIGINT stop it at a safe point.

use std::process::ExitCode;

use anyhow::Context;
use tokio_util::sync::CancellationToken;

use crate::config::Config;

pub fn run(config: Config) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("evidock")
        .build()
        .context("starting the runtime")?;
    runtime.block_on(async move {
        let shutdown = CancellationToken::new();
        let signals = shutdown.clone();
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .context("installing the SIGTERM handler")?;
        let watcher = tokio::spawn(async move {
            tokio::select! {
                _ = term.recv() => tracing::info!("SIGTERM"),
                _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT"),
                () = signals.cancelled() => {}
            }
            signals.cancel();
        });
        let result = crate::daemon::run(config, shutdown.clone()).await;
        shutdown.cancel();
        let _ = watcher.await;
        result?;
        Ok(ExitCode::SUCCESS)
    })
}
