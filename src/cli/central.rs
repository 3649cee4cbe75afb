//! `evidock replicate status|run` (the station's central copy) and `evidock central
//! verify|create-bucket` (an auditor's check of a whole bucket; setting one up).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Mutex;

use chrono::Utc;
use serde_json::{json, Value};

use crate::catalog::Catalog;
use crate::central::{self, audit, replicate, s3, witness::Witness};
use crate::config::Config;
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

/// The central section of `status --json` (`None` without `[central]`).
pub fn status_json(config: &Config) -> Option<Value> {
    config.central.as_ref()?;
    let catalog = Catalog::open_read_only(&config.catalog_path(), config.timezone).ok()?;
    Some(backlog_json(config, &catalog))
}

/// The central copy's numbers (`replicate status --json`, `status`, the compliance report).
pub fn backlog_json(config: &Config, catalog: &Catalog) -> Value {
    let b = catalog.central_backlog().unwrap_or_default();
    let now = Utc::now();
    let age = central::backlog_age(&b, now);
    let alarm_s = config.central.as_ref().map_or(0, |c| c.backlog_alarm_s);
    let state = |n: &str| catalog.central_state(n).ok().flatten().filter(|s| !s.is_empty());
    let evicted = catalog.evicted_totals().unwrap_or_default();
    json!({
        "version": 1,
        "endpoint": config.central.as_ref().map(|c| c.endpoint.clone()),
        "bucket": config.central.as_ref().map(|c| c.bucket.clone()),
        "pending": b.pending, "pending_bytes": b.pending_bytes,
        "oldest_recorded": b.oldest_recorded, "oldest_age_s": age, "oldest_footage": b.oldest_footage,
        "confirmed": b.confirmed, "confirmed_bytes": b.confirmed_bytes,
        "failing": b.failing, "last_error": b.last_error, "blocked": b.blocked,
        "last_pass": state("last_pass"), "last_pass_error": state("last_pass_error"),
        "witness": state("witness"),
        "backlog_alarm": age.is_some_and(|a| a > alarm_s as i64),
        "backlog_alarm_after_s": alarm_s,
        "evicted": evicted.0, "evicted_bytes": evicted.1,
        "evict_after_days": config.central.as_ref().and_then(|c| c.evict.after_days),
        "evict_at_disk_percent": config.central.as_ref().and_then(|c| c.evict.at_disk_percent),
    })
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

/// `evidock replicate ...`
///
/// # Errors
/// When the catalogue cannot be read or written (exit 2).
pub fn run_replicate(cmd: &ReplicateCommand, config: &Config) -> anyhow::Result<ExitCode> {
    let Some(c) = &config.central else {
        anyhow::bail!(
            "no [central] in the configuration: this station keeps everything on its own disk / 未配置中心存储"
        );
    };
    match cmd {
        ReplicateCommand::Status { json } => {
            let catalog = Catalog::open_read_only(&config.catalog_path(), config.timezone)?;
            let v = backlog_json(config, &catalog);
            if *json {
                outln!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                crate::outprint!("{}", render(&v));
            }
            let alarm = v["backlog_alarm"].as_bool() == Some(true)
                || v["blocked"].as_u64() > Some(0)
                || !v["witness"].is_null();
            Ok(if alarm { ExitCode::from(1) } else { ExitCode::SUCCESS })
        }
        ReplicateCommand::Evict { dry_run, json } => {
            if !c.evict.enabled() {
                anyhow::bail!(
                    "eviction is off: set central.evict_after_days or central.evict_at_disk_percent to evict local copies \
                     / 未开启本地副本清除，请设置 central.evict_after_days 或 central.evict_at_disk_percent"
                );
            }
            let store = central::open_store(c).map_err(anyhow::Error::msg)?;
            let catalog = Mutex::new(super::open_catalog_as_user(config)?);
            let r = central::offload::run(config, &store, &catalog, *dry_run, Utc::now())?;
            if *json {
                outln!(
                    "{}",
                    json!({
                        "dry_run": dry_run, "evicted": r.evicted, "evicted_bytes": r.evicted_bytes, "recovered": r.recovered,
                        "disk": r.disk.map(|(t, u)| json!({"total": t, "used": u})),
                        "chosen": r.chosen.iter().map(|(id, p, s, why)| json!({"file": id, "path": p, "size": s, "rule": why})).collect::<Vec<_>>(),
                        "refused": r.refused.iter().map(|(p, why)| json!({"path": p, "why": why})).collect::<Vec<_>>(),
                    })
                );
            } else {
                for (_, p, s, why) in &r.chosen {
                    let refused = r.refused.iter().find(|(q, _)| q == p);
                    match refused {
                        Some((_, w)) => outln!("  kept 保留 {p}: {w}"),
                        None if *dry_run => outln!("  would evict 将清除 {p} ({}, {why})", super::bytes(*s)),
                        None => outln!("  evicted 已清除 {p} ({}, {why})", super::bytes(*s)),
                    }
                }
                outln!(
                    "{} {} files 个文件 ({}), refused 拒绝 {}{}",
                    if *dry_run { "dry run 试运行: would evict 将清除" } else { "evicted 已清除本地副本" },
                    if *dry_run { (r.chosen.len() - r.refused.len()) as u64 } else { r.evicted },
                    super::bytes(if *dry_run {
                        r.chosen.iter().filter(|(_, p, _, _)| !r.refused.iter().any(|(q, _)| q == p)).map(|c| c.2).sum()
                    } else {
                        r.evicted_bytes
                    }),
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
        ReplicateCommand::Recall { what, json } => {
            let store = central::open_store(c).map_err(anyhow::Error::msg)?;
            let catalog = Mutex::new(super::open_catalog_as_user(config)?);
            central::offload::recover(config, &catalog)?;
            let files = {
                let cat = catalog.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                central::offload::resolve(config, &cat, what)?
            };
            let done = central::offload::recall(config, &store, &catalog, &files)?;
            if *json {
                outln!("{}", json!({ "recalled": done }));
            } else {
                for d in &done {
                    outln!(
                        "recalled 已取回 {} ({})",
                        d["paths"][0].as_str().unwrap_or(""),
                        super::bytes(d["size"].as_u64().unwrap_or(0))
                    );
                }
                outln!("{} files recalled 个文件已取回", done.len());
            }
            Ok(ExitCode::SUCCESS)
        }
        ReplicateCommand::Run { json } => {
            let store = central::open_store(c).map_err(anyhow::Error::msg)?;
            let catalog = Mutex::new(super::open_catalog_as_user(config)?);
            let stop = AtomicBool::new(false);
            let witness = Witness::default();
            witness.check_on_start(&store, config, &catalog);
            let r =
                replicate::Replicator { config, central: c, store, catalog: &catalog, stop: &stop, witness: &witness };
            let result = r.pass();
            central::backlog_alarm(config, &catalog);
            let witness_alarm = witness.disagreement().map(|d| d.to_string());
            match result {
                Ok(p) => {
                    if *json {
                        outln!(
                            "{}",
                            json!({ "queued": p.queued, "confirmed": p.confirmed, "bytes_sent": p.bytes_sent,
                                    "lock_changes": p.lock_changes, "failed": p.failed, "blocked": p.blocked,
                                    "stopped_by": p.stopped_by, "witness": witness_alarm })
                        );
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
                        if let Some(w) = &witness_alarm {
                            outln!("ALARM 告警: {w}");
                        }
                    }
                    Ok(if p.failed + p.blocked > 0 || p.stopped_by.is_some() || witness_alarm.is_some() {
                        ExitCode::from(1)
                    } else {
                        ExitCode::SUCCESS
                    })
                }
                Err(e) => {
                    if *json {
                        outln!("{}", json!({ "error": e.to_string(), "kind": e.kind(), "witness": witness_alarm }));
                    }
                    Err(e.into())
                }
            }
        }
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
