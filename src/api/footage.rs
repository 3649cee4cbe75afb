//! `footage_mine`: an officer's own recent footage, with what they can do about it (describe
//! it, mark it important, file it into a case), and each recording's standing: its verdicts,
//! gaps still to explain, cases, description, long-term marks and deadline (R4, R6, R7, R13).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{ApiError, Ctx};
use crate::catalog::DescribedTarget;
use crate::custody::event::Role;
use crate::report::history::station_time_named;
use crate::retention;

/// The longest look back, days.
pub const MAX_DAYS: u32 = 366;

/// Recent footage: an officer's own; a custodian, archivist or supervisor names the officer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MineArgs {
    /// How many days back from now, by the recording's start (default 30, at most 366).
    #[serde(default)]
    pub days: Option<u32>,
    /// The officer (badge). An officer may name only themselves; others must name one.
    #[serde(default)]
    pub officer: Option<String>,
}

/// One recording.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recording {
    /// `SERIAL/SESSION` (or `SERIAL/file-ID`).
    pub id: String,
    /// The recorder.
    pub device: String,
    /// The officer the recorder was assigned to then.
    pub officer: Option<String>,
    /// Start, station time (`YYYY-MM-DD hh:mm:ss`).
    pub start: String,
    /// End, station time.
    pub end: String,
    /// Its files' archive paths.
    pub files: Vec<String>,
    /// Segments by chain verdict (`verified`: 3).
    pub verdicts: BTreeMap<String, u32>,
    /// Gaps inside it nobody has explained yet (R6).
    pub unexplained_gaps: u32,
    /// Those gaps, to explain (`gap_explain`).
    pub gaps: Vec<OpenGap>,
    /// The cases it is filed under.
    pub cases: Vec<String>,
    /// Its current description, if any.
    pub description: Option<Description>,
    /// Its long-term marks, active and withdrawn.
    pub flags: Vec<FlagView>,
    /// `standard` or `long-term`.
    pub class: String,
    /// Its deadline: station time, or permanent.
    pub deadline: String,
}

/// A gap in recording nobody has explained yet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenGap {
    /// The gap's number (for `gap_explain`).
    pub id: i64,
    /// From, the recorder's time.
    pub from: String,
    /// To, the recorder's time.
    pub to: String,
    /// How long, seconds.
    pub seconds: i64,
}

/// A description as shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Description {
    /// 执法对象.
    pub subject: Option<String>,
    /// 执法内容.
    pub content: Option<String>,
    /// 取证地点.
    pub place: Option<String>,
    /// Who wrote it.
    pub written_by: String,
    /// When, station time with the zone.
    pub written_at: String,
}

/// A long-term mark as shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlagView {
    /// Its number.
    pub id: i64,
    /// `evidence`, `dispute`, …
    pub trigger: String,
    /// In Chinese.
    pub trigger_zh: String,
    /// Why.
    pub reason: String,
    /// Who set it.
    pub set_by: String,
    /// Whether it is in force (not withdrawn).
    pub active: bool,
}

/// The officer's recordings that started within `days`, newest first.
///
/// # Errors
/// [`super::ErrorKind::Refused`] for an officer naming another officer;
/// [`super::ErrorKind::Invalid`] for another role naming none, or `days` out of range.
pub fn mine(ctx: &Ctx<'_>, a: &MineArgs) -> Result<Vec<Recording>, ApiError> {
    let days = a.days.unwrap_or(30);
    if days == 0 || days > MAX_DAYS {
        return Err(ApiError::invalid(format!("days {days}: 1 to {MAX_DAYS} / 天数须在 1 至 {MAX_DAYS} 之间")));
    }
    let named = a.officer.as_deref().map(str::trim).filter(|s| !s.is_empty());
    let officer = if ctx.actor.role == Role::Officer {
        let own = ctx.caller.officer.clone().unwrap_or_default();
        if named.is_some_and(|n| n != own) {
            return Err(ApiError::refused(format!(
                "officer {own} may list their own footage only, not officer {} / 执法人员只能查看本人的录像",
                named.unwrap_or_default()
            )));
        }
        own
    } else {
        named
            .map(str::to_string)
            .ok_or_else(|| ApiError::invalid("name the officer (badge) whose footage to list / 请指定执法人员警号"))?
    };
    let tz = ctx.config.timezone;
    let since = (chrono::Utc::now() - chrono::TimeDelta::days(i64::from(days))).with_timezone(&tz).naive_local();
    let mut catalog = ctx.catalog()?;
    let rows = super::retention::record_deadlines(&mut catalog, ctx.config)?;
    let open_gaps = catalog.gaps(true)?;
    let mut out = Vec::new();
    for row in rows.iter().rev() {
        let r = &row.recording;
        if r.officer.as_deref() != Some(officer.as_str()) || r.start < since {
            continue;
        }
        let mut verdicts = BTreeMap::new();
        for v in &row.facts.chain {
            *verdicts.entry(v.verdict.clone()).or_insert(0u32) += 1;
        }
        let description = catalog.description(&DescribedTarget::Recording(r.id.clone()))?.map(|d| Description {
            subject: d.text.subject,
            content: d.text.content,
            place: d.text.place,
            written_by: d.written_by,
            written_at: station_time_named(&d.written_at, tz),
        });
        let flags = catalog
            .flags(&r.id)?
            .into_iter()
            .map(|(id, f)| FlagView {
                id,
                trigger: f.trigger.as_str().to_string(),
                trigger_zh: f.trigger.label_zh().to_string(),
                active: f.is_active(),
                reason: f.reason,
                set_by: f.set_by,
            })
            .collect();
        let class = retention::class(r, &ctx.config.retention);
        out.push(Recording {
            id: r.id.clone(),
            device: r.device.clone(),
            officer: r.officer.clone(),
            start: r.start.format("%Y-%m-%d %H:%M:%S").to_string(),
            end: r.end.format("%Y-%m-%d %H:%M:%S").to_string(),
            files: r.files.iter().map(|f| f.path.clone()).collect(),
            verdicts,
            unexplained_gaps: row.facts.unexplained_gaps,
            gaps: open_gaps
                .iter()
                .filter(|g| format!("{}/{}", g.serial, g.session) == r.id)
                .map(|g| OpenGap { id: g.id, from: g.from.clone(), to: g.to.clone(), seconds: g.duration_ms / 1000 })
                .collect(),
            cases: r.cases.clone(),
            description,
            flags,
            class: class.as_str().to_string(),
            deadline: super::retention::deadline_text(retention::deadline(r, &ctx.config.retention), tz),
        });
    }
    Ok(out)
}
