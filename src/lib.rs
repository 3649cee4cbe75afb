//! evidock: an evidence-custody ingest daemon for body-recorder docking stations.
//!
//! # Layout
//! - [`recorder`]: the recorder contract, chain verification, adapters, simulator (pure core
//!   plus the simulator's writer).
//! - [`access`]: access requests, approvals and confidentiality marks (pure).
//! - [`archive`]: archive layout (pure) and the durable file primitives (`fsio`).
//! - [`ingest`]: the volume scanner, the pure planner and the one executor that writes to
//!   the archive and wipes recorders.
//! - [`catalog`]: the SQLite catalogue (devices, dockings, sessions, segments, files).
//! - [`custody`]: the custody log's canonical encoding and hash chain (pure) and its queries.
//! - [`dock`]: the edges that notice dockings: the dock-root watch and USB hotplug.
//! - [`daemon`]: the long-running service: event loop, bays, status, systemd.
//! - [`ledger`]: what the verified custody log says of archived files and retention, held
//!   against the catalogue (pure, and its one edge that reads the log).
//! - [`retention`]: retention classes, deadlines, long-term flags, holds, the purge queue,
//!   and the working-day calendar (pure).
//! - [`burn`]: burn-to-disc jobs: the disc plan (pure), BagIt staging, the xorriso image,
//!   write and read-back verify (R8).
//! - [`scrub`]: the archive scrub: every archived file re-read and compared with the custody
//!   log's hash, paced and resumable (the plan and pace pure, the run an edge).
//! - [`report`]: compliance reports and spot-check samples for supervisors (pure).
//! - [`central`]: the central copy in an S3 bucket with Object Lock: replication, proofs,
//!   locks that follow deadlines and holds, the store as witness, the auditor's check.
//! - [`duty`]: duty check-out and check-in: the health check before a recorder is handed
//!   out, the bindings of recorders to officers for a shift, the duty report (pure).
//! - [`config`]: the configuration file, resolved into typed values.
//! - [`control`]: the control socket between the command line and the daemon, and the roles
//!   that decide who may do what.
//! - [`api`]: the station's typed operations, their rule table and typed errors: the one way
//!   front ends (the command line, the control socket, the web page) act on the station.
//! - [`cli`]: the command-line interface.
//! - [`accounts`]: station accounts for the web page: argon2id hashes, lockout, sessions and
//!   the CSRF check (pure but for the hash's randomness).
//! - [`web`]: the station's web page, served by the daemon: routes and server-rendered pages;
//!   it renders and routes only.

/// Test-build failpoints: with the `failpoints` feature, `EVIDOCK_FAILPOINTS=name[,name]`
/// aborts the process at the named step, as a power cut or `kill -9` would; `name:panic`
/// panics there instead, once per process, as a bug in that step would. Without the feature
/// it compiles to nothing. Steps: `copy.mid`, `copy.before-fsync`, `copy.after-rename`,
/// `ingest.before-wipe`, `wipe.mid`, `assign.after-rename`, `burn.stage-mid`, `export.mid`,
/// `central.mid-upload`, `central.before-confirm`.
#[macro_export]
macro_rules! failpoint {
    ($name:literal) => {
        #[cfg(feature = "failpoints")]
        {
            static PANICKED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
            let armed = std::env::var("EVIDOCK_FAILPOINTS").unwrap_or_default();
            for point in armed.split(',') {
                if point == $name {
                    eprintln!("evidock: failpoint {} reached: aborting", $name);
                    std::process::abort();
                }
                if point.strip_suffix(":panic") == Some($name)
                    && !PANICKED.swap(true, std::sync::atomic::Ordering::Relaxed)
                {
                    panic!("failpoint {} reached", $name);
                }
            }
        }
    };
}

pub mod access;
pub mod accounts;
pub mod api;
pub mod archive;
pub mod burn;
pub mod catalog;
pub mod central;
pub mod cli;
pub mod config;
pub mod control;
pub mod custody;
pub mod daemon;
pub mod dock;
pub mod duty;
pub mod ingest;
pub mod job;
pub mod ledger;
pub mod recorder;
pub mod report;
pub mod retention;
pub mod scrub;
pub mod web;

#[cfg(test)]
mod purity {
    //! INV-7: the pure core does no I/O and reads no clock.

    const PURE: &[&str] = &[
        "src/recorder/format.rs",
        "src/recorder/verify.rs",
        "src/recorder/memory.rs",
        "src/recorder/seal.rs",
        "src/recorder/adapter/names.rs",
        "src/recorder/adapter/model.rs",
        "src/archive/layout.rs",
        "src/ingest/plan.rs",
        "src/custody/event.rs",
        "src/custody/chain.rs",
        "src/custody/merkle.rs",
        "src/custody/checkpoint.rs",
        "src/access/mod.rs",
        "src/access/tier.rs",
        "src/access/form.rs",
        "src/custody/extract.rs",
        "src/retention/calendar.rs",
        "src/retention/months.rs",
        "src/retention/policy.rs",
        "src/retention/purge.rs",
        "src/retention/mod.rs",
        "src/report/mod.rs",
        "src/report/render.rs",
        "src/report/sample.rs",
        "src/report/history.rs",
        "src/burn/plan.rs",
        "src/ledger/mod.rs",
        "src/scrub/mod.rs",
        "src/central/sigv4.rs",
        "src/central/xml.rs",
        "src/central/keys.rs",
        "src/central/evict.rs",
    ];
    const FORBIDDEN: &[&str] = &[
        "tokio",
        "rusb",
        "notify",
        "rusqlite",
        "std::fs",
        "std::net",
        "Utc::now",
        "Local::now",
        "SystemTime",
        "Instant",
    ];

    #[test]
    fn the_pure_core_imports_no_io_and_reads_no_clock() {
        for file in PURE {
            let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(file);
            let text = std::fs::read_to_string(&path).unwrap();
            // Only the code before the unit tests counts: tests may use temporary files.
            let code = text.split("#[cfg(test)]").next().unwrap_or_default();
            for (n, line) in code.lines().enumerate() {
                let line = line.trim_start();
                if line.starts_with("//") {
                    continue;
                }
                for word in FORBIDDEN {
                    assert!(!line.contains(word), "{file}:{}: pure code mentions {word}: {line}", n + 1);
                }
            }
        }
    }
}
