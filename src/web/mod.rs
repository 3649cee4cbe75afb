//! The station's web page (docs/WEB.md), served by the daemon on tokio with axum over hyper:
//! pages rendered on the server (`render.rs`), one small script that swaps in the bays the
//! server renders again at each change (server-sent events), no JavaScript toolchain.
//!
//! Owns: the routes, cookies and HTTP responses, the TLS listener (rustls) when `[web]` names a
//! certificate, and the limits of its connections.
//! Must never: decide who may sign in or hold a session (`crate::accounts::gate` does, and
//! records it), write the catalogue itself, or send a session cookie that is not HttpOnly and
//! SameSite=Strict (INV-43).

pub mod accounts;
pub mod archive;
pub mod central;
pub mod config;
pub mod custodian;
pub mod discs;
pub mod duty;
pub mod export;
pub mod footage;
pub mod gaps;
pub mod marks;
pub mod purges;
pub mod render;
pub mod reports;
pub mod retention;
pub mod viewing;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Extension, Form, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::accounts::gate::{Gate, Refusal};
use crate::accounts::sessions::{self, Session};
use crate::api::{self, ApiError, Caller, ErrorKind, Via};
use crate::config::Config;
use crate::control::roles::Identity;
use crate::ingest::Snapshot;

/// The live bay state the daemon publishes at every status tick: the latest snapshot of every
/// bay. The daemon's loop holds the sender; each bay screen's event stream holds a receiver.
pub type Live = watch::Receiver<Arc<Vec<Snapshot>>>;

/// Connections served at once; the next is closed at once.
pub const MAX_CONNECTIONS: usize = 64;

/// How often ended sessions are swept and recorded, seconds.
pub const SWEEP_S: u64 = 5;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "evidock_session";
/// The sign-in form's cookie (its CSRF token before there is a session).
pub const PRE_COOKIE: &str = "evidock_pre";

/// Why the web page could not start. The daemon logs it as an alarm and goes on ingesting.
#[derive(Debug, thiserror::Error)]
pub enum WebError {
    /// The address could not be bound.
    #[error("web page: cannot listen on {addr}: {source} / 网页无法在 {addr} 监听")]
    Bind {
        /// `web.listen`.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The certificate or key could not be used.
    #[error("web page: TLS {path}: {reason} / 网页 TLS 证书或密钥不可用：{path}")]
    Tls {
        /// `web.tls_cert` or `web.tls_key`.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

/// What every request handler shares.
struct Shared {
    /// The station's configuration, for the typed operations the pages call.
    config: Arc<Config>,
    gate: Arc<Gate>,
    live: Live,
    /// Whether cookies are marked Secure (served over TLS).
    secure: bool,
    /// Files open for approved viewing.
    viewings: viewing::Viewings,
    stop: CancellationToken,
}

/// The client's address, set on each connection.
#[derive(Debug, Clone, Copy)]
struct Peer(SocketAddr);

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Binds `[web]`'s address and loads its TLS certificate, ready to [`serve`].
///
/// # Errors
/// [`WebError`] when the address cannot be bound or the certificate or key cannot be used.
pub async fn bind(web: &config::Web) -> Result<(tokio::net::TcpListener, Option<tokio_rustls::TlsAcceptor>), WebError> {
    let tls = match &web.tls {
        Some((cert, key)) => Some(tls_acceptor(cert, key)?),
        None => None,
    };
    let listener = tokio::net::TcpListener::bind(web.listen)
        .await
        .map_err(|source| WebError::Bind { addr: web.listen, source })?;
    Ok((listener, tls))
}

fn tls_acceptor(cert: &Path, key: &Path) -> Result<tokio_rustls::TlsAcceptor, WebError> {
    use tokio_rustls::rustls;
    use tokio_rustls::rustls::pki_types::pem::PemObject;
    use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let tls_err = |path: &Path, reason: String| WebError::Tls { path: path.to_path_buf(), reason };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| tls_err(cert, e.to_string()))?
        .collect::<Result<_, _>>()
        .map_err(|e| tls_err(cert, e.to_string()))?;
    if certs.is_empty() {
        return Err(tls_err(cert, "no certificate in the file".into()));
    }
    let key_der = PrivateKeyDer::from_pem_file(key).map_err(|e| tls_err(key, e.to_string()))?;
    // ring, as the central store's client (ureq) uses: one provider in the binary. rustls marks
    // it deprecated for lacking post-quantum key exchange, which a kiosk's browser on the
    // station's own LAN does without.
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| tls_err(cert, e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key_der)
        .map_err(|e| tls_err(key, e.to_string()))?;
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

/// The routes.
fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/", get(bay_screen))
        .route("/login", get(sign_in_page).post(sign_in))
        .route("/logout", post(sign_out))
        .route("/events", get(events))
        .route("/devices", get(devices))
        .route("/devices/register", post(custodian::register))
        .route("/devices/retire", post(custodian::retire))
        .route("/alarms", get(custodian::alarms))
        .route("/alarms/reviewed", post(custodian::reviewed))
        .route("/cases", get(custodian::cases))
        .route("/cases/create", post(custodian::create_case))
        .route("/duty", get(duty::duty))
        .route("/duty/out", post(duty::out))
        .route("/duty/return", post(duty::returned))
        .route("/duty/extend", post(duty::extend))
        .route("/duty/approve", post(duty::approve))
        .route("/duty/report", post(duty::report))
        .route("/gaps", get(gaps::gaps))
        .route("/gaps/change", post(gaps::change))
        .route("/central", get(central::central))
        .route("/central/change", post(central::change))
        .route("/mine", get(footage::mine))
        .route("/mine/describe", post(footage::describe))
        .route("/mine/flag", post(footage::flag))
        .route("/mine/assign", post(footage::assign))
        .route(
            "/mine/explain",
            post(footage::explain).layer(axum::extract::DefaultBodyLimit::max(
                usize::try_from(api::gap::MAX_SCAN_BYTES).unwrap_or(usize::MAX) + (1 << 20),
            )),
        )
        .route("/access", get(viewing::requests))
        .route("/access/request", post(viewing::ask))
        .route("/access/decide", post(viewing::decide))
        .route("/access/export", post(export::export))
        .route("/view/{id}", get(viewing::view))
        .route("/view/stream/{token}", get(viewing::stream))
        .route("/retention", get(retention::due))
        .route("/retention/show", get(retention::show))
        .route("/retention/change", post(retention::change))
        .route("/purges", get(purges::purges))
        .route("/purges/change", post(purges::change))
        .route("/marks/change", post(marks::change))
        .route("/accounts", get(accounts::accounts))
        .route("/accounts/change", post(accounts::change))
        .route("/discs", get(discs::discs))
        .route("/discs/change", post(discs::change))
        .route("/discs/burn", post(discs::start))
        .route("/access/{id}/form", get(viewing::form))
        .route("/access/register", get(viewing::register))
        .route("/log", get(archive::search))
        .route("/log/verify", post(archive::verify))
        .route("/log/checkpoint", post(archive::checkpoint))
        .route("/reports", get(reports::reports))
        .route("/reports/compliance", post(reports::compliance))
        .route("/reports/spot-check", post(reports::spot_check))
        .route("/case/{number}", get(custodian::case))
        .route("/case/{number}/describe", post(custodian::describe_case))
        .route("/case/{number}/label", post(custodian::label_case))
        .route("/case/{number}/file", post(custodian::file_proposed))
        .route("/case/{number}/history", get(archive::case_history))
        .route("/static/style.css", get(|| async { ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], STYLE) }))
        .route(
            "/static/bays.js",
            get(|| async { ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8")], BAYS_JS) }),
        )
        .layer(axum::middleware::map_response(hardened))
        .with_state(shared)
}

const STYLE: &str = include_str!("static/style.css");
const BAYS_JS: &str = include_str!("static/bays.js");

/// Headers on every response: no framing, no inline script, nothing cached.
async fn hardened(mut r: Response) -> Response {
    let h = r.headers_mut();
    // A page that sets its own (narrower) policy keeps it.
    h.entry(header::CONTENT_SECURITY_POLICY).or_insert(HeaderValue::from_static(
        "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    ));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// Serves the page on `listener` until `stop`: each connection on a task of its own (at most
/// [`MAX_CONNECTIONS`]), its request headers within 10 s; open event streams end at `stop`.
pub async fn serve(
    listener: tokio::net::TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    config: Arc<Config>,
    gate: Arc<Gate>,
    live: Live,
    stop: CancellationToken,
) {
    let shared = Arc::new(Shared {
        config,
        gate: gate.clone(),
        live,
        secure: tls.is_some(),
        viewings: viewing::Viewings::default(),
        stop: stop.clone(),
    });
    let app = router(shared);
    let tracker = TaskTracker::new();
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    // Sessions whose cookie the browser dropped at its end are never presented again: their
    // end is recorded by this sweep.
    let mut sweep = tokio::time::interval(Duration::from_secs(SWEEP_S));
    loop {
        let (stream, peer) = tokio::select! {
            () = stop.cancelled() => break,
            _ = sweep.tick() => {
                let g = gate.clone();
                let _ = tokio::task::spawn_blocking(move || g.sweep(now())).await;
                continue;
            }
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(error = %e, "web page: accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            tracing::warn!(%peer, "web page: too many connections; closed");
            continue;
        };
        let app = app.clone().layer(Extension(Peer(peer)));
        let (tls, stop) = (tls.clone(), stop.clone());
        tracker.spawn(async move {
            let _slot = slot;
            match tls {
                Some(acceptor) => match tokio::time::timeout(Duration::from_secs(10), acceptor.accept(stream)).await {
                    Ok(Ok(s)) => connection(s, app, stop).await,
                    Ok(Err(e)) => tracing::info!(%peer, error = %e, "web page: TLS handshake failed"),
                    Err(_) => tracing::info!(%peer, "web page: TLS handshake timed out"),
                },
                None => connection(stream, app, stop).await,
            }
        });
    }
    tracker.close();
    tracker.wait().await;
}

async fn connection<S: AsyncRead + AsyncWrite + Unpin + Send + 'static>(io: S, app: Router, stop: CancellationToken) {
    let service = hyper_util::service::TowerToHyperService::new(app);
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(Duration::from_secs(10))
        .serve_connection(hyper_util::rt::TokioIo::new(io), service);
    tokio::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => {}
        () = stop.cancelled() => {
            conn.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(Duration::from_secs(5), conn).await;
        }
    }
}

/// The value of cookie `name`.
fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// A `Set-Cookie` value: always HttpOnly, SameSite=Strict, whole site; Secure under TLS.
fn set_cookie(name: &str, value: &str, max_age_s: i64, secure: bool) -> HeaderValue {
    let text = format!(
        "{name}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age_s}{}",
        if secure { "; Secure" } else { "" }
    );
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static("evidock_invalid=; Max-Age=0"))
}

fn see_other(to: &'static str) -> Response {
    (StatusCode::SEE_OTHER, [(header::LOCATION, HeaderValue::from_static(to))]).into_response()
}

/// A 303 to a path built from a request (percent-encoded by its builder), back to the page a
/// change came from.
fn see_other_to(to: &str) -> Response {
    match HeaderValue::from_str(to) {
        Ok(v) => (StatusCode::SEE_OTHER, [(header::LOCATION, v)]).into_response(),
        Err(_) => see_other("/"),
    }
}

impl Shared {
    /// The session the request's cookie names (an expired one is recorded as it is found).
    async fn session(&self, headers: &HeaderMap) -> Option<(String, Session)> {
        let token = cookie(headers, SESSION_COOKIE)?.to_string();
        let gate = self.gate.clone();
        let t = token.clone();
        let found = tokio::task::spawn_blocking(move || gate.session(&t, now())).await.ok().flatten()?;
        Some((token, found))
    }

    /// The session of a request that changes something, checked against the form's CSRF token
    /// (INV-43). A missing or wrong token is refused, recorded as `call_refused` naming the
    /// account and `what`, and answered 403; no session sends the browser to the sign-in.
    async fn changing(&self, headers: &HeaderMap, csrf: &str, what: &'static str) -> Result<Session, Response> {
        let Some((_, session)) = self.session(headers).await else {
            return Err(see_other("/login"));
        };
        if session.csrf_ok(Some(csrf)) {
            return Ok(session);
        }
        let gate = self.gate.clone();
        let _ = tokio::task::spawn_blocking(move || gate.refuse(&session, what, "csrf_token_missing_or_wrong")).await;
        Err(refused_csrf())
    }

    /// Runs one typed operation of the station API as the signed-in account (the daemon's own
    /// front end, [`Via::Daemon`]): the same rule table, custody events and refusals as the
    /// command line's (INV-40). Pages hold no station logic; they call this and render.
    async fn call(&self, session: &Session, request: api::Request) -> Result<api::Reply, ApiError> {
        self.call_with_files(session, request, Vec::new()).await
    }

    /// [`Shared::call`] with files the page holds open (a scanned statement sent with a form).
    async fn call_with_files(
        &self,
        session: &Session,
        request: api::Request,
        files: api::Files,
    ) -> Result<api::Reply, ApiError> {
        let config = self.config.clone();
        let caller = caller(session);
        tokio::task::spawn_blocking(move || api::call(&config, &caller, request, files))
            .await
            .unwrap_or_else(|e| Err(ApiError::failed(format!("the operation stopped: {e} / 操作意外中止"))))
    }
}

/// The caller a station account is to the station API: `account:NAME` (as its custody events
/// name it), the roles of the account, its badge number. The uid is the service's own: the
/// page acts inside the service.
fn caller(session: &Session) -> Caller {
    let a = &session.account;
    Caller {
        identity: Identity {
            uid: nix::unistd::getuid().as_raw(),
            user: format!("account:{}", a.name),
            gids: Vec::new(),
            groups: Vec::new(),
        },
        roles: a.roles.clone(),
        officer: a.badge.clone(),
        via: Via::Daemon,
    }
}

/// The page for an operation the station refused or could not do: the status its kind means
/// and its message (Chinese and English).
fn api_error_page(e: &ApiError) -> Response {
    let status = match e.kind {
        ErrorKind::Refused => StatusCode::FORBIDDEN,
        ErrorKind::Invalid => StatusCode::BAD_REQUEST,
        ErrorKind::NotFound => StatusCode::NOT_FOUND,
        ErrorKind::Conflict => StatusCode::CONFLICT,
        ErrorKind::Failed => StatusCode::INTERNAL_SERVER_ERROR,
    };
    (status, Html(render::message("未能完成 Not done", &e.message))).into_response()
}

/// The page for a reply that is not the one the operation answers with (a defect: the station
/// API answers each operation with its own reply).
fn unexpected(reply: &api::Reply) -> Response {
    api_error_page(&ApiError::failed(format!("unexpected reply {:?}", reply.op())))
}

/// The answer to a change without this page's CSRF token.
fn refused_csrf() -> Response {
    (
        StatusCode::FORBIDDEN,
        Html(render::message(
            "拒绝 Refused",
            "请求缺少本页的安全令牌，已拒绝并记录 / the request lacks this page's security token: refused and recorded",
        )),
    )
        .into_response()
}

async fn bay_screen(State(w): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    match w.session(&headers).await {
        Some((_, s)) => {
            let snaps = w.live.borrow().clone();
            Html(render::bay_screen(&s, &snaps, w.config.central.is_some())).into_response()
        }
        None => see_other("/login"),
    }
}

/// The device registry, through the station API's `device_list` (its rule table decides who
/// may read it).
async fn devices(
    State(w): State<Arc<Shared>>,
    headers: HeaderMap,
    axum::extract::Query(q): axum::extract::Query<custodian::Notice>,
) -> Response {
    let Some((_, s)) = w.session(&headers).await else {
        return see_other("/login");
    };
    match w.call(&s, api::Request::DeviceList(api::device::ListArgs {})).await {
        Ok(api::Reply::DeviceList(list)) => {
            let serials: Vec<String> = list.iter().filter(|d| d.retired.is_none()).map(|d| d.serial.clone()).collect();
            let forms = custodian::registry_forms(&s, &serials);
            Html(render::devices(&s, &list, custodian::notice_of(&q), &forms)).into_response()
        }
        Ok(other) => unexpected(&other),
        Err(e) => api_error_page(&e),
    }
}

/// The sign-in page with a fresh form token (in its cookie and its form).
fn sign_in_form(status: StatusCode, notice: Option<&str>, secure: bool) -> Response {
    let pre = match sessions::token() {
        Ok(t) => t,
        Err(e) => return (StatusCode::INTERNAL_SERVER_ERROR, format!("no randomness: {e}")).into_response(),
    };
    let mut r = (status, Html(render::sign_in(notice, &pre))).into_response();
    r.headers_mut().append(header::SET_COOKIE, set_cookie(PRE_COOKIE, &pre, 1800, secure));
    r
}

async fn sign_in_page(State(w): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if w.session(&headers).await.is_some() {
        return see_other("/");
    }
    sign_in_form(StatusCode::OK, None, w.secure)
}

/// The sign-in form.
#[derive(Debug, Deserialize)]
struct SignInForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    csrf: String,
}

async fn sign_in(
    State(w): State<Arc<Shared>>,
    Extension(Peer(peer)): Extension<Peer>,
    headers: HeaderMap,
    Form(form): Form<SignInForm>,
) -> Response {
    // The form must come back with the token this station gave it (INV-43).
    if !cookie(&headers, PRE_COOKIE).is_some_and(|c| sessions::same(c, &form.csrf)) {
        return sign_in_form(
            StatusCode::FORBIDDEN,
            Some("表单已过期或来源不明，请重新登录 / the form expired or did not come from this page: sign in again"),
            w.secure,
        );
    }
    let gate = w.gate.clone();
    let from = peer.ip().to_string();
    let name = form.name.trim().to_string();
    let result = tokio::task::spawn_blocking(move || gate.sign_in(&name, &form.password, now(), &from)).await;
    match result {
        Ok(Ok((token, session))) => {
            let mut r = see_other("/");
            let h = r.headers_mut();
            h.append(header::SET_COOKIE, set_cookie(SESSION_COOKIE, &token, session.until - session.since, w.secure));
            h.append(header::SET_COOKIE, set_cookie(PRE_COOKIE, "", 0, w.secure));
            r
        }
        Ok(Err(e @ Refusal::Wrong)) => sign_in_form(StatusCode::UNAUTHORIZED, Some(&e.to_string()), w.secure),
        Ok(Err(e @ Refusal::Locked(_))) => sign_in_form(StatusCode::FORBIDDEN, Some(&e.to_string()), w.secure),
        Ok(Err(e)) => {
            tracing::error!(error = %e, "web page: sign-in could not be recorded");
            sign_in_form(StatusCode::INTERNAL_SERVER_ERROR, Some(&e.to_string()), w.secure)
        }
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, format!("sign-in failed: {e}")).into_response(),
    }
}

/// A form that changes something: only its CSRF token.
#[derive(Debug, Deserialize)]
struct ChangeForm {
    #[serde(default)]
    csrf: String,
}

async fn sign_out(State(w): State<Arc<Shared>>, headers: HeaderMap, Form(form): Form<ChangeForm>) -> Response {
    let Some((token, _)) = w.session(&headers).await else {
        return see_other("/login");
    };
    if let Err(r) = w.changing(&headers, &form.csrf, "sign_out").await {
        return r;
    }
    let gate = w.gate.clone();
    let _ = tokio::task::spawn_blocking(move || gate.sign_out(&token)).await;
    let mut r = see_other("/login");
    r.headers_mut().append(header::SET_COOKIE, set_cookie(SESSION_COOKIE, "", 0, w.secure));
    r
}

/// What one event stream keeps between events.
struct Stream {
    gate: Arc<Gate>,
    token: String,
    live: Live,
    last: String,
    first: bool,
    until: tokio::time::Instant,
    stop: CancellationToken,
    done: bool,
}

/// The bay screen's live part as server-sent events: `bays` (the panels, rendered again when
/// they change), `expired` when the session ends or is signed out (the page then reloads to the
/// sign-in).
async fn events(State(w): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    let Some((token, session)) = w.session(&headers).await else {
        return (StatusCode::UNAUTHORIZED, "sign in first / 请先登录").into_response();
    };
    // To the millisecond: the stream never says `expired` before the session has ended.
    let left_ms = session.until.saturating_mul(1000).saturating_sub(chrono::Utc::now().timestamp_millis());
    let left = Duration::from_millis(u64::try_from(left_ms).unwrap_or(0));
    let start = Stream {
        gate: w.gate.clone(),
        token,
        live: w.live.clone(),
        last: String::new(),
        first: true,
        until: tokio::time::Instant::now() + left,
        stop: w.stop.clone(),
        done: false,
    };
    let stream = futures_util::stream::unfold(start, |mut st| async move {
        if st.done {
            return None;
        }
        loop {
            if !st.first {
                tokio::select! {
                    () = st.stop.cancelled() => return None,
                    () = tokio::time::sleep_until(st.until) => {
                        st.done = true;
                        return Some((Ok::<Event, Infallible>(Event::default().event("expired").data("expired")), st));
                    }
                    changed = st.live.changed() => if changed.is_err() { return None },
                }
                // Signed out elsewhere (another tab): the page is told as at the end.
                if !st.gate.is_live(&st.token, now()) {
                    st.done = true;
                    return Some((Ok(Event::default().event("expired").data("ended")), st));
                }
            }
            st.first = false;
            let html = render::bays(&st.live.borrow_and_update());
            if html != st.last {
                st.last.clone_from(&html);
                return Some((Ok(Event::default().event("bays").data(html)), st));
            }
        }
    });
    Sse::new(stream).keep_alive(KeepAlive::default()).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_http_only_and_strict() {
        assert_eq!(
            set_cookie(SESSION_COOKIE, "abc", 60, false),
            "evidock_session=abc; Path=/; HttpOnly; SameSite=Strict; Max-Age=60"
        );
        assert_eq!(
            set_cookie(SESSION_COOKIE, "abc", 60, true),
            "evidock_session=abc; Path=/; HttpOnly; SameSite=Strict; Max-Age=60; Secure"
        );
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, HeaderValue::from_static("a=1; evidock_session=tok; b=2"));
        assert_eq!(cookie(&h, SESSION_COOKIE), Some("tok"));
        assert_eq!(cookie(&h, "c"), None);
    }
}
