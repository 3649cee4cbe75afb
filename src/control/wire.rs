//! The control socket's wire format, version 3: a greeting, one request, then its reply
//! (docs/CONTROL-API.md).
//!
//! On connecting, the client first reads the service's greeting, `{"hello": {"station": NAME,
//! "state": FOLDER}}`: the station it belongs to, named by its state folder (canonical path).
//! A client whose configuration names another state folder must not send its request there.
//! The service may instead answer at once with an `error` and an `exit` (too many requests
//! open). A request is one JSON object on one line, sent with `sendmsg`:
//! `{"v": 3, "op": NAME, "args": {...}, "paths": [...]}`; its `paths` name the arguments that
//! are files, and the same message carries one open descriptor per entry, in order
//! (`SCM_RIGHTS`).
//!
//! A typed operation ([`crate::api::Request`]) is answered by one line: `{"ok": REPLY}` or
//! `{"error": {"kind": KIND, "message": TEXT}}`. The one transitional operation,
//! [`TRANSITIONAL_OP`] (`argv`), carries the command-line words of a command not yet typed
//! and is answered as in version 2: any number of `{"out": TEXT}` (standard output),
//! `{"note": TEXT}` (standard error), at most one `{"error": {...}}`, and a last
//! `{"exit": CODE}`. A request the service cannot read (wrong version, not JSON, too slow)
//! gets an `error` and an `exit`, so that either kind of client ends.
//!
//! One reply carries a descriptor back: `{"file": {"name": PATH, "size": BYTES, "blake3": HEX}}`
//! (approved viewing, `access play`) is sent with `sendmsg` and exactly one open descriptor on
//! its first byte (`SCM_RIGHTS`): the archived file named, opened read-only by the service.
//! `size` and `blake3` are what the custody log recorded for it; the client checks the bytes
//! against them as it reads. A client reads replies with `recvmsg` so that the descriptor is
//! not lost; a `file` line without one is a protocol error.

use serde::{Deserialize, Serialize};

use crate::api::{self, ApiError};

/// The version this build speaks (3: typed operations; 2: command-line words only).
pub const VERSION: u32 = 3;

/// The largest request accepted, in bytes.
pub const MAX_REQUEST: usize = 256 * 1024;

/// The most descriptors one request may carry.
pub const MAX_FDS: usize = 16;

/// The transitional operation: a command not yet typed, as the caller's command-line words
/// (`{"argv": [...]}`), answered with its printed text. Goes away once every command has its
/// typed operation.
pub const TRANSITIONAL_OP: &str = "argv";

/// One request line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Request {
    /// Wire version ([`VERSION`]).
    pub v: u32,
    /// The operation: a typed one ([`api::Op::name`]) or [`TRANSITIONAL_OP`].
    pub op: String,
    /// Its arguments (absent: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args: Option<serde_json::Value>,
    /// The path arguments that travel as descriptors, in descriptor order.
    #[serde(default)]
    pub paths: Vec<String>,
}

/// The arguments of [`TRANSITIONAL_OP`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArgvArgs {
    /// The arguments after the program name.
    pub argv: Vec<String>,
}

/// What a request asks, read.
#[derive(Debug, Clone, PartialEq)]
#[allow(clippy::large_enum_variant)] // one per connection
pub enum Call {
    /// A typed operation.
    Typed(api::Request),
    /// The transitional operation: command-line words.
    Argv(Vec<String>),
}

impl Request {
    /// The line for a typed operation (no files).
    ///
    /// # Errors
    /// Never in practice: the request types serialize to JSON objects.
    pub fn typed(request: &api::Request) -> Result<Request, serde_json::Error> {
        let mut v = serde_json::to_value(request)?;
        let op = v["op"].as_str().unwrap_or_default().to_string();
        let args = v.get_mut("args").map(serde_json::Value::take);
        Ok(Request { v: VERSION, op, args, paths: Vec::new() })
    }

    /// The line for the transitional operation.
    pub fn argv(argv: Vec<String>, paths: Vec<String>) -> Request {
        Request { v: VERSION, op: TRANSITIONAL_OP.to_string(), args: Some(serde_json::json!({ "argv": argv })), paths }
    }

    /// What the request asks.
    ///
    /// # Errors
    /// [`api::ErrorKind::Invalid`] for an unknown operation or arguments it does not take.
    pub fn call(&self) -> Result<Call, ApiError> {
        if self.op == TRANSITIONAL_OP {
            let args: ArgvArgs = serde_json::from_value(self.args.clone().unwrap_or_default())
                .map_err(|e| ApiError::invalid(format!("request {TRANSITIONAL_OP:?}: {e} / 请求格式不正确")))?;
            return Ok(Call::Argv(args.argv));
        }
        api::Request::from_parts(&self.op, self.args.clone()).map(Call::Typed)
    }
}

/// The station a service belongs to, as it greets its clients.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Station {
    /// `station.name` of its configuration.
    pub station: String,
    /// Its state folder (catalogue, custody log, keys), canonical where it can be resolved.
    pub state: String,
}

/// One reply line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[allow(clippy::large_enum_variant)] // one line at a time
pub enum Reply {
    /// The greeting, sent once, first, before the request is read.
    Hello(Station),
    /// A typed operation's answer: the one line after the request.
    Ok(api::Reply),
    /// The request was not served: a typed operation's one line, or a transitional
    /// command's (then an `exit` follows).
    Error(ApiError),
    /// Standard output of a transitional command.
    Out(String),
    /// Standard error of a transitional command: notes and warnings for the caller.
    Note(String),
    /// A read-only descriptor of an archived file travels with this line (approved viewing,
    /// a transitional command's).
    File(FileOffer),
    /// A transitional command's exit code; its last line.
    Exit(u8),
}

/// An archived file handed to the caller as a descriptor (`{"file": ...}`), with what the
/// custody log recorded of it, against which the caller checks what it reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileOffer {
    /// Its path in the archive (relative to the archive root).
    pub name: String,
    /// Its size in bytes, as logged.
    pub size: u64,
    /// Its BLAKE3, hex, as logged.
    pub blake3: String,
}

impl Reply {
    /// The line for this reply, newline included.
    pub fn line(&self) -> String {
        let mut s = serde_json::to_string(self).unwrap_or_else(|_| {
            "{\"error\":{\"kind\":\"failed\",\"message\":\"the reply could not be encoded\"}}".to_string()
        });
        s.push('\n');
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::ErrorKind;

    #[test]
    fn replies_have_one_stable_shape() {
        assert_eq!(Reply::Out("案件 A\n".into()).line(), "{\"out\":\"案件 A\\n\"}\n");
        assert_eq!(
            Reply::Error(ApiError::refused("无此操作权限")).line(),
            "{\"error\":{\"kind\":\"refused\",\"message\":\"无此操作权限\"}}\n"
        );
        assert_eq!(Reply::Exit(1).line(), "{\"exit\":1}\n");
        let r: Reply = serde_json::from_str("{\"exit\":2}").unwrap();
        assert_eq!(r, Reply::Exit(2));
        let hello = Reply::Hello(Station { station: "宜昌站".into(), state: "/var/lib/evidock".into() });
        assert_eq!(hello.line(), "{\"hello\":{\"station\":\"宜昌站\",\"state\":\"/var/lib/evidock\"}}\n");
        let file = Reply::File(FileOffer { name: "2026/01/02/a.mp4".into(), size: 3, blake3: "ab".into() });
        assert_eq!(file.line(), "{\"file\":{\"name\":\"2026/01/02/a.mp4\",\"size\":3,\"blake3\":\"ab\"}}\n");
        let ok = Reply::Ok(api::Reply::DeviceRetire(api::device::Retired { serial: "J100001".into() }));
        assert_eq!(ok.line(), "{\"ok\":{\"op\":\"device_retire\",\"data\":{\"serial\":\"J100001\"}}}\n");
        assert_eq!(serde_json::from_str::<Reply>(ok.line().trim_end()).unwrap(), ok);
    }

    /// Every example line of docs/CONTROL-API.md reads as this build reads the wire: requests
    /// as requests (typed ones with their arguments), replies as the reply of their operation.
    #[test]
    fn the_documented_examples_are_what_the_wire_carries() {
        let doc = include_str!("../../docs/CONTROL-API.md");
        let (mut requests, mut replies) = (std::collections::BTreeSet::new(), std::collections::BTreeSet::new());
        for line in doc.lines().filter(|l| l.starts_with('{')) {
            if line.starts_with("{\"v\":") {
                let r: Request = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
                if let Call::Typed(t) = r.call().unwrap_or_else(|e| panic!("{e}: {line}")) {
                    requests.insert(t.op().name());
                }
            } else {
                let r: Reply = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
                if let Reply::Ok(ok) = r {
                    replies.insert(ok.op().name());
                }
            }
        }
        for op in api::Op::ALL {
            assert!(requests.contains(op.name()), "no example request of {}", op.name());
            assert!(replies.contains(op.name()), "no example reply of {}", op.name());
        }
    }

    #[test]
    fn requests_refuse_unknown_fields_and_read_typed_or_transitional() {
        let typed = r#"{"v":3,"op":"device_retire","args":{"serial":"J100001","reason":"损坏"},"paths":[]}"#;
        let r: Request = serde_json::from_str(typed).unwrap();
        assert!(matches!(r.call().unwrap(), Call::Typed(api::Request::DeviceRetire(_))));
        let status: Request = serde_json::from_str(r#"{"v":3,"op":"status"}"#).unwrap();
        assert_eq!(status.call().unwrap(), Call::Typed(api::Request::Status(Default::default())));
        let argv: Request = serde_json::from_str(r#"{"v":3,"op":"argv","args":{"argv":["case","list"]}}"#).unwrap();
        assert_eq!(argv.call().unwrap(), Call::Argv(vec!["case".into(), "list".into()]));
        assert!(serde_json::from_str::<Request>(r#"{"v":3,"op":"status","uid":0}"#).is_err());
        let bad: Request = serde_json::from_str(r#"{"v":3,"op":"argv","args":{"argv":[],"uid":0}}"#).unwrap();
        assert_eq!(bad.call().unwrap_err().kind, ErrorKind::Invalid);
        // A typed request written and read back is the same request.
        let req = api::Request::DeviceRetire(api::device::Retire { serial: "J100001".into(), reason: "损坏".into() });
        let line = serde_json::to_string(&Request::typed(&req).unwrap()).unwrap();
        let value = |l: &str| serde_json::from_str::<serde_json::Value>(l).unwrap();
        assert_eq!(value(&line), value(typed));
        let back: Request = serde_json::from_str(&line).unwrap();
        assert_eq!(back.call().unwrap(), Call::Typed(req));
    }
}
