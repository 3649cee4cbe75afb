//! How a station command runs: through the daemon when it listens, else directly; who may run
//! it; where its output goes (R9, R12).
//!
//! Owns: the routing of each command ([`rule`]: local, or which roles may run it), the typed
//! request of each station command ([`typed`]) and the way it reaches the station ([`Link`]:
//! the daemon's control socket, else [`crate::api::call`] in this process), the caller a
//! command that runs here acts for ([`caller`]), its output streams ([`stdout`], [`stderr`]),
//! the typed refusal ([`Refused`]) and the logging of every refusal.
//! Must never: take a caller's word for who it is: over the socket the kernel says
//! (`SO_PEERCRED`), directly it is this process's own user.

use std::cell::RefCell;
use std::io::Write;
use std::os::fd::OwnedFd;
use std::process::ExitCode;

use super::{history, Command};
use crate::config::Config;
use crate::control::roles::Identity;
use crate::control::server::Answer;
use crate::control::wire::Request;
use crate::custody::event::{Actor, Role};

/// A command refused by the rules: a missing role, self-approval, a missing approval. Logged
/// as `call_refused`; exit code 2.
#[derive(Debug, thiserror::Error)]
#[error("refused: {0}")]
pub struct Refused(pub String);

/// Where a command runs and who may run it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// In the calling process, without the station's catalogue (`sim`, `demo`), or as the
    /// station itself (`daemon`, `ingest`), or offline on exported files.
    Local,
    /// Through the daemon, by a caller holding one of these roles; the first one held is the
    /// role the command acts in.
    Station(&'static [Role]),
    /// A long job that needs devices or time the daemon should not lend (a disc burn): in the
    /// calling process, usually a supervised unit of its own, by a caller holding one of these
    /// roles or by the station's own user (the owner of the catalogue), writing the catalogue
    /// in its own transactions beside the daemon.
    Job(&'static [Role]),
}

const ANY: &[Role] = &[Role::Archivist, Role::Supervisor, Role::Approver, Role::Custodian, Role::Admin];
const READERS: &[Role] = &[Role::Archivist, Role::Supervisor, Role::Approver, Role::Admin];
const FILERS: &[Role] = &[Role::Custodian, Role::Archivist];
/// [`ANY`], or an officer named in `[officers]` acting on their own footage ([`Role::Officer`]).
use crate::api::ANY_OR_OFFICER;

/// The rule of a command. Exhaustive: a new command must be placed here before it compiles.
pub fn rule(cmd: &Command) -> Rule {
    use super::access::AccessCommand as A;
    use super::burn::BurnCommand as B;
    use super::case::CaseCommand as C;
    use super::log::LogCommand as L;
    match cmd {
        Command::Sim(_)
        | Command::Demo(_)
        | Command::Daemon
        | Command::Ingest(_)
        | Command::UdevRules
        | Command::SdkHelper => Rule::Local,
        Command::Central(_) => Rule::Local,
        // Typed operations: the rule table of the station API.
        Command::Replicate(c) => Rule::Station(super::central::request(c).op().roles()),
        Command::Status(_) => Rule::Station(super::status::request().op().roles()),
        Command::Device(d) => Rule::Station(super::device::request(d).op().roles()),
        Command::Duty(d) => Rule::Station(super::duty::request(d).op().roles()),
        Command::Access(a) => match a {
            // An officer named in [officers] asks for, lists, views and prints their own (R9).
            A::Play { .. } => Rule::Station(crate::api::access::VIEWERS),
            _ => Rule::Station(super::access::request(a).map_or(ANY_OR_OFFICER, |r| r.op().roles())),
        },
        Command::Export(_) => Rule::Station(crate::api::Op::Export.roles()),
        Command::Burn(b @ (B::Plan { .. } | B::Disc(_))) => {
            Rule::Station(super::burn::request(b).map_or(FILERS, |r| r.op().roles()))
        }
        Command::Burn(B::Run { .. } | B::Write { .. } | B::Verify { .. } | B::Recheck { .. }) => {
            Rule::Job(crate::job::burn::ROLES)
        }
        // A long read of the whole archive, run by its timer as the station's own user.
        Command::Archive(_) => Rule::Job(crate::job::scrub::ROLES),
        Command::Account(a) => Rule::Station(super::account::request(a, String::new()).op().roles()),
        Command::Case(history::CaseCommand::History(_)) => Rule::Station(crate::api::Op::CaseHistory.roles()),
        Command::Case(history::CaseCommand::Case(c)) => match c {
            C::CheckFolder { .. } => Rule::Local,
            _ => Rule::Station(super::case::request(c).map_or(FILERS, |r| r.op().roles())),
        },
        Command::Gap(g) => Rule::Station(super::gap::request(g).op().roles()),
        Command::Retention(r) => Rule::Station(super::retention::request(r).map_or(ANY, |q| q.op().roles())),
        Command::Report(r) => Rule::Station(super::retention::report_request(r).op().roles()),
        Command::Log(history::LogCommand::Query(_)) => Rule::Station(crate::api::Op::LogQuery.roles()),
        Command::Log(history::LogCommand::Log(l)) => match l {
            // Checks of exported copies run offline, on the caller's own files.
            L::Verify { from, .. } | L::Prove { from, .. } | L::Consistency { from, .. } if from.db.is_some() => {
                Rule::Local
            }
            L::Tail { .. } => Rule::Station(crate::api::Op::LogTail.roles()),
            L::Verify { .. } | L::Checkpoint { .. } | L::Prove { .. } | L::Consistency { .. } => {
                Rule::Station(super::log::request(l).map_or(READERS, |r| r.op().roles()))
            }
            L::VerifyExtract { .. } => Rule::Local,
        },
    }
}

/// The typed operation a command is a front end of (`None`: a command that runs locally, or a
/// job run in the caller's process, [`rule`]).
pub fn typed(cmd: &Command) -> Option<crate::api::Request> {
    match cmd {
        Command::Status(_) => Some(super::status::request()),
        Command::Device(d) => Some(super::device::request(d)),
        Command::Duty(d) => Some(super::duty::request(d)),
        Command::Replicate(r) => Some(super::central::request(r)),
        Command::Log(history::LogCommand::Query(q)) => Some(crate::api::Request::LogQuery(q.filter())),
        Command::Case(history::CaseCommand::History(h)) => {
            Some(crate::api::Request::CaseHistory(crate::api::history::HistoryArgs { number: h.number.clone() }))
        }
        Command::Log(history::LogCommand::Log(super::log::LogCommand::Tail { n, .. })) => {
            Some(crate::api::Request::LogTail(crate::api::log::TailArgs { n: *n as u64 }))
        }
        Command::Gap(g) => Some(super::gap::request(g)),
        Command::Case(history::CaseCommand::Case(c)) => super::case::request(c),
        Command::Retention(r) => super::retention::request(r),
        Command::Access(a) => super::access::request(a),
        Command::Report(r) => Some(super::retention::report_request(r)),
        Command::Log(history::LogCommand::Log(l)) => super::log::request(l),
        Command::Burn(b) => super::burn::request(b),
        Command::Export(a) => Some(crate::api::Request::Export(crate::api::export::ExportArgs {
            request: a.id,
            folder: a.to.to_string_lossy().into_owned(),
        })),
        // The password's hash is made when the command runs (read from standard input).
        Command::Account(a) => Some(super::account::request(a, String::new())),
        _ => None,
    }
}

/// The caller a station command acts for, and the role it acts in.
#[derive(Debug, Clone)]
pub struct Caller {
    /// Who, as the kernel reported.
    pub identity: Identity,
    /// The actor written into custody events.
    pub actor: Actor,
    /// Whether the daemon runs the command (else the caller's own process does).
    pub via_daemon: bool,
}

thread_local! {
    static CALLER: RefCell<Option<Caller>> = const { RefCell::new(None) };
}

/// The caller of the command running on this thread. Outside a station command (the daemon's
/// own work, `sim`), this process's user in the custodian role.
pub fn caller() -> Caller {
    CALLER.with(|c| c.borrow().clone()).unwrap_or_else(|| {
        let identity = crate::control::peer::current();
        let actor = Actor { user: identity.user.clone(), role: Role::Custodian, officer: None };
        Caller { identity, actor, via_daemon: false }
    })
}

/// The runner of a job ([`Rule::Job`]) on this thread: the caller the rules named.
pub fn runner() -> crate::job::Runner {
    let c = caller();
    crate::job::Runner { identity: c.identity, actor: c.actor }
}

/// Standard output of the command running in this process.
pub fn stdout() -> Stream {
    Stream { err: false }
}

/// Standard error of the command running in this process.
pub fn stderr() -> Stream {
    Stream { err: true }
}

/// One of the running command's output streams ([`stdout`], [`stderr`]).
pub struct Stream {
    err: bool,
}

impl Stream {
    fn with<R>(&self, f: impl FnOnce(&mut dyn Write) -> R) -> R {
        if self.err {
            f(&mut std::io::stderr().lock())
        } else {
            f(&mut std::io::stdout().lock())
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.with(|w| w.write(buf))
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.with(|w| w.flush())
    }
}

/// `eprintln!` to the command's standard error ([`stderr`]).
#[macro_export]
macro_rules! errln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!($crate::cli::invoke::stderr(), $($arg)*);
    }};
}

/// `println!` to the command's standard output ([`stdout`]). A closed pipe is not an error.
#[macro_export]
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!($crate::cli::invoke::stdout(), $($arg)*);
    }};
}

/// `print!` to the command's standard output ([`stdout`]).
#[macro_export]
macro_rules! outprint {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!($crate::cli::invoke::stdout(), $($arg)*);
    }};
}

/// Decides whether `who` may run `cmd` and in which role.
///
/// # Errors
/// [`Refused`] when `who` holds none of the roles the command needs.
pub fn authorize(cmd: &Command, who: &Identity, config: &Config) -> Result<Caller, Refused> {
    let officer = config.roles.officer_of(who);
    let mut held = config.roles.roles_of(who);
    // An officer number (`[officers]`) is the officer role: requests for their own footage.
    if officer.is_some() {
        held.push(Role::Officer);
    }
    let (needed, station_may) = match rule(cmd) {
        Rule::Local => (&[][..], false),
        Rule::Station(roles) => (roles, false),
        Rule::Job(roles) => (roles, true),
    };
    let owner = || {
        std::os::unix::fs::MetadataExt::uid(&std::fs::metadata(config.catalog_path()).ok()?).eq(&who.uid).then_some(())
    };
    let role = needed.iter().find(|r| held.contains(r)).copied().or_else(|| {
        // The station's own user running a job (a burn unit): it acts as the system.
        (station_may && who.uid != 0 && owner().is_some()).then_some(Role::System)
    });
    match role {
        Some(role) => Ok(Caller {
            identity: who.clone(),
            actor: Actor { user: who.user.clone(), role, officer },
            via_daemon: false,
        }),
        None => {
            let names: Vec<&str> = needed.iter().map(|r| r.as_str()).collect();
            let has = if held.is_empty() {
                "no role".to_string()
            } else {
                held.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(", ")
            };
            Err(Refused(format!(
                "user {} (uid {}) has {has}; `{}` needs one of: {} (set in [roles] of the configuration) / 无此操作权限",
                who.user,
                who.uid,
                command_name(cmd),
                names.join(", ")
            )))
        }
    }
}

/// The command's words, e.g. `retention purge approve`, for logs and messages.
pub fn command_name(cmd: &Command) -> String {
    // The variant names of the parsed command, outermost first: `Retention(Purge(Approve { id:
    // 1 }))` gives retention, purge, approve; argument structs (`...Args`) and the wrappers that
    // repeat their parent's name (`Case(Case(..))`) are left out.
    let debug = format!("{cmd:?}");
    let mut words: Vec<String> = Vec::new();
    for w in debug.split(['(', ' ', '{']).take_while(|w| w.chars().next().is_some_and(char::is_uppercase)) {
        if w.ends_with("Args") {
            break;
        }
        let mut s = String::new();
        for (i, c) in w.chars().enumerate() {
            if c.is_uppercase() && i > 0 {
                s.push('-');
            }
            s.extend(c.to_lowercase());
        }
        if words.last() != Some(&s) {
            words.push(s);
        }
    }
    words.join(" ")
}

/// Runs a command in this process for `caller`: sets who acts, runs it, logs a refusal.
fn run_as(cmd: &Command, config: &Config, caller: Caller) -> anyhow::Result<ExitCode> {
    CALLER.with(|c| *c.borrow_mut() = Some(caller.clone()));
    let result = super::dispatch(cmd, config);
    CALLER.with(|c| *c.borrow_mut() = None);
    if let Err(e) = &result {
        if let Some(reason) = refusal(e) {
            log_refusal(config, &caller.identity, Some(caller.actor.role), cmd, &reason, caller.via_daemon);
        }
    }
    result
}

/// The reason of a refusal: [`Refused`], or a station API's refusal
/// ([`crate::api::ErrorKind::Refused`]) met on the way.
fn refusal(e: &anyhow::Error) -> Option<String> {
    if let Some(r) = e.downcast_ref::<Refused>() {
        return Some(r.0.clone());
    }
    e.downcast_ref::<crate::api::ApiError>()
        .filter(|a| a.kind == crate::api::ErrorKind::Refused)
        .map(|a| a.message.clone())
}

/// Writes a `call_refused` event for a command ([`crate::api::log_refusal`]).
pub fn log_refusal(config: &Config, who: &Identity, role: Option<Role>, cmd: &Command, reason: &str, via_daemon: bool) {
    let via = if via_daemon { crate::api::Via::Socket } else { crate::api::Via::Direct };
    crate::api::log_refusal(config, who, role, &command_name(cmd), reason, via);
}

/// The daemon's handler of one socket request ([`crate::control::server::Handler`]): the typed
/// operation through [`crate::api::call`], as the caller the kernel named.
pub fn serve(config: &Config, who: Identity, pid: i32, request: Request, fds: Vec<OwnedFd>) -> Answer {
    let typed = request.call()?;
    tracing::info!(user = %who.user, uid = who.uid, pid, "control: {}", typed.op().words());
    let files: crate::api::Files = request.paths.into_iter().zip(fds).collect();
    let caller = crate::api::Caller::of(config, who, crate::api::Via::Socket);
    crate::api::call(config, &caller, typed, files)
}

/// Whether a request is a quick read-only one, served in the control socket's slots kept for
/// those: a typed `status` ([`crate::api::Op::is_quick`]), so that the custodian's view
/// answers while other callers hold every command slot.
pub fn is_quick(request: &Request) -> bool {
    matches!(request.call(), Ok(r) if r.op().is_quick())
}

/// The station a configuration belongs to, as its service greets clients and as a client
/// checks that greeting: its state folder, canonical where it can be resolved.
pub fn station_of(config: &Config) -> crate::control::wire::Station {
    let state = std::fs::canonicalize(&config.paths.state_dir).unwrap_or_else(|_| config.paths.state_dir.clone());
    crate::control::wire::Station { station: config.station_name.clone(), state: state.to_string_lossy().into_owned() }
}

/// Which service a station command may be sent to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// Only the service of the configuration's own station (its state folder).
    ThisStation,
    /// Whichever listens on the socket: the caller cannot read the configuration, so it has no
    /// station to compare with, and the service decides.
    AnyStation,
}

/// Whether the daemon of `config`'s station runs now (it holds the state folder's lock);
/// `None` when this process cannot tell (it cannot open the lock).
fn station_daemon_running(config: &Config) -> Option<bool> {
    match std::fs::File::open(config.lock_path()) {
        Ok(f) => Some(nix::fcntl::Flock::lock(f, nix::fcntl::FlockArg::LockSharedNonblock).is_err()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Some(false),
        Err(_) => None,
    }
}

/// The service of `config`'s station (or any, by `expect`) on the control socket, greeted;
/// `None` when none listens, or when the one listening belongs to another station while this
/// station's daemon is not running (then the command runs directly; said on stderr when
/// `note`).
///
/// # Errors
/// When the service refuses the connection, or belongs to another station while this
/// station's daemon runs.
fn reach(config: &Config, expect: Expect, note: bool) -> anyhow::Result<Option<std::os::unix::net::UnixStream>> {
    use crate::control::client::Greeting;
    let socket = &config.paths.control_socket;
    let Some(stream) = crate::control::client::connect(socket)? else { return Ok(None) };
    match crate::control::client::greet(socket, &stream)? {
        Greeting::Refused(message) => anyhow::bail!("{message}"),
        Greeting::Hello(theirs) => {
            let ours = station_of(config);
            if expect == Expect::ThisStation && theirs.state != ours.state {
                let told = format!(
                    "the evidock service at {} belongs to station {:?} (state folder {}), not to the station of this configuration{} (state folder {})",
                    socket.display(),
                    theirs.station,
                    theirs.state,
                    config.source.as_ref().map(|p| format!(" {}", p.display())).unwrap_or_default(),
                    ours.state
                );
                if station_daemon_running(config) != Some(false) {
                    anyhow::bail!(
                        "{told}; the command was not sent there. Give each station its own `paths.control_socket`, \
                         or use the configuration of that station / 该服务属于另一工作站，命令未发送；请为每个工作站配置各自的控制套接字"
                    );
                }
                if note {
                    eprintln!(
                        "evidock: note: {told}; no service of this station is running, so the command runs directly on its state / 该服务属于另一工作站；本工作站的服务未运行，命令直接在本站执行"
                    );
                }
                return Ok(None);
            }
        }
    }
    Ok(Some(stream))
}

/// How a command of the command line reaches the station's typed operations: through the
/// daemon of its station when it listens on the control socket, else by calling
/// [`crate::api::call`] in this process as this process's user, under the same rules.
pub struct Link<'a> {
    config: &'a Config,
    expect: Expect,
    /// Whether the note that another station's service was passed over has been given.
    noted: std::cell::Cell<bool>,
}

impl<'a> Link<'a> {
    /// A link to the station of `config`, by `expect`.
    pub fn new(config: &'a Config, expect: Expect) -> Link<'a> {
        Link { config, expect, noted: std::cell::Cell::new(false) }
    }

    /// The station's configuration.
    pub fn config(&self) -> &'a Config {
        self.config
    }

    /// Calls one operation and returns its reply.
    ///
    /// # Errors
    /// The operation's [`crate::api::ApiError`] (a refusal reads `refused: ...`), or a failure
    /// to reach the service.
    pub fn call(&self, request: crate::api::Request) -> anyhow::Result<crate::api::Reply> {
        self.call_with_files(request, Vec::new())
    }

    /// [`Link::call`] with files this process opened, each under the name the operation
    /// takes it by (sent as descriptors: the service reads what the caller could open).
    ///
    /// # Errors
    /// As [`Link::call`].
    pub fn call_with_files(
        &self,
        request: crate::api::Request,
        files: crate::api::Files,
    ) -> anyhow::Result<crate::api::Reply> {
        self.call_preparing(request, |_| Ok(files))
    }

    /// [`Link::call_with_files`], the files made by `prepare` once it is known who will use
    /// them: the user the service runs as (from the socket's peer credentials), or `None` when
    /// this process calls the operation itself.
    ///
    /// # Errors
    /// As [`Link::call`], and `prepare`'s.
    pub fn call_preparing(
        &self,
        request: crate::api::Request,
        prepare: impl FnOnce(Option<u32>) -> anyhow::Result<crate::api::Files>,
    ) -> anyhow::Result<crate::api::Reply> {
        let socket = &self.config.paths.control_socket;
        match reach(self.config, self.expect, !self.noted.replace(true))? {
            Some(stream) => {
                let service = nix::sys::socket::getsockopt(&stream, nix::sys::socket::sockopt::PeerCredentials)
                    .map_err(|e| anyhow::anyhow!("asking the control socket which user the service runs as: {e}"))?
                    .uid();
                let files = prepare(Some(service))?;
                Ok(crate::control::client::call_typed(socket, stream, &request, files)??)
            }
            None => {
                let files = prepare(None)?;
                let caller =
                    crate::api::Caller::of(self.config, crate::control::peer::current(), crate::api::Via::Direct);
                Ok(crate::api::call(self.config, &caller, request, files)?)
            }
        }
    }
}

/// A reply that is not the one the operation answers with (a service of another build).
pub fn unexpected(reply: &crate::api::Reply) -> anyhow::Error {
    anyhow::anyhow!("the service answered {:?} with the reply of another operation", reply.op())
}

/// Runs a command that is a front end of a typed operation ([`typed`]): builds the request,
/// calls it through `link`, renders the reply.
fn run_typed(cmd: &Command, link: &Link<'_>) -> anyhow::Result<ExitCode> {
    match cmd {
        Command::Status(args) => super::status::run(args, link),
        Command::Device(d) => super::device::run(d, link),
        Command::Duty(d) => super::duty::run(d, link),
        Command::Replicate(r) => super::central::run_replicate(r, link),
        Command::Log(history::LogCommand::Query(q)) => history::run_query(q, link),
        Command::Case(history::CaseCommand::History(h)) => history::run_history(h, link),
        Command::Log(history::LogCommand::Log(super::log::LogCommand::Tail { n, json })) => {
            super::log::run_tail(*n, *json, link)
        }
        Command::Gap(g) => super::gap::run(g, link),
        Command::Case(history::CaseCommand::Case(c)) => super::case::run_typed(c, link),
        Command::Retention(r) => super::retention::run_typed(r, link),
        Command::Access(a) => super::access::run_typed(a, link, link.config()),
        Command::Report(r) => super::retention::run_report(r, link),
        Command::Log(history::LogCommand::Log(l)) => super::log::run_typed(l, link),
        Command::Burn(b) => super::burn::run_typed(b, link),
        Command::Export(a) => super::access::run_export(a, link),
        Command::Account(a) => super::account::run(a, link),
        other => anyhow::bail!("`{}` has no typed operation", command_name(other)),
    }
}

/// Runs a station command from the command line: through the daemon of the configuration's
/// station when it listens on the control socket, else directly as this process's user (who
/// must then be able to open the catalogue: the service user, or the superuser), under the
/// same role rules. A service of another station on that socket is never sent the command.
///
/// # Errors
/// When it could not run (exit code 2).
pub fn run_station(cmd: &Command, config: &Config) -> anyhow::Result<ExitCode> {
    run_station_at(cmd, config, Expect::ThisStation)
}

/// [`run_station`], sending the command to the service `expect` allows.
///
/// # Errors
/// When it could not run (exit code 2).
pub fn run_station_at(cmd: &Command, config: &Config, expect: Expect) -> anyhow::Result<ExitCode> {
    // Every station command is a typed operation: the one way it reaches the station.
    match typed(cmd) {
        Some(_) => run_typed(cmd, &Link::new(config, expect)),
        None => anyhow::bail!("`{}` has no operation of the station API", command_name(cmd)),
    }
}

/// Runs a job ([`Rule::Job`]) in this process, for this process's user, under the rules.
///
/// # Errors
/// When it is refused or could not run (exit code 2).
pub fn run_job(cmd: &Command, config: &Config) -> anyhow::Result<ExitCode> {
    let who = crate::control::peer::current();
    match authorize(cmd, &who, config) {
        Ok(caller) => run_as(cmd, config, caller),
        Err(refused) => {
            log_refusal(config, &who, None, cmd, &refused.0, false);
            Err(refused.into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn parse(args: &[&str]) -> Command {
        super::super::Cli::try_parse_from(std::iter::once("evidock").chain(args.iter().copied())).unwrap().command
    }

    #[test]
    fn only_a_typed_status_is_quick() {
        let quick = |line: &str| is_quick(&serde_json::from_str(line).unwrap());
        assert!(quick(r#"{"v":4,"op":"status"}"#) && quick(r#"{"v":4,"op":"status","args":{}}"#));
        assert!(!quick(r#"{"v":4,"op":"device_list"}"#));
        assert!(!quick(r#"{"v":4,"op":"status","args":{"watch":true}}"#), "not a request the service reads");
        assert!(!quick(r#"{"v":4,"op":"argv","args":{"argv":["status"]}}"#), "words are not the typed operation");
    }

    #[test]
    fn typed_commands_take_their_rule_from_the_station_api() {
        use crate::api::Op;
        assert_eq!(
            rule(&parse(&["device", "register", "J1", "--officer-id", "1"])),
            Rule::Station(Op::DeviceRegister.roles())
        );
        assert_eq!(rule(&parse(&["duty", "approve", "1"])), Rule::Station(&[Role::Approver]));
        assert_eq!(rule(&parse(&["replicate", "status"])), Rule::Station(Op::ReplicateStatus.roles()));
        assert_eq!(typed(&parse(&["status", "--watch"])).map(|r| r.op()), Some(Op::Status));
        assert_eq!(typed(&parse(&["case", "propose", "X"])).map(|r| r.op()), Some(Op::CasePropose));
        assert!(typed(&parse(&["case", "check-folder", "X"])).is_none(), "read offline, without the station");
    }

    /// Every command the rules send to the station is the front end of a typed operation:
    /// nothing reaches the service as command-line words.
    #[test]
    fn every_station_command_is_a_typed_operation() {
        let lines: &[&[&str]] = &[
            &["status"],
            &["device", "list"],
            &["device", "register", "J1", "--officer-id", "1"],
            &["device", "retire", "J1", "--reason", "x"],
            &["duty", "list"],
            &["duty", "approve", "1"],
            &["replicate", "status"],
            &["log", "query"],
            &["log", "tail"],
            &["log", "verify"],
            &["log", "checkpoint"],
            &["log", "prove", "3"],
            &["case", "list"],
            &["case", "show", "A"],
            &["case", "history", "A"],
            &["case", "propose", "A"],
            &["gap", "list"],
            &["retention", "due"],
            &["retention", "purge", "list"],
            &["retention", "purge", "approve", "3"],
            &["report", "compliance", "--from", "2026-01-01", "--to", "2026-01-31"],
            &["access", "list"],
            &["access", "approve", "1"],
            &["access", "view", "1"],
            &["access", "play", "1", "a.mp4"],
            &["access", "mark", "--case", "A", "--level", "privacy", "--reason", "x"],
            &["export", "--request", "1", "--to", "/media/u"],
            &["account", "list"],
            &["account", "disable", "zhang"],
            &["account", "add", "li", "--display-name", "李四", "--role", "custodian"],
            &["burn", "plan", "--media", "bd25"],
            &["burn", "disc", "list"],
        ];
        for line in lines {
            let Ok(cli) = super::super::Cli::try_parse_from(std::iter::once("evidock").chain(line.iter().copied()))
            else {
                panic!("{line:?} does not parse");
            };
            assert!(matches!(rule(&cli.command), Rule::Station(_)), "{line:?} is a station command");
            let op = typed(&cli.command).unwrap_or_else(|| panic!("{line:?} has no typed operation")).op();
            assert_eq!(rule(&cli.command), Rule::Station(op.roles()), "{line:?} takes its rule from {op:?}");
        }
    }

    #[test]
    fn command_names_read_as_typed() {
        assert_eq!(command_name(&parse(&["retention", "purge", "approve", "3"])), "retention purge approve");
        assert_eq!(command_name(&parse(&["device", "list"])), "device list");
        assert_eq!(command_name(&parse(&["log", "checkpoint"])), "log checkpoint");
        assert_eq!(command_name(&parse(&["case", "history", "A"])), "case history");
        assert_eq!(command_name(&parse(&["status"])), "status");
    }

    #[test]
    fn approvals_need_the_approver_role_and_offline_checks_stay_local() {
        assert_eq!(rule(&parse(&["retention", "purge", "approve", "3"])), Rule::Station(&[Role::Approver]));
        assert_eq!(rule(&parse(&["log", "verify", "--db", "copy.sqlite", "--key", "k.pub"])), Rule::Local);
        assert!(matches!(rule(&parse(&["log", "verify"])), Rule::Station(_)));
        assert_eq!(rule(&parse(&["sim", "recorder", "--out", "x", "--serial", "J1"])), Rule::Local);
    }

    #[test]
    fn a_caller_without_a_role_is_refused_with_what_it_needs() {
        let config = Config::under(std::path::Path::new("/nonexistent"));
        let nobody = Identity { uid: 65534, user: "nobody".into(), gids: vec![65534], groups: vec!["nogroup".into()] };
        let e = authorize(&parse(&["device", "list"]), &nobody, &config).unwrap_err();
        assert!(e.0.contains("nobody") && e.0.contains("no role") && e.0.contains("custodian"), "{e}");
        let root = Identity { uid: 0, user: "root".into(), gids: vec![0], groups: vec!["root".into()] };
        let c = authorize(&parse(&["device", "list"]), &root, &config).unwrap();
        assert_eq!(c.actor.role, Role::Archivist);
        assert!(authorize(&parse(&["retention", "purge", "approve", "1"]), &root, &config).is_err(), "no approver");
    }
}
