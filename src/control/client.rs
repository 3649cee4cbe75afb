//! The command line's side of the control socket.

use std::io::{BufRead, BufReader, IoSlice, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::Path;

use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};

use super::wire::{Reply, Request, Station, MAX_FDS, VERSION};

/// Why a call through the socket failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Sending the request or reading the replies failed.
    #[error("talking to the evidock service at {path}: {source}")]
    Io {
        /// The socket.
        path: std::path::PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The service answered something this build does not understand.
    #[error("the evidock service at {path} answered {line:?}, which this program does not understand (are both the same version?)")]
    Protocol {
        /// The socket.
        path: std::path::PathBuf,
        /// The line received.
        line: String,
    },
    /// The service closed the connection without an exit code.
    #[error(
        "the evidock service at {path} closed the connection before the command finished (see `journalctl -u evidock`)"
    )]
    Cut {
        /// The socket.
        path: std::path::PathBuf,
    },
}

/// Connects to the service. `None` when nothing listens there (no socket file, or a stale one):
/// the service is not running.
///
/// # Errors
/// When the socket exists but cannot be reached for another reason (permissions).
pub fn connect(path: &Path) -> Result<Option<UnixStream>, ClientError> {
    match UnixStream::connect(path) {
        Ok(s) => Ok(Some(s)),
        Err(e) if matches!(e.kind(), std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused) => Ok(None),
        Err(source) => Err(ClientError::Io { path: path.to_path_buf(), source }),
    }
}

/// What the service said on connecting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Greeting {
    /// The station it belongs to: send the request if it is the caller's.
    Hello(Station),
    /// It will not take a request now (too many open): its message.
    Refused(String),
}

/// How long a client waits for the service's greeting (sent as soon as it accepts).
const GREETING_WAIT: std::time::Duration = std::time::Duration::from_secs(60);

/// Reads the service's greeting, the first line it sends.
///
/// # Errors
/// On an I/O or protocol failure, or when the service sends nothing within a minute.
pub fn greet(path: &Path, stream: &UnixStream) -> Result<Greeting, ClientError> {
    let io = |source| ClientError::Io { path: path.to_path_buf(), source };
    stream.set_read_timeout(Some(GREETING_WAIT)).map_err(io)?;
    // Byte by byte up to the newline: nothing after it may be taken from the stream here.
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    loop {
        match std::io::Read::read(&mut &*stream, &mut byte) {
            Ok(0) => return Err(ClientError::Cut { path: path.to_path_buf() }),
            Ok(_) if byte[0] == b'\n' => break,
            Ok(_) if line.len() > 64 * 1024 => {
                return Err(ClientError::Protocol {
                    path: path.to_path_buf(),
                    line: String::from_utf8_lossy(&line[..200]).into_owned(),
                })
            }
            Ok(_) => line.push(byte[0]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(io(e)),
        }
    }
    stream.set_read_timeout(None).map_err(io)?;
    let text = String::from_utf8_lossy(&line).into_owned();
    match serde_json::from_str::<Reply>(&text) {
        Ok(Reply::Hello(station)) => Ok(Greeting::Hello(station)),
        Ok(Reply::Error(e)) => Ok(Greeting::Refused(e.to_string())),
        _ => Err(ClientError::Protocol { path: path.to_path_buf(), line: text }),
    }
}

/// Sends a typed operation (after [`greet`]) and reads its one reply: the operation's reply
/// or its error.
///
/// # Errors
/// On an I/O or protocol failure.
pub fn call_typed(
    path: &Path,
    stream: UnixStream,
    request: &crate::api::Request,
    files: crate::api::Files,
) -> Result<Result<crate::api::Reply, crate::api::ApiError>, ClientError> {
    let mut line = Request::typed(request)
        .map_err(|e| ClientError::Io { path: path.to_path_buf(), source: std::io::Error::other(e) })?;
    let (names, fds): (Vec<String>, Vec<OwnedFd>) = files.into_iter().unzip();
    line.paths = names;
    send(path, &stream, &line, &fds)?;
    // Read with `recvmsg`: an answer that hands over a file carries its descriptor.
    let received = std::cell::RefCell::new(std::collections::VecDeque::new());
    let mut reader = BufReader::new(Receiving { stream: &stream, fds: &received });
    let mut buf = String::new();
    if reader.read_line(&mut buf).map_err(|source| ClientError::Io { path: path.to_path_buf(), source })? == 0 {
        return Err(ClientError::Cut { path: path.to_path_buf() });
    }
    let protocol = || ClientError::Protocol { path: path.to_path_buf(), line: buf.trim_end().to_string() };
    match serde_json::from_str::<Reply>(buf.trim_end()) {
        Ok(Reply::Ok(mut reply)) if reply.op() == request.op() => {
            if reply.op().hands_over_a_file() {
                // The answer names a file: without its descriptor it is no answer.
                let fd = received.borrow_mut().pop_front().ok_or_else(protocol)?;
                reply.attach_file(std::fs::File::from(fd));
            }
            Ok(Ok(reply))
        }
        Ok(Reply::Error(e)) => Ok(Err(e)),
        _ => Err(protocol()),
    }
}

/// Writes one request line, the descriptors with its first bytes, and closes the writing half.
fn send(path: &Path, stream: &UnixStream, request: &Request, fds: &[OwnedFd]) -> Result<(), ClientError> {
    let io = |source| ClientError::Io { path: path.to_path_buf(), source };
    debug_assert_eq!(request.v, VERSION);
    if fds.len() > MAX_FDS {
        return Err(io(std::io::Error::other(format!("more than {MAX_FDS} files on one command line"))));
    }
    let mut line = serde_json::to_vec(request).map_err(|e| io(std::io::Error::other(e)))?;
    line.push(b'\n');
    let raw: Vec<i32> = fds.iter().map(AsRawFd::as_raw_fd).collect();
    // The descriptors go with the first bytes; the rest of a long request follows plainly.
    let cmsg = [ControlMessage::ScmRights(&raw)];
    let sent = sendmsg::<()>(
        stream.as_raw_fd(),
        &[IoSlice::new(&line)],
        if raw.is_empty() { &[] } else { &cmsg },
        MsgFlags::empty(),
        None,
    )
    .map_err(|e| io(std::io::Error::from(e)))?;
    (&*stream).write_all(&line[sent..]).map_err(io)?;
    stream.shutdown(std::net::Shutdown::Write).map_err(io)
}

/// The replies' bytes, read with `recvmsg` so that a descriptor sent with a `file` reply is
/// kept (in `fds`, in the order received) rather than closed by a plain read.
struct Receiving<'a> {
    stream: &'a UnixStream,
    fds: &'a std::cell::RefCell<std::collections::VecDeque<OwnedFd>>,
}

impl std::io::Read for Receiving<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        use nix::sys::socket::{recvmsg, ControlMessageOwned};
        use std::os::fd::FromRawFd;
        let mut cmsg = nix::cmsg_space!([std::os::fd::RawFd; MAX_FDS]);
        let mut iov = [std::io::IoSliceMut::new(buf)];
        let msg = loop {
            match recvmsg::<()>(self.stream.as_raw_fd(), &mut iov, Some(&mut cmsg), MsgFlags::MSG_CMSG_CLOEXEC) {
                Err(nix::errno::Errno::EINTR) => continue,
                r => break r.map_err(std::io::Error::from)?,
            }
        };
        for c in msg.cmsgs().map_err(std::io::Error::from)? {
            if let ControlMessageOwned::ScmRights(list) = c {
                // SAFETY: the kernel just installed these descriptors in this process; nothing
                // else owns them.
                self.fds.borrow_mut().extend(list.into_iter().map(|fd| unsafe { OwnedFd::from_raw_fd(fd) }));
            }
        }
        Ok(msg.bytes)
    }
}
