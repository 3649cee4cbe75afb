//! The control socket's wire format, version 4: a greeting, one request, then its reply
//! (docs/CONTROL-API.md).
//!
//! On connecting, the client first reads the service's greeting, `{"hello": {"station": NAME,
//! "state": FOLDER}}`: the station it belongs to, named by its state folder (canonical path).
//! A client whose configuration names another state folder must not send its request there.
//! The service may instead answer at once with an `error` and an `exit` (too many requests
//! open). A request is one JSON object on one line, sent with `sendmsg`:
//! `{"v": 4, "op": NAME, "args": {...}, "paths": [...]}`; its `paths` name the arguments that
//! are files, and the same message carries one open descriptor per entry, in order
//! (`SCM_RIGHTS`).
//!
//! Each operation is typed ([`crate::api::Request`]) and answered by one line: `{"ok": REPLY}`
//! or `{"error": {"kind": KIND, "message": TEXT}}`. A request the service cannot read (wrong
//! version, not JSON, too slow) gets an `error` and an `exit`, so that a client of an older
//! version ends too.
//!
//! One answer carries a descriptor back: `access_play`'s (approved viewing) is sent with
//! `sendmsg` and exactly one open descriptor on its first byte (`SCM_RIGHTS`): the archived
//! file it names, opened read-only by the service. Its `size` and `blake3` are what the custody
//! log recorded; the client checks the bytes against them as it reads. A client reads the
//! answer with `recvmsg` so that the descriptor is not lost; that answer without one is a
//! protocol error.
//!
//! Version 2 carried only command-line words (`argv`) and printed text; version 3 carried typed
//! operations beside one transitional operation of command-line words; version 4 carries typed
//! operations only.

use serde::{Deserialize, Serialize};

use crate::api::{self, ApiError};

/// The version this build speaks (4: typed operations only; 3: beside command-line words;
/// 2: command-line words only).
pub const VERSION: u32 = 4;

/// The largest request accepted, in bytes.
pub const MAX_REQUEST: usize = 256 * 1024;

/// The most descriptors one request may carry.
pub const MAX_FDS: usize = 16;

/// One request line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Request {
    /// Wire version ([`VERSION`]).
    pub v: u32,
    /// The operation ([`api::Op::name`]).
    pub op: String,
    /// Its arguments (absent: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args: Option<serde_json::Value>,
    /// The path arguments that travel as descriptors, in descriptor order.
    #[serde(default)]
    pub paths: Vec<String>,
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

    /// What the request asks.
    ///
    /// # Errors
    /// [`api::ErrorKind::Invalid`] for an unknown operation or arguments it does not take.
    pub fn call(&self) -> Result<api::Request, ApiError> {
        if self.op == "argv" {
            return Err(ApiError::invalid(
                "the operation argv (command-line words) is gone since wire version 4: send the command's typed \
                 operation (docs/CONTROL-API.md) / 已不再接受命令行文字请求，请发送类型化请求",
            ));
        }
        api::Request::from_parts(&self.op, self.args.clone())
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
    /// The request was not served: the one line after it, or (for a request that could not
    /// be read, or a service too busy to read it) followed by an `exit`.
    Error(ApiError),
    /// After an `error` for a request that was not read: its last line, so that a client of
    /// any version ends.
    Exit(u8),
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
        assert_eq!(
            Reply::Error(ApiError::refused("无此操作权限")).line(),
            "{\"error\":{\"kind\":\"refused\",\"message\":\"无此操作权限\"}}\n"
        );
        assert_eq!(Reply::Exit(1).line(), "{\"exit\":1}\n");
        let r: Reply = serde_json::from_str("{\"exit\":2}").unwrap();
        assert_eq!(r, Reply::Exit(2));
        let hello = Reply::Hello(Station { station: "宜昌站".into(), state: "/var/lib/evidock".into() });
        assert_eq!(hello.line(), "{\"hello\":{\"station\":\"宜昌站\",\"state\":\"/var/lib/evidock\"}}\n");
        // A handed-over file is never a field: its descriptor travels with the line.
        let played = api::Reply::AccessPlay(api::access::Played {
            name: "2026/01/02/a.mp4".into(),
            size: 3,
            blake3: "ab".into(),
            file: api::access::Handover::of(std::fs::File::open("/dev/null").unwrap()),
        });
        assert!(played.handed_file().is_some());
        let line = Reply::Ok(played).line();
        assert_eq!(
            line,
            "{\"ok\":{\"op\":\"access_play\",\"data\":{\"name\":\"2026/01/02/a.mp4\",\"size\":3,\"blake3\":\"ab\"}}}\n"
        );
        let Ok(Reply::Ok(mut back)) = serde_json::from_str::<Reply>(line.trim_end()) else { panic!("{line}") };
        assert!(back.handed_file().is_none(), "read from the line alone, no file");
        assert!(back.attach_file(std::fs::File::open("/dev/null").unwrap()));
        assert!(back.handed_file().is_some());
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
                let t = r.call().unwrap_or_else(|e| panic!("{e}: {line}"));
                requests.insert(t.op().name());
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
    fn requests_refuse_unknown_fields_and_read_only_typed_operations() {
        let typed = r#"{"v":4,"op":"device_retire","args":{"serial":"J100001","reason":"损坏"},"paths":[]}"#;
        let r: Request = serde_json::from_str(typed).unwrap();
        assert!(matches!(r.call().unwrap(), api::Request::DeviceRetire(_)));
        let status: Request = serde_json::from_str(r#"{"v":4,"op":"status"}"#).unwrap();
        assert_eq!(status.call().unwrap(), api::Request::Status(Default::default()));
        // Command-line words are no operation of this version.
        let argv: Request = serde_json::from_str(r#"{"v":4,"op":"argv","args":{"argv":["case","list"]}}"#).unwrap();
        let e = argv.call().unwrap_err();
        assert_eq!(e.kind, ErrorKind::Invalid);
        assert!(e.message.contains("gone since wire version 4"), "{}", e.message);
        assert!(serde_json::from_str::<Request>(r#"{"v":4,"op":"status","uid":0}"#).is_err());
        let bad: Request = serde_json::from_str(r#"{"v":4,"op":"status","args":{"uid":0}}"#).unwrap();
        assert_eq!(bad.call().unwrap_err().kind, ErrorKind::Invalid);
        // A typed request written and read back is the same request.
        let req = api::Request::DeviceRetire(api::device::Retire { serial: "J100001".into(), reason: "损坏".into() });
        let line = serde_json::to_string(&Request::typed(&req).unwrap()).unwrap();
        let value = |l: &str| serde_json::from_str::<serde_json::Value>(l).unwrap();
        assert_eq!(value(&line), value(typed));
        let back: Request = serde_json::from_str(&line).unwrap();
        assert_eq!(back.call().unwrap(), req);
    }
}
