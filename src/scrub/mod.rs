//! The archive scrub (R11): every archived file re-read and compared with the hash the custody
//! log recorded when it was copied, the way digital preservation systems audit fixity. A pass
//! goes over every name the log gives an archived file, in the order the files were copied;
//! its place is kept in the catalogue after every batch, so a run that is stopped (its time
//! budget, `SIGTERM`) or killed resumes where it was. Reads are paced to a configured rate so
//! that ingest keeps its speed. Each file that differs or is missing, and each catalogue row
//! that contradicts the log, raises an alarm with its custody event; each run ends with
//! `archive_scrubbed`: what was checked, when, bytes, duration, findings.
//!
//! Owns: what a pass checks and in which order ([`targets`]), the pacing ([`Pace`]), the
//! words of a run's summary ([`summary`]) (this file, pure); the run itself ([`run::run`]),
//! which reads archive files and records through the catalogue.
//! Must never: write to the archive, trust the catalogue's hash over the log's, or hold a
//! write transaction while reading a file.

use std::time::Duration;

use crate::ledger::Ledger;

pub mod run;

/// One name to check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The custody log seq of the file's copy: the pass's order and its place.
    pub seq: u64,
    /// The catalogue's file id, as the log gave it.
    pub file_id: i64,
    /// The name in the archive.
    pub path: String,
    /// BLAKE3 the log recorded, hex.
    pub blake3: String,
    /// Size the log recorded.
    pub size: u64,
}

/// Every name of every file the log says is in the archive, in the order the files were
/// copied, each file's names in order; only files copied after `cursor` (a resumed pass).
pub fn targets(ledger: &Ledger, cursor: u64) -> Vec<Target> {
    let mut out = Vec::new();
    for f in ledger.archived().filter(|f| f.seqs.first().is_some_and(|s| *s > cursor)) {
        let seq = f.seqs[0];
        for p in &f.paths {
            out.push(Target { seq, file_id: f.id, path: p.clone(), blake3: f.blake3.clone(), size: f.size });
        }
    }
    out.sort_by(|a, b| a.seq.cmp(&b.seq).then_with(|| a.path.cmp(&b.path)));
    out
}

/// Files and bytes a whole pass covers.
pub fn totals(ledger: &Ledger) -> (u64, u64) {
    ledger.archived().fold((0, 0), |(n, b), f| (n + 1, b + f.size))
}

/// The pace of the reads: at most `rate` bytes per second on average since the run began.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pace {
    /// Bytes per second; 0 reads as fast as the disk gives.
    pub rate: u64,
}

impl Pace {
    /// How long to wait, having read `bytes` in `elapsed`, before reading on.
    pub fn delay(&self, bytes: u64, elapsed: Duration) -> Duration {
        if self.rate == 0 {
            return Duration::ZERO;
        }
        let due_ns = u128::from(bytes) * 1_000_000_000 / u128::from(self.rate);
        let due = Duration::from_nanos(u64::try_from(due_ns).unwrap_or(u64::MAX));
        due.saturating_sub(elapsed)
    }
}

/// What one run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunStats {
    /// Names checked (a name read again as another name of the same file counts once).
    pub files: u64,
    /// Bytes read.
    pub bytes: u64,
    /// Names whose bytes differ from the log.
    pub differ: u64,
    /// Names missing.
    pub missing: u64,
    /// Catalogue rows that contradict the log.
    pub catalogue: u64,
    /// Wall time of the run, milliseconds.
    pub elapsed_ms: u64,
    /// Alarms cleared: names that were wrong and now match.
    pub cleared: u64,
}

impl RunStats {
    /// Findings in this run.
    pub fn problems(&self) -> u64 {
        self.differ + self.missing + self.catalogue
    }
}

/// Bytes in binary units.
pub fn bytes_text(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// Average bytes per second.
pub fn rate(bytes: u64, ms: u64) -> u64 {
    if ms == 0 {
        return 0;
    }
    u64::try_from(u128::from(bytes) * 1000 / u128::from(ms)).unwrap_or(u64::MAX)
}

/// A run's summary for people, in English and Chinese: the pass, how far it is, what this run
/// read, how fast, and what it found.
pub fn summary(pass: i64, complete: bool, done: (u64, u64), run: &RunStats, limit: u64) -> String {
    let (files_done, files_total) = done;
    let state = if complete {
        format!("pass #{pass} complete: all {files_total} archived files checked / 第 {pass} 轮巡检完成")
    } else {
        format!(
            "pass #{pass} paused at {files_done} of {files_total} files; the next run resumes there / 第 {pass} 轮巡检暂停于 {files_done}/{files_total}，下次从此处继续"
        )
    };
    format!(
        "archive scrub 归档巡检: {state}\n\
         this run 本次: {} names re-read, {} in {:.1} s at {}/s (limit {}/s); differ 不符 {}, missing 缺失 {}, catalogue contradicts the log 目录不符 {}{}\n",
        run.files,
        bytes_text(run.bytes),
        run.elapsed_ms as f64 / 1000.0,
        bytes_text(rate(run.bytes, run.elapsed_ms)),
        bytes_text(limit),
        run.differ,
        run.missing,
        run.catalogue,
        if run.cleared > 0 { format!("; alarms cleared 已解除警报 {}", run.cleared) } else { String::new() },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pace_keeps_the_average_rate() {
        let p = Pace { rate: 1 << 20 };
        assert_eq!(p.delay(1 << 20, Duration::ZERO), Duration::from_secs(1));
        assert_eq!(p.delay(1 << 20, Duration::from_millis(400)), Duration::from_millis(600));
        assert_eq!(p.delay(1 << 20, Duration::from_secs(2)), Duration::ZERO, "behind: no wait");
        assert_eq!(Pace { rate: 0 }.delay(u64::MAX, Duration::ZERO), Duration::ZERO);
        assert_eq!(Pace { rate: 1 }.delay(u64::MAX, Duration::ZERO), Duration::from_nanos(u64::MAX), "no overflow");
        assert_eq!(rate(3 << 20, 1500), 2 << 20);
        assert_eq!(rate(10, 0), 0);
    }

    #[test]
    fn a_summary_says_what_was_read_and_found() {
        let run =
            RunStats { files: 12, bytes: 3 << 20, differ: 1, missing: 1, catalogue: 0, elapsed_ms: 1500, cleared: 2 };
        let t = summary(3, false, (12, 40), &run, 64 << 20);
        assert!(t.contains("pass #3 paused at 12 of 40") && t.contains("下次从此处继续"), "{t}");
        assert!(t.contains("3.0 MiB in 1.5 s at 2.0 MiB/s (limit 64.0 MiB/s)"), "{t}");
        assert!(t.contains("differ 不符 1, missing 缺失 1") && t.contains("alarms cleared 已解除警报 2"), "{t}");
        assert!(summary(3, true, (40, 40), &RunStats::default(), 1).contains("complete"));
        assert_eq!(run.problems(), 2);
    }

    #[test]
    fn scrub_plan_is_pure() {
        crate::custody::chain::tests::assert_pure(include_str!("mod.rs"));
    }
}
