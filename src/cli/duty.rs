//! `evidock duty out|list|return|extend|approve|report`: handing recorders out for a shift
//! after a health check, officers' returns from remote work, extensions of the handover
//! deadline, and the duty report (R1, R3, R14; docs/DUTY.md).

use std::process::ExitCode;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};

use crate::catalog::CheckOut;
use crate::config::Config;
use crate::custody::event::Action;
use crate::duty::{self, Below};
use crate::report::Period;
use crate::retention::{local_to_utc, Pick};

/// `evidock duty ...`
#[derive(Debug, clap::Subcommand)]
pub enum DutyCommand {
    /// Hand a recorder out: bind it to an officer for a shift after its health check
    /// (battery, free storage, clock, from its latest docking; thresholds in `[duty]`).
    /// Docking it again is the check-in.
    Out {
        /// Recorder serial.
        serial: String,
        /// Officer's number (警号 / 执法证号).
        #[arg(long)]
        officer: String,
        /// Officer's name.
        #[arg(long)]
        officer_name: Option<String>,
        /// Shift, as the unit names it (e.g. "2026-03-02 day").
        #[arg(long)]
        shift: Option<String>,
    },
    /// Recorders out on duty now (bindings in force).
    List {
        /// JSON, one object per binding.
        #[arg(long)]
        json: bool,
    },
    /// Record an officer's return to the unit after remote, continuous or outlying work: the
    /// after-return handover deadline counts from it (S2 §22, S3 §26, S4 §22).
    Return {
        /// Officer's number.
        officer: String,
        /// When back, station time (default: now).
        #[arg(long, value_name = "YYYY-MM-DDThh:mm:ss")]
        at: Option<NaiveDateTime>,
        /// Where from, why late.
        #[arg(long)]
        note: Option<String>,
    },
    /// Request an extension of a shift's handover deadline (S2 §22: 批准延期移交).
    Extend {
        /// Binding (from `duty list` or `duty report`).
        binding: i64,
        /// New deadline, station time.
        #[arg(long, value_name = "YYYY-MM-DDThh:mm:ss")]
        until: NaiveDateTime,
        /// Why (required).
        #[arg(long)]
        reason: String,
    },
    /// Approve an extension (a person `duty.extension_approvers` names, not its requester).
    Approve {
        /// Extension id.
        id: i64,
    },
    /// The duty report: recorders not returned by the end of the working day, shifts without
    /// footage, the binding in force at each recording.
    Report {
        /// First day (YYYY-MM-DD, station time).
        #[arg(long)]
        from: NaiveDate,
        /// Last day, included.
        #[arg(long)]
        to: NaiveDate,
        /// Judge as of this station time instead of now (what was overdue then).
        #[arg(long, value_name = "YYYY-MM-DDThh:mm:ss")]
        at: Option<NaiveDateTime>,
        /// JSON, one object per line.
        #[arg(long)]
        json: bool,
    },
}

fn station_time(t: DateTime<Utc>, tz: chrono_tz::Tz) -> String {
    t.with_timezone(&tz).format("%Y-%m-%d %H:%M:%S").to_string()
}

pub fn run(cmd: &DutyCommand, config: &Config) -> anyhow::Result<ExitCode> {
    let mut catalog = super::open_catalog_as_user(config)?;
    let tz = config.timezone;
    match cmd {
        DutyCommand::Out { serial, officer, officer_name, shift } => {
            let refuse = |catalog: &mut crate::catalog::Catalog,
                          reason: &str,
                          en: String,
                          zh: String,
                          health: serde_json::Value|
             -> anyhow::Result<ExitCode> {
                catalog.event(
                    Action::DutyRefused,
                    &format!("device:{serial}"),
                    serde_json::json!({
                        "serial": serial, "officer_id": officer, "shift": shift, "reason": reason,
                        "text": en, "text_zh": zh, "health": health,
                    }),
                )?;
                crate::errln!("evidock: {serial} not handed out: {en} / 不予领用：{zh}");
                Ok(ExitCode::from(1))
            };
            match catalog.registry_row(serial)? {
                None => {
                    return refuse(
                        &mut catalog,
                        "unregistered",
                        "the recorder is not registered (`evidock device register`)".into(),
                        "记录仪未登记".into(),
                        serde_json::Value::Null,
                    )
                }
                Some((_, Some(retired))) => {
                    return refuse(
                        &mut catalog,
                        "retired",
                        format!("the recorder was retired from service on {retired}"),
                        "记录仪已停用".into(),
                        serde_json::Value::Null,
                    )
                }
                Some(_) => {}
            }
            if let Some((b, who)) = catalog.open_binding(serial)? {
                return refuse(
                    &mut catalog,
                    "already_out",
                    format!("it is out to officer {who} (binding #{b}); docking it checks it in"),
                    format!("已被{who}领用（#{b}），接入即归还"),
                    serde_json::Value::Null,
                );
            }
            let reading = catalog.duty_reading(serial)?;
            let health = duty::judge(reading.as_ref(), &config.duty.thresholds, Utc::now());
            for i in &health.items {
                crate::outln!("  {:<8} {:<7} {} / {}", i.what, i.state.as_str(), i.text, i.text_zh);
            }
            let below = health.below();
            if below && config.duty.below == Below::Refuse {
                let failing: Vec<&duty::Item> = health.items.iter().filter(|i| i.state == duty::State::Below).collect();
                let en: Vec<&str> = failing.iter().map(|i| i.text.as_str()).collect();
                let zh: Vec<&str> = failing.iter().map(|i| i.text_zh.as_str()).collect();
                return refuse(&mut catalog, "health", en.join("; "), zh.join("；"), health.json());
            }
            let id = catalog.check_out(&CheckOut {
                serial,
                officer_id: officer,
                officer_name: officer_name.as_deref(),
                shift: shift.as_deref(),
                health: health.json(),
                warned: below,
            })?;
            if below {
                crate::outln!(
                    "binding #{id}: {serial} handed out to officer {officer} below the thresholds (warning logged) / 已领用（低于标准，已记录警告）"
                );
            } else {
                crate::outln!("binding #{id}: {serial} handed out to officer {officer} / 已领用");
            }
        }
        DutyCommand::List { json } => {
            for b in catalog.bindings(true)? {
                if *json {
                    crate::outln!(
                        "{}",
                        serde_json::json!({
                            "binding": b.id, "serial": b.serial, "officer_id": b.officer, "officer_name": b.officer_name,
                            "shift": b.shift, "out_at": station_time(b.out_at, tz), "warned": b.warned,
                            "due": station_time(duty::due(b.out_at, config.duty.day_end, tz), tz),
                        })
                    );
                } else {
                    crate::outln!(
                        "#{}  {}  {} {}  {}  out 领用 {}  due 应还 {}{}",
                        b.id,
                        b.serial,
                        b.officer,
                        b.officer_name.as_deref().unwrap_or(""),
                        b.shift.as_deref().unwrap_or("-"),
                        station_time(b.out_at, tz),
                        crate::report::history::station_time_at(duty::due(b.out_at, config.duty.day_end, tz), tz),
                        if b.warned { "  warned 低于标准" } else { "" }
                    );
                }
            }
        }
        DutyCommand::Return { officer, at, note } => {
            let now = Utc::now().with_timezone(&tz).naive_local();
            let at = at.unwrap_or(now);
            if at > now {
                anyhow::bail!("--at {at}: a return cannot be in the future / 返回时间不能晚于现在");
            }
            let id = catalog.record_return(officer, at, note.as_deref())?;
            crate::outln!(
                "return #{id}: officer {officer} back at {} {} (station time 工作站时间) / 已登记返回单位",
                at.format("%Y-%m-%d %H:%M:%S"),
                tz.name()
            );
        }
        DutyCommand::Extend { binding, until, reason } => {
            let until = local_to_utc(tz, *until, Pick::Latest);
            let id = catalog.request_extension(*binding, until, reason)?;
            crate::outln!(
                "extension #{id} of binding #{binding} to {} awaits approval / 延期移交申请已提交，待批准",
                crate::report::history::station_time_at(until, tz)
            );
        }
        DutyCommand::Approve { id } => {
            let me = super::invoke::caller();
            if !config.duty.extension_approvers.is_empty() && !config.duty.extension_approvers.contains(&me.identity) {
                return Err(super::invoke::Refused(format!(
                    "{} is not in duty.extension_approvers: extensions are approved by the person the configuration names / 无权批准延期移交",
                    me.identity.user
                ))
                .into());
            }
            let row = catalog.approve_extension(*id)?;
            crate::outln!(
                "extension #{id} approved: binding #{} may hand over until {} / 延期移交已批准",
                row.extension.binding,
                crate::report::history::station_time_at(row.extension.until, tz)
            );
        }
        DutyCommand::Report { from, to, at, json } => {
            let period = Period::days(*from, *to)?;
            let now = at.map_or_else(Utc::now, |t| local_to_utc(tz, t, Pick::Latest));
            let bindings = catalog.bindings(false)?;
            let mut facts: Vec<_> = catalog.recordings()?.into_iter().map(|r| r.facts).collect();
            duty::apply(&mut facts, &bindings, &catalog.returns()?, &extensions(&catalog)?, tz);
            let lines = duty::report(&bindings, &facts, period.from, period.to, config.duty.day_end, tz, now);
            let findings = lines.iter().filter(|l| l.is_finding()).count();
            for l in &lines {
                if *json {
                    crate::outln!(
                        "{}",
                        serde_json::json!({
                            "kind": l.kind, "binding": l.binding, "serial": l.serial, "officer_id": l.officer,
                            "recording": l.recording, "text": l.text, "text_zh": l.text_zh,
                        })
                    );
                } else {
                    crate::outln!(
                        "{:<13} #{:<4} {}  {}  {}{} / {}",
                        l.kind,
                        l.binding,
                        l.serial,
                        l.officer,
                        l.recording.as_deref().map(|r| format!("{r}  ")).unwrap_or_default(),
                        l.text,
                        l.text_zh
                    );
                }
            }
            if !*json {
                crate::outln!(
                    "{findings} finding(s), end of working day {} / 共{findings}项问题，工作日结束时间{}",
                    config.duty.day_end.format("%H:%M"),
                    config.duty.day_end.format("%H:%M")
                );
            }
            catalog.event(
                Action::ReportMade,
                "report",
                serde_json::json!({ "report": "duty", "from": from.to_string(), "to": to.to_string(), "findings": findings }),
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The extensions, for [`duty::apply`].
pub fn extensions(catalog: &crate::catalog::Catalog) -> anyhow::Result<Vec<duty::Extension>> {
    Ok(catalog.extensions()?.into_iter().map(|e| e.extension).collect())
}
