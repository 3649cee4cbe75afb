//! Duty check-out and check-in (领用 / 归还; R1, R3, R14; S0 §14, S1 §16, S3 §7, S2 §22).
//!
//! Owns: the `[duty]` configuration ([`DutyFile`] → [`Duty`]); the health check before a
//! recorder is handed out ([`judge`]: battery, free storage, clock drift, and the age of the
//! reading, each against its threshold, or unknown where the recorder's kind cannot tell);
//! and the duty report ([`report`]: recorders not returned by the end of the working day,
//! shifts without footage, the binding in force at each recording), with [`apply`], which
//! gives the compliance report each recording's officer on duty, the officer's return from
//! remote work and the approved extension of its handover deadline.
//!
//! Must never: read the catalogue, the archive or the clock (INV-7's rule for the core): the
//! caller gathers the facts and passes `now`. A value the recorder did not report is
//! `None` and is said to be unknown, never filled in.

use std::path::Path;

use chrono::{DateTime, NaiveDateTime, NaiveTime, TimeDelta, Utc};
use chrono_tz::Tz;
use serde::Deserialize;

use crate::config::ConfigError;
use crate::control::roles::Members;
use crate::report::RecordingFacts;
use crate::retention::{local_to_utc, Pick};

/// `[duty]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DutyFile {
    /// Lowest battery charge, in percent, a recorder may be handed out with (S0 §14, S3 §7).
    pub min_battery_percent: Option<u8>,
    /// Least free storage, in bytes, after the docking's wipe (S0 §14, S3 §7).
    pub min_free_bytes: Option<u64>,
    /// Largest clock drift, in seconds, at the reading (S3 §7: 对系统时间进行校准).
    pub max_drift_s: Option<u64>,
    /// Oldest reading, in hours since its docking, the check accepts.
    pub max_reading_age_hours: Option<u64>,
    /// What a recorder below a threshold gets: "refuse" or "warn".
    pub below: Option<String>,
    /// End of the working day, station time, "HH:MM": a recorder out after it is not
    /// returned (S1 §16: 每个工作日结束时，设备管理员将执法记录设备收回).
    pub day_end: Option<String>,
    /// Who may approve an extension of the handover deadline (S2 §22: 机构主管领导), as
    /// role members (`NAME`, `group:NAME`, `uid:N`, `gid:N`); empty: any approver.
    #[serde(default)]
    pub extension_approvers: Vec<String>,
}

/// What a recorder below a threshold gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Below {
    /// Not handed out (`duty_refused`).
    Refuse,
    /// Handed out with the warning logged (`duty_checked_out`, `warned`).
    Warn,
}

/// The health thresholds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Thresholds {
    /// Lowest battery, percent.
    pub min_battery_percent: u8,
    /// Least free storage after the wipe, bytes.
    pub min_free_bytes: u64,
    /// Largest drift, seconds.
    pub max_drift_s: u64,
    /// Oldest reading.
    pub max_reading_age: TimeDelta,
}

/// `[duty]`, resolved.
#[derive(Debug, Clone)]
pub struct Duty {
    /// Thresholds.
    pub thresholds: Thresholds,
    /// Refuse or warn.
    pub below: Below,
    /// End of the working day, station time.
    pub day_end: NaiveTime,
    /// Who may approve extensions (empty: any approver).
    pub extension_approvers: Members,
}

/// Resolves `[duty]`, naming `duty.<key>` in every error.
///
/// # Errors
/// On a value out of range.
pub fn resolve(file: DutyFile, shown: &Path) -> Result<Duty, ConfigError> {
    let invalid = |key: &str, value: &dyn std::fmt::Display, reason: &str| ConfigError::Invalid {
        path: shown.to_path_buf(),
        key: format!("duty.{key}"),
        value: value.to_string(),
        reason: reason.to_string(),
    };
    let battery = file.min_battery_percent.unwrap_or(50);
    if battery > 100 {
        return Err(invalid("min_battery_percent", &battery, "must be between 0 and 100"));
    }
    let age = file.max_reading_age_hours.unwrap_or(24);
    if !(1..=24 * 30).contains(&age) {
        return Err(invalid("max_reading_age_hours", &age, "must be between 1 and 720"));
    }
    let drift = file.max_drift_s.unwrap_or(30);
    if drift > 86_400 {
        return Err(invalid("max_drift_s", &drift, "must be between 0 and 86400"));
    }
    let below = match file.below.as_deref().unwrap_or("refuse") {
        "refuse" => Below::Refuse,
        "warn" => Below::Warn,
        other => return Err(invalid("below", &format!("{other:?}"), "must be \"refuse\" or \"warn\"")),
    };
    let end = file.day_end.unwrap_or_else(|| "18:00".into());
    let day_end = NaiveTime::parse_from_str(&end, "%H:%M")
        .map_err(|_| invalid("day_end", &format!("{end:?}"), "must be a station time \"HH:MM\""))?;
    let extension_approvers =
        Members::parse(&file.extension_approvers).map_err(|e| invalid("extension_approvers", &e.entry, e.reason))?;
    Ok(Duty {
        thresholds: Thresholds {
            min_battery_percent: battery,
            min_free_bytes: file.min_free_bytes.unwrap_or(4 << 30),
            max_drift_s: drift,
            max_reading_age: TimeDelta::hours(age as i64),
        },
        below,
        day_end,
        extension_approvers,
    })
}

/// What the station last read from a recorder: its latest docking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reading {
    /// The docking.
    pub docking: i64,
    /// When it docked.
    pub at: DateTime<Utc>,
    /// Battery, percent, where the recorder reports it (identity file, vendor SDK).
    pub battery: Option<u8>,
    /// Free storage after the docking's wipe (reported free space plus the bytes wiped),
    /// where the recorder reports its free space.
    pub free_bytes: Option<u64>,
    /// Recorder clock minus the dock's, seconds, where the clock could be read.
    pub drift_s: Option<i64>,
}

/// The state of one item of the check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Within its threshold.
    Ok,
    /// Below its threshold.
    Below,
    /// The recorder's kind cannot tell: said so, never filled in.
    Unknown,
}

impl State {
    /// Stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Ok => "ok",
            State::Below => "below",
            State::Unknown => "unknown",
        }
    }
}

/// One item of the health check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// `reading`, `battery`, `storage` or `clock`.
    pub what: &'static str,
    /// Its state.
    pub state: State,
    /// What was found, in English.
    pub text: String,
    /// The same in Chinese.
    pub text_zh: String,
}

/// The health check of a recorder about to be handed out (R14; S0 §14, S3 §7).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Health {
    /// The reading judged, if the recorder ever docked.
    pub reading: Option<Reading>,
    /// Every item, in a fixed order.
    pub items: Vec<Item>,
}

impl Health {
    /// Whether any item is below its threshold.
    pub fn below(&self) -> bool {
        self.items.iter().any(|i| i.state == State::Below)
    }

    /// As JSON, for the custody event.
    pub fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "docking": self.reading.as_ref().map(|r| r.docking),
            "read_at": self.reading.as_ref().map(|r| r.at.to_rfc3339()),
            "battery_percent": self.reading.as_ref().and_then(|r| r.battery),
            "free_bytes": self.reading.as_ref().and_then(|r| r.free_bytes),
            "drift_s": self.reading.as_ref().and_then(|r| r.drift_s),
            "items": self.items.iter().map(|i| serde_json::json!({
                "what": i.what, "state": i.state.as_str(), "text": i.text, "text_zh": i.text_zh,
            })).collect::<Vec<_>>(),
        })
    }
}

fn gib(n: u64) -> String {
    format!("{:.1} GiB", n as f64 / f64::from(1u32 << 30))
}

/// Judges the recorder's latest reading against the thresholds at `now`. No reading at all
/// (never docked) is below: the station cannot vouch for a recorder it never read.
pub fn judge(reading: Option<&Reading>, t: &Thresholds, now: DateTime<Utc>) -> Health {
    let item = |what, state, text: String, text_zh: String| Item { what, state, text, text_zh };
    let Some(r) = reading else {
        return Health {
            reading: None,
            items: vec![item(
                "reading",
                State::Below,
                "never docked at this station: dock it so its health can be read".into(),
                "从未在本站接入，请先接入以读取设备状态".into(),
            )],
        };
    };
    let mut items = Vec::new();
    let age = now - r.at;
    let hours = age.num_minutes() as f64 / 60.0;
    items.push(if age > t.max_reading_age {
        item(
            "reading",
            State::Below,
            format!(
                "last read at docking {} {hours:.1} h ago (at most {} h): dock it again for a fresh reading",
                r.docking,
                t.max_reading_age.num_hours()
            ),
            format!(
                "最近一次读取（第{}次接入）已过{hours:.1}小时（上限{}小时），请重新接入",
                r.docking,
                t.max_reading_age.num_hours()
            ),
        )
    } else {
        item(
            "reading",
            State::Ok,
            format!("read at docking {}, {hours:.1} h ago", r.docking),
            format!("读取于第{}次接入，{hours:.1}小时前", r.docking),
        )
    });
    items.push(match r.battery {
        None => item(
            "battery",
            State::Unknown,
            "battery: this recorder does not report it; check it by hand".into(),
            "电量：该记录仪不报告电量，请人工检查".into(),
        ),
        Some(b) if b < t.min_battery_percent => item(
            "battery",
            State::Below,
            format!("battery {b}% is below {}%", t.min_battery_percent),
            format!("电量{b}%低于{}%", t.min_battery_percent),
        ),
        Some(b) => item("battery", State::Ok, format!("battery {b}%"), format!("电量{b}%")),
    });
    items.push(match r.free_bytes {
        None => item(
            "storage",
            State::Unknown,
            "free storage: this recorder does not report it; check it by hand".into(),
            "存储空间：该记录仪不报告剩余空间，请人工检查".into(),
        ),
        Some(f) if f < t.min_free_bytes => item(
            "storage",
            State::Below,
            format!("free storage {} is below {}", gib(f), gib(t.min_free_bytes)),
            format!("剩余存储{}低于{}", gib(f), gib(t.min_free_bytes)),
        ),
        Some(f) => item("storage", State::Ok, format!("free storage {}", gib(f)), format!("剩余存储{}", gib(f))),
    });
    items.push(match r.drift_s {
        None => item(
            "clock",
            State::Unknown,
            "clock: this recorder's clock cannot be read; check it by hand".into(),
            "时钟：无法读取该记录仪时钟，请人工校准".into(),
        ),
        Some(d) if d.unsigned_abs() > t.max_drift_s => item(
            "clock",
            State::Below,
            format!("clock off by {d} s at that docking (at most {} s)", t.max_drift_s),
            format!("该次接入时时钟偏差{d}秒（上限{}秒）", t.max_drift_s),
        ),
        Some(d) => item("clock", State::Ok, format!("clock off by {d} s"), format!("时钟偏差{d}秒")),
    });
    Health { reading: Some(r.clone()), items }
}

/// A recorder bound to an officer for a shift.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    /// Row id.
    pub id: i64,
    /// Recorder serial.
    pub serial: String,
    /// Officer's number (警号).
    pub officer: String,
    /// Officer's name, where given.
    pub officer_name: Option<String>,
    /// Shift, as the custodian named it.
    pub shift: Option<String>,
    /// Checked out.
    pub out_at: DateTime<Utc>,
    /// Checked in: the docking that closed it.
    pub returned: Option<(DateTime<Utc>, i64)>,
    /// Handed out below a threshold, with the warning logged.
    pub warned: bool,
}

/// An officer's return to the unit after remote, continuous or outlying work (S2 §22,
/// S3 §26, S4 §22: the "after return" deadline counts from it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Return {
    /// Officer's number.
    pub officer: String,
    /// When back, station time.
    pub at: NaiveDateTime,
}

/// An extension of a shift's handover deadline (S2 §22: 批准延期移交).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extension {
    /// Row id.
    pub id: i64,
    /// The binding whose footage it covers.
    pub binding: i64,
    /// New deadline.
    pub until: DateTime<Utc>,
    /// Approved (by whom), else pending: a pending extension moves nothing.
    pub approved_by: Option<String>,
}

/// When a binding out at `out` is due back: the end of that working day, station time, or of
/// the next day when it went out after that hour.
pub fn due(out: DateTime<Utc>, day_end: NaiveTime, tz: Tz) -> DateTime<Utc> {
    let local = out.with_timezone(&tz).naive_local();
    let day = if local.time() < day_end { local.date() } else { local.date().succ_opt().unwrap_or(local.date()) };
    local_to_utc(tz, day.and_time(day_end), Pick::Latest)
}

/// When binding `b`'s recorder is due back: [`due`], or the latest approved extension of that
/// binding when it is later (a pending extension moves nothing).
pub fn due_back(b: &Binding, extensions: &[Extension], day_end: NaiveTime, tz: Tz) -> DateTime<Utc> {
    let ordinary = due(b.out_at, day_end, tz);
    extensions
        .iter()
        .filter(|e| e.binding == b.id && e.approved_by.is_some())
        .map(|e| e.until)
        .fold(ordinary, DateTime::max)
}

/// The binding in force on `device` at station time `t`, if any.
pub fn binding_at<'b>(bindings: &'b [Binding], device: &str, t: NaiveDateTime, tz: Tz) -> Option<&'b Binding> {
    let t = local_to_utc(tz, t, Pick::Earliest);
    bindings.iter().rfind(|b| b.serial == device && b.out_at <= t && b.returned.is_none_or(|(i, _)| t < i))
}

/// Gives each recording the officer of the binding in force at its start, the officer's first
/// return recorded at or after its end, and the latest approved extension of its binding.
pub fn apply(
    recordings: &mut [RecordingFacts],
    bindings: &[Binding],
    returns: &[Return],
    extensions: &[Extension],
    tz: Tz,
) {
    for r in recordings {
        let binding = binding_at(bindings, &r.device, r.start, tz);
        if let Some(b) = binding {
            r.officer = Some(b.officer.clone());
            r.extended_until = extensions
                .iter()
                .filter(|e| e.binding == b.id && e.approved_by.is_some())
                .map(|e| e.until)
                .max()
                .or(r.extended_until);
        }
        if let Some(officer) = r.officer.clone() {
            let back = returns.iter().filter(|x| x.officer == officer && x.at >= r.end).map(|x| x.at).min();
            r.returned = back.or(r.returned);
        }
    }
}

/// One line of the duty report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// `not_returned`, `returned_late`, `no_footage` or `recording`.
    pub kind: &'static str,
    /// The binding.
    pub binding: i64,
    /// Recorder.
    pub serial: String,
    /// Officer.
    pub officer: String,
    /// The recording, for `recording` lines.
    pub recording: Option<String>,
    /// The shift, station-local, for `no_footage` lines (an approved exemption covering it
    /// entirely exempts it, S1 §8).
    pub shift: Option<(NaiveDateTime, NaiveDateTime)>,
    /// What, in English.
    pub text: String,
    /// The same in Chinese.
    pub text_zh: String,
}

impl Line {
    /// Whether it is a breach (not a `recording` line).
    pub fn is_finding(&self) -> bool {
        self.kind != "recording"
    }
}

fn local(tz: Tz, t: DateTime<Utc>) -> String {
    t.with_timezone(&tz).format("%Y-%m-%d %H:%M:%S").to_string()
}

/// The duty report over the bindings checked out in `[from, to)`: recorders not returned by
/// the end of their working day (or returned after it), closed shifts without any recording,
/// and, for each recording that started in the period, the binding in force.
pub fn report(
    bindings: &[Binding],
    recordings: &[RecordingFacts],
    from: NaiveDateTime,
    to: NaiveDateTime,
    day_end: NaiveTime,
    tz: Tz,
    now: DateTime<Utc>,
) -> Vec<Line> {
    let (f, t) = (local_to_utc(tz, from, Pick::Earliest), local_to_utc(tz, to, Pick::Earliest));
    let mut out = Vec::new();
    for b in bindings.iter().filter(|b| f <= b.out_at && b.out_at < t) {
        let line = |kind, text: String, text_zh: String| Line {
            kind,
            binding: b.id,
            serial: b.serial.clone(),
            officer: b.officer.clone(),
            recording: None,
            shift: None,
            text,
            text_zh,
        };
        let due = due(b.out_at, day_end, tz);
        match b.returned {
            None if now > due => out.push(line(
                "not_returned",
                format!("out since {}, due back {}, not returned", local(tz, b.out_at), local(tz, due)),
                format!("{}领用，应于{}前归还，至今未归还", local(tz, b.out_at), local(tz, due)),
            )),
            Some((back, _)) if back > due => out.push(line(
                "returned_late",
                format!("out {}, due back {}, returned {}", local(tz, b.out_at), local(tz, due), local(tz, back)),
                format!("{}领用，应于{}前归还，实际归还于{}", local(tz, b.out_at), local(tz, due), local(tz, back)),
            )),
            _ => {}
        }
        if let Some((back, _)) = b.returned {
            let any = recordings.iter().any(|r| {
                r.device == b.serial
                    && local_to_utc(tz, r.start, Pick::Earliest) < back
                    && local_to_utc(tz, r.end, Pick::Latest) >= b.out_at
            });
            if !any {
                let naive = |t: DateTime<Utc>| t.with_timezone(&tz).naive_local();
                out.push(Line {
                    shift: Some((naive(b.out_at), naive(back))),
                    ..line(
                        "no_footage",
                        format!("shift {} to {}: no footage recorded", local(tz, b.out_at), local(tz, back)),
                        format!("{}至{}的执勤无任何录像", local(tz, b.out_at), local(tz, back)),
                    )
                });
            }
        }
    }
    for r in recordings.iter().filter(|r| from <= r.start && r.start < to) {
        let (text, text_zh, binding, officer) = match binding_at(bindings, &r.device, r.start, tz) {
            Some(b) => (
                format!(
                    "recorded {} under binding #{} to officer {}{}",
                    r.start.format("%Y-%m-%d %H:%M:%S"),
                    b.id,
                    b.officer,
                    b.shift.as_deref().map(|s| format!(" (shift {s})")).unwrap_or_default()
                ),
                format!("录制于{}，领用记录#{}，执法人员{}", r.start.format("%Y-%m-%d %H:%M:%S"), b.id, b.officer),
                b.id,
                b.officer.clone(),
            ),
            None => (
                format!("recorded {} with no binding in force", r.start.format("%Y-%m-%d %H:%M:%S")),
                format!("录制于{}，当时无领用记录", r.start.format("%Y-%m-%d %H:%M:%S")),
                0,
                r.officer.clone().unwrap_or_default(),
            ),
        };
        out.push(Line {
            kind: "recording",
            binding,
            serial: r.device.clone(),
            officer,
            recording: Some(r.id.clone()),
            shift: None,
            text,
            text_zh,
        });
    }
    out
}

#[cfg(test)]
mod tests;
