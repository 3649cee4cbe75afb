//! The daemon's side of the control socket: bind, accept, identify, greet, read within a
//! deadline, hand over within the limits of each caller, reply.

use std::io::{IoSliceMut, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
use tokio_util::sync::CancellationToken;

use super::roles::Identity;
use super::wire::{Reply, Request, Station, MAX_FDS, MAX_REQUEST, VERSION};
use crate::api::ApiError;

/// What the daemon does with one request: given the caller (from the kernel), its pid, the
/// request and the descriptors it carried, the typed answer.
pub type Handler = dyn Fn(Identity, i32, Request, Vec<OwnedFd>) -> Answer + Send + Sync;

/// The answer to one request: a typed operation's reply or error, one line.
pub type Answer = Result<crate::api::Reply, ApiError>;

/// Writes `line` with `fd` on its first byte (`SCM_RIGHTS`): the caller receives the
/// descriptor as its own, with the line.
fn send_with_fd(
    stream: &std::os::unix::net::UnixStream,
    line: &str,
    fd: std::os::fd::BorrowedFd<'_>,
) -> std::io::Result<()> {
    let raw = [fd.as_raw_fd()];
    let cmsg = [nix::sys::socket::ControlMessage::ScmRights(&raw)];
    let sent = nix::sys::socket::sendmsg::<()>(
        stream.as_raw_fd(),
        &[std::io::IoSlice::new(line.as_bytes())],
        &cmsg,
        MsgFlags::empty(),
        None,
    )
    .map_err(std::io::Error::from)?;
    let mut s = stream;
    s.write_all(&line.as_bytes()[sent..])
}

/// The connections being served, so that a stop can cut them (a `status --watch` ends).
type Live = Arc<std::sync::Mutex<std::collections::BTreeMap<u64, std::os::unix::net::UnixStream>>>;

/// Why the socket could not be opened.
#[derive(Debug, thiserror::Error)]
#[error("opening the control socket {path}: {source}")]
pub struct BindError {
    /// The socket path.
    pub path: PathBuf,
    /// The error.
    #[source]
    pub source: std::io::Error,
}

/// Binds the socket at `path`, replacing a stale one (the caller holds the single-instance
/// lock, so no other daemon of this station owns it; a socket that still answers is another
/// station's and is left alone), readable and writable by every local user: the roles,
/// not the file mode, decide who may do what, and every refusal is logged.
///
/// # Errors
/// When the folder cannot be made, another station's service listens at `path`, or the socket
/// cannot be bound.
pub fn bind(path: &Path) -> Result<tokio::net::UnixListener, BindError> {
    let err = |source| BindError { path: path.to_path_buf(), source };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty() && !d.exists()) {
        // As systemd makes `/run/evidock` (RuntimeDirectoryMode=0751): others may reach the
        // socket but not list the folder; the umask would close it to them.
        std::fs::create_dir_all(dir).map_err(err)?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o751)).map_err(err)?;
    }
    // The lock is this station's: a socket that answers belongs to the daemon of another
    // station configured with the same path. Taking it over would serve that station's
    // callers from this one's catalogue.
    if std::os::unix::net::UnixStream::connect(path).is_ok() {
        return Err(err(std::io::Error::new(
            std::io::ErrorKind::AddrInUse,
            "another evidock service (another station) is listening there; give each station its own \
             paths.control_socket / 另一工作站的服务已占用此控制套接字",
        )));
    }
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(err(e)),
    }
    let listener = tokio::net::UnixListener::bind(path).map_err(err)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o666)).map_err(err)?;
    Ok(listener)
}

/// How much of the daemon one caller, and all callers together, may hold (R9, R12): a local
/// user who opens connections and sends nothing, or a byte at a time, must not keep the
/// custodian's `status` or an approver's decision waiting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The whole request (hello to newline) must arrive within this time of the connection
    /// being accepted; a slower client is told so and cut.
    pub deadline: Duration,
    /// Connections open at once, all callers together (reading, waiting or running).
    pub connections: usize,
    /// Connections open at once from one user id.
    pub per_caller: usize,
    /// Commands running at once.
    pub commands: usize,
    /// Further slots kept for quick read-only requests (a `status`), so that they are answered
    /// while every command slot is taken.
    pub quick: usize,
    /// A client that reads none of its replies for this long is cut.
    pub write_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            deadline: Duration::from_secs(10),
            connections: 64,
            per_caller: 4,
            commands: 16,
            quick: 2,
            write_timeout: Duration::from_secs(60),
        }
    }
}

/// The daemon's side of the socket: what runs a request, and which requests are quick.
pub struct Service {
    /// Runs one request.
    pub handler: Arc<Handler>,
    /// Whether a request is a quick read-only one (a `status`), served in the slots kept for
    /// those ([`Limits::quick`]).
    pub quick: Box<dyn Fn(&Request) -> bool + Send + Sync>,
    /// Who this daemon is, told to every client before it sends its request: a client holding
    /// the configuration of another station must not be served here.
    pub station: Station,
}

/// Connections open now, per caller user id; a [`Held`] gives its place back when dropped.
#[derive(Default)]
struct Open {
    total: usize,
    by_uid: std::collections::HashMap<u32, usize>,
}

/// One admitted connection's place in [`Open`].
struct Held {
    open: Arc<std::sync::Mutex<Open>>,
    uid: u32,
}

impl Drop for Held {
    fn drop(&mut self) {
        let mut open = self.open.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        open.total = open.total.saturating_sub(1);
        if let Some(n) = open.by_uid.get_mut(&self.uid) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                open.by_uid.remove(&self.uid);
            }
        }
    }
}

/// Admits a connection from `uid` within `limits`, or says why not.
fn admit(open: &Arc<std::sync::Mutex<Open>>, uid: u32, limits: &Limits) -> Result<Held, String> {
    let mut o = open.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let mine = o.by_uid.get(&uid).copied().unwrap_or(0);
    if mine >= limits.per_caller {
        return Err(format!(
            "user id {uid} has {mine} requests open at the service already (at most {}); wait for one to finish, then try again / 同一用户同时请求过多，请稍后重试",
            limits.per_caller
        ));
    }
    if o.total >= limits.connections {
        return Err(format!(
            "the service has {} requests open (at most {}); try again in a moment / 服务繁忙，请稍后重试",
            o.total, limits.connections
        ));
    }
    o.total += 1;
    *o.by_uid.entry(uid).or_default() += 1;
    Ok(Held { open: open.clone(), uid })
}

/// Accepts connections until `shutdown`. Each request is read within [`Limits::deadline`],
/// within the connections one caller and all callers may hold, then run on a blocking thread
/// in a command slot (a quick one for a `status`). Removes the socket file on the way out.
pub async fn serve(
    listener: tokio::net::UnixListener,
    path: PathBuf,
    limits: Limits,
    service: Service,
    shutdown: CancellationToken,
) {
    let service = Arc::new(service);
    let commands = Arc::new(tokio::sync::Semaphore::new(limits.commands.max(1)));
    let quick = Arc::new(tokio::sync::Semaphore::new(limits.quick.max(1)));
    let open: Arc<std::sync::Mutex<Open>> = Arc::default();
    let tracker = tokio_util::task::TaskTracker::new();
    let live: Live = Arc::default();
    let mut next_id = 0u64;
    loop {
        let accepted = tokio::select! {
            () = shutdown.cancelled() => break,
            a = listener.accept() => a,
        };
        let stream = match accepted {
            Ok((s, _)) => s,
            Err(e) => {
                tracing::warn!("control socket: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let uid = match stream.peer_cred() {
            Ok(c) => c.uid(),
            Err(e) => {
                tracing::warn!("control socket: no peer credentials: {e}");
                continue;
            }
        };
        let held = match admit(&open, uid, &limits) {
            Ok(h) => h,
            Err(message) => {
                // Told at once, without waiting on the client: a full socket buffer loses
                // only the message, never a slot.
                tracing::warn!(uid, "control socket: refused: {message}");
                let text = Reply::Error(ApiError::failed(message)).line() + &Reply::Exit(2).line();
                let _ = stream.try_write(text.as_bytes());
                continue;
            }
        };
        next_id += 1;
        let conn = Connection {
            id: next_id,
            service: service.clone(),
            limits,
            commands: commands.clone(),
            quick: quick.clone(),
            live: live.clone(),
            shutdown: shutdown.clone(),
        };
        tracker.spawn(async move {
            let _held = held;
            if let Err(e) = conn.serve(stream).await {
                tracing::debug!("control socket: {e}");
            }
        });
    }
    // Stopping: cut the connections still open; their commands see their output fail.
    for s in live.lock().unwrap_or_else(std::sync::PoisonError::into_inner).values() {
        let _ = s.shutdown(std::net::Shutdown::Both);
    }
    tracker.close();
    tracker.wait().await;
    let _ = std::fs::remove_file(&path);
}

/// One accepted connection and what it may use.
struct Connection {
    id: u64,
    service: Arc<Service>,
    limits: Limits,
    commands: Arc<tokio::sync::Semaphore>,
    quick: Arc<tokio::sync::Semaphore>,
    live: Live,
    shutdown: CancellationToken,
}

impl Connection {
    async fn serve(self, stream: tokio::net::UnixStream) -> std::io::Result<()> {
        let mut stream = stream;
        let deadline = tokio::time::Instant::now() + self.limits.deadline;
        let hello = Reply::Hello(self.service.station.clone()).line();
        let arrived = tokio::select! {
            () = self.shutdown.cancelled() => return Ok(()),
            r = tokio::time::timeout_at(deadline, async {
                write_all(&stream, hello.as_bytes()).await.map_err(|e| format!("greeting the client: {e}"))?;
                read_request(&stream).await
            }) => r,
        };
        let (request, fds) = match arrived {
            Ok(Ok(r)) => r,
            Ok(Err(message)) => return refuse(&mut stream, message, &self.limits).await,
            Err(_) => {
                let message = format!(
                    "the request did not arrive within {} s of connecting; cut / 请求未在时限内送达，连接已断开",
                    self.limits.deadline.as_secs()
                );
                return refuse(&mut stream, message, &self.limits).await;
            }
        };
        let lane = if (self.service.quick)(&request) { &self.quick } else { &self.commands };
        let permit = tokio::select! {
            () = self.shutdown.cancelled() => return Ok(()),
            p = lane.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => return Ok(()) },
        };
        let stream = stream.into_std()?;
        stream.set_nonblocking(false)?;
        stream.set_write_timeout(Some(self.limits.write_timeout))?;
        if let Ok(clone) = stream.try_clone() {
            self.live.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(self.id, clone);
        }
        let service = self.service.clone();
        let ran = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            handle(stream, request, fds, &*service.handler)
        })
        .await;
        self.live.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(&self.id);
        ran.unwrap_or_else(|e| Err(std::io::Error::other(e)))
    }
}

/// Tells the client why its request is not served, within the write timeout, and closes.
async fn refuse(stream: &mut tokio::net::UnixStream, message: String, limits: &Limits) -> std::io::Result<()> {
    let text = Reply::Error(ApiError::invalid(message)).line() + &Reply::Exit(2).line();
    match tokio::time::timeout(limits.write_timeout, write_all(stream, text.as_bytes())).await {
        Ok(r) => r,
        Err(_) => Err(std::io::Error::from(std::io::ErrorKind::TimedOut)),
    }
}

/// Writes all of `bytes` as the socket takes them.
async fn write_all(stream: &tokio::net::UnixStream, mut bytes: &[u8]) -> std::io::Result<()> {
    while !bytes.is_empty() {
        stream.writable().await?;
        match stream.try_write(bytes) {
            Ok(n) => bytes = &bytes[n..],
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

fn handle(
    stream: std::os::unix::net::UnixStream,
    request: Request,
    fds: Vec<OwnedFd>,
    handler: &Handler,
) -> std::io::Result<()> {
    let (who, pid) = super::peer::of_socket(&stream).map_err(std::io::Error::from)?;
    let answer = handler(who, pid, request, fds);
    let mut s = &stream;
    match answer {
        Ok(reply) => {
            // An answer that hands over a file (approved viewing) carries its descriptor.
            let handed = reply.handed_file().map(std::fs::File::try_clone).transpose()?;
            let line = Reply::Ok(reply).line();
            match handed {
                Some(file) => send_with_fd(&stream, &line, std::os::fd::AsFd::as_fd(&file)),
                None => s.write_all(line.as_bytes()),
            }
        }
        Err(e) => s.write_all(Reply::Error(e).line().as_bytes()),
    }
}

/// Reads one request: a JSON line, with the descriptors its first bytes carried, up to
/// [`MAX_REQUEST`] bytes. The caller bounds the time it may take.
async fn read_request(stream: &tokio::net::UnixStream) -> Result<(Request, Vec<OwnedFd>), String> {
    let mut got: Vec<u8> = Vec::new();
    let mut fds = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let n = stream
            .async_io(tokio::io::Interest::READABLE, || {
                receive(stream.as_raw_fd(), &mut chunk, &mut fds).map_err(std::io::Error::from)
            })
            .await
            .map_err(|e| format!("reading the request: {e}"))??;
        if n == 0 {
            break;
        }
        got.extend_from_slice(&chunk[..n]);
        if got.len() > MAX_REQUEST || chunk[..n].contains(&b'\n') {
            break;
        }
    }
    parse_request(&got, fds)
}

/// One `recvmsg`: the bytes it read (0 at the end), descriptors added to `fds`; `Err` with a
/// message when more descriptors came than a request may carry.
fn receive(fd: std::os::fd::RawFd, buf: &mut [u8], fds: &mut Vec<OwnedFd>) -> nix::Result<Result<usize, String>> {
    let mut cmsg = nix::cmsg_space!([std::os::fd::RawFd; MAX_FDS]);
    let mut iov = [IoSliceMut::new(buf)];
    let msg = recvmsg::<()>(fd, &mut iov, Some(&mut cmsg), MsgFlags::MSG_CMSG_CLOEXEC | MsgFlags::MSG_DONTWAIT)?;
    for c in msg.cmsgs()? {
        if let ControlMessageOwned::ScmRights(list) = c {
            // SAFETY: the kernel just installed these descriptors in this process for us;
            // nothing else owns them.
            fds.extend(list.into_iter().map(|fd| unsafe { OwnedFd::from_raw_fd(fd) }));
        }
    }
    if msg.flags.contains(MsgFlags::MSG_CTRUNC) || fds.len() > MAX_FDS {
        return Ok(Err(format!("more than {MAX_FDS} files on one command line")));
    }
    Ok(Ok(msg.bytes))
}

fn parse_request(first: &[u8], fds: Vec<OwnedFd>) -> Result<(Request, Vec<OwnedFd>), String> {
    let line = first.split(|b| *b == b'\n').next().unwrap_or_default();
    if line.len() > MAX_REQUEST {
        return Err(format!("request longer than {MAX_REQUEST} bytes"));
    }
    // The version first, so that a client of another version is told so whatever else its
    // request holds.
    if let Some(v) = serde_json::from_slice::<serde_json::Value>(line).ok().and_then(|r| r["v"].as_u64()) {
        if v != u64::from(VERSION) {
            return Err(format!(
                "request version {v} is not {VERSION}: use the evidock program that matches the service / 请求版本与服务不一致"
            ));
        }
    }
    let request: Request = serde_json::from_slice(line)
        .map_err(|e| format!("not an evidock request ({e}); see docs/CONTROL-API.md / 不是有效的请求"))?;
    if request.paths.len() != fds.len() {
        return Err(format!("{} file argument(s) but {} descriptor(s)", request.paths.len(), fds.len()));
    }
    Ok((request, fds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_caller_and_all_callers_hold_at_most_their_share_and_give_it_back() {
        let limits = Limits { per_caller: 2, connections: 3, ..Limits::default() };
        let open: Arc<std::sync::Mutex<Open>> = Arc::default();
        let a1 = admit(&open, 1000, &limits).unwrap();
        let _a2 = admit(&open, 1000, &limits).unwrap();
        let e = admit(&open, 1000, &limits).err().unwrap();
        assert!(e.contains("user id 1000 has 2 requests open") && e.contains("(at most 2)"), "{e}");
        let b1 = admit(&open, 1001, &limits).unwrap();
        let e = admit(&open, 1002, &limits).err().unwrap();
        assert!(e.contains("the service has 3 requests open (at most 3)"), "{e}");
        drop(a1);
        assert!(admit(&open, 1002, &limits).is_ok(), "a closed connection gives its place back");
        drop(b1);
        assert_eq!(open.lock().unwrap().by_uid.get(&1001), None, "no entry left for a user with none open");
    }

    /// An answer that hands over a file carries its descriptor to the client: the client
    /// reads the very file the service opened, read-only.
    #[test]
    fn an_answer_that_hands_over_a_file_gives_the_client_a_read_only_descriptor() {
        use std::io::{Read, Seek};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.mp4");
        std::fs::write(&path, b"footage bytes").unwrap();
        let (service, client) = std::os::unix::net::UnixStream::pair().unwrap();
        let played = crate::api::Reply::AccessPlay(crate::api::access::Played {
            name: "2026/01/02/a.mp4".into(),
            size: 13,
            blake3: "00".into(),
            file: crate::api::access::Handover::of(std::fs::File::open(&path).unwrap()),
        });
        let file = played.handed_file().unwrap().try_clone().unwrap();
        send_with_fd(&service, &Reply::Ok(played).line(), std::os::fd::AsFd::as_fd(&file)).unwrap();
        drop(file);
        let request = crate::api::Request::AccessPlay(crate::api::access::View { id: 1, file: "a.mp4".into() });
        let reply =
            super::super::client::call_typed(Path::new("test.sock"), client, &request, Vec::new()).unwrap().unwrap();
        let crate::api::Reply::AccessPlay(p) = reply else { panic!("{reply:?}") };
        assert_eq!((p.name.as_str(), p.size), ("2026/01/02/a.mp4", 13));
        let mut f = p.file.file().expect("the descriptor arrived");
        f.rewind().unwrap();
        let mut bytes = Vec::new();
        f.read_to_end(&mut bytes).unwrap();
        assert_eq!(bytes, b"footage bytes");
        assert!(f.write_all(b"x").is_err(), "read-only");
    }

    /// The same answer without its descriptor is no answer: a protocol error, not a reply
    /// naming a file the client cannot read.
    #[test]
    fn an_answer_naming_a_file_without_its_descriptor_is_a_protocol_error() {
        let (service, client) = std::os::unix::net::UnixStream::pair().unwrap();
        let line = "{\"ok\":{\"op\":\"access_play\",\"data\":{\"name\":\"a.mp4\",\"size\":1,\"blake3\":\"00\"}}}\n";
        (&service).write_all(line.as_bytes()).unwrap();
        let request = crate::api::Request::AccessPlay(crate::api::access::View { id: 1, file: "a.mp4".into() });
        let got = super::super::client::call_typed(Path::new("test.sock"), client, &request, Vec::new());
        assert!(matches!(got, Err(super::super::client::ClientError::Protocol { .. })), "{got:?}");
    }

    #[test]
    fn a_request_is_one_line_of_the_current_version_with_its_descriptors() {
        let ok = format!("{{\"v\":{VERSION},\"op\":\"status\",\"paths\":[]}}\n");
        assert_eq!(parse_request(ok.as_bytes(), Vec::new()).unwrap().0.op, "status");
        let old = b"{\"v\":2,\"argv\":[\"status\"],\"paths\":[]}\n";
        assert!(parse_request(old, Vec::new()).unwrap_err().contains("request version 2 is not 4"));
        let v3 = b"{\"v\":3,\"op\":\"argv\",\"args\":{\"argv\":[\"status\"]}}\n";
        assert!(parse_request(v3, Vec::new()).unwrap_err().contains("request version 3 is not 4"));
        let missing =
            format!("{{\"v\":{VERSION},\"op\":\"log_verify\",\"args\":{{\"key\":\"c.txt\"}},\"paths\":[\"c.txt\"]}}\n");
        assert!(parse_request(missing.as_bytes(), Vec::new()).unwrap_err().contains("1 file argument(s) but 0"));
        let long = vec![b'x'; MAX_REQUEST + 1];
        assert!(parse_request(&long, Vec::new()).unwrap_err().contains("longer than"));
        assert!(parse_request(b"{", Vec::new()).unwrap_err().contains("not an evidock request"));
    }
}
