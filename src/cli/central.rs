//! `evidock replicate status|run|evict|recall` (the station's central copy: a front end of
//! the `replicate_*` operations, [`crate::api::replicate`]) and `evidock central
//! verify|create-bucket` (an auditor's check of a whole bucket, offline; setting one up).

use std::path::PathBuf;
use std::process::ExitCode;

use serde_json::{json, Value};

use super::invoke::Link;
use crate::api::{replicate, Reply, Request};
use crate::central::{self, audit, s3};
use crate::{errln, outln};

/// `evidock replicate ...`
#[derive(Debug, clap::Subcommand)]
pub enum ReplicateCommand {
    /// The backlog (files not yet proven off the station), its age, the oldest recording still
    /// on the station alone, failures and alarms.
    Status {
        /// JSON (`version` 1).
        #[arg(long)]
        json: bool,
    },
    /// One replication pass now (the daemon runs one every `central.interval_s`).
    Run {
        /// JSON.
        #[arg(long)]
        json: bool,
    },
    /// Evict the local copies of footage proven off the station, by `central.evict_after_days`
    /// and `central.evict_at_disk_percent` (INV-20): each choice proved again against the
    /// custody log and the store's object version first. Exit 1 when a proof failed (alarm).
    Evict {
        /// Say what would go and prove it, remove nothing.
        #[arg(long)]
        dry_run: bool,
        /// JSON.
        #[arg(long)]
        json: bool,
    },
    /// Bring evicted footage back from its logged object version, checked against the custody
    /// log's hash: an archive path of an evicted file, or a case number.
    Recall {
        /// FILE (archive path) or CASE.
        what: String,
        /// JSON.
        #[arg(long)]
        json: bool,
    },
}

/// `evidock central ...`
#[derive(Debug, clap::Subcommand)]
pub enum CentralCommand {
    /// Check every station in a bucket offline (read-only credentials suffice): logs and
    /// checkpoints consistent, every confirmed object present with the logged hash, every lock
    /// at least until its deadline, holds where the logs say. Exit 1 on any finding.
    Verify(VerifyArgs),
    /// Create a bucket with Object Lock enabled (first set-up), optionally readable by
    /// auditors' users (read-only: objects, versions, locks, holds; never a write).
    CreateBucket {
        /// The bucket.
        #[command(flatten)]
        at: EndpointArgs,
        /// A store user (uid) given read-only access to the whole bucket, for `central verify`.
        #[arg(long, value_name = "UID")]
        reader: Vec<String>,
    },
}

/// The bucket policy that lets `readers` read everything an audit needs and write nothing.
pub fn reader_policy(bucket: &str, readers: &[String]) -> String {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "evidock-auditors-read-only",
            "Effect": "Allow",
            "Principal": { "AWS": readers.iter().map(|r| format!("arn:aws:iam:::user/{r}")).collect::<Vec<_>>() },
            "Action": [
                "s3:ListBucket", "s3:ListBucketVersions", "s3:GetObject", "s3:GetObjectVersion",
                "s3:GetObjectRetention", "s3:GetObjectLegalHold", "s3:GetBucketObjectLockConfiguration",
            ],
            "Resource": [format!("arn:aws:s3:::{bucket}"), format!("arn:aws:s3:::{bucket}/*")],
        }],
    })
    .to_string()
}

/// Where the bucket is.
#[derive(Debug, clap::Args)]
pub struct EndpointArgs {
    /// `http://host:port` or `https://host[:port]`.
    #[arg(long)]
    pub endpoint: String,
    /// The bucket.
    #[arg(long)]
    pub bucket: String,
    /// Signing region.
    #[arg(long, default_value = "us-east-1")]
    pub region: String,
    /// Credentials file (`access_key = ...`, `secret_key = ...`, mode 0600).
    #[arg(long, value_name = "FILE")]
    pub credentials: PathBuf,
}

/// `central verify` arguments.
#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// The bucket.
    #[command(flatten)]
    pub at: EndpointArgs,
    /// Only these stations (default: every station in the bucket).
    #[arg(long)]
    pub station: Vec<String>,
    /// `STATION=FILE`: the verifier key to trust for a station (default: the bucket's copy).
    #[arg(long, value_name = "STATION=FILE")]
    pub key: Vec<String>,
    /// Read every object back and hash it (slow: every byte crosses the network).
    #[arg(long)]
    pub read_back: bool,
    /// JSON: one object per station in an array.
    #[arg(long)]
    pub json: bool,
}

fn store_for(a: &EndpointArgs) -> anyhow::Result<s3::Store> {
    let credentials =
        central::config::load_credentials(&central::config::CredentialSource::File(a.credentials.clone()))
            .map_err(anyhow::Error::msg)?;
    Ok(s3::Store::new(
        s3::Endpoint {
            url: a.endpoint.trim_end_matches('/').to_string(),
            bucket: a.bucket.clone(),
            region: a.region.clone(),
            credentials,
        },
        None,
    ))
}

fn age_text(s: i64) -> String {
    if s >= 86_400 {
        format!("{} d {} h", s / 86_400, s % 86_400 / 3600)
    } else {
        format!("{} h {} min", s / 3600, s % 3600 / 60)
    }
}

/// The lines `status` and `replicate status` print about the central copy.
pub fn render(v: &Value) -> String {
    let n = |k: &str| v[k].as_u64().unwrap_or(0);
    let mut out = format!(
        "central copy 中心存储 {} bucket {}: {} confirmed 已确认 ({}), {} waiting 待上传 ({})",
        v["endpoint"].as_str().unwrap_or("-"),
        v["bucket"].as_str().unwrap_or("-"),
        n("confirmed"),
        super::bytes(n("confirmed_bytes")),
        n("pending"),
        super::bytes(n("pending_bytes")),
    );
    if let Some(age) = v["oldest_age_s"].as_i64() {
        out += &format!(", oldest 最早 {}", age_text(age));
    }
    out += "\n";
    if n("evicted") > 0 || !v["evict_after_days"].is_null() || !v["evict_at_disk_percent"].is_null() {
        out += &format!(
            "  evicted 本地副本已清除（仅存于中心存储）: {} files 个文件 ({})\n",
            n("evicted"),
            super::bytes(n("evicted_bytes"))
        );
    }
    if let Some(f) = v["oldest_footage"].as_str() {
        out += &format!("  oldest recording on this station alone 仅存于本站的最早录像: {f}\n");
    }
    if v["backlog_alarm"].as_bool() == Some(true) {
        out += &format!(
            "  ALARM 告警: footage has waited more than {} min for the central store / 录像等待上传超过 {} 分钟\n",
            n("backlog_alarm_after_s") / 60,
            n("backlog_alarm_after_s") / 60
        );
    }
    if n("blocked") > 0 {
        out += &format!(
            "  ALARM 告警: {} objects cannot be sent as they are (see the custody log, central_alarm)\n",
            n("blocked")
        );
    }
    if let Some(w) = v["witness"].as_str() {
        out += &format!("  ALARM 告警 (store as witness 中心存储见证): {w}\n");
    }
    if let Some(e) = v["last_pass_error"].as_str().or(v["last_error"].as_str()) {
        out += &format!("  last error 最近错误: {e}\n");
    }
    out
}

/// The operation a `replicate` command asks for.
pub fn request(cmd: &ReplicateCommand) -> Request {
    match cmd {
        ReplicateCommand::Status { .. } => Request::ReplicateStatus(replicate::StatusArgs::default()),
        ReplicateCommand::Run { .. } => Request::ReplicateRun(replicate::RunArgs::default()),
        ReplicateCommand::Evict { dry_run, .. } => Request::ReplicateEvict(replicate::Evict { dry_run: *dry_run }),
        ReplicateCommand::Recall { what, .. } => Request::ReplicateRecall(replicate::Recall { what: what.clone() }),
    }
}

/// `evidock replicate ...` through `link`: prints the reply; exit 1 on an alarm, a failed
/// upload or a proof that failed.
///
/// # Errors
/// When the operation fails or is refused (exit 2).
pub fn run_replicate(cmd: &ReplicateCommand, link: &Link<'_>) -> anyhow::Result<ExitCode> {
    let json = match cmd {
        ReplicateCommand::Status { json }
        | ReplicateCommand::Run { json }
        | ReplicateCommand::Evict { json, .. }
        | ReplicateCommand::Recall { json, .. } => *json,
    };
    match link.call(request(cmd))? {
        Reply::ReplicateStatus(b) => {
            if json {
                outln!("{}", serde_json::to_string_pretty(&b)?);
            } else {
                crate::outprint!("{}", render(&serde_json::to_value(&b)?));
            }
            Ok(if b.alarm() { ExitCode::from(1) } else { ExitCode::SUCCESS })
        }
        Reply::ReplicateEvict(r) => {
            if json {
                outln!("{}", serde_json::to_string(&r)?);
            } else {
                let kept = |p: &str| r.refused.iter().find(|k| k.path == p);
                for c in &r.chosen {
                    match kept(&c.path) {
                        Some(k) => outln!("  kept 保留 {}: {}", c.path, k.why),
                        None if r.dry_run => {
                            outln!("  would evict 将清除 {} ({}, {})", c.path, super::bytes(c.size), c.rule)
                        }
                        None => outln!("  evicted 已清除 {} ({}, {})", c.path, super::bytes(c.size), c.rule),
                    }
                }
                let would: Vec<&replicate::Chosen> = r.chosen.iter().filter(|c| kept(&c.path).is_none()).collect();
                outln!(
                    "{} {} files 个文件 ({}), refused 拒绝 {}{}",
                    if r.dry_run {
                        "dry run 试运行: would evict 将清除"
                    } else {
                        "evicted 已清除本地副本"
                    },
                    if r.dry_run { would.len() as u64 } else { r.evicted },
                    super::bytes(if r.dry_run { would.iter().map(|c| c.size).sum() } else { r.evicted_bytes }),
                    r.refused.len(),
                    if r.recovered > 0 {
                        format!(", finished after a stop 中断后完成 {}", r.recovered)
                    } else {
                        String::new()
                    }
                );
            }
            Ok(if r.refused.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) })
        }
        Reply::ReplicateRecall(r) => {
            if json {
                outln!("{}", serde_json::to_string(&r)?);
            } else {
                for d in &r.recalled {
                    outln!(
                        "recalled 已取回 {} ({})",
                        d["paths"][0].as_str().unwrap_or(""),
                        super::bytes(d["size"].as_u64().unwrap_or(0))
                    );
                }
                outln!("{} files recalled 个文件已取回", r.recalled.len());
            }
            Ok(ExitCode::SUCCESS)
        }
        Reply::ReplicateRun(p) => {
            if json {
                outln!("{}", serde_json::to_string(&p)?);
            } else {
                outln!(
                    "queued 新排队 {}, confirmed 已确认 {} ({}), lock changes 锁定变更 {}, failed 失败 {}, blocked 阻止 {}",
                    p.queued,
                    p.confirmed,
                    super::bytes(p.bytes_sent),
                    p.lock_changes,
                    p.failed,
                    p.blocked
                );
                if let Some(e) = &p.stopped_by {
                    outln!("stopped by 中止原因: {e}");
                }
                if let Some(w) = &p.witness {
                    outln!("ALARM 告警: {w}");
                }
            }
            Ok(if p.problem() { ExitCode::from(1) } else { ExitCode::SUCCESS })
        }
        other => Err(super::invoke::unexpected(&other)),
    }
}

/// `evidock central ...`
///
/// # Errors
/// When the bucket cannot be read (exit 2).
pub fn run_central(cmd: &CentralCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        CentralCommand::CreateBucket { at: a, reader } => {
            let store = store_for(a)?;
            store.create_bucket(true)?;
            if !store.object_lock_enabled()? {
                anyhow::bail!("the store created {} but does not report Object Lock on it", a.bucket);
            }
            outln!("bucket {} created with Object Lock / 已创建启用对象锁定的存储桶", a.bucket);
            if !reader.is_empty() {
                store.put_bucket_policy(&reader_policy(&a.bucket, reader))?;
                outln!("read-only for auditors 审计只读: {}", reader.join(", "));
            }
            Ok(ExitCode::SUCCESS)
        }
        CentralCommand::Verify(v) => {
            let store = store_for(&v.at)?;
            let mut pinned = std::collections::BTreeMap::new();
            for k in &v.key {
                let (station, file) =
                    k.split_once('=').ok_or_else(|| anyhow::anyhow!("--key {k}: expected STATION=FILE"))?;
                let text = std::fs::read_to_string(file).map_err(|e| anyhow::anyhow!("--key {file}: {e}"))?;
                let key = crate::custody::checkpoint::NoteVerifier::parse(text.trim())
                    .map_err(|e| anyhow::anyhow!("--key {file}: not a verifier key: {e}"))?;
                pinned.insert(station.to_string(), key);
            }
            let stations = if v.station.is_empty() { audit::stations(&store)? } else { v.station.clone() };
            if stations.is_empty() {
                errln!("no station in bucket {} / 存储桶中没有工作站", v.at.bucket);
            }
            let mut reports = Vec::new();
            for s in &stations {
                reports.push(audit::check_station(&store, s, pinned.get(s), v.read_back)?);
            }
            let bad = reports.iter().any(|r| !r.findings.is_empty());
            if v.json {
                outln!(
                    "{}",
                    serde_json::to_string_pretty(&Value::Array(
                        reports.iter().map(audit::StationReport::to_json).collect()
                    ))?
                );
            } else {
                for r in &reports {
                    outln!(
                        "{}: {} checkpoints 检查点, {} events 事件, {} objects checked 已核对对象, {} not yet off the station 未上传 — {}",
                        r.station,
                        r.checkpoints,
                        r.events,
                        r.objects_checked,
                        r.unconfirmed,
                        if r.findings.is_empty() { "ok 一致" } else { "FINDINGS 发现问题" }
                    );
                    for f in &r.findings {
                        outln!("  {} {}: {}", f.kind, f.key, f.detail);
                    }
                }
            }
            Ok(if bad { ExitCode::from(1) } else { ExitCode::SUCCESS })
        }
    }
}
