//! `access_request`, `access_list`, and opening a file for an approved view (R9, R10; S2 §24,
//! S3 §28: 调阅 under an approval, every view registered).
//!
//! Owns: the decisions every use of footage under a request takes again at the moment footage
//! leaves (the request's state and kind, the marks on the footage and its approver's rights
//! now, INV-21; the approver's tier, INV-34; the file held against the custody log, INV-16),
//! the lapse of approvals, an officer's requests for their own footage only, and the view's
//! custody event before a byte is handed over (INV-36).
//! Must never: hand over a file outside the approved request, or one that contradicts the log.

use std::collections::BTreeSet;
use std::io::Read as _;
use std::os::unix::fs::OpenOptionsExt;

use chrono::Utc;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{authorize_as, ApiError, Caller, Ctx, ANY_OR_OFFICER};
use crate::access::{tier, AccessError, AccessRequest, Kind, Mark, Party, Scope, State};
use crate::catalog::{AlarmKind, Catalog, NewAlarm, RecordingRow};
use crate::config::Config;
use crate::control::roles::MarkRule;
use crate::custody::event::{Action, Role};
use crate::ledger::Ledger;

/// Ask to view, copy or export footage of a case or of recordings, with the reason.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewRequest {
    /// Every recording filed into this case, or
    #[serde(default)]
    pub case: Option<String>,
    /// these recordings (`SERIAL/SESSION`).
    #[serde(default)]
    pub recordings: Vec<String>,
    /// `view` (at the station), `copy` (internal use) or `export` (to an outside party).
    pub kind: String,
    /// What for (用途).
    pub reason: String,
    /// For whom: `internal`, `officer` (an officer's own footage), `court`, `procuratorate`,
    /// `party`, `other` or `public`. Default `internal`; an officer asks as `officer`.
    #[serde(default)]
    pub party: Option<String>,
    /// The receiving body or person, by name.
    #[serde(default)]
    pub party_name: Option<String>,
}

/// The request recorded, awaiting an approver who is not its requester.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Requested {
    /// The request's number.
    pub id: i64,
    /// The confidentiality marks on the footage (their approvers decide).
    pub marks: Vec<String>,
}

/// `access_list` takes no arguments: the requests the caller sees (an officer, their own).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListArgs {}

/// One access request and where it stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    /// Its number.
    pub id: i64,
    /// `pending`, `approved`, `denied`, `expired`, `used` or `voided`.
    pub state: String,
    /// In Chinese.
    pub state_zh: String,
    /// `view`, `copy` or `export`.
    pub kind: String,
    /// What for.
    pub reason: String,
    /// For whom.
    pub party: String,
    /// The receiving body or person.
    pub party_name: Option<String>,
    /// Who asked.
    pub requested_by: String,
    /// When (UTC, RFC 3339).
    pub requested_at: String,
    /// Who decided.
    pub decided_by: Option<String>,
    /// Until when an approval may be used (UTC, RFC 3339).
    pub valid_until: Option<String>,
    /// The marks on its footage.
    pub marks: Vec<String>,
    /// The marks in Chinese.
    pub marks_zh: Vec<String>,
    /// The case it covers, or
    pub case: Option<String>,
    /// the recordings.
    pub recordings: Vec<String>,
    /// The archive paths a live view approval lets its requester view (empty otherwise).
    pub files: Vec<String>,
}

/// Open one file of an approved view request to watch it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct View {
    /// The request's number.
    pub id: i64,
    /// The file, as its archive path (or under the archive root).
    pub file: String,
}

/// The file opened for viewing, as the log recorded it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Opened {
    /// Its archive path.
    pub name: String,
    /// Its size, bytes.
    pub size: u64,
    /// Its BLAKE3, hex.
    pub blake3: String,
}

/// `access_play`'s answer: the file opened for viewing, as the log recorded it, and the open
/// file itself ([`Handover`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Played {
    /// Its archive path.
    pub name: String,
    /// Its size, bytes.
    pub size: u64,
    /// Its BLAKE3, hex.
    pub blake3: String,
    /// The open, read-only archived file: never a field on the wire, but the descriptor sent
    /// with the reply's line (`SCM_RIGHTS`); in process, the file.
    #[serde(skip)]
    pub file: Handover,
}

/// An open archived file handed over with a reply (approved viewing).
#[derive(Debug, Clone, Default)]
pub struct Handover(Option<std::sync::Arc<std::fs::File>>);

impl Handover {
    /// Hands over `file`.
    pub fn of(file: std::fs::File) -> Handover {
        Handover(Some(std::sync::Arc::new(file)))
    }

    /// The file, when one was handed over.
    pub fn file(&self) -> Option<&std::fs::File> {
        self.0.as_deref()
    }
}

impl PartialEq for Handover {
    /// Two answers are alike when both hand a file over or neither does (a descriptor has no
    /// value to compare).
    fn eq(&self, other: &Handover) -> bool {
        self.0.is_some() == other.0.is_some()
    }
}

impl Eq for Handover {}

/// The refusal of an access step.
pub fn refused(e: &AccessError) -> ApiError {
    ApiError::refused(e.to_string())
}

/// The rule of confidentiality mark `m`: who may request and approve (R10).
pub fn mark_rule(config: &Config, m: Mark) -> &MarkRule {
    match m {
        Mark::Secret => &config.access.secret,
        Mark::CommercialSecret => &config.access.commercial_secret,
        Mark::Privacy => &config.access.privacy,
        Mark::WorkSecret => &config.access.work_secret,
    }
}

/// A scope as people read it.
pub fn scope_text(s: &Scope) -> String {
    match s {
        Scope::Case(c) => format!("case {c}"),
        Scope::Recordings(r) => format!("recording(s) {}", r.join(", ")),
    }
}

/// The recordings a scope covers (still in the archive).
///
/// # Errors
/// [`super::ErrorKind::NotFound`] for a recording not in the archive, or a scope with no
/// footage.
pub fn recordings_of(catalog: &Catalog, scope: &Scope) -> Result<Vec<RecordingRow>, ApiError> {
    let all = catalog.recordings()?;
    let rows: Vec<RecordingRow> = match scope {
        Scope::Case(c) => all.into_iter().filter(|r| r.recording.cases.iter().any(|x| x == c)).collect(),
        Scope::Recordings(ids) => {
            for id in ids {
                if !all.iter().any(|r| &r.recording.id == id) {
                    return Err(ApiError::not_found(format!(
                        "no recording {id} in the archive (see `evidock retention due --within-days 100000`) / 档案中没有该录像"
                    )));
                }
            }
            all.into_iter().filter(|r| ids.contains(&r.recording.id)).collect()
        }
    };
    if rows.is_empty() {
        return Err(ApiError::not_found(format!(
            "no footage in the archive for {} / 档案中没有相应录像",
            scope_text(scope)
        )));
    }
    Ok(rows)
}

/// Active marks on the scope, on its recordings and on the cases they are filed into.
///
/// # Errors
/// When the catalogue cannot be read.
pub fn marks_of(catalog: &Catalog, scope: &Scope, recs: &[RecordingRow]) -> Result<Vec<Mark>, ApiError> {
    let mut subjects = BTreeSet::new();
    if let Scope::Case(c) = scope {
        subjects.insert(format!("case:{c}"));
    }
    for r in recs {
        subjects.insert(format!("recording:{}", r.recording.id));
        for c in &r.recording.cases {
            subjects.insert(format!("case:{c}"));
        }
    }
    let mut marks = BTreeSet::new();
    for s in subjects {
        marks.extend(catalog.marks(&s)?.into_iter().map(|(_, m)| m));
    }
    Ok(marks.into_iter().collect())
}

/// The roles `who` holds now: a station account's (`account:NAME`) from the catalogue, none
/// when it is disabled or gone; anyone else's from `[roles]`.
///
/// # Errors
/// When the catalogue cannot be read.
pub fn roles_now(
    config: &Config,
    catalog: &Catalog,
    who: &crate::control::roles::Identity,
) -> Result<Vec<Role>, ApiError> {
    match who.user.strip_prefix("account:") {
        Some(name) => Ok(catalog
            .accounts()?
            .into_iter()
            .find(|a| a.name == name && !a.disabled)
            .map(|a| a.roles)
            .unwrap_or_default()),
        None => Ok(config.roles.roles_of(who)),
    }
}

/// The tiers `who` stands at now: none without the approver role (every decision is an
/// approver's); the approver tier, and each head tier `[access.heads]` names them in (a
/// station account as `account:NAME`).
///
/// # Errors
/// When the catalogue cannot be read.
pub fn tiers_now(
    config: &Config,
    catalog: &Catalog,
    who: &crate::control::roles::Identity,
) -> Result<Vec<tier::Tier>, ApiError> {
    if !roles_now(config, catalog, who)?.contains(&Role::Approver) {
        return Ok(Vec::new());
    }
    let mut held = vec![tier::Tier::Approver];
    if config.access.supervising_heads.contains(who) {
        held.push(tier::Tier::SupervisingHead);
    }
    if config.access.principal_heads.contains(who) {
        held.push(tier::Tier::PrincipalHead);
    }
    Ok(held)
}

/// The tiers `user` stands at now (by user name, for a decision already recorded).
///
/// # Errors
/// When the catalogue cannot be read.
pub fn tiers_of_name(config: &Config, catalog: &Catalog, user: &str) -> Result<Vec<tier::Tier>, ApiError> {
    tiers_now(config, catalog, &crate::control::peer::identity_of_name(user))
}

/// Why an approval no longer holds because its approver no longer stands at its tier
/// (INV-34), judged when footage leaves beside the marks (INV-21).
///
/// # Errors
/// When the catalogue cannot be read.
pub fn tier_void_reason(config: &Config, catalog: &Catalog, req: &AccessRequest) -> Result<Option<String>, ApiError> {
    let State::Approved { by, .. } = &req.state else { return Ok(None) };
    let needed = config.access.tiers.needed(req.party, req.kind);
    Ok(tier::void_reason(req, needed, &tiers_of_name(config, catalog, by)?))
}

/// Whether `who` may approve footage under mark `m` now: on its `approvers` and holding the
/// approver role.
///
/// # Errors
/// When the catalogue cannot be read.
pub fn may_approve_mark(
    config: &Config,
    catalog: &Catalog,
    who: &crate::control::roles::Identity,
    m: Mark,
) -> Result<bool, ApiError> {
    Ok(mark_rule(config, m).approvers.contains(who) && roles_now(config, catalog, who)?.contains(&Role::Approver))
}

/// Holds an approved request against the footage's marks and its approver's rights as they
/// are now, at the moment footage leaves (R10; S0 §18, S2 §26, S4 §25): a mark added after it,
/// or an approver no longer holding the approver role or no longer on the mark's `approvers`,
/// or below the tier, voids it for good, with its custody event (`access_voided`), and refuses.
///
/// # Errors
/// [`super::ErrorKind::Refused`] when it no longer holds.
pub fn still_holds(
    catalog: &mut Catalog,
    config: &Config,
    req: &mut AccessRequest,
    recs: &[RecordingRow],
    use_: Kind,
) -> Result<(), ApiError> {
    let marks_now = marks_of(catalog, &req.scope, recs)?;
    let approver = match &req.state {
        State::Approved { by, .. } => crate::control::peer::identity_of_name(by),
        _ => crate::control::peer::identity_of_name(""),
    };
    let mut may = std::collections::BTreeMap::new();
    for m in &marks_now {
        may.insert(*m, may_approve_mark(config, catalog, &approver, *m)?);
    }
    let reason = req.void_reason(&marks_now, |_, m| may.get(&m).copied().unwrap_or(false));
    let reason = match reason {
        Some(r) => Some(r),
        None => tier_void_reason(config, catalog, req)?,
    };
    let Some(reason) = reason else { return Ok(()) };
    req.void(Utc::now(), reason.clone());
    catalog.update_access(
        req,
        json!({ "use": use_.as_str(), "marks": marks_now.iter().map(|m| m.as_str()).collect::<Vec<_>>() }),
    )?;
    Err(refused(&AccessError::Voided { id: req.id, reason }))
}

/// Lapses every approval and undecided request past its validity, each with its event.
///
/// # Errors
/// When the catalogue cannot be written.
pub fn expire_lapsed(catalog: &mut Catalog, config: &Config) -> Result<(), ApiError> {
    let now = Utc::now();
    for mut r in catalog.accesses(None)? {
        if r.expire(now, config.access.approval_valid) {
            catalog.update_access(&r, json!({}))?;
        }
    }
    Ok(())
}

/// The custody log's facts, read while verifying the log (INV-16). A log that does not verify
/// cannot vouch for anything: the purge, export, burn, view or scrub is refused and the alarm
/// raised.
///
/// # Errors
/// [`super::ErrorKind::Refused`] when the log does not verify or cannot be read.
pub fn trusted_ledger(catalog: &mut Catalog, config: &Config, by: &str) -> Result<Ledger, ApiError> {
    let (en, zh) = match crate::ledger::load(catalog.connection(), &config.paths.state_dir) {
        Ok(v) => match v.problem() {
            None => return Ok(v.ledger),
            Some(p) => p,
        },
        Err(e) => (format!("the custody log cannot be verified: {e}"), "无法校验保管日志".to_string()),
    };
    tracing::error!(by, "ALARM: {en}");
    catalog.raise_alarm(&NewAlarm {
        kind: AlarmKind::Log,
        subject: "log",
        message: &en,
        message_zh: &zh,
        action: Action::LogVerified,
        details: json!({ "intact": false, "reason": en, "reason_zh": zh, "by": by }),
    })?;
    Err(ApiError::refused(format!("{en}; refused until it does / {zh}，在此之前拒绝执行")))
}

/// Holds a new request against who asks: an officer acting as an officer asks only for their
/// own footage (`party` `officer`), and a request for an officer's own footage covers only
/// recordings their badge recorded (R9).
///
/// # Errors
/// [`super::ErrorKind::Refused`] when it does not hold.
pub fn own_footage(caller: &Caller, role: Role, party: Party, recs: &[RecordingRow]) -> Result<(), ApiError> {
    let user = &caller.identity.user;
    if role == Role::Officer && party != Party::Officer {
        return Err(ApiError::refused(format!(
            "{user} holds no station role and asks as an officer: only for their own footage, with --party officer \
             / 执法人员仅可申请调阅本人录像（--party officer）"
        )));
    }
    if party != Party::Officer {
        return Ok(());
    }
    let Some(badge) = caller.officer.as_deref() else {
        return Err(ApiError::refused(format!(
            "{user} has no officer number in [officers]: --party officer is for an officer's own footage \
             / 未登记警号，不能以本人名义申请"
        )));
    };
    for r in recs {
        if r.recording.officer.as_deref() != Some(badge) {
            return Err(refused(&AccessError::NotOwnFootage {
                recording: r.recording.id.clone(),
                recorded_by: r.recording.officer.clone().unwrap_or_else(|| "unknown".to_string()),
                badge: badge.to_string(),
            }));
        }
    }
    Ok(())
}

/// Whether a caller acting in `role` as `user` sees `req`: an officer acting as an officer sees
/// only their own requests.
pub fn sees(role: Role, user: &str, req: &AccessRequest) -> bool {
    role != Role::Officer || req.requested_by == user
}

/// Records a request (`access_requested`), after the marks' requester lists and an officer's
/// own-footage rule.
///
/// # Errors
/// [`super::ErrorKind::Invalid`] for an unknown kind or party, no reason, no scope;
/// [`super::ErrorKind::NotFound`] for footage not in the archive; [`super::ErrorKind::Refused`]
/// for marked footage the caller may not request, or an officer asking beyond their own.
pub fn request(ctx: &Ctx<'_>, a: &NewRequest) -> Result<Requested, ApiError> {
    let kind = Kind::parse(a.kind.trim())
        .ok_or_else(|| ApiError::invalid(format!("kind {:?}: use view, copy or export / 用途类别不正确", a.kind)))?;
    let party_word = a.party.as_deref().map_or("internal", str::trim);
    let party = Party::parse(party_word).ok_or_else(|| {
        ApiError::invalid(format!(
            "party {party_word:?}: use internal, officer, court, procuratorate, party, other or public / 申请对象不正确"
        ))
    })?;
    let scope = match a.case.as_deref().map(str::trim).filter(|c| !c.is_empty()) {
        Some(c) if a.recordings.is_empty() => Scope::Case(c.to_string()),
        Some(_) => return Err(ApiError::invalid("a case or recordings, not both / 案件与录像只能二选一")),
        None => Scope::Recordings(a.recordings.iter().map(|r| r.trim().to_string()).collect()),
    };
    let mut catalog = ctx.catalog()?;
    expire_lapsed(&mut catalog, ctx.config)?;
    if matches!(&scope, Scope::Recordings(r) if r.is_empty()) {
        return Err(ApiError::invalid(AccessError::EmptyScope.to_string()));
    }
    let recs = recordings_of(&catalog, &scope)?;
    own_footage(ctx.caller, ctx.actor.role, party, &recs)?;
    let marks = marks_of(&catalog, &scope, &recs)?;
    for m in &marks {
        if !mark_rule(ctx.config, *m).requesters.contains(&ctx.caller.identity) {
            return Err(ApiError::refused(format!(
                "the footage is marked {} ({}); {} is not in access.{}.requesters / 涉密录像，无权申请",
                m.as_str(),
                m.label_zh(),
                ctx.actor.user,
                m.as_str().replace('-', "_")
            )));
        }
    }
    let req = AccessRequest::new(
        kind,
        scope,
        &a.reason,
        party,
        a.party_name.as_deref(),
        &ctx.actor.user,
        Utc::now(),
        marks.clone(),
    )
    .map_err(|e| ApiError::invalid(e.to_string()))?;
    let id = catalog.insert_access(&req)?;
    Ok(Requested { id, marks: marks.iter().map(|m| m.as_str().to_string()).collect() })
}

/// The requests the caller sees, oldest first; a live view approval of the caller's own lists
/// the files it lets them view.
///
/// # Errors
/// When the catalogue cannot be read or written (approvals that lapsed are recorded so).
pub fn list(ctx: &Ctx<'_>, _a: &ListArgs) -> Result<Vec<Request>, ApiError> {
    let mut catalog = ctx.catalog()?;
    expire_lapsed(&mut catalog, ctx.config)?;
    let now = Utc::now();
    let mut out = Vec::new();
    for r in catalog.accesses(None)?.into_iter().filter(|r| sees(ctx.actor.role, &ctx.actor.user, r)) {
        let files = if r.requested_by == ctx.actor.user && r.usable(Kind::View, now).is_ok() {
            recordings_of(&catalog, &r.scope)
                .map(|recs| recs.iter().flat_map(|x| x.recording.files.iter().map(|f| f.path.clone())).collect())
                .unwrap_or_default()
        } else {
            Vec::new()
        };
        out.push(view_of(&r, files));
    }
    Ok(out)
}

fn view_of(r: &AccessRequest, files: Vec<String>) -> Request {
    let (decided_by, valid_until) = match &r.state {
        State::Approved { by, until, .. } => (Some(by.clone()), Some(until.to_rfc3339())),
        State::Denied { by, .. } => (Some(by.clone()), None),
        _ => (None, None),
    };
    Request {
        id: r.id,
        state: r.state.as_str().to_string(),
        state_zh: r.state.label_zh().to_string(),
        kind: r.kind.as_str().to_string(),
        reason: r.reason.clone(),
        party: r.party.as_str().to_string(),
        party_name: r.party_name.clone(),
        requested_by: r.requested_by.clone(),
        requested_at: r.requested_at.to_rfc3339(),
        decided_by,
        valid_until,
        marks: r.marks.iter().map(|m| m.as_str().to_string()).collect(),
        marks_zh: r.marks.iter().map(|m| m.label_zh().to_string()).collect(),
        case: match &r.scope {
            Scope::Case(c) => Some(c.clone()),
            Scope::Recordings(_) => None,
        },
        recordings: match &r.scope {
            Scope::Recordings(v) => v.clone(),
            Scope::Case(_) => Vec::new(),
        },
        files,
    }
}

/// Approve a request (an approver who is not its requester, at the tier its party and kind
/// need, and on the approvers of every mark its footage carries).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Approve {
    /// The request's number.
    pub id: i64,
}

/// Deny a request, with the reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Deny {
    /// The request's number.
    pub id: i64,
    /// Why.
    pub reason: String,
}

/// The decision recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decided {
    /// The request's number.
    pub id: i64,
    /// `approved` or `denied`.
    pub state: String,
    /// Until when an approval may be used (UTC, RFC 3339).
    pub valid_until: Option<String>,
    /// The tier the decision was taken at (`approver`, `supervising_head`, `principal_head`).
    pub tier: Option<String>,
}

/// Approves (`access_approved`) or denies (`access_denied`) a request.
///
/// # Errors
/// [`super::ErrorKind::Refused`] for a caller not on a mark's approvers, below the tier,
/// deciding their own request or one already decided, or denying without a reason;
/// [`super::ErrorKind::NotFound`] for an unknown request.
pub fn decide(ctx: &Ctx<'_>, id: i64, deny: Option<&str>) -> Result<Decided, ApiError> {
    let config = ctx.config;
    let user = ctx.actor.user.clone();
    let mut catalog = ctx.catalog()?;
    expire_lapsed(&mut catalog, config)?;
    let mut req = catalog.access(id).map_err(|e| ApiError::not_found(format!("{e} / 无此调阅申请")))?;
    for m in &req.marks {
        if !mark_rule(config, *m).approvers.contains(&ctx.caller.identity) {
            return Err(ApiError::refused(format!(
                "request #{id} covers footage marked {} ({}); {user} is not in access.{}.approvers / 涉密录像，无权审批",
                m.as_str(),
                m.label_zh(),
                m.as_str().replace('-', "_")
            )));
        }
    }
    let now = Utc::now();
    let mut at = None;
    if req.state == State::Pending && req.requested_by != user {
        // The decision belongs to the tier of the request's party and kind (INV-34).
        let needed = config.access.tiers.needed(req.party, req.kind);
        let held = tiers_now(config, &catalog, &ctx.caller.identity)?;
        tier::check(&req, needed, &held, &user).map_err(|e| refused(&e))?;
        at = Some(needed);
    }
    let details = json!({ "tier": at.map(|t| t.as_str()) });
    // Deciding one's own request, one already decided, or a denial without its reason: refused
    // and recorded, as every refused decision is.
    match deny {
        Some(reason) => req.deny(&user, now, reason).map_err(|e| refused(&e))?,
        None => req.approve(&user, now, config.access.approval_valid).map_err(|e| refused(&e))?,
    }
    catalog.update_access(&req, details)?;
    Ok(Decided {
        id,
        state: req.state.as_str().to_string(),
        valid_until: match &req.state {
            State::Approved { until, .. } => Some(until.to_rfc3339()),
            _ => None,
        },
        tier: at.map(|t| t.as_str().to_string()),
    })
}

/// The archive path `file` names: as `access view` lists it (under the archive root), or
/// relative to the archive root.
fn archive_path(config: &Config, file: &str) -> String {
    let p = std::path::Path::new(file.trim());
    p.strip_prefix(&config.paths.archive_root).unwrap_or(p).to_string_lossy().trim_start_matches('/').to_string()
}

/// Who may open footage for viewing: the requester of a live view approval, whatever their
/// role (the request decides; an officer views their own).
pub const VIEWERS: &[super::Role] = ANY_OR_OFFICER;

/// The viewing as logged (`call_refused` names it so).
pub const VIEW_WORDS: &str = "access play";

/// How a viewed file reaches the viewer, as its custody event says (`via`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handed {
    /// A descriptor handed to the viewer's process over the control socket.
    Descriptor,
    /// Opened in the viewer's own process (no service between them).
    Direct,
    /// Served by the station's web page to the signed-in viewer's browser, its bytes checked
    /// against the log here first.
    Web,
}

/// Opens one file of an approved view request for its requester: authorizes the caller by the
/// roles of [`VIEWERS`], holds the request, its marks and approver now (INV-21, INV-34),
/// holds the file against the custody log (INV-16: the catalogue row, the size on disk, and for
/// [`Handed::Web`] the bytes' BLAKE3), and records `footage_viewed` before returning the open
/// file (INV-36). A refusal is recorded as `call_refused`; a file that contradicts the log
/// raises its alarm.
///
/// The web page's way to the file (`access_play` is the command line's, the file handed over
/// with its answer).
///
/// # Errors
/// [`super::ErrorKind::Refused`] when it may not be viewed, [`super::ErrorKind::Failed`] when
/// it cannot be opened.
pub fn open_view(
    config: &Config,
    caller: &Caller,
    a: &View,
    handed: Handed,
) -> Result<(Opened, std::fs::File), ApiError> {
    let actor = match authorize_as(caller, VIEWERS, VIEW_WORDS) {
        Ok(a) => a,
        Err(e) => {
            super::log_refusal_for(config, caller, None, VIEW_WORDS, &e.message);
            return Err(e);
        }
    };
    let role = actor.role;
    let ctx = Ctx { config, caller, actor };
    let result = view(&ctx, a, handed);
    if let Err(e) = &result {
        if e.kind == super::ErrorKind::Refused {
            super::log_refusal_for(config, caller, Some(role), VIEW_WORDS, &e.message);
        }
    }
    result
}

/// `access_play`: one file of an approved view request opened for its requester and handed
/// over with the answer, the view logged first ([`view`]). Over the control socket the
/// descriptor goes to the viewer's own process, which plays it and checks its bytes against
/// the log as it reads; in the caller's own process, the file opened there; the daemon's own
/// front ends check the bytes first, whole ([`Handed::Web`]).
///
/// # Errors
/// As [`open_view`].
pub fn play(ctx: &Ctx<'_>, a: &View) -> Result<Played, ApiError> {
    let handed = match ctx.caller.via {
        super::Via::Socket => Handed::Descriptor,
        super::Via::Direct => Handed::Direct,
        super::Via::Daemon => Handed::Web,
    };
    let (opened, file) = view(ctx, a, handed)?;
    Ok(Played { name: opened.name, size: opened.size, blake3: opened.blake3, file: Handover::of(file) })
}

/// [`open_view`] for a caller already authorized as `ctx.actor`.
///
/// # Errors
/// As [`open_view`].
pub fn view(ctx: &Ctx<'_>, a: &View, handed: Handed) -> Result<(Opened, std::fs::File), ApiError> {
    let config = ctx.config;
    let id = a.id;
    let mut catalog = ctx.catalog()?;
    expire_lapsed(&mut catalog, config)?;
    let user = ctx.actor.user.clone();
    let mut req = catalog.access(id).map_err(|e| ApiError::not_found(format!("{e} / 无此调阅申请")))?;
    if req.requested_by != user {
        return Err(ApiError::refused(format!(
            "request #{id} is {}'s; only the requester views under it / 仅申请人本人可凭此审批查看",
            req.requested_by
        )));
    }
    req.usable(Kind::View, Utc::now()).map_err(|e| refused(&e))?;
    let recs = recordings_of(&catalog, &req.scope)?;
    still_holds(&mut catalog, config, &mut req, &recs, Kind::View)?;
    let rel = archive_path(config, &a.file);
    let Some(row) = recs.iter().flat_map(|r| r.recording.files.iter()).find(|f| f.path == rel) else {
        return Err(ApiError::refused(format!(
            "{rel} is not footage of request #{id}; `evidock access view {id}` lists what it covers \
             / 该文件不在调阅申请 #{id} 批准的范围内"
        )));
    };
    crate::central::offload::refuse_evicted(&catalog, [rel.as_str()]).map_err(ApiError::conflict)?;
    // The file named must be the one the log recorded (INV-16): the catalogue row first, then
    // the size on disk (and the bytes, when they are served from here).
    let ledger = trusted_ledger(&mut catalog, config, "view")?;
    let logged = ledger.file_at(&rel).cloned();
    let check = crate::ledger::catalogue_check(logged.as_ref(), &row.blake3, row.size);
    if !check.is_intact() {
        return Err(view_refused(&mut catalog, &rel, &check));
    }
    let Some(logged) = logged else {
        return Err(ApiError::failed(format!("{rel}: the log holds no copy of it / 日志中没有该文件")));
    };
    let path = config.paths.archive_root.join(&rel);
    let opened = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NOFOLLOW)
        .open(&path)
        .and_then(|f| f.metadata().map(|m| (f, m.len())));
    let (mut file, on_disk) = match opened {
        Ok(x) => x,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let v = crate::ledger::fixity(Some(&logged), Some((&row.blake3, row.size)), None);
            return Err(view_refused(&mut catalog, &rel, &v));
        }
        Err(e) => return Err(ApiError::failed(format!("opening {}: {e} / 无法打开文件", path.display()))),
    };
    if on_disk != logged.size {
        let v = crate::ledger::fixity(Some(&logged), Some((&row.blake3, row.size)), Some(("", on_disk)));
        return Err(view_refused(&mut catalog, &rel, &v));
    }
    if handed == Handed::Web {
        // A browser reads a file in ranges, in any order: its bytes are checked here, whole,
        // before the first is served (BLAKE3, about 2.9 GB/s).
        let hash = blake3_of(&mut file).map_err(|e| ApiError::failed(format!("reading {rel}: {e} / 无法读取文件")))?;
        if hash != logged.blake3 {
            let v = crate::ledger::fixity(Some(&logged), Some((&row.blake3, row.size)), Some((&hash, on_disk)));
            return Err(view_refused(&mut catalog, &rel, &v));
        }
    }
    // The view is logged before a byte is handed over, in one transaction (INV-36).
    catalog.event(
        Action::FootageViewed,
        &crate::catalog::request_subject(id),
        json!({
            "requested_by": req.requested_by, "viewer": user, "file": rel, "size": logged.size,
            "blake3": logged.blake3, "played": true,
            "via": match handed { Handed::Descriptor => "descriptor", Handed::Direct => "direct", Handed::Web => "web" },
        }),
    )?;
    Ok((Opened { name: rel, size: logged.size, blake3: logged.blake3 }, file))
}

fn blake3_of(file: &mut std::fs::File) -> std::io::Result<String> {
    use std::io::Seek as _;
    file.rewind()?;
    let mut h = blake3::Hasher::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    file.rewind()?;
    Ok(h.finalize().to_hex().to_string())
}

/// Refuses a view whose file contradicts the custody log: the alarm and its event, and the
/// refusal in both languages.
fn view_refused(catalog: &mut Catalog, path: &str, found: &crate::ledger::Fixity) -> ApiError {
    match catalog.fixity_alarm(path, found, "view") {
        Ok((en, zh)) => ApiError::refused(format!(
            "fixity check failed, viewing refused: {en}; the alarm is raised (`evidock status`) \
             / 校验失败，拒绝查看：{zh}；已发出警报"
        )),
        Err(e) => ApiError::failed(format!("recording the alarm for {path}: {e}")),
    }
}
