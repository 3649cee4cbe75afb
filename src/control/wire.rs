//! The control socket's wire format, version 2: a greeting, one request, then a stream of
//! replies.
//!
//! On connecting, the client first reads the service's greeting, `{"hello": {"station": NAME,
//! "state": FOLDER}}`: the station it belongs to, named by its state folder (canonical path).
//! A client whose configuration names another state folder must not send its request there.
//! The service may instead answer at once with an `error` and an `exit` (too many requests
//! open). A request is one JSON object on one line, sent with `sendmsg`; its `paths` name the
//! arguments that are files, and the same message carries one open descriptor per entry, in
//! order (`SCM_RIGHTS`). Replies are JSON objects, one per line: any number of `{"out": TEXT}`
//! (standard output), `{"note": TEXT}` (standard error), at most one `{"error": TEXT}` (the command could not run), and a last
//! `{"exit": CODE}`.
//!
//! One reply carries a descriptor back: `{"file": {"name": PATH, "size": BYTES, "blake3": HEX}}`
//! (approved viewing, `access play`) is sent with `sendmsg` and exactly one open descriptor on
//! its first byte (`SCM_RIGHTS`): the archived file named, opened read-only by the service.
//! `size` and `blake3` are what the custody log recorded for it; the client checks the bytes
//! against them as it reads. A client reads replies with `recvmsg` so that the descriptor is
//! not lost; a `file` line without one is a protocol error.

use serde::{Deserialize, Serialize};

/// The version this build speaks (2: the service greets first).
pub const VERSION: u32 = 2;

/// The largest request accepted, in bytes.
pub const MAX_REQUEST: usize = 256 * 1024;

/// The most descriptors one request may carry.
pub const MAX_FDS: usize = 16;

/// A command to run, as the caller typed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Request {
    /// Wire version ([`VERSION`]).
    pub v: u32,
    /// The arguments after the program name, `--config` removed.
    pub argv: Vec<String>,
    /// The path arguments that travel as descriptors, in descriptor order.
    pub paths: Vec<String>,
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Reply {
    /// The greeting, sent once, first, before the request is read.
    Hello(Station),
    /// Standard output of the command.
    Out(String),
    /// Standard error of the command: notes and warnings for the caller.
    Note(String),
    /// The command could not run: the message `evidock: ...` the caller prints.
    Error(String),
    /// A read-only descriptor of an archived file travels with this line (approved viewing).
    File(FileOffer),
    /// The exit code; the last line.
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
        let mut s = serde_json::to_string(self).unwrap_or_else(|_| "{\"exit\":2}".to_string());
        s.push('\n');
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_have_one_stable_shape() {
        assert_eq!(Reply::Out("案件 A\n".into()).line(), "{\"out\":\"案件 A\\n\"}\n");
        assert_eq!(Reply::Error("refused".into()).line(), "{\"error\":\"refused\"}\n");
        assert_eq!(Reply::Exit(1).line(), "{\"exit\":1}\n");
        let r: Reply = serde_json::from_str("{\"exit\":2}").unwrap();
        assert_eq!(r, Reply::Exit(2));
        let hello = Reply::Hello(Station { station: "宜昌站".into(), state: "/var/lib/evidock".into() });
        assert_eq!(hello.line(), "{\"hello\":{\"station\":\"宜昌站\",\"state\":\"/var/lib/evidock\"}}\n");
        let file = Reply::File(FileOffer { name: "2026/01/02/a.mp4".into(), size: 3, blake3: "ab".into() });
        assert_eq!(file.line(), "{\"file\":{\"name\":\"2026/01/02/a.mp4\",\"size\":3,\"blake3\":\"ab\"}}\n");
    }

    #[test]
    fn requests_refuse_unknown_fields() {
        let ok = r#"{"v":2,"argv":["status"],"paths":[]}"#;
        assert_eq!(serde_json::from_str::<Request>(ok).unwrap().argv, vec!["status"]);
        assert!(serde_json::from_str::<Request>(r#"{"v":2,"argv":[],"paths":[],"uid":0}"#).is_err());
    }
}
