//! Compliance reports and spot checks for supervisors (R3, R6, R11; also R1, R2, R4, R5, R7).
//!
//! Owns: the compliance report built from plain facts about recordings, recorders and case
//! on-site windows for a period ([`build`] → [`Report`], one [`Finding`] per breach naming the
//! recording, recorder or case and the requirement); its renderers (text table, JSON, CSV, HTML
//! in [`render`]); and the reproducible spot-check sample ([`spot_check`]).
//!
//! Must never: read the catalogue, the archive or the clock. The caller gathers the facts and
//! passes `now`; everything here is a function of its arguments (INV-7).

pub mod history;
pub mod render;
mod sample;

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, Utc};
use chrono_tz::Tz;

use crate::retention::{ingest_deadline, local_to_utc, Calendar, Flag, IngestRule, Pick};

pub use sample::{spot_check, SplitMix64, SpotCheck, SAMPLE_METHOD};

/// A report that could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReportError {
    /// The period ends before it starts.
    #[error("report period: --to {to} is before --from {from}")]
    Period {
        /// First day.
        from: String,
        /// Last day.
        to: String,
    },
}

/// The period a report covers, station-local, `from` included and `to` excluded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    /// Start (included).
    pub from: NaiveDateTime,
    /// End (excluded).
    pub to: NaiveDateTime,
}

impl Period {
    /// Whole days from `first` through `last`.
    ///
    /// # Errors
    /// [`ReportError::Period`] when `last` is before `first`.
    pub fn days(first: NaiveDate, last: NaiveDate) -> Result<Period, ReportError> {
        if last < first {
            return Err(ReportError::Period { from: first.to_string(), to: last.to_string() });
        }
        let end = last.succ_opt().unwrap_or(last);
        Ok(Period { from: first.and_time(NaiveTime::MIN), to: end.and_time(NaiveTime::MIN) })
    }

    /// Whether a local time falls inside.
    pub fn contains(&self, t: NaiveDateTime) -> bool {
        self.from <= t && t < self.to
    }

    /// Whether `[from, to]` overlaps the period.
    pub fn overlaps(&self, from: NaiveDateTime, to: NaiveDateTime) -> bool {
        from < self.to && to >= self.from
    }
}

/// One segment's chain verdict (the stable names of `recorder::verify::Verdict`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainVerdict {
    /// Segment file name or sequence number.
    pub segment: String,
    /// Verdict name: `verified`, `altered`, `missing`, `inserted`, `reordered`, `truncated`,
    /// `unchained`. Anything but `verified` is a finding.
    pub verdict: String,
}

/// One archived file as last checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileFacts {
    /// Path in the archive.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// Whether the last fixity check could read it.
    pub readable: bool,
}

/// What the report needs to know about one recording.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordingFacts {
    /// Recording (session) id.
    pub id: String,
    /// Recorder serial.
    pub device: String,
    /// Officer the recorder was assigned to at the time, if known.
    pub officer: Option<String>,
    /// Officer name the recorder carried when it was docked, if it gives one (R1).
    pub officer_name: Option<String>,
    /// Corrected start, station-local.
    pub start: NaiveDateTime,
    /// Corrected end, station-local.
    pub end: NaiveDateTime,
    /// When the officer returned to the unit after remote, continuous or outlying work, if
    /// recorded (R3: the deadline then also runs from the return, under its own rule).
    pub returned: Option<NaiveDateTime>,
    /// The handover deadline as an approved extension moved it (S2 §22: 批准延期移交), if any:
    /// late ingest is judged against the later of it and the rules' deadline.
    pub extended_until: Option<DateTime<Utc>>,
    /// When the footage was durably archived.
    pub ingested_at: DateTime<Utc>,
    /// Gaps with neither the recorder's reason nor a written explanation (R6).
    pub unexplained_gaps: u32,
    /// Recorder clock minus true time at the docking that ingested it, in seconds, if measured.
    pub drift_s: Option<i64>,
    /// Chain verdicts of its segments.
    pub chain: Vec<ChainVerdict>,
    /// Case numbers it is filed under.
    pub cases: Vec<String>,
    /// Long-term flags.
    pub flags: Vec<Flag>,
    /// Its archived files.
    pub files: Vec<FileFacts>,
}

/// What the report needs to know about one recorder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceFacts {
    /// Serial.
    pub serial: String,
    /// Whether it is in the registry (R1).
    pub registered: bool,
    /// Officer currently assigned, if any.
    pub officer: Option<String>,
    /// The registration's history from the custody log (`device_registered`,
    /// `device_retired`), oldest first. Empty: judged by `registered` alone.
    pub history: Vec<RegisteredSpan>,
}

/// One stretch of a recorder's registration to one officer, station-local (R1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisteredSpan {
    /// From when.
    pub from: NaiveDateTime,
    /// Until when (retired or reassigned); `None`: still in force.
    pub to: Option<NaiveDateTime>,
    /// Officer number it was registered to.
    pub officer: String,
    /// The officer's name in that registration, when one was given.
    pub name: Option<String>,
}

/// The registration in force when a recording started (R1, S1 §12, §14): the last stretch
/// begun by then, or the first one for footage older than the registry (its first
/// registration is taken to cover what came before). `None`: it was not registered then
/// (retired, or never registered).
pub fn registration_at(history: &[RegisteredSpan], at: NaiveDateTime) -> Option<&RegisteredSpan> {
    let span = history.iter().rev().find(|s| s.from <= at).or_else(|| history.first())?;
    match span.to {
        Some(to) if at >= to && span.from <= at => None,
        _ => Some(span),
    }
}

/// The parts of `from..=to` that no span covers, each a minute or longer, in order.
pub fn uncovered(
    from: NaiveDateTime,
    to: NaiveDateTime,
    mut spans: Vec<(NaiveDateTime, NaiveDateTime)>,
) -> Vec<(NaiveDateTime, NaiveDateTime)> {
    spans.sort();
    let mut holes = Vec::new();
    let mut at = from;
    for (a, b) in spans {
        if a > at && a <= to {
            holes.push((at, a));
        }
        if b > at {
            at = b;
        }
        if at >= to {
            break;
        }
    }
    if at < to {
        holes.push((at, to));
    }
    holes.retain(|(a, b)| (*b - *a) >= chrono::TimeDelta::minutes(1));
    holes
}

/// A case's on-site window and its handling officers (R11: none of them recording is a breach).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseWindow {
    /// Case number.
    pub case: String,
    /// Handling officers' numbers.
    pub officers: Vec<String>,
    /// Start, station-local.
    pub from: NaiveDateTime,
    /// End, station-local.
    pub to: NaiveDateTime,
}

/// The bureau's thresholds (configuration keys under `[compliance]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rules {
    /// Station time zone.
    pub tz: Tz,
    /// Ingest deadline after the work ends (R3; S4 §22: the same day).
    pub ingest: IngestRule,
    /// Ingest deadline after returning from remote work (R3; S4 §22: 24 hours, S3 §26: one
    /// working day, S2 §22: two).
    pub ingest_after_return: IngestRule,
    /// Clock drift above which footage times are unreliable, in seconds (R2).
    pub drift_threshold_s: u64,
    /// Days after its end by which footage should be filed into a case (R4).
    pub no_case_after_days: u32,
}

/// Everything a compliance report is built from.
#[derive(Debug, Clone, Copy)]
pub struct Input<'a> {
    /// The period.
    pub period: Period,
    /// When the report is made.
    pub now: DateTime<Utc>,
    /// Recordings (those starting outside the period are ignored).
    pub recordings: &'a [RecordingFacts],
    /// Recorders.
    pub devices: &'a [DeviceFacts],
    /// Case on-site windows (those outside the period are ignored).
    pub windows: &'a [CaseWindow],
    /// Officer number → name, for display.
    pub officer_names: &'a BTreeMap<String, String>,
    /// Working-day calendar.
    pub calendar: &'a Calendar,
    /// Thresholds.
    pub rules: &'a Rules,
    /// The duty report's lines over the same period (`duty::report`, R14): recorders not
    /// returned by the end of the working day and shifts without footage become findings.
    pub duty: &'a [crate::duty::Line],
    /// Approved exemptions from recording (S1 §8): missing footage they cover is listed as
    /// exempted, not as a finding.
    pub exemptions: &'a [ExemptionFacts],
    /// Written explanations of gaps still awaiting the head's review where the bureau requires
    /// one (S2 §18): each a finding.
    pub unreviewed: &'a [UnreviewedFacts],
}

/// An approved exemption from recording (S1 §8: 经现场负责人或办案部门领导同意，可以不予同步录音录像).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExemptionFacts {
    /// Its number.
    pub id: i64,
    /// The officer (badge).
    pub officer: String,
    /// From, station-local.
    pub from: NaiveDateTime,
    /// To, station-local.
    pub to: NaiveDateTime,
    /// Why.
    pub reason: String,
}

/// A written explanation of a gap awaiting the head's review (S2 §18).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnreviewedFacts {
    /// The gap.
    pub gap: i64,
    /// Its recording (SERIAL/SESSION).
    pub recording: String,
    /// The officer who wrote the explanation (badge).
    pub author: String,
}

/// Missing footage an approved exemption covers: listed, not counted as a finding (S1 §8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exempted {
    /// What would have been the finding.
    pub finding: Finding,
    /// The exemptions that cover it.
    pub exemptions: Vec<i64>,
}

/// A kind of breach, with the requirement it breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// Footage ingested after the deadline (R3).
    LateIngest,
    /// Unexplained gaps in recording (R6).
    UnexplainedGap,
    /// Recorder clock drift beyond the threshold (R2).
    ClockDrift,
    /// A segment whose chain verdict is not `verified` (R5).
    ChainFailure,
    /// Footage from a recorder not in the registry (R1).
    UnregisteredDevice,
    /// Footage not filed into any case after the configured number of days (R4).
    NoCase,
    /// A long-term flag without a reason or without who set it (R7).
    FlagWithoutReason,
    /// A zero-byte archived file (R11).
    EmptyFile,
    /// An archived file that could not be read (R11).
    UnreadableFile,
    /// A case on-site window with no footage at all from its handling officers (R11).
    NoFootage,
    /// The recorder names another officer than the registration in force when it recorded (R1).
    RegistryMismatch,
    /// A case on-site window the handling officers' footage covers only in part (R13, S2 §13).
    PartialFootage,
    /// A recorder checked out and not returned by the end of its working day, or returned
    /// after it (R14; S0 §14, S1 §16, S3 §7).
    NotReturned,
    /// A closed shift whose recorder holds no footage from it (R14).
    ShiftWithoutFootage,
    /// A written explanation of a gap not yet reviewed by the head where the bureau requires
    /// it (R6, S2 §18).
    UnreviewedExplanation,
}

impl Kind {
    /// All kinds, in report order.
    pub const ALL: [Kind; 15] = [
        Kind::LateIngest,
        Kind::UnexplainedGap,
        Kind::ClockDrift,
        Kind::ChainFailure,
        Kind::UnregisteredDevice,
        Kind::NoCase,
        Kind::FlagWithoutReason,
        Kind::EmptyFile,
        Kind::UnreadableFile,
        Kind::NoFootage,
        Kind::PartialFootage,
        Kind::RegistryMismatch,
        Kind::NotReturned,
        Kind::ShiftWithoutFootage,
        Kind::UnreviewedExplanation,
    ];

    /// Stable name (`--json`, CSV).
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::LateIngest => "late-ingest",
            Kind::UnexplainedGap => "unexplained-gap",
            Kind::ClockDrift => "clock-drift",
            Kind::ChainFailure => "chain-failure",
            Kind::UnregisteredDevice => "unregistered-device",
            Kind::NoCase => "no-case",
            Kind::FlagWithoutReason => "flag-without-reason",
            Kind::EmptyFile => "empty-file",
            Kind::UnreadableFile => "unreadable-file",
            Kind::NoFootage => "no-footage",
            Kind::PartialFootage => "partial-footage",
            Kind::RegistryMismatch => "registry-mismatch",
            Kind::NotReturned => "not-returned",
            Kind::ShiftWithoutFootage => "shift-without-footage",
            Kind::UnreviewedExplanation => "unreviewed-explanation",
        }
    }

    /// The requirement broken.
    pub fn rule(self) -> &'static str {
        match self {
            Kind::LateIngest => "R3",
            Kind::UnexplainedGap | Kind::UnreviewedExplanation => "R6",
            Kind::ClockDrift => "R2",
            Kind::ChainFailure => "R5",
            Kind::UnregisteredDevice | Kind::RegistryMismatch => "R1",
            Kind::NoCase => "R4",
            Kind::FlagWithoutReason => "R7",
            Kind::EmptyFile | Kind::UnreadableFile | Kind::NoFootage => "R11",
            Kind::PartialFootage => "R13",
            Kind::NotReturned | Kind::ShiftWithoutFootage => "R14",
        }
    }

    /// Chinese label.
    pub fn label_zh(self) -> &'static str {
        match self {
            Kind::LateIngest => "逾期入库",
            Kind::UnexplainedGap => "中断未说明",
            Kind::ClockDrift => "时间偏差超限",
            Kind::ChainFailure => "完整性校验未通过",
            Kind::UnregisteredDevice => "记录仪未登记",
            Kind::NoCase => "未关联案件",
            Kind::FlagWithoutReason => "长期保存标记无理由",
            Kind::EmptyFile => "零字节文件",
            Kind::UnreadableFile => "文件无法读取",
            Kind::NoFootage => "现场执法无录像",
            Kind::PartialFootage => "现场执法录像不完整",
            Kind::RegistryMismatch => "记录仪使用人与登记不符",
            Kind::NotReturned => "记录仪未按时归还",
            Kind::ShiftWithoutFootage => "执勤无录像",
            Kind::UnreviewedExplanation => "中断说明未经负责人审核",
        }
    }

    /// English label.
    pub fn label_en(self) -> &'static str {
        match self {
            Kind::LateIngest => "Ingested late",
            Kind::UnexplainedGap => "Unexplained gap",
            Kind::ClockDrift => "Clock drift",
            Kind::ChainFailure => "Chain failure",
            Kind::UnregisteredDevice => "Unregistered recorder",
            Kind::NoCase => "Not filed to a case",
            Kind::FlagWithoutReason => "Flag without reason",
            Kind::EmptyFile => "Zero-byte file",
            Kind::UnreadableFile => "Unreadable file",
            Kind::NoFootage => "On-site without footage",
            Kind::PartialFootage => "On-site partly without footage",
            Kind::RegistryMismatch => "Officer differs from registry",
            Kind::NotReturned => "Recorder not returned by day end",
            Kind::ShiftWithoutFootage => "Shift without footage",
            Kind::UnreviewedExplanation => "Explanation not reviewed",
        }
    }

    fn index(self) -> usize {
        Kind::ALL.iter().position(|k| *k == self).unwrap_or(0)
    }
}

/// One breach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// What kind.
    pub kind: Kind,
    /// Officers it is attributed to (empty when unknown).
    pub officers: Vec<String>,
    /// Recorder serial, where one is concerned.
    pub device: Option<String>,
    /// Recording id, where one is concerned.
    pub recording: Option<String>,
    /// Case number, where one is concerned.
    pub case: Option<String>,
    /// What was found, in English, with the values.
    pub detail: String,
    /// The same in Chinese.
    pub detail_zh: String,
}

/// Counts for one officer or one recorder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tally {
    /// Officer number or recorder serial; `None` for footage whose officer is unknown.
    pub key: Option<String>,
    /// Officer name, where known.
    pub name: Option<String>,
    /// Recordings in the period.
    pub recordings: usize,
    /// Findings per kind, in [`Kind::ALL`] order.
    pub counts: [usize; Kind::ALL.len()],
}

impl Tally {
    fn new(key: Option<String>, name: Option<String>) -> Tally {
        Tally { key, name, recordings: 0, counts: [0; Kind::ALL.len()] }
    }

    /// All findings.
    pub fn total(&self) -> usize {
        self.counts.iter().sum()
    }

    /// Findings of one kind.
    pub fn count(&self, kind: Kind) -> usize {
        self.counts[kind.index()]
    }
}

/// A compliance report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// The period.
    pub period: Period,
    /// When it was made.
    pub generated_at: DateTime<Utc>,
    /// The thresholds applied.
    pub rules: Rules,
    /// Caveats (e.g. a year without a holiday calendar).
    pub notes: Vec<String>,
    /// Recordings in the period.
    pub recordings: usize,
    /// Case on-site windows in the period.
    pub windows: usize,
    /// The findings, ordered by kind, officer, recorder, recording and case.
    pub findings: Vec<Finding>,
    /// Per officer, ordered by number (unknown last).
    pub by_officer: Vec<Tally>,
    /// Per recorder, ordered by serial.
    pub by_device: Vec<Tally>,
    /// The archive's fixity audit (R11), when the caller gathered it.
    pub fixity: Option<FixitySummary>,
    /// Missing footage approved exemptions cover (S1 §8): not findings.
    pub exempted: Vec<Exempted>,
    /// Contradictions the dock found at dockings in the period, with a recorder's chain or
    /// with what it remembers of the recorder, and the dock memory's own contradictions with
    /// the custody log (R5, R13), when the caller gathered them.
    pub contradictions: Vec<ContradictionFacts>,
}

/// A contradiction found at a docking (`contradictions`), or an open alarm about the dock's
/// memory of a recorder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContradictionFacts {
    /// The docking (none for an alarm about the dock memory).
    pub docking: Option<i64>,
    /// When it was docked, or the alarm raised (station-local or UTC text, as stored).
    pub when: String,
    /// Recorder serial.
    pub device: String,
    /// Stable name of the kind (`link_not_continued`, `seq_reused`, …, `dock_memory_edited`).
    pub kind: String,
    /// What was found, in English.
    pub detail: String,
    /// The same in Chinese.
    pub detail_zh: String,
}

impl ContradictionFacts {
    /// One line, Chinese and English.
    pub fn line(&self) -> String {
        let docking = self.docking.map_or(String::new(), |d| format!(" docking 接入 #{d}"));
        format!("{} {}{docking} [{}]: {} / {}", self.when, self.device, self.kind, self.detail_zh, self.detail)
    }
}

/// One pass of the archive scrub, for the report.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScrubFacts {
    /// Pass number.
    pub pass: i64,
    /// When it began (UTC, RFC 3339).
    pub started: String,
    /// When it was complete, if it is.
    pub finished: Option<String>,
    /// Files checked, of how many.
    pub files: (u64, u64),
    /// Bytes re-read.
    pub bytes: u64,
    /// Files whose bytes differ from the custody log.
    pub differ: u64,
    /// Files missing.
    pub missing: u64,
    /// Catalogue rows that contradict the custody log.
    pub catalogue: u64,
    /// Time spent reading, milliseconds.
    pub busy_ms: u64,
}

/// The archive scrub's state: the last complete pass, the one in progress, and the alarms
/// still open about archived files (R11).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FixitySummary {
    /// The last complete pass.
    pub last_complete: Option<ScrubFacts>,
    /// The pass in progress.
    pub in_progress: Option<ScrubFacts>,
    /// Open alarms about archived files (bytes, missing, catalogue): English, Chinese.
    pub open: Vec<(String, String)>,
}

impl FixitySummary {
    /// One line per pass and per open alarm, in Chinese and English.
    pub fn lines(&self) -> Vec<String> {
        let pass = |label: &str, p: &ScrubFacts| {
            format!(
                "{label} #{}: {} – {}; {}/{} files 文件, {} bytes 字节, {:.1} s; differ 不符 {}, missing 缺失 {}, catalogue 目录不符 {}",
                p.pass,
                p.started,
                p.finished.as_deref().unwrap_or("-"),
                p.files.0,
                p.files.1,
                p.bytes,
                p.busy_ms as f64 / 1000.0,
                p.differ,
                p.missing,
                p.catalogue
            )
        };
        let mut out = Vec::new();
        match &self.last_complete {
            Some(p) => out.push(pass("最近完成的巡检 Last complete pass", p)),
            None => out.push("尚无完成的巡检 No complete pass yet: run `evidock archive scrub`".to_string()),
        }
        if let Some(p) = &self.in_progress {
            out.push(pass("进行中 In progress", p));
        }
        out.push(format!("未解除的文件警报 Open alarms about archived files: {}", self.open.len()));
        out.extend(self.open.iter().map(|(en, zh)| format!("  ! {en} / {zh}")));
        out
    }
}

impl Report {
    /// Whether nothing was found.
    pub fn is_clean(&self) -> bool {
        self.findings.is_empty()
    }
}

fn local(tz: Tz, t: DateTime<Utc>) -> String {
    t.with_timezone(&tz).format("%Y-%m-%d %H:%M:%S").to_string()
}

fn duration_text(d: TimeDelta) -> (String, String) {
    let h = d.num_hours();
    let m = d.num_minutes() % 60;
    (format!("{h} h {m} min"), format!("{h}小时{m}分"))
}

/// Builds the compliance report.
pub fn build(input: &Input<'_>) -> Report {
    let rules = input.rules;
    let tz = rules.tz;
    let devices: BTreeMap<&str, &DeviceFacts> = input.devices.iter().map(|d| (d.serial.as_str(), d)).collect();
    let officer_of = |r: &RecordingFacts| -> Option<String> {
        r.officer.clone().or_else(|| devices.get(r.device.as_str()).and_then(|d| d.officer.clone()))
    };
    let recs: Vec<&RecordingFacts> = input.recordings.iter().filter(|r| input.period.contains(r.start)).collect();
    let mut findings = Vec::new();
    let mut push = |kind: Kind, r: &RecordingFacts, detail: String, detail_zh: String| {
        findings.push(Finding {
            kind,
            officers: officer_of(r).into_iter().collect(),
            device: Some(r.device.clone()),
            recording: Some(r.id.clone()),
            case: None,
            detail,
            detail_zh,
        });
    };

    for r in &recs {
        // R3: late ingest.
        let mut basis = ("work ended", "执法结束于", r.end, rules.ingest);
        let mut deadline = ingest_deadline(r.end, rules.ingest, input.calendar, tz);
        if let Some(back) = r.returned {
            let later = ingest_deadline(back.max(r.end), rules.ingest_after_return, input.calendar, tz);
            if later > deadline {
                deadline = later;
                basis = ("returned", "返回单位于", back.max(r.end), rules.ingest_after_return);
            }
        }
        let extended = r.extended_until.filter(|e| *e > deadline);
        if let Some(ext) = extended {
            deadline = ext;
        }
        if r.ingested_at >= deadline && extended.is_some() {
            let (late_en, late_zh) = duration_text(r.ingested_at - deadline);
            push(
                Kind::LateIngest,
                r,
                format!(
                    "handover extended (approved) to {}, ingested {}: {late_en} late",
                    local(tz, deadline),
                    local(tz, r.ingested_at)
                ),
                format!("经批准延期移交至{}，入库于{}，逾期{late_zh}", local(tz, deadline), local(tz, r.ingested_at)),
            );
        } else if r.ingested_at >= deadline {
            let (late_en, late_zh) = duration_text(r.ingested_at - deadline);
            let (what, what_zh, when, rule) = basis;
            push(
                Kind::LateIngest,
                r,
                format!(
                    "{what} {}, ingested {}, deadline ({rule}) {}: {late_en} late",
                    when.format("%Y-%m-%d %H:%M:%S"),
                    local(tz, r.ingested_at),
                    local(tz, deadline)
                ),
                format!(
                    "{what_zh}{}，入库于{}，期限（{}）为{}，逾期{late_zh}",
                    when.format("%Y-%m-%d %H:%M:%S"),
                    local(tz, r.ingested_at),
                    rule_zh(rule),
                    local(tz, deadline)
                ),
            );
        }
        // R6: unexplained gaps.
        if r.unexplained_gaps > 0 {
            push(
                Kind::UnexplainedGap,
                r,
                format!("{} gap(s) without the recorder's reason or a written explanation", r.unexplained_gaps),
                format!("{}处中断既无记录仪标记原因，也无书面说明", r.unexplained_gaps),
            );
        }
        // R2: clock drift.
        if let Some(drift) = r.drift_s.filter(|d| d.unsigned_abs() > rules.drift_threshold_s) {
            push(
                Kind::ClockDrift,
                r,
                format!("recorder clock off by {drift} s at docking (threshold {} s)", rules.drift_threshold_s),
                format!("入库时记录仪时间偏差{drift}秒（阈值{}秒）", rules.drift_threshold_s),
            );
        }
        // R5: chain failures.
        let bad: Vec<&ChainVerdict> = r.chain.iter().filter(|v| v.verdict != "verified").collect();
        if !bad.is_empty() {
            let list: Vec<String> = bad.iter().map(|v| format!("{} {}", v.segment, v.verdict)).collect();
            push(
                Kind::ChainFailure,
                r,
                format!("{} segment(s) not verified: {}", bad.len(), list.join(", ")),
                format!("{}个片段未通过校验：{}", bad.len(), list.join("，")),
            );
        }
        // R4: footage not filed into a case after N days.
        let end_utc = local_to_utc(tz, r.end, Pick::Latest);
        let limit = TimeDelta::days(i64::from(rules.no_case_after_days));
        if r.cases.is_empty() && input.now - end_utc > limit {
            let days = (input.now - end_utc).num_days();
            push(
                Kind::NoCase,
                r,
                format!("not filed into any case {days} days after it ended (limit {} days)", rules.no_case_after_days),
                format!("结束{days}天后仍未关联案件（期限{}天）", rules.no_case_after_days),
            );
        }
        // R7: flags without who or why.
        for f in r.flags.iter().filter(|f| f.reason.trim().is_empty() || f.set_by.trim().is_empty()) {
            push(
                Kind::FlagWithoutReason,
                r,
                format!(
                    "long-term flag {} set {} without a stated reason or user",
                    f.trigger.as_str(),
                    local(tz, f.set_at)
                ),
                format!("长期保存标记（{}）于{}设置，未写明理由或设置人", f.trigger.label_zh(), local(tz, f.set_at)),
            );
        }
        // R11: zero-byte and unreadable files.
        for file in &r.files {
            if file.size == 0 {
                push(Kind::EmptyFile, r, format!("{} is zero bytes", file.path), format!("{}为零字节文件", file.path));
            }
            if !file.readable {
                push(
                    Kind::UnreadableFile,
                    r,
                    format!("{} could not be read at its last check", file.path),
                    format!("{}在最近一次检查中无法读取", file.path),
                );
            }
        }
    }

    // R1: unregistered recorders, one finding per recorder.
    let mut by_serial: BTreeMap<&str, Vec<&RecordingFacts>> = BTreeMap::new();
    for r in &recs {
        by_serial.entry(r.device.as_str()).or_default().push(r);
    }
    for (serial, list) in &by_serial {
        // Each recording is judged against the registration in force when it was recorded.
        let device = devices.get(serial);
        let mut unregistered = Vec::new();
        for r in list {
            match device {
                Some(d) if !d.history.is_empty() => match registration_at(&d.history, r.start) {
                    None => unregistered.push(*r),
                    Some(span) => {
                        // A name on the recorder that differs from the registration's name
                        // (S1 §14 谁使用谁负责), when the badge agrees.
                        let named = r.officer_name.as_ref().filter(|n| {
                            r.officer.as_ref().is_none_or(|b| *b == span.officer)
                                && span.name.as_ref().is_some_and(|reg| reg.trim() != n.trim())
                        });
                        if let (Some(name), Some(reg)) = (named, span.name.as_ref()) {
                            findings.push(Finding {
                                kind: Kind::RegistryMismatch,
                                officers: vec![span.officer.clone()],
                                device: Some(serial.to_string()),
                                recording: Some(r.id.clone()),
                                case: None,
                                detail: format!(
                                    "recorder {serial} was registered to officer {} ({reg}) when this was recorded; the recorder names {name}",
                                    span.officer
                                ),
                                detail_zh: format!(
                                    "录制时记录仪{serial}登记使用人为{}（{reg}），记录仪所载姓名为{name}",
                                    span.officer
                                ),
                            });
                        }
                        if let Some(badge) = r.officer.as_ref().filter(|b| **b != span.officer) {
                            findings.push(Finding {
                                kind: Kind::RegistryMismatch,
                                officers: vec![span.officer.clone(), badge.clone()],
                                device: Some(serial.to_string()),
                                recording: Some(r.id.clone()),
                                case: None,
                                detail: format!(
                                    "recorder {serial} was registered to officer {} when this was recorded; the recorder names officer {badge}",
                                    span.officer
                                ),
                                detail_zh: format!(
                                    "录制时记录仪{serial}登记使用人为{}，记录仪所载警号为{badge}",
                                    span.officer
                                ),
                            });
                        }
                    }
                },
                Some(d) if d.registered => {}
                _ => unregistered.push(*r),
            }
        }
        if unregistered.is_empty() {
            continue;
        }
        let list = &unregistered;
        let officers: BTreeSet<String> = list.iter().filter_map(|r| officer_of(r)).collect();
        findings.push(Finding {
            kind: Kind::UnregisteredDevice,
            officers: officers.into_iter().collect(),
            device: Some(serial.to_string()),
            recording: None,
            case: None,
            detail: format!(
                "recorder {serial} was not registered (or was retired) when {} recording(s) from it were made",
                list.len()
            ),
            detail_zh: format!("记录仪{serial}在{}段录像录制时未登记或已停用", list.len()),
        });
    }

    // R11: on-site windows without any footage from the handling officers.
    let windows: Vec<&CaseWindow> = input.windows.iter().filter(|w| input.period.overlaps(w.from, w.to)).collect();
    let mut exempted = Vec::new();
    for w in &windows {
        // S1 §8: approved exemptions of the handling officers count as covered time; missing
        // footage they cover entirely is exempted, not a finding.
        let allowed: Vec<&ExemptionFacts> = input
            .exemptions
            .iter()
            .filter(|e| w.officers.contains(&e.officer) && e.from < w.to && e.to > w.from)
            .collect();
        let excused = |spans: &[(NaiveDateTime, NaiveDateTime)]| -> Option<Vec<i64>> {
            if allowed.is_empty() {
                return None;
            }
            let mut all = spans.to_vec();
            all.extend(allowed.iter().map(|e| (e.from.max(w.from), e.to.min(w.to))));
            uncovered(w.from, w.to, all).is_empty().then(|| allowed.iter().map(|e| e.id).collect())
        };
        let spans: Vec<(NaiveDateTime, NaiveDateTime)> = input
            .recordings
            .iter()
            .filter(|r| officer_of(r).is_some_and(|o| w.officers.contains(&o)) && r.start <= w.to && r.end >= w.from)
            .map(|r| (r.start, r.end))
            .collect();
        let covered = !spans.is_empty();
        let excuse = excused(&spans);
        let mut push_window = |finding: Finding| match &excuse {
            Some(ids) => exempted.push(Exempted { finding, exemptions: ids.clone() }),
            None => findings.push(finding),
        };
        // R13 (S2 §13): footage covering the window only in part is a finding too, naming the
        // parts without footage (a minute or more).
        let holes = uncovered(w.from, w.to, spans);
        if covered && !holes.is_empty() {
            let fmt = |t: NaiveDateTime| t.format("%Y-%m-%d %H:%M:%S").to_string();
            let list = holes.iter().map(|(a, b)| format!("{} – {}", fmt(*a), fmt(*b))).collect::<Vec<_>>().join(", ");
            let span = format!("{} – {}", fmt(w.from), fmt(w.to));
            push_window(Finding {
                kind: Kind::PartialFootage,
                officers: w.officers.clone(),
                device: None,
                recording: None,
                case: Some(w.case.clone()),
                detail: format!("on site {span}: no footage from the handling officers' recorders for {list}"),
                detail_zh: format!("现场执法时段{span}：{list}无承办人员录像"),
            });
        }
        if !covered {
            let span = format!("{} – {}", w.from.format("%Y-%m-%d %H:%M:%S"), w.to.format("%Y-%m-%d %H:%M:%S"));
            push_window(Finding {
                kind: Kind::NoFootage,
                officers: w.officers.clone(),
                device: None,
                recording: None,
                case: Some(w.case.clone()),
                detail: format!("on site {span}: no footage from the handling officers' recorders"),
                detail_zh: format!("现场执法时段{span}：承办人员的记录仪均无录像"),
            });
        }
    }

    // R6, S2 §18: explanations the head has not yet reviewed, for recordings in the period.
    for u in input.unreviewed {
        let Some(r) = recs.iter().find(|r| r.id == u.recording) else { continue };
        findings.push(Finding {
            kind: Kind::UnreviewedExplanation,
            officers: officer_of(r).into_iter().collect(),
            device: Some(r.device.clone()),
            recording: Some(r.id.clone()),
            case: None,
            detail: format!(
                "the written explanation of gap #{} (by officer {}) awaits the head's review",
                u.gap, u.author
            ),
            detail_zh: format!("中断 #{} 的书面说明（说明人 {}）未经本机构主要负责人审核", u.gap, u.author),
        });
    }

    // R14: the duty report's findings (`not_returned`, `returned_late`, `no_footage`).
    for l in input.duty.iter().filter(|l| l.is_finding()) {
        // S1 §8: a shift without footage that approved exemptions of its officer cover entirely.
        let excuse = l.shift.filter(|_| l.kind == "no_footage").and_then(|(from, to)| {
            let allowed: Vec<&ExemptionFacts> =
                input.exemptions.iter().filter(|e| e.officer == l.officer && e.from < to && e.to > from).collect();
            let spans = allowed.iter().map(|e| (e.from.max(from), e.to.min(to))).collect();
            (!allowed.is_empty() && uncovered(from, to, spans).is_empty())
                .then(|| allowed.iter().map(|e| e.id).collect::<Vec<i64>>())
        });
        let finding = Finding {
            kind: if l.kind == "no_footage" { Kind::ShiftWithoutFootage } else { Kind::NotReturned },
            officers: vec![l.officer.clone()],
            device: Some(l.serial.clone()),
            recording: None,
            case: None,
            detail: format!("binding #{}: {}", l.binding, l.text),
            detail_zh: format!("领用 #{}：{}", l.binding, l.text_zh),
        };
        match excuse {
            Some(ids) => exempted.push(Exempted { finding, exemptions: ids }),
            None => findings.push(finding),
        }
    }

    findings.sort_by(|a, b| {
        (a.kind, &a.officers, &a.device, &a.recording, &a.case).cmp(&(
            b.kind,
            &b.officers,
            &b.device,
            &b.recording,
            &b.case,
        ))
    });

    // Tallies.
    let name = |o: &Option<String>| o.as_ref().and_then(|o| input.officer_names.get(o).cloned());
    let mut officers: BTreeMap<Option<String>, Tally> = BTreeMap::new();
    let mut devs: BTreeMap<String, Tally> = BTreeMap::new();
    for r in &recs {
        let o = officer_of(r);
        officers.entry(o.clone()).or_insert_with(|| Tally::new(o.clone(), name(&o))).recordings += 1;
        devs.entry(r.device.clone()).or_insert_with(|| Tally::new(Some(r.device.clone()), None)).recordings += 1;
    }
    for f in &findings {
        let keys: Vec<Option<String>> =
            if f.officers.is_empty() { vec![None] } else { f.officers.iter().cloned().map(Some).collect() };
        for o in keys {
            officers.entry(o.clone()).or_insert_with(|| Tally::new(o.clone(), name(&o))).counts[f.kind.index()] += 1;
        }
        if let Some(d) = &f.device {
            devs.entry(d.clone()).or_insert_with(|| Tally::new(Some(d.clone()), None)).counts[f.kind.index()] += 1;
        }
    }
    let mut by_officer: Vec<Tally> = officers.into_values().collect();
    // Unknown officer last.
    by_officer.sort_by(|a, b| (a.key.is_none(), &a.key).cmp(&(b.key.is_none(), &b.key)));

    Report {
        period: input.period,
        generated_at: input.now,
        rules: rules.clone(),
        notes: calendar_notes(input),
        recordings: recs.len(),
        windows: windows.len(),
        findings,
        by_officer,
        by_device: devs.into_values().collect(),
        fixity: None,
        exempted,
        contradictions: Vec::new(),
    }
}

fn rule_zh(rule: IngestRule) -> String {
    match rule {
        IngestRule::Hours(h) => format!("{h}小时内"),
        IngestRule::SameDay => "当日".to_string(),
        IngestRule::WorkingDays(n) => format!("{n}个工作日内"),
    }
}

/// Years the period touches that no calendar file covers, when deadlines count working days.
fn calendar_notes(input: &Input<'_>) -> Vec<String> {
    use chrono::Datelike;
    let counts_working_days = |r: IngestRule| matches!(r, IngestRule::WorkingDays(_));
    if !counts_working_days(input.rules.ingest) && !counts_working_days(input.rules.ingest_after_return) {
        return Vec::new();
    }
    let last = input.period.to - TimeDelta::seconds(1);
    (input.period.from.year()..=last.year().max(input.period.from.year()))
        .filter(|y| !input.calendar.covers(*y))
        .map(|y| {
            format!("no holiday calendar for {y}: working days count Saturdays and Sundays only / {y}年无节假日日历，仅按周末计算工作日")
        })
        .collect()
}

#[cfg(test)]
mod tests;
