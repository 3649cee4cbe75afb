//! The daemon's side of the control socket: bind, accept, identify, hand over, reply.

use std::io::{IoSliceMut, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
use tokio_util::sync::CancellationToken;

use super::roles::Identity;
use super::wire::{Reply, Request, MAX_FDS, MAX_REQUEST, VERSION};

/// What the daemon does with one request: given the caller (from the kernel), its pid, the
/// request, the descriptors it carried and the command's output streams (sent to the caller
/// as they are written), the result: an exit code, or the message of an error that stopped
/// the command.
pub type Handler = dyn Fn(Identity, i32, Request, Vec<OwnedFd>, Streams) -> Result<u8, String> + Send + Sync;

/// The standard output and standard error of a command run for a client.
pub struct Streams {
    /// Standard output: each write goes out as one `out` reply.
    pub out: Box<dyn Write + Send>,
    /// Standard error: each write goes out as one `note` reply.
    pub err: Box<dyn Write + Send>,
}

/// One of [`Streams`]: the connection, and whether it carries standard error.
struct ReplyOut(std::os::unix::net::UnixStream, bool);

impl Write for ReplyOut {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf).into_owned();
        let reply = if self.1 { Reply::Note(text) } else { Reply::Out(text) };
        self.0.write_all(reply.line().as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
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
/// lock, so no other daemon owns it), readable and writable by every local user: the roles,
/// not the file mode, decide who may do what, and every refusal is logged.
///
/// # Errors
/// When the folder cannot be made or the socket cannot be bound.
pub fn bind(path: &Path) -> Result<tokio::net::UnixListener, BindError> {
    let err = |source| BindError { path: path.to_path_buf(), source };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty() && !d.exists()) {
        // As systemd makes `/run/evidock` (RuntimeDirectoryMode=0751): others may reach the
        // socket but not list the folder; the umask would close it to them.
        std::fs::create_dir_all(dir).map_err(err)?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o751)).map_err(err)?;
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

/// Accepts connections until `shutdown`, each handled on a blocking thread (at most
/// `max_parallel` at once; more wait). Removes the socket file on the way out.
pub async fn serve(
    listener: tokio::net::UnixListener,
    path: PathBuf,
    max_parallel: usize,
    handler: Arc<Handler>,
    shutdown: CancellationToken,
) {
    let permits = Arc::new(tokio::sync::Semaphore::new(max_parallel.max(1)));
    let tracker = tokio_util::task::TaskTracker::new();
    let live: Live = Arc::default();
    let mut next_id = 0u64;
    loop {
        let accepted = tokio::select! {
            () = shutdown.cancelled() => break,
            a = listener.accept() => a,
        };
        let stream = match accepted.and_then(|(s, _)| s.into_std()) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!("control socket: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let permit = tokio::select! {
            () = shutdown.cancelled() => break,
            p = permits.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
        };
        let handler = handler.clone();
        next_id += 1;
        let id = next_id;
        if let Ok(clone) = stream.try_clone() {
            live.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(id, clone);
        }
        let live_here = live.clone();
        tracker.spawn_blocking(move || {
            let _permit = permit;
            if let Err(e) = handle(stream, &*handler) {
                tracing::debug!("control socket: {e}");
            }
            live_here.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(&id);
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

fn handle(stream: std::os::unix::net::UnixStream, handler: &Handler) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let (who, pid) = super::peer::of_socket(&stream).map_err(std::io::Error::from)?;
    let (request, fds) = match read_request(&stream) {
        Ok(r) => r,
        Err(message) => {
            let mut s = &stream;
            s.write_all(Reply::Error(message).line().as_bytes())?;
            return s.write_all(Reply::Exit(2).line().as_bytes());
        }
    };
    let streams = Streams {
        out: Box::new(ReplyOut(stream.try_clone()?, false)),
        err: Box::new(ReplyOut(stream.try_clone()?, true)),
    };
    let result = handler(who, pid, request, fds, streams);
    let mut s = &stream;
    let code = match result {
        Ok(code) => code,
        Err(message) => {
            s.write_all(Reply::Error(message).line().as_bytes())?;
            2
        }
    };
    s.write_all(Reply::Exit(code).line().as_bytes())
}

fn read_request(stream: &std::os::unix::net::UnixStream) -> Result<(Request, Vec<OwnedFd>), String> {
    let mut first = vec![0u8; 64 * 1024];
    let mut cmsg = nix::cmsg_space!([std::os::fd::RawFd; MAX_FDS]);
    let mut fds = Vec::new();
    let n = {
        let mut iov = [IoSliceMut::new(&mut first)];
        let msg = recvmsg::<()>(stream.as_raw_fd(), &mut iov, Some(&mut cmsg), MsgFlags::MSG_CMSG_CLOEXEC)
            .map_err(|e| format!("reading the request: {e}"))?;
        for c in msg.cmsgs().map_err(|e| format!("reading the request: {e}"))? {
            if let ControlMessageOwned::ScmRights(list) = c {
                // SAFETY: the kernel just installed these descriptors in this process for us;
                // nothing else owns them.
                fds.extend(list.into_iter().map(|fd| unsafe { OwnedFd::from_raw_fd(fd) }));
            }
        }
        if msg.flags.contains(MsgFlags::MSG_CTRUNC) {
            return Err(format!("more than {MAX_FDS} files on one command line"));
        }
        msg.bytes
    };
    first.truncate(n);
    if !first.contains(&b'\n') {
        let mut rest = Vec::new();
        stream
            .take((MAX_REQUEST - first.len().min(MAX_REQUEST)) as u64 + 1)
            .read_to_end(&mut rest)
            .map_err(|e| format!("reading the request: {e}"))?;
        first.extend(rest);
    }
    let line = first.split(|b| *b == b'\n').next().unwrap_or_default();
    if line.len() > MAX_REQUEST {
        return Err(format!("request longer than {MAX_REQUEST} bytes"));
    }
    let request: Request = serde_json::from_slice(line)
        .map_err(|e| format!("not an evidock request ({e}); is the program the same version?"))?;
    if request.v != VERSION {
        return Err(format!(
            "request version {} is not {VERSION}: use the evidock program that matches the service",
            request.v
        ));
    }
    if request.paths.len() != fds.len() {
        return Err(format!("{} file argument(s) but {} descriptor(s)", request.paths.len(), fds.len()));
    }
    Ok((request, fds))
}
