//! The station's typed operations: what a front end (the command line, the control socket, the
//! web page) may ask of the station, who may ask it, and what it answers (R9, R12).
//!
//! Each operation is one variant of [`Request`] (its arguments, serde, unknown fields refused)
//! with one variant of [`Reply`] of the same name; [`call`] authorizes the [`Caller`] by the
//! rule table ([`Op::roles`], exhaustive), runs the operation, and returns the typed reply or a
//! typed [`ApiError`] (`refused`, `invalid`, `not_found`, `conflict`, `failed`, each message in
//! Chinese and English). Operations write their custody events in the catalogue's
//! transactions and print nothing; rendering is the front end's. One file per domain:
//! [`status`], [`device`], [`duty`], [`replicate`], [`log`], [`history`], [`gap`], [`footage`],
//! [`cases`], [`retention`], [`purge`], [`report`], [`access`], [`forms`], [`marks`], [`verify`], [`discs`], [`export`], [`accounts`].
//!
//! Owns: the request and reply types, the rule table, the refusal log (`call_refused`).
//! Must never: print, read a terminal or a socket, parse command-line words, or take a
//! caller's word for who it is: the [`Caller`] is built by the front end from the kernel
//! (`SO_PEERCRED`, or this process's own user) or from the station's own sign-in.
//! Front ends reach the catalogue, the archive and the custody log only through here (INV-40).

pub mod access;
pub mod accounts;
pub mod cases;
pub mod device;
pub mod discs;
pub mod duty;
pub mod export;
pub mod footage;
pub mod forms;
pub mod gap;
pub mod history;
pub mod log;
pub mod marks;
pub mod purge;
pub mod records;
pub mod replicate;
pub mod report;
pub mod retention;
pub mod review;
pub mod status;
pub mod verify;

use std::os::fd::OwnedFd;

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::catalog::{Catalog, CatalogError};
use crate::config::Config;
use crate::control::roles::Identity;
use crate::custody::event::{Action, Actor, Role};

/// One operation asked of the station, with its arguments. On the wire: `{"op": NAME, "args":
/// {...}}` (docs/CONTROL-API.md).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", content = "args", rename_all = "snake_case", deny_unknown_fields)]
pub enum Request {
    /// The custodian's view: bays, alarms, recent dockings.
    Status(status::StatusArgs),
    /// Register a recorder, or change the officer it is assigned to (R1).
    DeviceRegister(device::Register),
    /// Retire a recorder from service.
    DeviceRetire(device::Retire),
    /// The registered recorders with their assignment history.
    DeviceList(device::ListArgs),
    /// Hand a recorder out for a shift after its health check (R1, R14).
    DutyOut(duty::Out),
    /// The bindings in force.
    DutyList(duty::ListArgs),
    /// An officer's return to the unit.
    DutyReturn(duty::Return),
    /// A request to extend a handover deadline.
    DutyExtend(duty::Extend),
    /// The approval of an extension.
    DutyApprove(duty::Approve),
    /// The duty report for a period (R3).
    DutyReport(duty::ReportArgs),
    /// Every extension of a handover deadline, asked for or approved.
    DutyExtensions(NoArgs),
    /// A docking whose footage needed review, reviewed (R1, R5).
    DockingReview(review::Review),
    /// The central copy's backlog.
    ReplicateStatus(replicate::StatusArgs),
    /// One replication pass now.
    ReplicateRun(replicate::RunArgs),
    /// Eviction of local copies proven off the station (INV-20).
    ReplicateEvict(replicate::Evict),
    /// Recall of evicted footage.
    ReplicateRecall(replicate::Recall),
    /// Events of the custody log a filter selects, a page at a time (R11).
    LogQuery(crate::custody::query::Filter),
    /// The last events of the custody log.
    LogTail(log::TailArgs),
    /// The chain of custody of every recording in a case (R4, R11, R13).
    CaseHistory(history::HistoryArgs),
    /// Gaps in recording with their explanations (R6).
    GapList(gap::ListArgs),
    /// A written explanation of a gap, with its scanned statement as the file `scan`.
    GapExplain(gap::Explain),
    /// The head's review of an explanation (S2 §18).
    GapReview(gap::Review),
    /// An approval not to record, entered (S1 §8).
    GapExempt(gap::Exempt),
    /// The approval of an exemption by another person.
    GapExemptApprove(gap::ExemptApprove),
    /// Every exemption.
    GapExemptions(gap::ExemptionsArgs),
    /// An officer's own recent footage and its standing (R4, R6, R7, R13).
    FootageMine(footage::MineArgs),
    /// A description of a case or a recording (S4 §23).
    Describe(cases::Describe),
    /// Footage filed into a case (R4).
    CaseAssign(cases::Assign),
    /// A recording marked to be kept long-term (R7).
    RetentionFlag(retention::Flag),
    /// A request to view, copy or export footage (R9).
    AccessRequest(access::NewRequest),
    /// The access requests the caller sees.
    AccessList(access::ListArgs),
    /// A new case (R4).
    CaseCreate(cases::Label),
    /// Every case.
    CaseList(NoArgs),
    /// An access request approved (R9, R10).
    AccessApprove(access::Approve),
    /// An access request denied, with the reason.
    AccessDeny(access::Deny),
    /// One case: its label, description and footage (R4, S3 §26).
    CaseShow(cases::ShowArgs),
    /// A recording's class, deadline, flags, holds and files (R7).
    RetentionShow(retention::ShowArgs),
    /// What reaches its deadline within a window (R7).
    RetentionDue(retention::DueArgs),
    /// A legal hold placed.
    RetentionHold(retention::HoldArgs),
    /// A legal hold released.
    RetentionRelease(retention::WithReason),
    /// A flag's withdrawal asked for.
    RetentionUnflag(retention::WithReason),
    /// A flag's withdrawal approved by another person.
    RetentionUnflagApprove(retention::UnflagApprove),
    /// A case's label replaced (R4, S3 §26).
    CaseLabel(cases::Label),
    /// The footage a case's officers recorded within its on-site windows, not yet filed.
    CasePropose(cases::ShowArgs),
    /// Every description of a case or a recording, oldest first (S4 §23).
    DescribeHistory(cases::HistoryOf),
    /// The compliance report over a period (R3, R6, R11, R13, R14).
    ReportCompliance(report::ComplianceArgs),
    /// A reproducible random sample of recordings to replay.
    ReportSpotCheck(report::SpotCheckArgs),
    /// A purge of a recording past its deadline asked for (R7).
    PurgeRequest(purge::Ask),
    /// A purge approved by someone else; its grace period starts.
    PurgeApprove(purge::Approve),
    /// A purge cancelled before it runs.
    PurgeCancel(purge::Cancel),
    /// The purge queue.
    PurgeList(NoArgs),
    /// The approved purges past their grace period carried out.
    PurgeRun(NoArgs),
    /// The footage of an approved view request viewed at the station (R9).
    AccessView(forms::RequestId),
    /// The 《资料调用单》 of a request, printed from the custody log (S2 §24).
    AccessForm(forms::RequestId),
    /// The access register of a period, printed from the custody log (S3 §28).
    AccessRegister(forms::Period),
    /// A case or a recording marked confidential (R10).
    AccessMark(marks::MarkArgs),
    /// A confidentiality mark removed, with the reason.
    AccessUnmark(marks::UnmarkArgs),
    /// The marks in force on a case or a recording.
    AccessMarks(marks::MarksOf),
    /// A case's informant recorded (the name never leaves the station).
    AccessInformant(marks::InformantArgs),
    /// The custody log checked against its chain, tree and checkpoints, the checkpoint files
    /// sent as files (R11).
    LogVerify(verify::VerifyArgs),
    /// A signed checkpoint of the custody log made now.
    LogCheckpoint(NoArgs),
    /// The discs that keep long-term footage, where each stands and is stored (R7).
    DiscList(NoArgs),
    /// A disc moved to another place or holder, with the reason.
    DiscMove(discs::Move),
    /// A disc that will never be verified given up; its footage returns to the next plan.
    DiscAbandon(discs::Abandon),
    /// Which long-term footage would go on which disc (nothing is written or logged).
    BurnPlan(discs::PlanArgs),
    /// A step of the burn job started as a process of its own (R8).
    BurnStart(discs::StartArgs),
    /// The burn steps started so, with their state and output.
    BurnJobs(NoArgs),
    /// The inclusion proof of an event in the custody log as a checkpoint signed it (R11).
    LogProve(verify::ProveArgs),
    /// The proof that the custody log at one size extends it at an earlier one.
    LogConsistency(verify::ConsistencyArgs),
    /// Approved footage copied out, with its hashes and custody extract, into the folder sent
    /// (R9).
    Export(export::ExportArgs),
    /// A station account for the web page's sign-in, with its password's hash.
    AccountAdd(accounts::AddArgs),
    /// A station account's new password (its hash); clears failures and lockout.
    AccountPassword(accounts::PasswordArgs),
    /// A station account with no sign-in until enabled again.
    AccountDisable(accounts::NameArgs),
    /// A station account allowed to sign in again.
    AccountEnable(accounts::NameArgs),
    /// A station account's failures and lockout cleared.
    AccountUnlock(accounts::NameArgs),
    /// The station accounts (never their hashes).
    AccountList(NoArgs),
    /// One file of an approved view request opened and handed to its requester (R9).
    AccessPlay(access::View),
}

/// The answer to one [`Request`]: the variant of the same name. On the wire: `{"op": NAME,
/// "data": ...}` inside `{"ok": ...}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", content = "data", rename_all = "snake_case")]
pub enum Reply {
    /// The status document.
    Status(Box<status::StatusDoc>),
    /// The registration.
    DeviceRegister(device::Registered),
    /// The retirement.
    DeviceRetire(device::Retired),
    /// The registry.
    DeviceList(Vec<device::Device>),
    /// The health check and whether the recorder was handed out.
    DutyOut(duty::OutReply),
    /// The bindings in force.
    DutyList(Vec<duty::Binding>),
    /// The return recorded.
    DutyReturn(duty::Returned),
    /// The extension requested.
    DutyExtend(duty::ExtensionRequested),
    /// The extension approved.
    DutyApprove(duty::ExtensionApproved),
    /// The duty report.
    DutyReport(duty::Report),
    /// `duty_extensions`.
    DutyExtensions(Vec<duty::ExtensionListed>),
    /// The review recorded.
    DockingReview(review::Reviewed),
    /// The central copy's numbers.
    ReplicateStatus(replicate::Backlog),
    /// What the pass did.
    ReplicateRun(replicate::PassReply),
    /// What was evicted.
    ReplicateEvict(replicate::Evicted),
    /// What was recalled.
    ReplicateRecall(replicate::Recalled),
    /// A page of events.
    LogQuery(log::Page),
    /// The last events, oldest first.
    LogTail(Vec<log::Event>),
    /// The case's chain of custody.
    CaseHistory(Box<crate::report::history::CaseHistory>),
    /// The gaps.
    GapList(Vec<gap::Gap>),
    /// The explanation recorded.
    GapExplain(gap::Explained),
    /// The review recorded.
    GapReview(gap::Reviewed),
    /// The exemption entered.
    GapExempt(gap::Exempted),
    /// The exemption approved.
    GapExemptApprove(gap::Exemption),
    /// The exemptions.
    GapExemptions(Vec<gap::Exemption>),
    /// The recordings, newest first.
    FootageMine(Vec<footage::Recording>),
    /// The description recorded.
    Describe(cases::Described),
    /// What was filed.
    CaseAssign(cases::Assigned),
    /// The mark set and the deadline that follows.
    RetentionFlag(retention::Flagged),
    /// The request recorded.
    AccessRequest(access::Requested),
    /// The requests, oldest first.
    AccessList(Vec<access::Request>),
    /// The case created.
    CaseCreate(cases::Created),
    /// The cases, by number.
    CaseList(Vec<cases::CaseSummary>),
    /// The approval recorded.
    AccessApprove(access::Decided),
    /// The denial recorded.
    AccessDeny(access::Decided),
    /// The case.
    CaseShow(Box<cases::CaseView>),
    /// The recording's retention.
    RetentionShow(Box<retention::RecordingRetention>),
    /// What is due, earliest first.
    RetentionDue(Vec<retention::Due>),
    /// The hold placed.
    RetentionHold(retention::Done),
    /// The hold released.
    RetentionRelease(retention::Done),
    /// The withdrawal asked for.
    RetentionUnflag(retention::Done),
    /// The flag withdrawn, and the deadline the recording returns to.
    RetentionUnflagApprove(retention::Done),
    /// The case relabelled.
    CaseLabel(cases::Relabelled),
    /// The footage proposed, by file id.
    CasePropose(Vec<cases::Proposed>),
    /// The descriptions, oldest first.
    DescribeHistory(Vec<cases::Written>),
    /// The report.
    ReportCompliance(Box<report::Document>),
    /// The sample.
    ReportSpotCheck(Box<report::Document>),
    /// The request.
    PurgeRequest(purge::Stepped),
    /// The request approved.
    PurgeApprove(purge::Stepped),
    /// The request cancelled.
    PurgeCancel(purge::Stepped),
    /// The requests, oldest first.
    PurgeList(Vec<purge::Purge>),
    /// What the pass did.
    PurgeRun(purge::Pass),
    /// The files, the view recorded.
    AccessView(forms::Viewed),
    /// The form.
    AccessForm(forms::Printed),
    /// The register.
    AccessRegister(forms::Printed),
    /// The mark set.
    AccessMark(marks::MarkRow),
    /// The mark removed.
    AccessUnmark(marks::Unmarked),
    /// The marks, by number.
    AccessMarks(Vec<marks::MarkRow>),
    /// The informant recorded.
    AccessInformant(marks::InformantRecorded),
    /// The verdict.
    LogVerify(Box<verify::Verification>),
    /// The checkpoint, or why none was signed.
    LogCheckpoint(verify::Checkpointed),
    /// The discs.
    DiscList(Vec<discs::Disc>),
    /// The disc moved.
    DiscMove(Box<discs::Changed>),
    /// The disc given up.
    DiscAbandon(Box<discs::Changed>),
    /// The plan.
    BurnPlan(Box<discs::PlanDoc>),
    /// The step started.
    BurnStart(Box<crate::job::launch::JobRecord>),
    /// The steps started, newest first.
    BurnJobs(Vec<crate::job::launch::JobRecord>),
    /// The proof, or what was found instead.
    LogProve(Box<verify::ProofDoc>),
    /// The proof, or what was found instead.
    LogConsistency(Box<verify::ProofDoc>),
    /// What was exported.
    Export(export::Exported),
    /// The account created.
    AccountAdd(accounts::Changed),
    /// The password set.
    AccountPassword(accounts::Changed),
    /// The account disabled.
    AccountDisable(accounts::Changed),
    /// The account enabled.
    AccountEnable(accounts::Changed),
    /// The account unlocked.
    AccountUnlock(accounts::Changed),
    /// The accounts, by name.
    AccountList(Vec<accounts::AccountView>),
    /// The file as the log recorded it, handed over with the answer.
    AccessPlay(access::Played),
}

impl Reply {
    /// The open file the answer hands over (`access_play`), if any.
    pub fn handed_file(&self) -> Option<&std::fs::File> {
        match self {
            Reply::AccessPlay(p) => p.file.file(),
            _ => None,
        }
    }

    /// Attaches the file handed over with the answer's line (the client's side of the wire).
    /// `false` when the answer hands over none.
    pub fn attach_file(&mut self, file: std::fs::File) -> bool {
        match self {
            Reply::AccessPlay(p) => {
                p.file = access::Handover::of(file);
                true
            }
            _ => false,
        }
    }
}

/// The operations, without their arguments: the rule table's rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    Status,
    DeviceRegister,
    DeviceRetire,
    DeviceList,
    DutyOut,
    DutyList,
    DutyReturn,
    DutyExtend,
    DutyApprove,
    DutyReport,
    ReplicateStatus,
    ReplicateRun,
    ReplicateEvict,
    ReplicateRecall,
    LogQuery,
    LogTail,
    CaseHistory,
    GapList,
    GapExplain,
    GapReview,
    GapExempt,
    GapExemptApprove,
    GapExemptions,
    FootageMine,
    Describe,
    CaseAssign,
    RetentionFlag,
    AccessRequest,
    AccessList,
    CaseCreate,
    CaseList,
    AccessApprove,
    AccessDeny,
    CaseShow,
    RetentionShow,
    RetentionDue,
    RetentionHold,
    RetentionRelease,
    RetentionUnflag,
    RetentionUnflagApprove,
    CaseLabel,
    CasePropose,
    DescribeHistory,
    ReportCompliance,
    ReportSpotCheck,
    PurgeRequest,
    PurgeApprove,
    PurgeCancel,
    PurgeList,
    PurgeRun,
    AccessView,
    AccessForm,
    AccessRegister,
    AccessMark,
    AccessUnmark,
    AccessMarks,
    AccessInformant,
    LogVerify,
    LogCheckpoint,
    DiscList,
    DiscMove,
    DiscAbandon,
    BurnPlan,
    BurnStart,
    BurnJobs,
    LogProve,
    LogConsistency,
    Export,
    AccountAdd,
    AccountPassword,
    AccountDisable,
    AccountEnable,
    AccountUnlock,
    AccountList,
    AccessPlay,
    DutyExtensions,
    DockingReview,
}

/// Every role a person can hold.
const ANY: &[Role] = &[Role::Archivist, Role::Supervisor, Role::Approver, Role::Custodian, Role::Admin];
/// Those who file footage.
const FILERS: &[Role] = &[Role::Custodian, Role::Archivist];
/// Those who read the custody log (the custodian files and keeps recorders; the log is the
/// archivists', supervisors' and approvers').
const READERS: &[Role] = &[Role::Archivist, Role::Supervisor, Role::Approver, Role::Admin];
/// Every role a person can hold, and an officer acting on their own footage.
pub const ANY_OR_OFFICER: &[Role] =
    &[Role::Archivist, Role::Supervisor, Role::Approver, Role::Custodian, Role::Admin, Role::Officer];
/// Those who keep the recorders.
const KEEPERS: &[Role] = &[Role::Custodian, Role::Admin];

impl Op {
    /// Every operation, in wire order.
    pub const ALL: [Op; 77] = [
        Op::Status,
        Op::DeviceRegister,
        Op::DeviceRetire,
        Op::DeviceList,
        Op::DutyOut,
        Op::DutyList,
        Op::DutyReturn,
        Op::DutyExtend,
        Op::DutyApprove,
        Op::DutyReport,
        Op::ReplicateStatus,
        Op::ReplicateRun,
        Op::ReplicateEvict,
        Op::ReplicateRecall,
        Op::LogQuery,
        Op::LogTail,
        Op::CaseHistory,
        Op::GapList,
        Op::GapExplain,
        Op::GapReview,
        Op::GapExempt,
        Op::GapExemptApprove,
        Op::GapExemptions,
        Op::FootageMine,
        Op::Describe,
        Op::CaseAssign,
        Op::RetentionFlag,
        Op::AccessRequest,
        Op::AccessList,
        Op::CaseCreate,
        Op::CaseList,
        Op::AccessApprove,
        Op::AccessDeny,
        Op::CaseShow,
        Op::RetentionShow,
        Op::RetentionDue,
        Op::RetentionHold,
        Op::RetentionRelease,
        Op::RetentionUnflag,
        Op::RetentionUnflagApprove,
        Op::CaseLabel,
        Op::CasePropose,
        Op::DescribeHistory,
        Op::ReportCompliance,
        Op::ReportSpotCheck,
        Op::PurgeRequest,
        Op::PurgeApprove,
        Op::PurgeCancel,
        Op::PurgeList,
        Op::PurgeRun,
        Op::AccessView,
        Op::AccessForm,
        Op::AccessRegister,
        Op::AccessMark,
        Op::AccessUnmark,
        Op::AccessMarks,
        Op::AccessInformant,
        Op::LogVerify,
        Op::LogCheckpoint,
        Op::DiscList,
        Op::DiscMove,
        Op::DiscAbandon,
        Op::BurnPlan,
        Op::BurnStart,
        Op::BurnJobs,
        Op::LogProve,
        Op::LogConsistency,
        Op::Export,
        Op::AccountAdd,
        Op::AccountPassword,
        Op::AccountDisable,
        Op::AccountEnable,
        Op::AccountUnlock,
        Op::AccountList,
        Op::AccessPlay,
        Op::DutyExtensions,
        Op::DockingReview,
    ];

    /// The rule table: who may call the operation, in the order a role is chosen to act in
    /// (the first one the caller holds). Exhaustive: a new operation has no rule until it is
    /// placed here.
    pub fn roles(self) -> &'static [Role] {
        match self {
            Op::Status | Op::DeviceList | Op::DutyList | Op::DutyExtensions | Op::ReplicateStatus => ANY,
            Op::DeviceRegister | Op::DeviceRetire => KEEPERS,
            Op::DutyOut | Op::DutyReturn | Op::DutyExtend => KEEPERS,
            Op::DutyApprove => &[Role::Approver],
            Op::DutyReport => &[Role::Supervisor, Role::Archivist, Role::Custodian, Role::Admin],
            Op::ReplicateRun => &[Role::Admin, Role::Archivist],
            Op::ReplicateEvict => KEEPERS,
            Op::ReplicateRecall => FILERS,
            Op::LogQuery | Op::LogTail => READERS,
            Op::CaseHistory => &[Role::Archivist, Role::Supervisor, Role::Approver, Role::Custodian],
            Op::GapExemptions => ANY,
            // An officer lists and explains the gaps in their own footage.
            Op::GapList => ANY_OR_OFFICER,
            Op::GapExplain => &[Role::Custodian, Role::Archivist, Role::Officer],
            Op::GapExempt | Op::DockingReview => FILERS,
            Op::GapReview | Op::GapExemptApprove => &[Role::Approver],
            // An officer acts on their own footage only (each operation checks whose it is).
            Op::FootageMine => &[Role::Officer, Role::Custodian, Role::Archivist, Role::Supervisor],
            Op::Describe | Op::CaseAssign => &[Role::Custodian, Role::Archivist, Role::Officer],
            Op::RetentionFlag => &[Role::Archivist, Role::Supervisor, Role::Officer],
            // An officer asks for, and sees, their own (R9).
            Op::AccessRequest | Op::AccessList => ANY_OR_OFFICER,
            Op::CaseCreate => FILERS,
            Op::CaseList | Op::CaseShow => ANY,
            Op::AccessApprove | Op::AccessDeny => &[Role::Approver],
            Op::RetentionShow | Op::RetentionDue => ANY,
            Op::RetentionHold | Op::RetentionRelease | Op::RetentionUnflag => &[Role::Archivist, Role::Supervisor],
            Op::RetentionUnflagApprove => &[Role::Approver],
            Op::CaseLabel => FILERS,
            Op::CasePropose | Op::DescribeHistory => ANY,
            Op::ReportCompliance | Op::ReportSpotCheck => &[Role::Supervisor, Role::Archivist, Role::Admin],
            Op::PurgeRequest => &[Role::Archivist, Role::Custodian],
            Op::PurgeApprove => &[Role::Approver],
            Op::PurgeCancel => &[Role::Archivist, Role::Approver, Role::Custodian],
            Op::PurgeList => ANY,
            Op::PurgeRun => &[Role::Admin, Role::Archivist],
            // An officer views and prints under their own requests (each checks whose it is).
            Op::AccessView | Op::AccessForm => ANY_OR_OFFICER,
            Op::AccessRegister => READERS,
            Op::AccessMark | Op::AccessUnmark | Op::AccessInformant => &[Role::Archivist, Role::Admin],
            Op::AccessMarks => ANY,
            Op::LogVerify | Op::LogProve | Op::LogConsistency => READERS,
            Op::LogCheckpoint => &[Role::Admin, Role::Archivist, Role::Supervisor],
            Op::DiscList | Op::BurnPlan => ANY,
            Op::DiscMove | Op::DiscAbandon | Op::BurnStart => FILERS,
            Op::BurnJobs => ANY,
            Op::Export => &[Role::Archivist, Role::Custodian],
            Op::AccountAdd
            | Op::AccountPassword
            | Op::AccountDisable
            | Op::AccountEnable
            | Op::AccountUnlock
            | Op::AccountList => &[Role::Admin],
            // The request decides who views (its requester); an officer views their own.
            Op::AccessPlay => access::VIEWERS,
        }
    }

    /// The name on the wire (`device_register`).
    pub fn name(self) -> &'static str {
        match self {
            Op::Status => "status",
            Op::DeviceRegister => "device_register",
            Op::DeviceRetire => "device_retire",
            Op::DeviceList => "device_list",
            Op::DutyOut => "duty_out",
            Op::DutyList => "duty_list",
            Op::DutyReturn => "duty_return",
            Op::DutyExtend => "duty_extend",
            Op::DutyApprove => "duty_approve",
            Op::DutyReport => "duty_report",
            Op::ReplicateStatus => "replicate_status",
            Op::ReplicateRun => "replicate_run",
            Op::ReplicateEvict => "replicate_evict",
            Op::ReplicateRecall => "replicate_recall",
            Op::LogQuery => "log_query",
            Op::LogTail => "log_tail",
            Op::CaseHistory => "case_history",
            Op::GapList => "gap_list",
            Op::GapExplain => "gap_explain",
            Op::GapReview => "gap_review",
            Op::GapExempt => "gap_exempt",
            Op::GapExemptApprove => "gap_exempt_approve",
            Op::GapExemptions => "gap_exemptions",
            Op::FootageMine => "footage_mine",
            Op::Describe => "describe",
            Op::CaseAssign => "case_assign",
            Op::RetentionFlag => "retention_flag",
            Op::AccessRequest => "access_request",
            Op::AccessList => "access_list",
            Op::CaseCreate => "case_create",
            Op::CaseList => "case_list",
            Op::AccessApprove => "access_approve",
            Op::AccessDeny => "access_deny",
            Op::CaseShow => "case_show",
            Op::RetentionShow => "retention_show",
            Op::RetentionDue => "retention_due",
            Op::RetentionHold => "retention_hold",
            Op::RetentionRelease => "retention_release",
            Op::RetentionUnflag => "retention_unflag",
            Op::RetentionUnflagApprove => "retention_unflag_approve",
            Op::CaseLabel => "case_label",
            Op::CasePropose => "case_propose",
            Op::DescribeHistory => "describe_history",
            Op::ReportCompliance => "report_compliance",
            Op::ReportSpotCheck => "report_spot_check",
            Op::PurgeRequest => "purge_request",
            Op::PurgeApprove => "purge_approve",
            Op::PurgeCancel => "purge_cancel",
            Op::PurgeList => "purge_list",
            Op::PurgeRun => "purge_run",
            Op::AccessView => "access_view",
            Op::AccessForm => "access_form",
            Op::AccessRegister => "access_register",
            Op::AccessMark => "access_mark",
            Op::AccessUnmark => "access_unmark",
            Op::AccessMarks => "access_marks",
            Op::AccessInformant => "access_informant",
            Op::LogVerify => "log_verify",
            Op::LogCheckpoint => "log_checkpoint",
            Op::DiscList => "disc_list",
            Op::DiscMove => "disc_move",
            Op::DiscAbandon => "disc_abandon",
            Op::BurnPlan => "burn_plan",
            Op::BurnStart => "burn_start",
            Op::BurnJobs => "burn_jobs",
            Op::LogProve => "log_prove",
            Op::LogConsistency => "log_consistency",
            Op::Export => "export",
            Op::AccountAdd => "account_add",
            Op::AccountPassword => "account_password",
            Op::AccountDisable => "account_disable",
            Op::AccountEnable => "account_enable",
            Op::AccountUnlock => "account_unlock",
            Op::AccountList => "account_list",
            Op::AccessPlay => "access_play",
            Op::DutyExtensions => "duty_extensions",
            Op::DockingReview => "docking_review",
        }
    }

    /// The operation as people read it in logs and `call_refused` events (`device register`,
    /// the command line's words).
    pub fn words(self) -> String {
        self.name().replace('_', " ")
    }

    /// Whether the operation takes files (descriptors the caller opened): `gap_explain`'s
    /// scanned statement, the checkpoint files and verifier key of `log_verify`, `log_prove`
    /// and `log_consistency`, the folder `export` writes into. Any other operation refuses a
    /// request that carries one.
    pub fn takes_files(self) -> bool {
        matches!(self, Op::GapExplain | Op::LogVerify | Op::LogProve | Op::LogConsistency | Op::Export)
    }

    /// Whether the operation answers with an open file ([`access::Handover`]): on the wire,
    /// its descriptor travels with the reply's line.
    pub fn hands_over_a_file(self) -> bool {
        matches!(self, Op::AccessPlay)
    }

    /// Whether the operation only reads and answers at once (`status`): served in the
    /// control socket's slots kept for those.
    pub fn is_quick(self) -> bool {
        matches!(self, Op::Status)
    }
}

impl Request {
    /// The operation asked.
    pub fn op(&self) -> Op {
        match self {
            Request::Status(_) => Op::Status,
            Request::DeviceRegister(_) => Op::DeviceRegister,
            Request::DeviceRetire(_) => Op::DeviceRetire,
            Request::DeviceList(_) => Op::DeviceList,
            Request::DutyOut(_) => Op::DutyOut,
            Request::DutyList(_) => Op::DutyList,
            Request::DutyReturn(_) => Op::DutyReturn,
            Request::DutyExtend(_) => Op::DutyExtend,
            Request::DutyApprove(_) => Op::DutyApprove,
            Request::DutyReport(_) => Op::DutyReport,
            Request::ReplicateStatus(_) => Op::ReplicateStatus,
            Request::ReplicateRun(_) => Op::ReplicateRun,
            Request::ReplicateEvict(_) => Op::ReplicateEvict,
            Request::ReplicateRecall(_) => Op::ReplicateRecall,
            Request::LogQuery(_) => Op::LogQuery,
            Request::LogTail(_) => Op::LogTail,
            Request::CaseHistory(_) => Op::CaseHistory,
            Request::GapList(_) => Op::GapList,
            Request::GapExplain(_) => Op::GapExplain,
            Request::GapReview(_) => Op::GapReview,
            Request::GapExempt(_) => Op::GapExempt,
            Request::GapExemptApprove(_) => Op::GapExemptApprove,
            Request::GapExemptions(_) => Op::GapExemptions,
            Request::FootageMine(_) => Op::FootageMine,
            Request::Describe(_) => Op::Describe,
            Request::CaseAssign(_) => Op::CaseAssign,
            Request::RetentionFlag(_) => Op::RetentionFlag,
            Request::AccessRequest(_) => Op::AccessRequest,
            Request::AccessList(_) => Op::AccessList,
            Request::CaseCreate(_) => Op::CaseCreate,
            Request::CaseList(_) => Op::CaseList,
            Request::AccessApprove(_) => Op::AccessApprove,
            Request::AccessDeny(_) => Op::AccessDeny,
            Request::CaseShow(_) => Op::CaseShow,
            Request::RetentionShow(_) => Op::RetentionShow,
            Request::RetentionDue(_) => Op::RetentionDue,
            Request::RetentionHold(_) => Op::RetentionHold,
            Request::RetentionRelease(_) => Op::RetentionRelease,
            Request::RetentionUnflag(_) => Op::RetentionUnflag,
            Request::RetentionUnflagApprove(_) => Op::RetentionUnflagApprove,
            Request::CaseLabel(_) => Op::CaseLabel,
            Request::CasePropose(_) => Op::CasePropose,
            Request::DescribeHistory(_) => Op::DescribeHistory,
            Request::ReportCompliance(_) => Op::ReportCompliance,
            Request::ReportSpotCheck(_) => Op::ReportSpotCheck,
            Request::PurgeRequest(_) => Op::PurgeRequest,
            Request::PurgeApprove(_) => Op::PurgeApprove,
            Request::PurgeCancel(_) => Op::PurgeCancel,
            Request::PurgeList(_) => Op::PurgeList,
            Request::PurgeRun(_) => Op::PurgeRun,
            Request::AccessView(_) => Op::AccessView,
            Request::AccessForm(_) => Op::AccessForm,
            Request::AccessRegister(_) => Op::AccessRegister,
            Request::AccessMark(_) => Op::AccessMark,
            Request::AccessUnmark(_) => Op::AccessUnmark,
            Request::AccessMarks(_) => Op::AccessMarks,
            Request::AccessInformant(_) => Op::AccessInformant,
            Request::LogVerify(_) => Op::LogVerify,
            Request::LogCheckpoint(_) => Op::LogCheckpoint,
            Request::DiscList(_) => Op::DiscList,
            Request::DiscMove(_) => Op::DiscMove,
            Request::DiscAbandon(_) => Op::DiscAbandon,
            Request::BurnPlan(_) => Op::BurnPlan,
            Request::BurnStart(_) => Op::BurnStart,
            Request::BurnJobs(_) => Op::BurnJobs,
            Request::LogProve(_) => Op::LogProve,
            Request::Export(_) => Op::Export,
            Request::AccountAdd(_) => Op::AccountAdd,
            Request::AccountPassword(_) => Op::AccountPassword,
            Request::AccountDisable(_) => Op::AccountDisable,
            Request::AccountEnable(_) => Op::AccountEnable,
            Request::AccountUnlock(_) => Op::AccountUnlock,
            Request::AccountList(_) => Op::AccountList,
            Request::AccessPlay(_) => Op::AccessPlay,
            Request::DutyExtensions(_) => Op::DutyExtensions,
            Request::DockingReview(_) => Op::DockingReview,
            Request::LogConsistency(_) => Op::LogConsistency,
        }
    }

    /// Reads a request from its operation name and arguments (`args` absent: no arguments).
    ///
    /// # Errors
    /// [`ErrorKind::Invalid`] for an unknown operation, a missing or unknown field, or a value
    /// of the wrong type.
    pub fn from_parts(op: &str, args: Option<serde_json::Value>) -> Result<Request, ApiError> {
        let args = args.unwrap_or_else(|| json!({}));
        serde_json::from_value(json!({ "op": op, "args": args }))
            .map_err(|e| ApiError::invalid(format!("request {op:?}: {e} (docs/CONTROL-API.md) / 请求格式不正确：{op}")))
    }
}

impl Reply {
    /// The operation this answers.
    pub fn op(&self) -> Op {
        match self {
            Reply::Status(_) => Op::Status,
            Reply::DeviceRegister(_) => Op::DeviceRegister,
            Reply::DeviceRetire(_) => Op::DeviceRetire,
            Reply::DeviceList(_) => Op::DeviceList,
            Reply::DutyOut(_) => Op::DutyOut,
            Reply::DutyList(_) => Op::DutyList,
            Reply::DutyReturn(_) => Op::DutyReturn,
            Reply::DutyExtend(_) => Op::DutyExtend,
            Reply::DutyApprove(_) => Op::DutyApprove,
            Reply::DutyReport(_) => Op::DutyReport,
            Reply::ReplicateStatus(_) => Op::ReplicateStatus,
            Reply::ReplicateRun(_) => Op::ReplicateRun,
            Reply::ReplicateEvict(_) => Op::ReplicateEvict,
            Reply::ReplicateRecall(_) => Op::ReplicateRecall,
            Reply::LogQuery(_) => Op::LogQuery,
            Reply::LogTail(_) => Op::LogTail,
            Reply::CaseHistory(_) => Op::CaseHistory,
            Reply::GapList(_) => Op::GapList,
            Reply::GapExplain(_) => Op::GapExplain,
            Reply::GapReview(_) => Op::GapReview,
            Reply::GapExempt(_) => Op::GapExempt,
            Reply::GapExemptApprove(_) => Op::GapExemptApprove,
            Reply::GapExemptions(_) => Op::GapExemptions,
            Reply::FootageMine(_) => Op::FootageMine,
            Reply::Describe(_) => Op::Describe,
            Reply::CaseAssign(_) => Op::CaseAssign,
            Reply::RetentionFlag(_) => Op::RetentionFlag,
            Reply::AccessRequest(_) => Op::AccessRequest,
            Reply::AccessList(_) => Op::AccessList,
            Reply::CaseCreate(_) => Op::CaseCreate,
            Reply::CaseList(_) => Op::CaseList,
            Reply::AccessApprove(_) => Op::AccessApprove,
            Reply::AccessDeny(_) => Op::AccessDeny,
            Reply::CaseShow(_) => Op::CaseShow,
            Reply::RetentionShow(_) => Op::RetentionShow,
            Reply::RetentionDue(_) => Op::RetentionDue,
            Reply::RetentionHold(_) => Op::RetentionHold,
            Reply::RetentionRelease(_) => Op::RetentionRelease,
            Reply::RetentionUnflag(_) => Op::RetentionUnflag,
            Reply::RetentionUnflagApprove(_) => Op::RetentionUnflagApprove,
            Reply::CaseLabel(_) => Op::CaseLabel,
            Reply::CasePropose(_) => Op::CasePropose,
            Reply::DescribeHistory(_) => Op::DescribeHistory,
            Reply::ReportCompliance(_) => Op::ReportCompliance,
            Reply::ReportSpotCheck(_) => Op::ReportSpotCheck,
            Reply::PurgeRequest(_) => Op::PurgeRequest,
            Reply::PurgeApprove(_) => Op::PurgeApprove,
            Reply::PurgeCancel(_) => Op::PurgeCancel,
            Reply::PurgeList(_) => Op::PurgeList,
            Reply::PurgeRun(_) => Op::PurgeRun,
            Reply::AccessView(_) => Op::AccessView,
            Reply::AccessForm(_) => Op::AccessForm,
            Reply::AccessRegister(_) => Op::AccessRegister,
            Reply::AccessMark(_) => Op::AccessMark,
            Reply::AccessUnmark(_) => Op::AccessUnmark,
            Reply::AccessMarks(_) => Op::AccessMarks,
            Reply::AccessInformant(_) => Op::AccessInformant,
            Reply::LogVerify(_) => Op::LogVerify,
            Reply::LogCheckpoint(_) => Op::LogCheckpoint,
            Reply::DiscList(_) => Op::DiscList,
            Reply::DiscMove(_) => Op::DiscMove,
            Reply::DiscAbandon(_) => Op::DiscAbandon,
            Reply::BurnPlan(_) => Op::BurnPlan,
            Reply::BurnStart(_) => Op::BurnStart,
            Reply::BurnJobs(_) => Op::BurnJobs,
            Reply::LogProve(_) => Op::LogProve,
            Reply::Export(_) => Op::Export,
            Reply::AccountAdd(_) => Op::AccountAdd,
            Reply::AccountPassword(_) => Op::AccountPassword,
            Reply::AccountDisable(_) => Op::AccountDisable,
            Reply::AccountEnable(_) => Op::AccountEnable,
            Reply::AccountUnlock(_) => Op::AccountUnlock,
            Reply::AccountList(_) => Op::AccountList,
            Reply::AccessPlay(_) => Op::AccessPlay,
            Reply::DutyExtensions(_) => Op::DutyExtensions,
            Reply::DockingReview(_) => Op::DockingReview,
            Reply::LogConsistency(_) => Op::LogConsistency,
        }
    }
}

/// What kind of failure an [`ApiError`] is; stable names on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The caller may not do this (a missing role, self-approval); logged as `call_refused`.
    Refused,
    /// The request itself is wrong (a missing or unknown field, a bad value).
    Invalid,
    /// What the request names does not exist.
    NotFound,
    /// The request contradicts the station's state (already done, already out).
    Conflict,
    /// It could not be done (I/O, the catalogue, the central store); a retry may help.
    Failed,
}

impl ErrorKind {
    /// The stable name (`not_found`).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Refused => "refused",
            ErrorKind::Invalid => "invalid",
            ErrorKind::NotFound => "not_found",
            ErrorKind::Conflict => "conflict",
            ErrorKind::Failed => "failed",
        }
    }
}

/// Why an operation did not answer: its kind and a message in Chinese and English that names
/// the input and what to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(deny_unknown_fields)]
#[error("{}{message}", if *kind == ErrorKind::Refused { "refused: " } else { "" })]
pub struct ApiError {
    /// The kind.
    pub kind: ErrorKind,
    /// The message, bilingual.
    pub message: String,
}

impl ApiError {
    /// A refusal.
    pub fn refused(message: impl Into<String>) -> ApiError {
        ApiError { kind: ErrorKind::Refused, message: message.into() }
    }

    /// A wrong request.
    pub fn invalid(message: impl Into<String>) -> ApiError {
        ApiError { kind: ErrorKind::Invalid, message: message.into() }
    }

    /// Something named that does not exist.
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError { kind: ErrorKind::NotFound, message: message.into() }
    }

    /// A request against the station's state.
    pub fn conflict(message: impl Into<String>) -> ApiError {
        ApiError { kind: ErrorKind::Conflict, message: message.into() }
    }

    /// A failure to do it.
    pub fn failed(message: impl Into<String>) -> ApiError {
        ApiError { kind: ErrorKind::Failed, message: message.into() }
    }
}

impl From<CatalogError> for ApiError {
    fn from(e: CatalogError) -> ApiError {
        match e {
            // A value a person gave that the catalogue does not accept.
            CatalogError::Invalid(m) => ApiError::invalid(m),
            other => ApiError::failed(format!("{other} / 目录数据库操作失败")),
        }
    }
}

/// How a caller reached the station.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// Over the control socket: the daemon runs the operation; identity from `SO_PEERCRED`.
    Socket,
    /// In the caller's own process, no daemon running: identity is this process's user.
    Direct,
    /// A front end inside the daemon process (the station's web page): identity from the
    /// station's own sign-in.
    Daemon,
}

impl Via {
    /// As logged (`socket`, `direct`, `daemon`).
    pub fn as_str(self) -> &'static str {
        match self {
            Via::Socket => "socket",
            Via::Direct => "direct",
            Via::Daemon => "daemon",
        }
    }

    /// Whether the daemon runs the operation (it checked the catalogue at its start).
    pub fn in_daemon(self) -> bool {
        !matches!(self, Via::Direct)
    }
}

/// Who calls: the identity the front end learned from the kernel (or its own sign-in), the
/// roles that identity holds, its officer number, and how it reached the station.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// Who, as the kernel (or the sign-in) said.
    pub identity: Identity,
    /// The roles held, in [`crate::control::roles::GRANTABLE`] order.
    pub roles: Vec<Role>,
    /// The officer number (警号) written into custody events, if configured.
    pub officer: Option<String>,
    /// How it reached the station.
    pub via: Via,
}

impl Caller {
    /// The caller `identity` as the configuration's `[roles]` and `[officers]` see it.
    pub fn of(config: &Config, identity: Identity, via: Via) -> Caller {
        let officer = config.roles.officer_of(&identity);
        let mut roles = config.roles.roles_of(&identity);
        // An officer number (`[officers]`) is the officer role: acting on their own footage.
        if officer.is_some() {
            roles.push(Role::Officer);
        }
        Caller { roles, officer, identity, via }
    }
}

/// The descriptors a request carried, each with the path the caller named (`SCM_RIGHTS`).
/// Only operations whose [`Op::takes_files`] holds accept any; each names the ones it takes.
pub type Files = Vec<(String, OwnedFd)>;

/// An authorized call: the configuration, who calls, and the actor it acts as.
pub struct Ctx<'a> {
    /// The station's configuration.
    pub config: &'a Config,
    /// Who calls.
    pub caller: &'a Caller,
    /// The actor written into custody events: the caller in the role the rule table chose.
    pub actor: Actor,
}

impl Ctx<'_> {
    /// The catalogue, to write as the actor: in the daemon without a new integrity check
    /// (the daemon checked it at start), directly with one.
    ///
    /// # Errors
    /// [`ErrorKind::Failed`] when it cannot be opened.
    pub fn catalog(&self) -> Result<Catalog, ApiError> {
        let path = self.config.catalog_path();
        let tz = self.config.timezone;
        Ok(if self.caller.via.in_daemon() {
            Catalog::open_trusted(&path, tz, self.actor.clone())?
        } else {
            Catalog::open(&path, tz, self.actor.clone())?
        })
    }
}

/// Chooses the role `caller` acts in for `op`: the first of [`Op::roles`] it holds.
///
/// # Errors
/// [`ErrorKind::Refused`] naming the caller, what it holds and what it would need.
pub fn authorize(caller: &Caller, op: Op) -> Result<Actor, ApiError> {
    authorize_as(caller, op.roles(), &op.words())
}

/// [`authorize`] for what is not a wire operation (`words`, as logged), by the roles `needed`.
///
/// # Errors
/// As [`authorize`].
pub fn authorize_as(caller: &Caller, needed: &[Role], words: &str) -> Result<Actor, ApiError> {
    match needed.iter().find(|r| caller.roles.contains(r)) {
        Some(role) => Ok(Actor { user: caller.identity.user.clone(), role: *role, officer: caller.officer.clone() }),
        None => {
            let names: Vec<&str> = needed.iter().map(|r| r.as_str()).collect();
            let has = if caller.roles.is_empty() {
                "no role".to_string()
            } else {
                caller.roles.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(", ")
            };
            Err(ApiError::refused(format!(
                "user {} (uid {}) has {has}; `{words}` needs one of: {} (set in [roles] of the configuration) / 无此操作权限",
                caller.identity.user,
                caller.identity.uid,
                names.join(", ")
            )))
        }
    }
}

/// Runs one operation for `caller`: authorizes it by the rule table, runs it, and logs every
/// refusal (`call_refused`). Usable from any thread of any front end, in the daemon or not.
///
/// # Errors
/// The typed [`ApiError`] of the operation, or a refusal.
pub fn call(config: &Config, caller: &Caller, request: Request, files: Files) -> Result<Reply, ApiError> {
    let op = request.op();
    let actor = match authorize(caller, op) {
        Ok(a) => a,
        Err(e) => {
            log_refusal_for(config, caller, None, &op.words(), &e.message);
            return Err(e);
        }
    };
    if let Some((path, _)) = files.first().filter(|_| !op.takes_files()) {
        return Err(ApiError::invalid(format!(
            "`{}` takes no files, but {path} was sent as one / 此操作不接收文件",
            op.words()
        )));
    }
    let role = actor.role;
    let ctx = Ctx { config, caller, actor };
    let result = match request {
        Request::Status(a) => status::status(&ctx, &a).map(|d| Reply::Status(Box::new(d))),
        Request::DeviceRegister(a) => device::register(&ctx, &a).map(Reply::DeviceRegister),
        Request::DeviceRetire(a) => device::retire(&ctx, &a).map(Reply::DeviceRetire),
        Request::DeviceList(a) => device::list(&ctx, &a).map(Reply::DeviceList),
        Request::DutyOut(a) => duty::out(&ctx, &a).map(Reply::DutyOut),
        Request::DutyList(a) => duty::list(&ctx, &a).map(Reply::DutyList),
        Request::DutyReturn(a) => duty::record_return(&ctx, &a).map(Reply::DutyReturn),
        Request::DutyExtend(a) => duty::extend(&ctx, &a).map(Reply::DutyExtend),
        Request::DutyApprove(a) => duty::approve(&ctx, &a).map(Reply::DutyApprove),
        Request::DutyReport(a) => duty::report(&ctx, &a).map(Reply::DutyReport),
        Request::DutyExtensions(a) => duty::extensions_list(&ctx, &a).map(Reply::DutyExtensions),
        Request::DockingReview(a) => review::review(&ctx, &a).map(Reply::DockingReview),
        Request::ReplicateStatus(a) => replicate::status(&ctx, &a).map(Reply::ReplicateStatus),
        Request::ReplicateRun(a) => replicate::run(&ctx, &a).map(Reply::ReplicateRun),
        Request::ReplicateEvict(a) => replicate::evict(&ctx, &a).map(Reply::ReplicateEvict),
        Request::ReplicateRecall(a) => replicate::recall(&ctx, &a).map(Reply::ReplicateRecall),
        Request::LogQuery(a) => log::query(&ctx, &a).map(Reply::LogQuery),
        Request::LogTail(a) => log::tail(&ctx, &a).map(Reply::LogTail),
        Request::CaseHistory(a) => history::case_history(&ctx, &a).map(|h| Reply::CaseHistory(Box::new(h))),
        Request::GapList(a) => gap::list(&ctx, &a).map(Reply::GapList),
        Request::GapExplain(a) => gap::explain(&ctx, &a, files).map(Reply::GapExplain),
        Request::GapReview(a) => gap::review(&ctx, &a).map(Reply::GapReview),
        Request::GapExempt(a) => gap::exempt(&ctx, &a).map(Reply::GapExempt),
        Request::GapExemptApprove(a) => gap::exempt_approve(&ctx, &a).map(Reply::GapExemptApprove),
        Request::GapExemptions(a) => gap::exemptions(&ctx, &a).map(Reply::GapExemptions),
        Request::FootageMine(a) => footage::mine(&ctx, &a).map(Reply::FootageMine),
        Request::Describe(a) => cases::describe(&ctx, &a).map(Reply::Describe),
        Request::CaseAssign(a) => cases::assign(&ctx, &a).map(Reply::CaseAssign),
        Request::RetentionFlag(a) => retention::flag(&ctx, &a).map(Reply::RetentionFlag),
        Request::AccessRequest(a) => access::request(&ctx, &a).map(Reply::AccessRequest),
        Request::AccessList(a) => access::list(&ctx, &a).map(Reply::AccessList),
        Request::CaseCreate(a) => cases::create(&ctx, &a).map(Reply::CaseCreate),
        Request::CaseList(a) => cases::list(&ctx, &a).map(Reply::CaseList),
        Request::AccessApprove(a) => access::decide(&ctx, a.id, None).map(Reply::AccessApprove),
        Request::AccessDeny(a) => access::decide(&ctx, a.id, Some(&a.reason)).map(Reply::AccessDeny),
        Request::CaseShow(a) => cases::show(&ctx, &a).map(|c| Reply::CaseShow(Box::new(c))),
        Request::RetentionShow(a) => retention::show(&ctx, &a).map(|r| Reply::RetentionShow(Box::new(r))),
        Request::RetentionDue(a) => retention::due(&ctx, &a).map(Reply::RetentionDue),
        Request::RetentionHold(a) => retention::hold(&ctx, &a).map(Reply::RetentionHold),
        Request::RetentionRelease(a) => retention::release(&ctx, &a).map(Reply::RetentionRelease),
        Request::RetentionUnflag(a) => retention::unflag(&ctx, &a).map(Reply::RetentionUnflag),
        Request::RetentionUnflagApprove(a) => retention::unflag_approve(&ctx, &a).map(Reply::RetentionUnflagApprove),
        Request::CaseLabel(a) => cases::relabel(&ctx, &a).map(Reply::CaseLabel),
        Request::CasePropose(a) => cases::propose(&ctx, &a).map(Reply::CasePropose),
        Request::DescribeHistory(a) => cases::history_of(&ctx, &a).map(Reply::DescribeHistory),
        Request::ReportCompliance(a) => report::compliance(&ctx, &a).map(|d| Reply::ReportCompliance(Box::new(d))),
        Request::ReportSpotCheck(a) => report::spot_check(&ctx, &a).map(|d| Reply::ReportSpotCheck(Box::new(d))),
        Request::PurgeRequest(a) => purge::request(&ctx, &a).map(Reply::PurgeRequest),
        Request::PurgeApprove(a) => purge::approve(&ctx, &a).map(Reply::PurgeApprove),
        Request::PurgeCancel(a) => purge::cancel(&ctx, &a).map(Reply::PurgeCancel),
        Request::PurgeList(a) => purge::list(&ctx, &a).map(Reply::PurgeList),
        Request::PurgeRun(a) => purge::run(&ctx, &a).map(Reply::PurgeRun),
        Request::AccessView(a) => forms::view(&ctx, &a).map(Reply::AccessView),
        Request::AccessForm(a) => forms::print_form(&ctx, &a).map(Reply::AccessForm),
        Request::AccessRegister(a) => forms::register(&ctx, &a).map(Reply::AccessRegister),
        Request::AccessMark(a) => marks::mark(&ctx, &a).map(Reply::AccessMark),
        Request::AccessUnmark(a) => marks::unmark(&ctx, &a).map(Reply::AccessUnmark),
        Request::AccessMarks(a) => marks::marks(&ctx, &a).map(Reply::AccessMarks),
        Request::AccessInformant(a) => marks::informant(&ctx, &a).map(Reply::AccessInformant),
        Request::LogVerify(a) => verify::verify(&ctx, &a, files).map(|v| Reply::LogVerify(Box::new(v))),
        Request::LogCheckpoint(a) => verify::checkpoint(&ctx, &a).map(Reply::LogCheckpoint),
        Request::DiscList(a) => discs::list(&ctx, &a).map(Reply::DiscList),
        Request::DiscMove(a) => discs::move_disc(&ctx, &a).map(|d| Reply::DiscMove(Box::new(d))),
        Request::DiscAbandon(a) => discs::abandon(&ctx, &a).map(|d| Reply::DiscAbandon(Box::new(d))),
        Request::BurnPlan(a) => discs::burn_plan(&ctx, &a).map(|p| Reply::BurnPlan(Box::new(p))),
        Request::BurnStart(a) => discs::burn_start(&ctx, &a).map(|j| Reply::BurnStart(Box::new(j))),
        Request::BurnJobs(a) => discs::burn_jobs(&ctx, &a).map(Reply::BurnJobs),
        Request::LogProve(a) => verify::log_prove(&ctx, &a, files).map(|p| Reply::LogProve(Box::new(p))),
        Request::LogConsistency(a) => {
            verify::log_consistency(&ctx, &a, files).map(|p| Reply::LogConsistency(Box::new(p)))
        }
        Request::Export(a) => export::export(&ctx, &a, files).map(Reply::Export),
        Request::AccountAdd(a) => accounts::add(&ctx, &a).map(Reply::AccountAdd),
        Request::AccountPassword(a) => accounts::password(&ctx, &a).map(Reply::AccountPassword),
        Request::AccountDisable(a) => {
            accounts::change(&ctx, &a, &crate::catalog::AccountChange::Disable).map(Reply::AccountDisable)
        }
        Request::AccountEnable(a) => {
            accounts::change(&ctx, &a, &crate::catalog::AccountChange::Enable).map(Reply::AccountEnable)
        }
        Request::AccountUnlock(a) => {
            accounts::change(&ctx, &a, &crate::catalog::AccountChange::Unlock).map(Reply::AccountUnlock)
        }
        Request::AccountList(a) => accounts::list(&ctx, &a).map(Reply::AccountList),
        Request::AccessPlay(a) => access::play(&ctx, &a).map(Reply::AccessPlay),
    };
    if let Err(e) = &result {
        if e.kind == ErrorKind::Refused {
            log_refusal_for(config, caller, Some(role), &op.words(), &e.message);
        }
    }
    debug_assert!(result.as_ref().map_or(true, |r| r.op() == op), "{op:?} answered with another reply");
    result
}

/// Writes a `call_refused` event naming the user, uid, command and reason. A refusal that
/// cannot be logged is reported to the operator's log (the daemon's journal), never hidden.
pub fn log_refusal(config: &Config, who: &Identity, role: Option<Role>, command: &str, reason: &str, via: Via) {
    let officer = config.roles.officer_of(who);
    write_refusal(config, who, officer, role, command, reason, via);
}

/// [`log_refusal`] for a caller of the API: its officer number is the one it holds (a station
/// account's badge, or `[officers]`).
pub(crate) fn log_refusal_for(config: &Config, caller: &Caller, role: Option<Role>, command: &str, reason: &str) {
    write_refusal(config, &caller.identity, caller.officer.clone(), role, command, reason, caller.via);
}

fn write_refusal(
    config: &Config,
    who: &Identity,
    officer: Option<String>,
    role: Option<Role>,
    command: &str,
    reason: &str,
    via: Via,
) {
    let actor = Actor { user: who.user.clone(), role: role.unwrap_or(Role::Nobody), officer };
    let logged = Catalog::open_trusted(&config.catalog_path(), config.timezone, actor).and_then(|mut c| {
        c.event(
            Action::CallRefused,
            &format!("user:{}", who.user),
            json!({ "command": command, "uid": who.uid, "reason": reason, "via": via.as_str() }),
        )
    });
    if let Err(e) = logged {
        tracing::error!("a refused call could not be logged: user {} `{command}`: {reason}: {e}", who.user);
    }
}

/// No arguments (`{}`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoArgs {}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(roles: &[Role]) -> Caller {
        Caller {
            identity: Identity {
                uid: 1001,
                user: "zhangsan".into(),
                gids: vec![1001],
                groups: vec!["zhangsan".into()],
            },
            roles: roles.to_vec(),
            officer: Some("012345".into()),
            via: Via::Direct,
        }
    }

    #[test]
    fn every_operation_has_a_rule_and_a_distinct_name() {
        let mut names = std::collections::BTreeSet::new();
        for op in Op::ALL {
            assert!(!op.roles().is_empty(), "{op:?} has no role that may call it");
            assert!(!op.roles().contains(&Role::System) && !op.roles().contains(&Role::Nobody), "{op:?}");
            assert!(names.insert(op.name()), "{op:?}: name {} twice", op.name());
        }
        assert_eq!(Op::DeviceRegister.words(), "device register");
    }

    #[test]
    fn the_rule_table_chooses_the_first_role_held_and_refuses_with_what_is_needed() {
        let keeper = caller(&[Role::Custodian]);
        let a = authorize(&keeper, Op::DeviceRegister).unwrap();
        assert_eq!((a.user.as_str(), a.role, a.officer.as_deref()), ("zhangsan", Role::Custodian, Some("012345")));
        let e = authorize(&keeper, Op::DutyApprove).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Refused);
        assert!(e.message.contains("has custodian") && e.message.contains("needs one of: approver"), "{e}");
        assert!(e.message.contains("无此操作权限") && e.to_string().starts_with("refused: "), "{e}");
        let nobody = caller(&[]);
        let e = authorize(&nobody, Op::Status).unwrap_err();
        assert!(e.message.contains("uid 1001) has no role"), "{e}");
        // An archivist who is also an admin runs a replication pass as admin, the first listed.
        assert_eq!(authorize(&caller(&[Role::Archivist, Role::Admin]), Op::ReplicateRun).unwrap().role, Role::Admin);
        // Approvers read the registry but never change it.
        let approver = caller(&[Role::Approver]);
        assert!(authorize(&approver, Op::DeviceList).is_ok());
        for op in [Op::DeviceRegister, Op::DeviceRetire, Op::DutyOut, Op::ReplicateEvict, Op::ReplicateRun] {
            assert!(authorize(&approver, op).is_err(), "{op:?}");
        }
    }

    #[test]
    fn requests_read_from_the_wire_refuse_unknown_fields_and_operations() {
        let r = Request::from_parts("device_retire", Some(json!({ "serial": "J100001", "reason": "损坏" }))).unwrap();
        assert_eq!(r.op(), Op::DeviceRetire);
        assert_eq!(Request::from_parts("status", None).unwrap(), Request::Status(status::StatusArgs::default()));
        let e =
            Request::from_parts("device_retire", Some(json!({ "serial": "J1", "reason": "x", "uid": 0 }))).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Invalid);
        assert!(e.message.contains("unknown field `uid`"), "{e}");
        assert!(
            Request::from_parts("status", Some(json!({ "json": true }))).is_err(),
            "front-end options are not on the wire"
        );
        assert!(Request::from_parts("device_burn", None).unwrap_err().message.contains("unknown variant"));
        assert!(Request::from_parts("device_retire", Some(json!({ "serial": "J1" }))).is_err(), "reason is required");
    }

    /// INV-40: the command line's front ends of typed operations reach the catalogue, the
    /// archive and the custody log only through [`call`].
    #[test]
    fn typed_front_ends_touch_no_store_of_the_station() {
        let central = include_str!("../cli/central.rs");
        let replicate_part = &central[..central.find("pub fn run_central").expect("central verify follows")];
        for (file, text) in [
            ("cli/status.rs", include_str!("../cli/status.rs")),
            ("cli/device.rs", include_str!("../cli/device.rs")),
            ("cli/duty.rs", include_str!("../cli/duty.rs")),
            ("cli/case.rs", include_str!("../cli/case.rs")),
            ("cli/retention.rs", include_str!("../cli/retention.rs")),
            ("cli/central.rs (replicate)", replicate_part),
        ] {
            for banned in
                ["crate::catalog", "Catalog", "open_catalog_as_user", "std::fs", "rusqlite", "custody::", "fsio"]
            {
                assert!(!text.contains(banned), "{file} uses {banned}: front ends act through api::call (INV-40)");
            }
            assert!(text.contains("link.call("), "{file} calls the station API");
        }
        // The long jobs' front ends: the job room opens the catalogue, never the command line.
        for (file, text) in
            [("cli/burn.rs", include_str!("../cli/burn.rs")), ("cli/archive.rs", include_str!("../cli/archive.rs"))]
        {
            for banned in [
                "crate::catalog",
                "Catalog",
                "open_catalog_as_user",
                "std::fs",
                "rusqlite",
                "custody::",
                "fsio",
                "ledger",
            ] {
                assert!(!text.contains(banned), "{file} uses {banned}: a job's steps are crate::job's (INV-40)");
            }
            assert!(text.contains("job::"), "{file} runs its job through crate::job");
        }
    }

    /// INV-40, for every front end there is: no file of `src/cli/` or `src/web/` opens the
    /// catalogue, the custody log's store, the archive or the ingest pipeline, or folds the
    /// ledger; a new file is held to it as it is added. The exceptions are tools that do not
    /// act on a station through the service, each named with why.
    #[test]
    fn no_front_end_file_reaches_a_store_of_the_station() {
        const BANNED: &[&str] = &[
            "crate::catalog",
            "Catalog",
            "rusqlite",
            "custody::store",
            "custody::chain",
            "custody::files",
            "fsio",
            "ledger::",
            "crate::archive",
            "crate::ingest::",
            "daemon::prepare",
        ];
        // (file, what it may use, why).
        const EXEMPT: &[(&str, &[&str], &str)] = &[
            (
                "cli/ingest.rs",
                &["crate::ingest::", "daemon::prepare"],
                "the pipeline once on a folder, refused beside a daemon",
            ),
            ("cli/demo.rs", &["daemon::prepare"], "the demo runs a station of its own in a folder"),
            (
                "cli/log.rs",
                &["custody::store", "custody::chain", "custody::files", "rusqlite"],
                "an auditor's offline verification of exported log files, no station involved",
            ),
            ("cli/case.rs", &["crate::archive"], "`case check-folder`: a copy of a case folder checked offline"),
            ("web/mod.rs", &["crate::ingest::"], "the live bays' snapshot type, read only"),
            ("web/render.rs", &["crate::ingest::"], "the live bays' snapshot type, read only"),
        ];
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut checked = 0;
        for dir in ["cli", "web"] {
            for entry in std::fs::read_dir(root.join(dir)).expect("the front ends' folder") {
                let path = entry.expect("an entry").path();
                if path.extension().and_then(|e| e.to_str()) != Some("rs") {
                    continue;
                }
                let name = format!("{dir}/{}", path.file_name().and_then(|n| n.to_str()).expect("a name"));
                let text = std::fs::read_to_string(&path).expect("a source file");
                let allowed = EXEMPT.iter().find(|(f, _, _)| *f == name).map_or(&[][..], |(_, a, _)| *a);
                for banned in BANNED.iter().filter(|b| !allowed.contains(b)) {
                    assert!(!text.contains(banned), "{name} uses {banned}: front ends act through api::call (INV-40)");
                }
                checked += 1;
            }
        }
        assert!(checked >= 30, "every front end file read: {checked}");
    }

    /// A front end inside the daemon process (the web page) calls the operations directly,
    /// without the socket, under the same rules and with the same custody events.
    #[test]
    fn an_in_process_caller_registers_lists_and_is_refused_under_the_rule_table() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config::under(dir.path());
        let identity = |uid: u32, user: &str| Identity { uid, user: user.into(), gids: vec![uid], groups: vec![] };
        let keeper = Caller {
            identity: identity(1001, "zhangsan"),
            roles: vec![Role::Custodian],
            officer: None,
            via: Via::Direct,
        };
        let register = Request::DeviceRegister(device::Register {
            serial: "J600001".into(),
            officer_id: "012345".into(),
            officer_name: Some("张三".into()),
            unit: None,
            model: None,
            usb: vec!["2e8a:000C:J600001".into()],
        });
        let reply = call(&config, &keeper, register, Vec::new()).unwrap();
        let Reply::DeviceRegister(r) = reply else { panic!("{reply:?}") };
        assert_eq!(r.usb, ["2e8a:000c:J600001"], "the station's own spelling");
        let Reply::DeviceList(list) =
            call(&config, &keeper, Request::DeviceList(device::ListArgs {}), Vec::new()).unwrap()
        else {
            panic!("another reply")
        };
        assert_eq!((list.len(), list[0].officer_name.as_deref()), (1, Some("张三")));
        // A bad binding is refused before anything is written.
        let bad = Request::DeviceRegister(device::Register {
            serial: "J600002".into(),
            officer_id: "012345".into(),
            officer_name: None,
            unit: None,
            model: None,
            usb: vec!["not-usb".into()],
        });
        assert_eq!(call(&config, &keeper, bad, Vec::new()).unwrap_err().kind, ErrorKind::Invalid);
        // The web page's caller, with no role: refused, and logged as coming from the daemon.
        let stranger = Caller { identity: identity(4242, "web:4242"), roles: vec![], officer: None, via: Via::Daemon };
        let e = call(
            &config,
            &stranger,
            Request::DeviceRetire(device::Retire { serial: "J600001".into(), reason: "x".into() }),
            Vec::new(),
        )
        .unwrap_err();
        assert_eq!(e.kind, ErrorKind::Refused);
        let db = rusqlite::Connection::open(config.catalog_path()).unwrap();
        let events: Vec<(String, String)> = db
            .prepare("SELECT action, actor_user FROM custody_log ORDER BY seq")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .filter(|(a, _)| a != "catalog_opened" && a != "config_changed")
            .collect();
        let actions: Vec<&str> = events.iter().map(|(a, _)| a.as_str()).collect();
        assert_eq!(actions, ["device_registered", "device_registered", "call_refused"], "{events:?}");
        let refused: String =
            db.query_row("SELECT details FROM custody_log WHERE action = 'call_refused'", [], |r| r.get(0)).unwrap();
        assert!(
            refused.contains("\"via\":\"daemon\"") && refused.contains("\"command\":\"device retire\""),
            "{refused}"
        );
    }

    #[test]
    fn requests_and_replies_have_one_stable_shape() {
        let r = Request::DeviceRetire(device::Retire { serial: "J100001".into(), reason: "损坏".into() });
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            r#"{"op":"device_retire","args":{"serial":"J100001","reason":"损坏"}}"#
        );
        let reply = Reply::DeviceRetire(device::Retired { serial: "J100001".into() });
        assert_eq!(serde_json::to_string(&reply).unwrap(), r#"{"op":"device_retire","data":{"serial":"J100001"}}"#);
        assert_eq!(serde_json::from_str::<Reply>(&serde_json::to_string(&reply).unwrap()).unwrap(), reply);
        let e = ApiError::not_found("no recorder J100009 / 无此记录仪");
        assert_eq!(
            serde_json::to_string(&e).unwrap(),
            r#"{"kind":"not_found","message":"no recorder J100009 / 无此记录仪"}"#
        );
        // The wire name of each operation is the one serde reads.
        for op in Op::ALL {
            let read = Request::from_parts(op.name(), None).map(|r| r.op());
            assert!(read.as_ref().map_or(true, |o| *o == op), "{op:?} read as {read:?}");
            assert!(read.is_ok() || read.unwrap_err().message.contains("missing field"), "{op:?}");
        }
    }
}
