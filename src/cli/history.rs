//! `evidock log query` and `evidock case history`: what archivists ask of the custody log
//! (R4, R11, R13).
//!
//! Owns: the filters of `log query` and how each is matched against events (below), the
//! gathering of a case's chain of custody from the catalogue and the log (rendered by
//! [`crate::report::history`]), and the `log`/`case` command sets with these two added.
//! Must never: write to the database (it is opened read-only), or read the whole log into
//! memory for a query (filters run in SQL; only the page asked for is read).
//!
//! What each filter matches: [`crate::custody::query`].

use std::io::{self, Write};
use std::process::ExitCode;

use anyhow::bail;

use crate::custody::event::StoredEvent;
use crate::custody::query::Filter;
use crate::report::history as render;

/// `evidock log ...`: the log commands, and `query`.
#[derive(Debug, clap::Subcommand)]
pub enum LogCommand {
    /// The commands of `log.rs` (tail, verify, checkpoint, prove, consistency).
    #[command(flatten)]
    Log(super::log::LogCommand),
    /// Find events by case, device, officer, recording, actor, action, time or sequence
    /// number, a page at a time.
    Query(QueryArgs),
}

/// `evidock case ...`: the case commands, and `history`.
#[derive(Debug, clap::Subcommand)]
pub enum CaseCommand {
    /// The commands of `case.rs` (create, label, list, show, assign, propose).
    #[command(flatten)]
    Case(super::case::CaseCommand),
    /// The chain of custody of every recording in a case, from docking to now, with the
    /// log's verification and its latest signed checkpoint (text, JSON or printable HTML).
    History(HistoryArgs),
}

/// Output of `log query`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum QueryFormat {
    /// A table with a bilingual header.
    Table,
    /// One JSON object per line, the `log tail --json` shape.
    Json,
    /// RFC 4180 CSV, UTF-8, with a header line.
    Csv,
}

/// Output of `case history`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum HistoryFormat {
    /// Plain text.
    Text,
    /// One JSON object.
    Json,
    /// A self-contained printable HTML page.
    Html,
}

/// `evidock log query` filters (see the module documentation for what each matches).
#[derive(Debug, Clone, clap::Args)]
pub struct QueryArgs {
    /// Events of a case and of every file filed into it.
    #[arg(long, value_name = "NUMBER")]
    pub case: Option<String>,
    /// Events of a recorder.
    #[arg(long, value_name = "SERIAL")]
    pub device: Option<String>,
    /// Events of an officer: as actor, or of the dockings of the recorder they carry.
    #[arg(long, value_name = "ID")]
    pub officer: Option<String>,
    /// Events of a recording session and its files.
    #[arg(long, value_name = "SERIAL/SESSION")]
    pub recording: Option<String>,
    /// Events by an operating-system user.
    #[arg(long, value_name = "USER")]
    pub actor: Option<String>,
    /// Events with this action, e.g. segment_wiped (repeatable).
    #[arg(long = "action", value_name = "NAME")]
    pub actions: Vec<String>,
    /// From this time on: RFC 3339, or YYYY-MM-DD / YYYY-MM-DDThh:mm[:ss] in station time.
    #[arg(long, value_name = "TIME")]
    pub from: Option<String>,
    /// Up to this time (a date: the whole day).
    #[arg(long, value_name = "TIME")]
    pub to: Option<String>,
    /// From this sequence number on.
    #[arg(long, value_name = "N")]
    pub seq_from: Option<u64>,
    /// Up to this sequence number.
    #[arg(long, value_name = "N")]
    pub seq_to: Option<u64>,
    /// At most this many events.
    #[arg(long, value_name = "N", default_value_t = 100)]
    pub limit: u64,
    /// Only events after this sequence number (the last one of the previous page).
    #[arg(long, value_name = "SEQ", default_value_t = 0)]
    pub after: u64,
    /// table, json or csv.
    #[arg(long, value_enum, default_value_t = QueryFormat::Table)]
    pub format: QueryFormat,
}

impl QueryArgs {
    /// The filter these arguments ask for (the format is the command line's own).
    pub fn filter(&self) -> Filter {
        Filter {
            case: self.case.clone(),
            device: self.device.clone(),
            officer: self.officer.clone(),
            recording: self.recording.clone(),
            actor: self.actor.clone(),
            actions: self.actions.clone(),
            from: self.from.clone(),
            to: self.to.clone(),
            seq_from: self.seq_from,
            seq_to: self.seq_to,
            limit: self.limit,
            after: self.after,
        }
    }
}

/// `evidock case history` arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct HistoryArgs {
    /// Case number.
    pub number: String,
    /// text, json or html.
    #[arg(long, value_enum, default_value_t = HistoryFormat::Text)]
    pub format: HistoryFormat,
}

pub(crate) fn emit(text: &str, code: ExitCode) -> anyhow::Result<ExitCode> {
    let mut out = super::invoke::stdout();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(code),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(code),
        Err(e) => Err(anyhow::Error::new(e).context("writing to standard output")),
    }
}

/// Runs `evidock log query`: the station API's `log_query`, rendered.
///
/// # Errors
/// When the log cannot be read or a filter is not understood (exit code 2).
pub fn run_query(args: &QueryArgs, link: &super::invoke::Link<'_>) -> anyhow::Result<ExitCode> {
    let crate::api::Reply::LogQuery(page) = link.call(crate::api::Request::LogQuery(args.filter()))? else {
        bail!("the service answered `log query` with another reply");
    };
    if let Some(after) = page.next_after {
        crate::errln!("evidock: more events may follow: next page with --after {after}");
    }
    let events: Vec<StoredEvent> = page.events.iter().map(crate::api::log::Event::to_stored).collect();
    let text = match args.format {
        QueryFormat::Table => super::log::table(&events),
        QueryFormat::Json => events.iter().map(|e| super::log::event_json(e) + "\n").collect(),
        QueryFormat::Csv => csv(&events),
    };
    emit(&text, ExitCode::SUCCESS)
}

/// Runs `evidock case history`. Exit code 1 when the custody log does not verify (the report
/// is still printed, and says so).
///
/// # Errors
/// When the database cannot be read or the case does not exist (exit code 2).
pub fn run_history(args: &HistoryArgs, link: &super::invoke::Link<'_>) -> anyhow::Result<ExitCode> {
    let request = crate::api::Request::CaseHistory(crate::api::history::HistoryArgs { number: args.number.clone() });
    let crate::api::Reply::CaseHistory(h) = link.call(request)? else {
        bail!("the service answered `case history` with another reply");
    };
    let text = match args.format {
        HistoryFormat::Text => render::text(&h),
        HistoryFormat::Json => render::json(&h),
        HistoryFormat::Html => render::html(&h),
    };
    emit(&text, if h.log.intact { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

/// RFC 4180: CRLF line ends, a field quoted when it holds a comma, quote, CR or LF.
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The events as CSV with a header line (UTF-8, no byte-order mark).
fn csv(events: &[StoredEvent]) -> String {
    let mut out = String::from(
        "seq,ts_utc,ts_local,actor_user,actor_role,actor_officer,action,action_zh,subject,details,prev_hash,hash\r\n",
    );
    for e in events {
        let fields = [
            e.seq.to_string(),
            e.ts_utc.clone(),
            e.ts_local.clone(),
            e.actor_user.clone(),
            e.actor_role.clone(),
            e.actor_officer.clone().unwrap_or_default(),
            e.action.clone(),
            e.known_action().map(|a| a.label_zh().to_string()).unwrap_or_default(),
            e.subject.clone(),
            e.details.clone(),
            hex(&e.prev_hash),
            hex(&e.hash),
        ];
        out.push_str(&fields.iter().map(|f| csv_field(f)).collect::<Vec<_>>().join(","));
        out.push_str("\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_only_what_rfc_4180_requires() {
        assert_eq!(csv_field("plain 中文"), "plain 中文");
        assert_eq!(csv_field(r#"{"a":1,"b":"x"}"#), r#""{""a"":1,""b"":""x""}""#);
        assert_eq!(csv_field("two\nlines"), "\"two\nlines\"");
    }
}
