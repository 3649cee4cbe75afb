//! AWS Signature Version 4 for S3 requests: the canonical request, the string to sign, the
//! signing key and the `Authorization` header. Pure: the time is an argument, nothing here
//! does I/O or reads a clock (INV-7 style, checked by a test).
//!
//! The tests pin the examples AWS publishes for S3 ("Signature Calculations for the
//! Authorization Header: Transferring Payload in a Single Chunk"); a signature that differs
//! from the store's is the store's `SignatureDoesNotMatch`.

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::{Digest as _, Sha256};

/// The SHA-256 of an empty body, hex: the payload hash of requests without a body.
pub const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// An access key and its secret.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The access key id (not secret; it names the user).
    pub access_key: String,
    /// The secret key.
    pub secret_key: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials").field("access_key", &self.access_key).field("secret_key", &"…").finish()
    }
}

/// What is signed of one request.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    /// `GET`, `PUT`, `POST`, `HEAD`, `DELETE`.
    pub method: &'a str,
    /// The path as sent, already URI-encoded (see [`encode_path`]).
    pub path: &'a str,
    /// Query parameters, raw (encoded here); a parameter without value has `""`.
    pub query: &'a [(String, String)],
    /// Headers to sign, `host` and `x-amz-date` among them; names in any case.
    pub headers: &'a [(String, String)],
    /// Hex SHA-256 of the body, or `UNSIGNED-PAYLOAD`.
    pub payload_hash: &'a str,
}

/// `x-amz-date`'s format: `20130524T000000Z`.
pub fn amz_date(now: DateTime<Utc>) -> String {
    now.format("%Y%m%dT%H%M%SZ").to_string()
}

/// URI-encodes as SigV4 requires: unreserved characters kept, every other byte `%XX`
/// (upper case); `/` kept when `keep_slash`.
pub fn uri_encode(s: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            b'/' if keep_slash => out.push('/'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// The request path for `/<bucket>/<key>` (path-style addressing), encoded once.
pub fn encode_path(bucket: &str, key: &str) -> String {
    if key.is_empty() {
        format!("/{}", uri_encode(bucket, false))
    } else {
        format!("/{}/{}", uri_encode(bucket, false), uri_encode(key, true))
    }
}

/// The canonical query string: parameters encoded, sorted by name then value.
pub fn canonical_query(query: &[(String, String)]) -> String {
    let mut q: Vec<(String, String)> =
        query.iter().map(|(k, v)| (uri_encode(k, false), uri_encode(v, false))).collect();
    q.sort();
    q.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&")
}

fn canonical_headers(headers: &[(String, String)]) -> (String, String) {
    let mut h: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.split_whitespace().collect::<Vec<_>>().join(" ")))
        .collect();
    h.sort();
    let canonical = h.iter().map(|(k, v)| format!("{k}:{v}\n")).collect::<String>();
    let signed = h.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>().join(";");
    (canonical, signed)
}

/// The canonical request (SigV4 task 1).
pub fn canonical_request(req: &Request<'_>) -> String {
    let (headers, signed) = canonical_headers(req.headers);
    format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        req.method,
        req.path,
        canonical_query(req.query),
        headers,
        signed,
        req.payload_hash
    )
}

fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Hex SHA-256 of `data`.
pub fn sha256_hex(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

/// The `Authorization` header value for `req` at `now` (which must be the `x-amz-date` the
/// request carries).
pub fn authorization(
    creds: &Credentials,
    region: &str,
    service: &str,
    now: DateTime<Utc>,
    req: &Request<'_>,
) -> String {
    let date = now.format("%Y%m%d").to_string();
    let scope = format!("{date}/{region}/{service}/aws4_request");
    let canonical = canonical_request(req);
    let to_sign = format!("AWS4-HMAC-SHA256\n{}\n{scope}\n{}", amz_date(now), sha256_hex(canonical.as_bytes()));
    let k_date = hmac(format!("AWS4{}", creds.secret_key).as_bytes(), date.as_bytes());
    let k_region = hmac(&k_date, region.as_bytes());
    let k_service = hmac(&k_region, service.as_bytes());
    let k_signing = hmac(&k_service, b"aws4_request");
    let signature = hex(&hmac(&k_signing, to_sign.as_bytes()));
    let (_, signed) = canonical_headers(req.headers);
    format!("AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed}, Signature={signature}", creds.access_key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn aws() -> Credentials {
        Credentials {
            access_key: "AKIAIOSFODNN7EXAMPLE".into(),
            secret_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".into(),
        }
    }

    fn h(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn signature(auth: &str) -> &str {
        auth.rsplit("Signature=").next().unwrap()
    }

    /// AWS's published S3 examples, signed with their example key on 24 May 2013.
    #[test]
    fn aws_published_s3_examples() {
        let now = Utc.with_ymd_and_hms(2013, 5, 24, 0, 0, 0).unwrap();
        // GET Object with a range.
        let headers = h(&[
            ("Host", "examplebucket.s3.amazonaws.com"),
            ("Range", "bytes=0-9"),
            ("x-amz-content-sha256", EMPTY_SHA256),
            ("x-amz-date", "20130524T000000Z"),
        ]);
        let req =
            Request { method: "GET", path: "/test.txt", query: &[], headers: &headers, payload_hash: EMPTY_SHA256 };
        let auth = authorization(&aws(), "us-east-1", "s3", now, &req);
        assert_eq!(signature(&auth), "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
        assert!(auth.contains("SignedHeaders=host;range;x-amz-content-sha256;x-amz-date"));
        assert!(auth.starts_with("AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request"));

        // PUT Object, a signed body and a `$` in the key.
        let body = b"Welcome to Amazon S3.";
        let body_hash = sha256_hex(body);
        assert_eq!(body_hash, "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
        let headers = h(&[
            ("Host", "examplebucket.s3.amazonaws.com"),
            ("Date", "Fri, 24 May 2013 00:00:00 GMT"),
            ("x-amz-date", "20130524T000000Z"),
            ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
            ("x-amz-content-sha256", &body_hash),
        ]);
        let path = format!("/{}", uri_encode("test$file.text", true));
        let req = Request { method: "PUT", path: &path, query: &[], headers: &headers, payload_hash: &body_hash };
        let auth = authorization(&aws(), "us-east-1", "s3", now, &req);
        assert_eq!(signature(&auth), "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");

        // GET Bucket lifecycle: a query parameter without a value.
        let headers = h(&[
            ("Host", "examplebucket.s3.amazonaws.com"),
            ("x-amz-date", "20130524T000000Z"),
            ("x-amz-content-sha256", EMPTY_SHA256),
        ]);
        let q = vec![("lifecycle".to_string(), String::new())];
        let req = Request { method: "GET", path: "/", query: &q, headers: &headers, payload_hash: EMPTY_SHA256 };
        let auth = authorization(&aws(), "us-east-1", "s3", now, &req);
        assert_eq!(signature(&auth), "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543");

        // GET Bucket (list objects): two parameters, sorted.
        let q = vec![("prefix".to_string(), "J".to_string()), ("max-keys".to_string(), "2".to_string())];
        let req = Request { method: "GET", path: "/", query: &q, headers: &headers, payload_hash: EMPTY_SHA256 };
        let auth = authorization(&aws(), "us-east-1", "s3", now, &req);
        assert_eq!(signature(&auth), "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
    }

    #[test]
    fn encoding() {
        assert_eq!(uri_encode("2024/05/01/案件/SN 1/a+b.mp4", true), "2024/05/01/%E6%A1%88%E4%BB%B6/SN%201/a%2Bb.mp4");
        assert_eq!(uri_encode("a/b", false), "a%2Fb");
        assert_eq!(encode_path("bkt", "st/x y"), "/bkt/st/x%20y");
        assert_eq!(encode_path("bkt", ""), "/bkt");
        let q = vec![("uploadId".to_string(), "2~x/y".to_string()), ("partNumber".to_string(), "10".to_string())];
        assert_eq!(canonical_query(&q), "partNumber=10&uploadId=2~x%2Fy");
    }

    #[test]
    fn sigv4_module_is_pure() {
        let src = include_str!("sigv4.rs");
        for line in src.lines().filter(|l| l.trim_start().starts_with("use ")) {
            for banned in ["std::fs", "tokio", "rusqlite", "ureq", "std::net", "Utc::now"] {
                assert!(!line.contains(banned), "sigv4.rs must stay pure: {line}");
            }
        }
        assert!(!src.contains(concat!("Utc", "::now()")), "sigv4.rs reads no clock");
    }
}
