//! The central store's edge: S3 requests over blocking HTTP(S) (`ureq`), signed with
//! [`super::sigv4`]. One [`Store`] per bucket; every call is one request (or one streamed
//! GET), with its own timeouts, and every failure a [`S3Error`] that says whether a retry can
//! help and what to do, in Chinese too.
//!
//! Why `ureq` and our own signing rather than an S3 crate: the replicator is a plain thread
//! doing one request at a time per upload slot, so a small blocking client fits it; `ureq`
//! (rustls with the system's CA certificates, so a bureau's own CA works) added 45 packages to
//! the lock file, most of them the URL crate's Unicode tables. The full AWS SDK supports Object Lock but brings its own async HTTP stack and a
//! large code generator output; the smaller community S3 crates are async-first or do not
//! expose the Object Lock and legal-hold calls. Signing is 150 lines, pure, and pinned by
//! AWS's published examples ([`super::sigv4`]). Per-part integrity is `Content-MD5`, which
//! every S3 store checks, the RADOS Gateway of Debian 12 (16.2) included; the newer
//! `x-amz-checksum-*` headers are not relied on.
//!
//! Owns: the wire (paths, headers, query parameters, status codes, error documents).
//! Must never: decide what to upload or when (that is [`super::replicate`]), delete or
//! overwrite an object, or shorten a lock (it has no call that could).

use std::collections::BTreeMap;
use std::io::Read;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use chrono::{DateTime, Utc};
use md5::{Digest as _, Md5};

use super::sigv4::{self, Credentials};
use super::xml;

/// Why a request to the store failed.
#[derive(Debug, thiserror::Error)]
pub enum S3Error {
    /// No answer: refused, reset, timed out, name not resolved. The store is down or unreachable.
    #[error("the central store {endpoint} is unreachable ({detail}); uploads wait and retry / 中心存储无法连接，上传将等待重试")]
    Unreachable {
        /// The endpoint.
        endpoint: String,
        /// What the network said.
        detail: String,
    },
    /// The store refused the signature's time: the station's clock is far from the store's.
    #[error(
        "the central store refused the request's time: the station clock differs from the store's by about {skew}; \
             S3 signatures are valid for 15 minutes only: set the station clock (NTP) / \
             本站时钟与中心存储相差约 {skew}，签名无效，请校准本站时钟"
    )]
    ClockSkew {
        /// How far off, as text (e.g. `2 h 0 min ahead`).
        skew: String,
    },
    /// The credentials are wrong or not allowed to do this.
    #[error(
        "the central store refused the credentials ({code}: {message}) for {action}; check the access key and \
             secret in central.credentials_file / 中心存储拒绝了访问凭据，请检查凭据文件"
    )]
    Credentials {
        /// The S3 error code (`InvalidAccessKeyId`, `SignatureDoesNotMatch`, `AccessDenied`).
        code: String,
        /// The store's message.
        message: String,
        /// What was being done.
        action: String,
    },
    /// The bucket does not exist.
    #[error("the bucket {bucket} does not exist on {endpoint}: create it with Object Lock enabled / 存储桶不存在")]
    NoSuchBucket {
        /// The bucket.
        bucket: String,
        /// The endpoint.
        endpoint: String,
    },
    /// The store is out of space or over quota.
    #[error(
        "the central store is full ({code}: {message}); uploads wait and retry, nothing is removed locally / \
             中心存储空间已满，上传将等待，本地文件不会删除"
    )]
    Full {
        /// The S3 error code.
        code: String,
        /// The store's message.
        message: String,
    },
    /// The store says the bytes it received are not what was sent (`BadDigest`).
    #[error(
        "the central store received damaged bytes for {key} ({message}); the upload is retried / 上传数据损坏，将重试"
    )]
    BadDigest {
        /// The object key.
        key: String,
        /// The store's message.
        message: String,
    },
    /// Any other refusal.
    #[error("the central store answered {status} {code} to {action}: {message}")]
    Refused {
        /// What was being done (`PUT key`).
        action: String,
        /// HTTP status.
        status: u16,
        /// The S3 error code, when the body had one.
        code: String,
        /// The store's message.
        message: String,
    },
    /// The store answered something this client cannot read.
    #[error("the central store answered {action} with a document this station cannot read: {detail}")]
    Malformed {
        /// What was being done.
        action: String,
        /// What was wrong.
        detail: String,
    },
}

impl S3Error {
    /// Whether trying again later can help (the store down, full, or a transient refusal).
    pub fn retry_helps(&self) -> bool {
        match self {
            S3Error::Unreachable { .. } | S3Error::Full { .. } | S3Error::BadDigest { .. } => true,
            S3Error::Refused { status, .. } => *status >= 500 || *status == 408 || *status == 429,
            S3Error::ClockSkew { .. } | S3Error::Credentials { .. } | S3Error::NoSuchBucket { .. } => true,
            S3Error::Malformed { .. } => false,
        }
    }

    /// A stable one-word name, for status and JSON.
    pub fn kind(&self) -> &'static str {
        match self {
            S3Error::Unreachable { .. } => "unreachable",
            S3Error::ClockSkew { .. } => "clock_skew",
            S3Error::Credentials { .. } => "credentials",
            S3Error::NoSuchBucket { .. } => "no_such_bucket",
            S3Error::Full { .. } => "full",
            S3Error::BadDigest { .. } => "bad_digest",
            S3Error::Refused { .. } => "refused",
            S3Error::Malformed { .. } => "malformed",
        }
    }
}

/// Where and as whom to talk to the store.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// `http://host:port` or `https://host[:port]`, no trailing slash.
    pub url: String,
    /// The bucket.
    pub bucket: String,
    /// The region the signature names (`us-east-1` unless the store says otherwise).
    pub region: String,
    /// The key pair.
    pub credentials: Credentials,
}

/// A shared byte-rate limit for uploads (`central.bandwidth_bytes_per_s`): a token bucket of
/// one second's worth.
#[derive(Debug)]
pub struct Pace {
    rate: u64,
    state: Mutex<(Instant, f64)>,
}

impl Pace {
    /// `rate` bytes per second; 0 means unlimited.
    pub fn new(rate: u64) -> Pace {
        Pace { rate, state: Mutex::new((Instant::now(), rate as f64)) }
    }

    /// Waits until `n` bytes may be sent.
    pub fn take(&self, n: usize) {
        if self.rate == 0 {
            return;
        }
        let wait = {
            let mut s = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            let now = Instant::now();
            let refill = now.duration_since(s.0).as_secs_f64() * self.rate as f64;
            s.0 = now;
            s.1 = (s.1 + refill).min(self.rate as f64) - n as f64;
            if s.1 < 0.0 {
                Duration::from_secs_f64(-s.1 / self.rate as f64)
            } else {
                Duration::ZERO
            }
        };
        if !wait.is_zero() {
            std::thread::sleep(wait);
        }
    }
}

/// A body sent in paced slices.
struct Paced<'a> {
    data: &'a [u8],
    at: usize,
    pace: Option<&'a Pace>,
}

impl Read for Paced<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf.len().min(self.data.len() - self.at).min(64 << 10);
        if n == 0 {
            return Ok(0);
        }
        if let Some(p) = self.pace {
            p.take(n);
        }
        buf[..n].copy_from_slice(&self.data[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

/// An object's lock as the store reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lock {
    /// `COMPLIANCE` or `GOVERNANCE`.
    pub mode: String,
    /// Retain until (UTC).
    pub until: DateTime<Utc>,
}

/// What HEAD says about an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    /// Size in bytes.
    pub size: u64,
    /// The ETag, quotes removed.
    pub etag: String,
    /// `x-amz-meta-*`, names lower case without the prefix.
    pub meta: BTreeMap<String, String>,
    /// The version id, when the bucket is versioned (Object Lock buckets are).
    pub version_id: Option<String>,
}

/// One object version in a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    /// Key.
    pub key: String,
    /// Version id.
    pub version_id: String,
    /// Whether it is the current version.
    pub is_latest: bool,
    /// Size (0 for a delete marker).
    pub size: u64,
    /// ETag, quotes removed.
    pub etag: String,
    /// A delete marker rather than an object.
    pub delete_marker: bool,
}

/// One part of a multipart upload the store holds: (number, ETag, size).
pub type Part = (u32, String, u64);

/// What an upload sends besides the bytes.
#[derive(Debug, Clone)]
pub struct PutOptions {
    /// `x-amz-meta-*` pairs (ASCII values).
    pub meta: Vec<(String, String)>,
    /// COMPLIANCE lock until this moment.
    pub retain_until: DateTime<Utc>,
    /// Legal hold on.
    pub legal_hold: bool,
}

/// A store's response, read whole (small documents only).
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Formats a lock date as S3 wants it.
pub fn iso(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// Parses an S3 date (ISO 8601 with or without fraction).
pub fn parse_iso(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s.trim()).ok().map(|t| t.with_timezone(&Utc))
}

/// `Content-MD5` of `data`.
pub fn content_md5(data: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(Md5::digest(data))
}

/// The store: one bucket on one endpoint.
#[derive(Clone)]
pub struct Store {
    agent: ureq::Agent,
    ep: Endpoint,
    host: String,
    pace: Option<Arc<Pace>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("endpoint", &self.ep.url).field("bucket", &self.ep.bucket).finish()
    }
}

/// The signing clock: the system clock, shifted in test builds by `EVIDOCK_CLOCK_SKEW_S`
/// (a station whose clock is far off).
fn signing_now() -> DateTime<Utc> {
    #[cfg(feature = "failpoints")]
    if let Some(s) = std::env::var("EVIDOCK_CLOCK_SKEW_S").ok().and_then(|v| v.parse::<i64>().ok()) {
        return Utc::now() + chrono::TimeDelta::seconds(s);
    }
    Utc::now()
}

fn skew_text(station: DateTime<Utc>, store: Option<DateTime<Utc>>) -> String {
    let Some(store) = store else { return "more than 15 minutes".into() };
    let d = station - store;
    let (mins, dir) =
        if d.num_seconds() >= 0 { (d.num_minutes(), "ahead / 快") } else { (-d.num_minutes(), "behind / 慢") };
    format!("{} h {} min {dir}", mins / 60, mins % 60)
}

impl Store {
    /// A client for `ep`, uploads paced by `pace` when given.
    pub fn new(ep: Endpoint, pace: Option<Arc<Pace>>) -> Store {
        let agent = ureq::AgentBuilder::new()
            .timeout_connect(Duration::from_secs(10))
            .timeout_read(Duration::from_secs(120))
            .timeout_write(Duration::from_secs(120))
            .max_idle_connections_per_host(8)
            .build();
        let host = ep.url.split("://").nth(1).unwrap_or(&ep.url).trim_end_matches('/').to_string();
        Store { agent, ep, host, pace }
    }

    /// The endpoint and bucket.
    pub fn endpoint(&self) -> &Endpoint {
        &self.ep
    }

    fn url(&self, path: &str, query: &[(String, String)]) -> String {
        let q = sigv4::canonical_query(query);
        if q.is_empty() {
            format!("{}{path}", self.ep.url.trim_end_matches('/'))
        } else {
            format!("{}{path}?{q}", self.ep.url.trim_end_matches('/'))
        }
    }

    /// One signed request; the body is sent in paced slices when `paced`.
    fn call(
        &self,
        method: &str,
        key: Option<&str>,
        query: &[(&str, &str)],
        extra: &[(String, String)],
        body: &[u8],
        paced: bool,
    ) -> Result<Reply, S3Error> {
        let action = format!("{method} {}", key.unwrap_or(&self.ep.bucket));
        let path = sigv4::encode_path(&self.ep.bucket, key.unwrap_or(""));
        let query: Vec<(String, String)> = query.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let now = signing_now();
        let payload = sigv4::sha256_hex(body);
        let mut headers: Vec<(String, String)> = vec![
            ("host".into(), self.host.clone()),
            ("x-amz-date".into(), sigv4::amz_date(now)),
            ("x-amz-content-sha256".into(), payload.clone()),
        ];
        headers.extend(extra.iter().cloned());
        let auth = sigv4::authorization(
            &self.ep.credentials,
            &self.ep.region,
            "s3",
            now,
            &sigv4::Request { method, path: &path, query: &query, headers: &headers, payload_hash: &payload },
        );
        let mut req = self.agent.request(method, &self.url(&path, &query));
        for (k, v) in &headers {
            req = req.set(k, v);
        }
        req = req.set("authorization", &auth);
        let result = if body.is_empty() && method != "PUT" && method != "POST" {
            req.call()
        } else {
            req = req.set("content-length", &body.len().to_string());
            let pace = if paced { self.pace.as_deref() } else { None };
            req.send(Paced { data: body, at: 0, pace })
        };
        let resp = match result {
            Ok(r) => r,
            Err(ureq::Error::Status(_, r)) => r,
            Err(ureq::Error::Transport(t)) => {
                return Err(S3Error::Unreachable { endpoint: self.ep.url.clone(), detail: t.to_string() })
            }
        };
        let status = resp.status();
        let headers: Vec<(String, String)> = resp
            .headers_names()
            .into_iter()
            .filter_map(|n| resp.header(&n).map(|v| (n.clone(), v.to_string())))
            .collect();
        let mut body = Vec::new();
        if method != "HEAD" {
            resp.into_reader()
                .take(16 << 20)
                .read_to_end(&mut body)
                .map_err(|e| S3Error::Unreachable { endpoint: self.ep.url.clone(), detail: e.to_string() })?;
        }
        let reply = Reply { status, headers, body };
        if (200..300).contains(&status) {
            return Ok(reply);
        }
        Err(self.refusal(&action, key, now, &reply))
    }

    fn refusal(&self, action: &str, key: Option<&str>, now: DateTime<Utc>, r: &Reply) -> S3Error {
        let doc = r.text();
        let code = xml::text(&doc, "Code").unwrap_or_else(|| match r.status {
            404 => "NotFound".into(),
            403 => "AccessDenied".into(),
            s => format!("HTTP{s}"),
        });
        let message = xml::text(&doc, "Message").unwrap_or_default();
        let store_time =
            r.header("date").and_then(|d| DateTime::parse_from_rfc2822(d).ok()).map(|t| t.with_timezone(&Utc));
        match code.as_str() {
            "RequestTimeTooSkewed" => S3Error::ClockSkew { skew: skew_text(now, store_time) },
            "InvalidAccessKeyId" | "SignatureDoesNotMatch" | "AccessDenied" | "InvalidToken" | "ExpiredToken" => {
                // A signature refused while the clocks differ is the clock's fault.
                if let Some(t) = store_time {
                    if (now - t).num_minutes().abs() >= 15 {
                        return S3Error::ClockSkew { skew: skew_text(now, Some(t)) };
                    }
                }
                S3Error::Credentials { code, message, action: action.to_string() }
            }
            "NoSuchBucket" => S3Error::NoSuchBucket { bucket: self.ep.bucket.clone(), endpoint: self.ep.url.clone() },
            "QuotaExceeded" | "InsufficientCapacity" => S3Error::Full { code, message },
            "BadDigest" | "InvalidDigest" => S3Error::BadDigest { key: key.unwrap_or("").to_string(), message },
            _ if r.status == 507 => S3Error::Full { code, message },
            _ => S3Error::Refused { action: action.to_string(), status: r.status, code, message },
        }
    }

    fn lock_headers(o: &PutOptions) -> Vec<(String, String)> {
        let mut h = vec![
            ("x-amz-object-lock-mode".to_string(), "COMPLIANCE".to_string()),
            ("x-amz-object-lock-retain-until-date".to_string(), iso(o.retain_until)),
            ("x-amz-object-lock-legal-hold".to_string(), if o.legal_hold { "ON" } else { "OFF" }.to_string()),
        ];
        for (k, v) in &o.meta {
            h.push((format!("x-amz-meta-{k}"), v.clone()));
        }
        h
    }

    /// Whether the bucket has Object Lock enabled (`GET ?object-lock`).
    ///
    /// # Errors
    /// When the store cannot be asked.
    pub fn object_lock_enabled(&self) -> Result<bool, S3Error> {
        match self.call("GET", None, &[("object-lock", "")], &[], &[], false) {
            Ok(r) => Ok(xml::text(&r.text(), "ObjectLockEnabled").as_deref() == Some("Enabled")),
            Err(S3Error::Refused { code, .. }) if code.contains("ObjectLockConfigurationNotFound") => Ok(false),
            Err(S3Error::Refused { status: 404, code, .. }) if code != "NoSuchBucket" => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Creates the bucket with Object Lock enabled (tests and first set-up).
    ///
    /// # Errors
    /// When the store refuses.
    pub fn create_bucket(&self, object_lock: bool) -> Result<(), S3Error> {
        let extra: Vec<(String, String)> =
            if object_lock { vec![("x-amz-bucket-object-lock-enabled".into(), "true".into())] } else { vec![] };
        self.call("PUT", None, &[], &extra, &[], false).map(|_| ())
    }

    /// Sets the bucket's policy (a JSON document).
    ///
    /// # Errors
    /// When the store refuses.
    pub fn put_bucket_policy(&self, policy: &str) -> Result<(), S3Error> {
        let h = [("content-md5".to_string(), content_md5(policy.as_bytes()))];
        self.call("PUT", None, &[("policy", "")], &h, policy.as_bytes(), false).map(|_| ())
    }

    /// HEAD of an object; `None` when it does not exist.
    ///
    /// # Errors
    /// When the store cannot be asked or refuses.
    pub fn head(&self, key: &str) -> Result<Option<Head>, S3Error> {
        self.head_query(key, &[])
    }

    /// HEAD of one version of an object; `None` when that version does not exist.
    ///
    /// # Errors
    /// When the store cannot be asked or refuses.
    pub fn head_version(&self, key: &str, version_id: &str) -> Result<Option<Head>, S3Error> {
        self.head_query(key, &[("versionId", version_id)])
    }

    fn head_query(&self, key: &str, query: &[(&str, &str)]) -> Result<Option<Head>, S3Error> {
        match self.call("HEAD", Some(key), query, &[], &[], false) {
            Ok(r) => {
                let meta = r
                    .headers
                    .iter()
                    .filter_map(|(k, v)| {
                        k.to_ascii_lowercase().strip_prefix("x-amz-meta-").map(|m| (m.to_string(), v.clone()))
                    })
                    .collect();
                Ok(Some(Head {
                    size: r.header("content-length").and_then(|v| v.parse().ok()).unwrap_or(0),
                    etag: r.header("etag").unwrap_or("").trim_matches('"').to_string(),
                    meta,
                    version_id: r.header("x-amz-version-id").map(str::to_string),
                }))
            }
            Err(S3Error::Refused { status: 404, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// PUT of a whole object with its lock, legal hold and metadata; `Content-MD5` makes the
    /// store check the bytes. Returns the ETag.
    ///
    /// # Errors
    /// When the store refuses or cannot be reached.
    pub fn put(&self, key: &str, body: &[u8], o: &PutOptions) -> Result<String, S3Error> {
        let mut h = Store::lock_headers(o);
        h.push(("content-md5".into(), content_md5(body)));
        let r = self.call("PUT", Some(key), &[], &h, body, true)?;
        Ok(r.header("etag").unwrap_or("").trim_matches('"').to_string())
    }

    /// Starts a multipart upload with the object's lock and metadata; returns its id.
    ///
    /// # Errors
    /// When the store refuses or cannot be reached.
    pub fn create_multipart(&self, key: &str, o: &PutOptions) -> Result<String, S3Error> {
        let h = Store::lock_headers(o);
        let r = self.call("POST", Some(key), &[("uploads", "")], &h, &[], false)?;
        xml::text(&r.text(), "UploadId")
            .ok_or_else(|| S3Error::Malformed { action: format!("POST {key}?uploads"), detail: "no UploadId".into() })
    }

    /// Uploads part `n` (1-based) with its `Content-MD5`; returns its ETag.
    ///
    /// # Errors
    /// When the store refuses or cannot be reached.
    pub fn upload_part(&self, key: &str, upload_id: &str, n: u32, body: &[u8]) -> Result<String, S3Error> {
        let num = n.to_string();
        let r = self.call(
            "PUT",
            Some(key),
            &[("partNumber", &num), ("uploadId", upload_id)],
            &[("content-md5".into(), content_md5(body))],
            body,
            true,
        )?;
        Ok(r.header("etag").unwrap_or("").trim_matches('"').to_string())
    }

    /// The parts the store holds of an unfinished upload: (number, ETag, size). `None` when the
    /// upload is unknown (finished, aborted or expired).
    ///
    /// # Errors
    /// When the store refuses or cannot be reached.
    pub fn list_parts(&self, key: &str, upload_id: &str) -> Result<Option<Vec<Part>>, S3Error> {
        let mut out = Vec::new();
        let mut marker = String::new();
        loop {
            let mut q = vec![("uploadId", upload_id), ("max-parts", "1000")];
            if !marker.is_empty() {
                q.push(("part-number-marker", &marker));
            }
            let r = match self.call("GET", Some(key), &q, &[], &[], false) {
                Ok(r) => r,
                Err(S3Error::Refused { status: 404, .. }) => return Ok(None),
                Err(e) => return Err(e),
            };
            let doc = r.text();
            for p in xml::elements(&doc, "Part") {
                let n = xml::text(p, "PartNumber").and_then(|v| v.parse().ok());
                let etag = xml::text(p, "ETag").map(|e| e.trim_matches('"').to_string());
                let size = xml::text(p, "Size").and_then(|v| v.parse().ok());
                if let (Some(n), Some(e), Some(s)) = (n, etag, size) {
                    out.push((n, e, s));
                }
            }
            if xml::text(&doc, "IsTruncated").as_deref() != Some("true") {
                break;
            }
            match xml::text(&doc, "NextPartNumberMarker") {
                Some(m) if m != marker => marker = m,
                _ => break,
            }
        }
        Ok(Some(out))
    }

    /// Completes a multipart upload; returns the object's ETag.
    ///
    /// # Errors
    /// When the store refuses or cannot be reached.
    pub fn complete_multipart(&self, key: &str, upload_id: &str, parts: &[(u32, String)]) -> Result<String, S3Error> {
        let body = xml::complete_multipart(&parts.iter().map(|(n, e)| (*n, format!("\"{e}\""))).collect::<Vec<_>>());
        let r = self.call("POST", Some(key), &[("uploadId", upload_id)], &[], body.as_bytes(), false)?;
        let doc = r.text();
        // S3 may answer 200 with an error document.
        if let Some(code) = xml::text(&doc, "Code") {
            return Err(S3Error::Refused {
                action: format!("POST {key}?uploadId"),
                status: r.status,
                code,
                message: xml::text(&doc, "Message").unwrap_or_default(),
            });
        }
        Ok(xml::text(&doc, "ETag").unwrap_or_default().trim_matches('"').to_string())
    }

    /// Abandons a multipart upload (its parts are freed; nothing locked is touched).
    ///
    /// # Errors
    /// When the store refuses or cannot be reached.
    pub fn abort_multipart(&self, key: &str, upload_id: &str) -> Result<(), S3Error> {
        match self.call("DELETE", Some(key), &[("uploadId", upload_id)], &[], &[], false) {
            Ok(_) | Err(S3Error::Refused { status: 404, .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// The object's lock (`GET ?retention`); `None` when it has none.
    ///
    /// # Errors
    /// When the store refuses or cannot be reached.
    pub fn retention(&self, key: &str) -> Result<Option<Lock>, S3Error> {
        self.retention_query(key, &[("retention", "")])
    }

    /// The lock of one version of an object.
    ///
    /// # Errors
    /// When the store refuses or cannot be reached.
    pub fn retention_version(&self, key: &str, version_id: &str) -> Result<Option<Lock>, S3Error> {
        self.retention_query(key, &[("retention", ""), ("versionId", version_id)])
    }

    fn retention_query(&self, key: &str, query: &[(&str, &str)]) -> Result<Option<Lock>, S3Error> {
        match self.call("GET", Some(key), query, &[], &[], false) {
            Ok(r) => {
                let doc = r.text();
                let mode = xml::text(&doc, "Mode").unwrap_or_default();
                let until = xml::text(&doc, "RetainUntilDate").and_then(|d| parse_iso(&d));
                Ok(until.map(|until| Lock { mode, until }))
            }
            Err(S3Error::Refused { status: 404, code, .. }) if code != "NoSuchKey" => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Sets the object's COMPLIANCE lock to `until` (the store refuses to shorten it).
    ///
    /// # Errors
    /// When the store refuses (a shorter date) or cannot be reached.
    pub fn put_retention(&self, key: &str, until: DateTime<Utc>) -> Result<(), S3Error> {
        let body = xml::retention(&iso(until));
        self.call(
            "PUT",
            Some(key),
            &[("retention", "")],
            &[("content-md5".into(), content_md5(body.as_bytes()))],
            body.as_bytes(),
            false,
        )
        .map(|_| ())
    }

    /// The object's legal hold (`GET ?legal-hold`).
    ///
    /// # Errors
    /// When the store refuses or cannot be reached.
    pub fn legal_hold(&self, key: &str) -> Result<bool, S3Error> {
        self.legal_hold_query(key, &[("legal-hold", "")])
    }

    /// The legal hold of one version of an object.
    ///
    /// # Errors
    /// When the store refuses or cannot be reached.
    pub fn legal_hold_version(&self, key: &str, version_id: &str) -> Result<bool, S3Error> {
        self.legal_hold_query(key, &[("legal-hold", ""), ("versionId", version_id)])
    }

    fn legal_hold_query(&self, key: &str, query: &[(&str, &str)]) -> Result<bool, S3Error> {
        match self.call("GET", Some(key), query, &[], &[], false) {
            Ok(r) => Ok(xml::text(&r.text(), "Status").as_deref() == Some("ON")),
            Err(S3Error::Refused { status: 404, code, .. }) if code != "NoSuchKey" => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Sets or removes the object's legal hold.
    ///
    /// # Errors
    /// When the store refuses or cannot be reached.
    pub fn put_legal_hold(&self, key: &str, on: bool) -> Result<(), S3Error> {
        let body = xml::legal_hold(on);
        self.call(
            "PUT",
            Some(key),
            &[("legal-hold", "")],
            &[("content-md5".into(), content_md5(body.as_bytes()))],
            body.as_bytes(),
            false,
        )
        .map(|_| ())
    }

    /// Streams the object (or bytes `from..`) into `sink`; returns the bytes read.
    ///
    /// # Errors
    /// When the store refuses, cannot be reached, or `sink` fails.
    pub fn get_into(&self, key: &str, sink: impl FnMut(&[u8])) -> Result<u64, S3Error> {
        self.get_query_into(key, &[], sink)
    }

    /// Streams one version of an object into `sink`; returns the bytes read.
    ///
    /// # Errors
    /// As [`Store::get_into`].
    pub fn get_version_into(&self, key: &str, version_id: &str, sink: impl FnMut(&[u8])) -> Result<u64, S3Error> {
        self.get_query_into(key, &[("versionId".to_string(), version_id.to_string())], sink)
    }

    fn get_query_into(
        &self,
        key: &str,
        query: &[(String, String)],
        mut sink: impl FnMut(&[u8]),
    ) -> Result<u64, S3Error> {
        let path = sigv4::encode_path(&self.ep.bucket, key);
        let now = signing_now();
        let headers: Vec<(String, String)> = vec![
            ("host".into(), self.host.clone()),
            ("x-amz-date".into(), sigv4::amz_date(now)),
            ("x-amz-content-sha256".into(), sigv4::EMPTY_SHA256.into()),
        ];
        let auth = sigv4::authorization(
            &self.ep.credentials,
            &self.ep.region,
            "s3",
            now,
            &sigv4::Request { method: "GET", path: &path, query, headers: &headers, payload_hash: sigv4::EMPTY_SHA256 },
        );
        let mut req = self.agent.request("GET", &self.url(&path, query));
        for (k, v) in &headers {
            req = req.set(k, v);
        }
        let resp = match req.set("authorization", &auth).call() {
            Ok(r) => r,
            Err(ureq::Error::Status(_, r)) => {
                let status = r.status();
                let headers = r
                    .headers_names()
                    .into_iter()
                    .filter_map(|n| r.header(&n).map(|v| (n.clone(), v.to_string())))
                    .collect();
                let mut body = Vec::new();
                let _ = r.into_reader().take(1 << 20).read_to_end(&mut body);
                return Err(self.refusal(&format!("GET {key}"), Some(key), now, &Reply { status, headers, body }));
            }
            Err(ureq::Error::Transport(t)) => {
                return Err(S3Error::Unreachable { endpoint: self.ep.url.clone(), detail: t.to_string() })
            }
        };
        let mut reader = resp.into_reader();
        let mut buf = vec![0u8; 1 << 20];
        let mut total = 0u64;
        loop {
            let n = reader
                .read(&mut buf)
                .map_err(|e| S3Error::Unreachable { endpoint: self.ep.url.clone(), detail: e.to_string() })?;
            if n == 0 {
                break;
            }
            sink(&buf[..n]);
            total += n as u64;
        }
        Ok(total)
    }

    /// A small object, whole (checkpoints, keys, log segments).
    ///
    /// # Errors
    /// As [`Store::get_into`]; `None` when it does not exist.
    pub fn get(&self, key: &str) -> Result<Option<Vec<u8>>, S3Error> {
        let mut out = Vec::new();
        match self.get_into(key, |b| out.extend_from_slice(b)) {
            Ok(_) => Ok(Some(out)),
            Err(S3Error::Refused { status: 404, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Every key under `prefix`, with size and ETag, in key order.
    ///
    /// # Errors
    /// When the store refuses or cannot be reached.
    pub fn list(&self, prefix: &str) -> Result<Vec<(String, u64, String)>, S3Error> {
        let mut out = Vec::new();
        let mut token = String::new();
        loop {
            let mut q = vec![("list-type", "2"), ("prefix", prefix), ("max-keys", "1000")];
            if !token.is_empty() {
                q.push(("continuation-token", &token));
            }
            let r = self.call("GET", None, &q, &[], &[], false)?;
            let doc = r.text();
            for c in xml::elements(&doc, "Contents") {
                let (Some(key), size) = (xml::text(c, "Key"), xml::text(c, "Size").and_then(|s| s.parse().ok())) else {
                    return Err(S3Error::Malformed { action: "list".into(), detail: "an entry without Key".into() });
                };
                out.push((
                    key,
                    size.unwrap_or(0),
                    xml::text(c, "ETag").unwrap_or_default().trim_matches('"').to_string(),
                ));
            }
            if xml::text(&doc, "IsTruncated").as_deref() != Some("true") {
                break;
            }
            match xml::text(&doc, "NextContinuationToken") {
                Some(t) if t != token => token = t,
                _ => break,
            }
        }
        Ok(out)
    }

    /// Every version (and delete marker) under `prefix`.
    ///
    /// # Errors
    /// When the store refuses or cannot be reached.
    pub fn versions(&self, prefix: &str) -> Result<Vec<Version>, S3Error> {
        let mut out = Vec::new();
        let (mut key_marker, mut version_marker) = (String::new(), String::new());
        loop {
            let mut q = vec![("versions", ""), ("prefix", prefix), ("max-keys", "1000")];
            if !key_marker.is_empty() {
                q.push(("key-marker", &key_marker));
                q.push(("version-id-marker", &version_marker));
            }
            let r = self.call("GET", None, &q, &[], &[], false)?;
            let doc = r.text();
            for (tag, marker) in [("Version", false), ("DeleteMarker", true)] {
                for v in xml::elements(&doc, tag) {
                    out.push(Version {
                        key: xml::text(v, "Key").unwrap_or_default(),
                        version_id: xml::text(v, "VersionId").unwrap_or_default(),
                        is_latest: xml::text(v, "IsLatest").as_deref() == Some("true"),
                        size: xml::text(v, "Size").and_then(|s| s.parse().ok()).unwrap_or(0),
                        etag: xml::text(v, "ETag").unwrap_or_default().trim_matches('"').to_string(),
                        delete_marker: marker,
                    });
                }
            }
            if xml::text(&doc, "IsTruncated").as_deref() != Some("true") {
                break;
            }
            match (xml::text(&doc, "NextKeyMarker"), xml::text(&doc, "NextVersionIdMarker")) {
                (Some(k), v)
                    if (k.clone(), v.clone().unwrap_or_default()) != (key_marker.clone(), version_marker.clone()) =>
                {
                    key_marker = k;
                    version_marker = v.unwrap_or_default();
                }
                _ => break,
            }
        }
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn md5_and_dates() {
        assert_eq!(content_md5(b""), "1B2M2Y8AsgTpgAmY7PhCfg==");
        let t = parse_iso("2030-01-02T03:04:05.678Z").unwrap();
        assert_eq!(iso(t), "2030-01-02T03:04:05.678Z");
        assert_eq!(parse_iso("2030-01-02T03:04:05Z").map(iso).unwrap(), "2030-01-02T03:04:05.000Z");
    }

    #[test]
    fn a_skew_is_named_with_its_direction() {
        let store = parse_iso("2030-01-01T00:00:00Z").unwrap();
        assert_eq!(skew_text(store + chrono::TimeDelta::minutes(125), Some(store)), "2 h 5 min ahead / 快");
        assert_eq!(skew_text(store - chrono::TimeDelta::minutes(30), Some(store)), "0 h 30 min behind / 慢");
    }

    #[test]
    fn pacing_spreads_bytes_over_time() {
        let pace = Pace::new(1 << 20);
        let t = Instant::now();
        pace.take(1 << 20);
        assert!(t.elapsed() < Duration::from_millis(100), "the first second's worth is in the bucket");
        pace.take(1 << 18);
        // A quarter of a second's worth more waits about a quarter of a second.
        assert!(t.elapsed() >= Duration::from_millis(200), "{:?}", t.elapsed());
    }
}
