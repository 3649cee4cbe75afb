//! Custody events and their canonical encoding, version 1 (`evidock-custody/1`).
//!
//! Owns: what a custody event is ([`NewEvent`] before it is written, [`StoredEvent`] after),
//! the closed list of [`Action`]s and [`Role`]s with their stable names and Chinese labels,
//! the canonical JSON of an event's details ([`canonical_json`]), the bytes that are hashed
//! ([`encode`]) and the chain link ([`event_hash`]).
//! Must never: do I/O, read a clock (time comes in as a value), or change the encoding of
//! version 1: the golden vector in the tests pins it byte for byte. A new encoding gets a new
//! version tag (R11).
//!
//! The normative description is `docs/CUSTODY-LOG.md`; this module is its reference
//! implementation.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

/// Version tag that opens every encoded event.
pub const ENCODING_VERSION: &str = "evidock-custody/1";

/// The `prev_hash` of the first event (seq 1): 32 zero bytes.
pub const GENESIS_PREV: [u8; 32] = [0u8; 32];

/// Why an event could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    /// A details value is a floating-point number, which has no single canonical text.
    #[error("custody event details: {path} is a floating-point number ({value}); use an integer (e.g. milliseconds) or a string")]
    Float {
        /// Where in the details, e.g. `details.drift_s` or `details.items[2]`.
        path: String,
        /// The number as given.
        value: String,
    },
    /// The sequence number would pass `i64::MAX`, the largest SQLite stores.
    #[error("custody log is full: seq {last} is the largest a log can hold")]
    SeqOverflow {
        /// The last sequence number.
        last: u64,
    },
}

/// Who acts: the role an operating-system identity holds (R12).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// The daemon itself.
    System,
    /// The custodian (设备管理员) who keeps the footage.
    Custodian,
    /// The archive keeper (档案管理员).
    Archivist,
    /// A unit head who approves access (审批人).
    Approver,
    /// A supervisor who queries and spot-checks (监督人员).
    Supervisor,
    /// The system administrator (系统管理员).
    Admin,
    /// A caller who holds no role (无角色): only refusals are logged with it.
    Nobody,
    /// An officer (执法人员) named in `[officers]`, asking for their own footage (R9), or signed
    /// in to the station's web page with a station account.
    Officer,
}

impl Role {
    /// Every role, in declaration order.
    pub const ALL: [Role; 8] = [
        Role::System,
        Role::Custodian,
        Role::Archivist,
        Role::Approver,
        Role::Supervisor,
        Role::Admin,
        Role::Nobody,
        Role::Officer,
    ];

    /// The stable name stored in the log, e.g. `custodian`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::System => "system",
            Role::Custodian => "custodian",
            Role::Archivist => "archivist",
            Role::Approver => "approver",
            Role::Supervisor => "supervisor",
            Role::Admin => "admin",
            Role::Nobody => "none",
            Role::Officer => "officer",
        }
    }

    /// The Chinese label.
    pub const fn label_zh(self) -> &'static str {
        match self {
            Role::System => "系统",
            Role::Custodian => "设备管理员",
            Role::Archivist => "档案管理员",
            Role::Approver => "审批人",
            Role::Supervisor => "监督人员",
            Role::Admin => "系统管理员",
            Role::Nobody => "无角色",
            Role::Officer => "执法人员",
        }
    }

    /// The role with this stable name, if any.
    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// Who performed an action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// Operating-system user name (the daemon's own user for [`Role::System`]).
    pub user: String,
    /// The role the user acted in.
    pub role: Role,
    /// The user's officer number (警号 / 执法证号), when the actor is an officer.
    pub officer: Option<String>,
}

impl Actor {
    /// The daemon acting on its own, as operating-system user `user`.
    pub fn daemon(user: impl Into<String>) -> Actor {
        Actor { user: user.into(), role: Role::System, officer: None }
    }
}

/// What happened. The stable names ([`Action::as_str`]) are part of the log format and never
/// change; new actions may be added.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// The daemon started.
    DaemonStarted,
    /// The daemon stopped.
    DaemonStopped,
    /// A recorder volume appeared in a bay.
    Docked,
    /// A recorder volume left its bay.
    Undocked,
    /// A volume appeared that is not a recorder of a known format.
    UnknownVolume,
    /// A known recorder appeared on the USB bus.
    UsbArrived,
    /// A recorder left the USB bus.
    UsbDeparted,
    /// The recorder's identity file was read (R1, R14).
    IdentityRead,
    /// The recorder's clock differs from the station's (R2).
    ClockDrift,
    /// The recorder's clock was set (R2).
    ClockSet,
    /// Ingest of a docked recorder began (R3).
    IngestStarted,
    /// A segment was copied to the archive and made durable.
    SegmentCopied,
    /// A segment matched its recorder chain record (R5).
    SegmentVerified,
    /// A segment was flagged: altered, missing, inserted, reordered, truncated, unchained (R5).
    SegmentFlagged,
    /// A recording session's chain verified complete (R5).
    SessionVerified,
    /// A gap between segments was found, explained or not (R6).
    GapFound,
    /// A volume entry was refused as hostile (link, device node, path escape, oversize).
    HostileEntry,
    /// Copying a segment failed.
    CopyFailed,
    /// An ingest stopped before finishing (unplug, full disk, error); the recorder is untouched.
    IngestAbandoned,
    /// An ingest finished.
    IngestFinished,
    /// A verified, durable segment was deleted from the recorder (R3).
    SegmentWiped,
    /// Every archived segment was deleted from the recorder (R3).
    RecorderWiped,
    /// The recorder was not wiped, with the reason (R3, R5).
    WipeSkipped,
    /// Work left half done by a crash was recovered at start.
    ArchiveRecovered,
    /// The custody log was verified (R11).
    LogVerified,
    /// A recorder was registered, or its assignment changed (R1).
    DeviceRegistered,
    /// A recorder was retired from service (R1).
    DeviceRetired,
    /// A case was created (R4).
    CaseCreated,
    /// A case's label (party, officers, kind, windows) changed (R4).
    CaseLabelled,
    /// Footage was filed into a case folder (R4, R13).
    FootageAssigned,
    /// A written explanation was attached to a gap in recording (R6).
    GapExplained,
    /// A long-term retention flag was set, with who and why (R7).
    RetentionFlagSet,
    /// A long-term retention flag was withdrawn; the deadline it gave stays (R7).
    RetentionFlagWithdrawn,
    /// A legal hold was placed (R7).
    HoldPlaced,
    /// A legal hold was released (R7).
    HoldReleased,
    /// Deletion of footage past its retention deadline was requested (R7).
    PurgeRequested,
    /// A deletion was approved by someone other than the requester; the grace period starts (R7).
    PurgeApproved,
    /// A pending deletion was cancelled (R7).
    PurgeCancelled,
    /// Footage past its deadline was deleted; a tombstone keeps what it was (R7).
    PurgeExecuted,
    /// A compliance report or spot-check sample was made (R11).
    ReportMade,
    /// A command was refused: the caller lacks the role, or the rules forbid it (R9, R12).
    CallRefused,
    /// A case or recording was marked secret, commercial secret or privacy (R10).
    ConfidentialityMarked,
    /// A confidentiality mark was removed (R10).
    ConfidentialityCleared,
    /// Access (view, copy or export) to footage was requested, with the reason (R9).
    AccessRequested,
    /// An access request was approved by an approver who is not the requester (R9).
    AccessApproved,
    /// An access request was denied (R9).
    AccessDenied,
    /// An approval lapsed unused past its validity (R9).
    AccessExpired,
    /// Approved footage was viewed (R9).
    FootageViewed,
    /// Approved footage was copied out (R9).
    FootageCopied,
    /// Approved footage was exported to an outside party (R9).
    FootageExported,
    /// A burn plan was made: discs, their footage, files refused (R8).
    BurnPlanned,
    /// A disc was staged as a BagIt bag, every file read back from the archive (R8).
    DiscStaged,
    /// A disc image was built or a disc written (R8).
    DiscWritten,
    /// A disc passed a full read-back verify and counts as a copy (R8).
    DiscVerified,
    /// A disc, or a staging, failed; its footage stays in the next plan (R8).
    DiscFailed,
    /// A disc changed place or holder (R8, R9).
    DiscMoved,
    /// A registered disc was re-checked, with the result (R8).
    DiscRechecked,
    /// A step of the burn job was started for a person at the station's page (R8).
    BurnStarted,
    /// A person recorded that they reviewed a docking whose footage needed review (R1, R5).
    DockingReviewed,
    /// The daemon started with a configuration that differs from the last one recorded.
    ConfigChanged,
    /// A recorder's identity serial differs from its USB serial, or another volume docked now
    /// claims the same serial: ingested, never wiped (R1, R14).
    IdentityConflict,
    /// A value the recorder wrote (a time, a size) cannot be true or cannot be used: named with
    /// its record; the footage is archived all the same and the docking needs review (R2, R13).
    ImpossibleValue,
    /// The same recorder met an internal error again: its footage was archived without the
    /// steps that may have failed (the chain verification, unless done first), and it was not
    /// wiped (R3, R5).
    IngestDegraded,
    /// A recorder's chain contradicts what the dock remembers of it, its identity, or itself
    /// (a link not continued, numbers or a session id used before, another recorder's serial,
    /// an `END` that disagrees, duplicate records), or one docking's findings were capped (R5, R13).
    ContradictionFound,
    /// The dock now remembers a recorder's session (its opening and last links, its sequence
    /// numbers), to check later dockings against.
    SessionRemembered,
    /// The station's verifier key was recorded in the log, so that a replaced key is noticed (R11).
    SigningKeyRecorded,
    /// The station refused to sign a checkpoint that would contradict one it signed before, or with a replaced key (R11).
    CheckpointRefused,
    /// A recording's retention deadline was first recorded or extended; it is never shortened (R7).
    DeadlineRecorded,
    /// The catalogue contradicts the custody log (a hold, flag, deadline, approval, filing or file hash); the action was refused (R7, R11).
    CatalogueMismatch,
    /// An archived file's bytes differ from the hash the custody log recorded, or the file is missing (R11).
    FixityFailed,
    /// An archive scrub re-read archived files and compared them with the custody log: what was checked, bytes, duration, findings (R11).
    ArchiveScrubbed,
    /// The central store confirmed an object: its bytes, its lock and its legal hold.
    CentralConfirmed,
    /// A central object's lock was extended, or its legal hold set or removed.
    CentralLockChanged,
    /// The central copy disagrees with the station (the store as witness, an object with
    /// other bytes at its key, a lock that does not match).
    CentralAlarm,
    /// A recorder that wants a password before its storage appears was logged in to, or
    /// refused the password, or could not be asked; never with the password (R1).
    RecorderLogin,
    /// A recorder was asked to show its storage (disk mode, `SetMSDC`), with the outcome.
    StorageModeSet,
    /// A recorder was handed out: bound to an officer for a shift after its health check, with the check (R1, R14).
    DutyCheckedOut,
    /// A check-out was refused: the recorder's health is below the thresholds, it is already out, or not in service (R14).
    DutyRefused,
    /// A bound recorder docked: its binding is closed by that docking (R1, R3).
    DutyCheckedIn,
    /// An officer's return to the unit after remote work was recorded: the after-return deadline counts from it (R3).
    DutyReturnRecorded,
    /// An extension of a shift's handover deadline was requested, with the reason (R3).
    HandoverExtensionRequested,
    /// An extension of a handover deadline was approved by a person the configuration names (R3).
    HandoverExtensionApproved,
    /// The local copy of footage confirmed off the station was removed after the store and the
    /// log proved its central copy again: the object version recall reads (INV-20).
    FootageEvicted,
    /// Evicted footage was brought back from its logged object version and matched its logged
    /// BLAKE3 (INV-20).
    FootageRecalled,
    /// An approved access request was found void at the moment of use: a confidentiality mark
    /// added after it, or its approver no longer allowed for a mark; nothing left (R10).
    AccessVoided,
    /// A long-term flag's withdrawal was asked for, with the reason; another person must
    /// approve it (R7).
    FlagWithdrawalRequested,
    /// A withdrawn long-term flag returned its recording to the deadline the rules give without
    /// it (counted from the later of recording and storage): the one time a recorded deadline
    /// moves earlier, under a two-person withdrawal (R7, INV-11).
    DeadlineReturned,
    /// A bay's copy into the archive made no progress for `ingest.stall_timeout_s`: the
    /// archive disk is not responding; that docking is never wiped, the other bays go on
    /// (INV-31).
    ArchiveStalled,
    /// The daemon's full verification found the log intact up to `details.up_to`, whose
    /// stored hash was `details.hash`: a point a start after an unclean stop reads on from
    /// (INV-24, INV-38).
    LogPointVerified,
    /// A recording or a case was described (执法对象, 执法内容, 取证地点; R4, R13, S4 §23) by
    /// its officer or a filer; a new description supersedes the last, which stays in history.
    FootageDescribed,
    /// The head approved or rejected a written explanation of a gap (R6, S2 §18); a rejected
    /// one leaves the gap unexplained until it is explained again.
    GapReviewed,
    /// An approval not to record was entered: an officer, a window, the reason (S1 §8).
    RecordingExemptionRecorded,
    /// An approver other than the person who entered it approved an approval not to record
    /// (S1 §8); from then on it exempts the missing footage it covers.
    RecordingExemptionApproved,
    /// A station account was created or changed (password, roles, disabled, enabled, unlocked)
    /// by an administrator (INV-42).
    AccountChanged,
    /// A person signed in to the station's web page with a station account (INV-42).
    SignedIn,
    /// A sign-in was refused: wrong password, unknown name, locked or disabled account (INV-42).
    SignInFailed,
    /// A run of failed sign-ins locked a station account for `web.lockout_s` (INV-42).
    AccountLocked,
    /// A web session ended: signed out by the person, or its time ran out (INV-43).
    SignedOut,
}

impl Action {
    /// Every action, in declaration order.
    pub const ALL: [Action; 98] = [
        Action::DaemonStarted,
        Action::DaemonStopped,
        Action::Docked,
        Action::Undocked,
        Action::UnknownVolume,
        Action::UsbArrived,
        Action::UsbDeparted,
        Action::IdentityRead,
        Action::ClockDrift,
        Action::ClockSet,
        Action::IngestStarted,
        Action::SegmentCopied,
        Action::SegmentVerified,
        Action::SegmentFlagged,
        Action::SessionVerified,
        Action::GapFound,
        Action::HostileEntry,
        Action::CopyFailed,
        Action::IngestAbandoned,
        Action::IngestFinished,
        Action::SegmentWiped,
        Action::RecorderWiped,
        Action::WipeSkipped,
        Action::ArchiveRecovered,
        Action::LogVerified,
        Action::DeviceRegistered,
        Action::DeviceRetired,
        Action::CaseCreated,
        Action::CaseLabelled,
        Action::FootageAssigned,
        Action::GapExplained,
        Action::RetentionFlagSet,
        Action::RetentionFlagWithdrawn,
        Action::HoldPlaced,
        Action::HoldReleased,
        Action::PurgeRequested,
        Action::PurgeApproved,
        Action::PurgeCancelled,
        Action::PurgeExecuted,
        Action::ReportMade,
        Action::CallRefused,
        Action::ConfidentialityMarked,
        Action::ConfidentialityCleared,
        Action::AccessRequested,
        Action::AccessApproved,
        Action::AccessDenied,
        Action::AccessExpired,
        Action::FootageViewed,
        Action::FootageCopied,
        Action::FootageExported,
        Action::BurnPlanned,
        Action::DiscStaged,
        Action::DiscWritten,
        Action::DiscVerified,
        Action::DiscFailed,
        Action::DiscMoved,
        Action::DiscRechecked,
        Action::ConfigChanged,
        Action::IdentityConflict,
        Action::ImpossibleValue,
        Action::IngestDegraded,
        Action::ContradictionFound,
        Action::SessionRemembered,
        Action::SigningKeyRecorded,
        Action::CheckpointRefused,
        Action::DeadlineRecorded,
        Action::CatalogueMismatch,
        Action::FixityFailed,
        Action::ArchiveScrubbed,
        Action::CentralConfirmed,
        Action::CentralLockChanged,
        Action::CentralAlarm,
        Action::RecorderLogin,
        Action::StorageModeSet,
        Action::DutyCheckedOut,
        Action::DutyRefused,
        Action::DutyCheckedIn,
        Action::DutyReturnRecorded,
        Action::HandoverExtensionRequested,
        Action::HandoverExtensionApproved,
        Action::FootageEvicted,
        Action::FootageRecalled,
        Action::AccessVoided,
        Action::FlagWithdrawalRequested,
        Action::DeadlineReturned,
        Action::ArchiveStalled,
        Action::LogPointVerified,
        Action::FootageDescribed,
        Action::GapReviewed,
        Action::RecordingExemptionRecorded,
        Action::RecordingExemptionApproved,
        Action::AccountChanged,
        Action::SignedIn,
        Action::SignInFailed,
        Action::AccountLocked,
        Action::SignedOut,
        Action::BurnStarted,
        Action::DockingReviewed,
    ];

    /// The stable snake_case name stored in the log, e.g. `segment_verified`.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::DaemonStarted => "daemon_started",
            Action::DaemonStopped => "daemon_stopped",
            Action::Docked => "docked",
            Action::Undocked => "undocked",
            Action::UnknownVolume => "unknown_volume",
            Action::UsbArrived => "usb_arrived",
            Action::UsbDeparted => "usb_departed",
            Action::IdentityRead => "identity_read",
            Action::ClockDrift => "clock_drift",
            Action::ClockSet => "clock_set",
            Action::IngestStarted => "ingest_started",
            Action::SegmentCopied => "segment_copied",
            Action::SegmentVerified => "segment_verified",
            Action::SegmentFlagged => "segment_flagged",
            Action::SessionVerified => "session_verified",
            Action::GapFound => "gap_found",
            Action::HostileEntry => "hostile_entry",
            Action::CopyFailed => "copy_failed",
            Action::IngestAbandoned => "ingest_abandoned",
            Action::IngestFinished => "ingest_finished",
            Action::SegmentWiped => "segment_wiped",
            Action::RecorderWiped => "recorder_wiped",
            Action::WipeSkipped => "wipe_skipped",
            Action::ArchiveRecovered => "archive_recovered",
            Action::LogVerified => "log_verified",
            Action::DeviceRegistered => "device_registered",
            Action::DeviceRetired => "device_retired",
            Action::CaseCreated => "case_created",
            Action::CaseLabelled => "case_labelled",
            Action::FootageAssigned => "footage_assigned",
            Action::GapExplained => "gap_explained",
            Action::RetentionFlagSet => "retention_flag_set",
            Action::RetentionFlagWithdrawn => "retention_flag_withdrawn",
            Action::HoldPlaced => "hold_placed",
            Action::HoldReleased => "hold_released",
            Action::PurgeRequested => "purge_requested",
            Action::PurgeApproved => "purge_approved",
            Action::PurgeCancelled => "purge_cancelled",
            Action::PurgeExecuted => "purge_executed",
            Action::ReportMade => "report_made",
            Action::CallRefused => "call_refused",
            Action::ConfidentialityMarked => "confidentiality_marked",
            Action::ConfidentialityCleared => "confidentiality_cleared",
            Action::AccessRequested => "access_requested",
            Action::AccessApproved => "access_approved",
            Action::AccessDenied => "access_denied",
            Action::AccessExpired => "access_expired",
            Action::FootageViewed => "footage_viewed",
            Action::FootageCopied => "footage_copied",
            Action::FootageExported => "footage_exported",
            Action::BurnPlanned => "burn_planned",
            Action::DiscStaged => "disc_staged",
            Action::DiscWritten => "disc_written",
            Action::DiscVerified => "disc_verified",
            Action::DiscFailed => "disc_failed",
            Action::DiscMoved => "disc_moved",
            Action::DiscRechecked => "disc_rechecked",
            Action::BurnStarted => "burn_started",
            Action::DockingReviewed => "docking_reviewed",
            Action::ConfigChanged => "config_changed",
            Action::IdentityConflict => "identity_conflict",
            Action::ImpossibleValue => "impossible_value",
            Action::IngestDegraded => "ingest_degraded",
            Action::ContradictionFound => "contradiction_found",
            Action::SessionRemembered => "session_remembered",
            Action::SigningKeyRecorded => "signing_key_recorded",
            Action::CheckpointRefused => "checkpoint_refused",
            Action::DeadlineRecorded => "deadline_recorded",
            Action::CatalogueMismatch => "catalogue_mismatch",
            Action::FixityFailed => "fixity_failed",
            Action::ArchiveScrubbed => "archive_scrubbed",
            Action::CentralConfirmed => "central_confirmed",
            Action::CentralLockChanged => "central_lock_changed",
            Action::CentralAlarm => "central_alarm",
            Action::RecorderLogin => "recorder_login",
            Action::StorageModeSet => "storage_mode_set",
            Action::DutyCheckedOut => "duty_checked_out",
            Action::DutyRefused => "duty_refused",
            Action::DutyCheckedIn => "duty_checked_in",
            Action::DutyReturnRecorded => "duty_return_recorded",
            Action::HandoverExtensionRequested => "handover_extension_requested",
            Action::HandoverExtensionApproved => "handover_extension_approved",
            Action::FootageEvicted => "footage_evicted",
            Action::FootageRecalled => "footage_recalled",
            Action::AccessVoided => "access_voided",
            Action::FlagWithdrawalRequested => "flag_withdrawal_requested",
            Action::DeadlineReturned => "deadline_returned",
            Action::ArchiveStalled => "archive_stalled",
            Action::LogPointVerified => "log_point_verified",
            Action::FootageDescribed => "footage_described",
            Action::GapReviewed => "gap_reviewed",
            Action::RecordingExemptionRecorded => "recording_exemption_recorded",
            Action::RecordingExemptionApproved => "recording_exemption_approved",
            Action::AccountChanged => "account_changed",
            Action::SignedIn => "signed_in",
            Action::SignInFailed => "sign_in_failed",
            Action::AccountLocked => "account_locked",
            Action::SignedOut => "signed_out",
        }
    }

    /// The Chinese label shown beside the stable name.
    pub const fn label_zh(self) -> &'static str {
        match self {
            Action::DaemonStarted => "服务启动",
            Action::DaemonStopped => "服务停止",
            Action::Docked => "记录仪接入",
            Action::Undocked => "记录仪拔出",
            Action::UnknownVolume => "未知存储卷",
            Action::UsbArrived => "USB设备接入",
            Action::UsbDeparted => "USB设备断开",
            Action::IdentityRead => "读取设备信息",
            Action::ClockDrift => "设备时钟偏差",
            Action::ClockSet => "校准设备时钟",
            Action::IngestStarted => "开始导入",
            Action::SegmentCopied => "片段已复制",
            Action::SegmentVerified => "片段校验通过",
            Action::SegmentFlagged => "片段异常",
            Action::SessionVerified => "录制会话校验通过",
            Action::GapFound => "发现录制中断",
            Action::HostileEntry => "拒绝可疑文件",
            Action::CopyFailed => "复制失败",
            Action::IngestAbandoned => "导入中止",
            Action::IngestFinished => "导入完成",
            Action::SegmentWiped => "片段已从记录仪清除",
            Action::RecorderWiped => "记录仪已清空",
            Action::WipeSkipped => "未清除记录仪",
            Action::ArchiveRecovered => "恢复未完成的归档",
            Action::LogVerified => "保管日志已校验",
            Action::DeviceRegistered => "记录仪已登记",
            Action::DeviceRetired => "记录仪已停用",
            Action::CaseCreated => "案件已创建",
            Action::CaseLabelled => "案件信息已修改",
            Action::FootageAssigned => "录像已归入案件",
            Action::GapExplained => "中断已书面说明",
            Action::RetentionFlagSet => "长期保存标记已设置",
            Action::RetentionFlagWithdrawn => "长期保存标记已撤销",
            Action::HoldPlaced => "已冻结保全",
            Action::HoldReleased => "保全已解除",
            Action::PurgeRequested => "已申请删除",
            Action::PurgeApproved => "删除已批准",
            Action::PurgeCancelled => "删除已撤销",
            Action::PurgeExecuted => "录像已删除",
            Action::ReportMade => "报告已生成",
            Action::CallRefused => "操作被拒绝",
            Action::ConfidentialityMarked => "已标记密级",
            Action::ConfidentialityCleared => "密级标记已解除",
            Action::AccessRequested => "已申请调阅",
            Action::AccessApproved => "调阅已批准",
            Action::AccessDenied => "调阅未批准",
            Action::AccessExpired => "调阅批准已过期",
            Action::FootageViewed => "录像已查看",
            Action::FootageCopied => "录像已复制",
            Action::FootageExported => "录像已导出",
            Action::BurnPlanned => "刻录计划已生成",
            Action::DiscStaged => "光盘内容已备妥",
            Action::DiscWritten => "光盘已刻录",
            Action::DiscVerified => "光盘校验通过",
            Action::DiscFailed => "光盘校验失败",
            Action::DiscMoved => "光盘已移交",
            Action::DiscRechecked => "光盘已复检",
            Action::BurnStarted => "刻录步骤已启动",
            Action::DockingReviewed => "接入已复核",
            Action::ConfigChanged => "配置已变更",
            Action::IdentityConflict => "设备身份冲突",
            Action::ImpossibleValue => "记录仪数值不合理",
            Action::IngestDegraded => "导入降级仅归档",
            Action::ContradictionFound => "发现矛盾",
            Action::SessionRemembered => "已记住录制会话",
            Action::SigningKeyRecorded => "签名公钥已记录",
            Action::CheckpointRefused => "拒绝签署检查点",
            Action::DeadlineRecorded => "保存期限已记录",
            Action::CatalogueMismatch => "目录与保管日志不符",
            Action::FixityFailed => "文件校验不符",
            Action::ArchiveScrubbed => "归档巡检完成",
            Action::CentralConfirmed => "已确认存入中心存储",
            Action::CentralLockChanged => "中心存储锁定已变更",
            Action::CentralAlarm => "中心存储告警",
            Action::RecorderLogin => "记录仪登录",
            Action::StorageModeSet => "切换存储模式",
            Action::DutyCheckedOut => "记录仪已领用",
            Action::DutyRefused => "拒绝领用",
            Action::DutyCheckedIn => "记录仪已归还",
            Action::DutyReturnRecorded => "已登记返回单位",
            Action::HandoverExtensionRequested => "已申请延期移交",
            Action::HandoverExtensionApproved => "延期移交已批准",
            Action::FootageEvicted => "本地副本已清除",
            Action::FootageRecalled => "已从中心存储取回",
            Action::AccessVoided => "调阅批准已失效",
            Action::FlagWithdrawalRequested => "申请撤销长期保存标记",
            Action::DeadlineReturned => "保存期限恢复为普通期限",
            Action::ArchiveStalled => "存档磁盘无响应",
            Action::LogPointVerified => "保管日志校验点",
            Action::FootageDescribed => "执法记录已说明",
            Action::GapReviewed => "中断说明已审核",
            Action::RecordingExemptionRecorded => "不予录像批准已登记",
            Action::RecordingExemptionApproved => "不予录像已批准",
            Action::AccountChanged => "工作站账户变更",
            Action::SignedIn => "登录",
            Action::SignInFailed => "登录失败",
            Action::AccountLocked => "账户锁定",
            Action::SignedOut => "退出登录",
        }
    }

    /// The action with this stable name, if any.
    pub fn parse(s: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

/// An event to append: everything the caller knows. The store adds the sequence number, the
/// times and the hashes ([`seal`]).
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    /// Who.
    pub actor: Actor,
    /// What.
    pub action: Action,
    /// To what, as `kind:id`: `device:A100001`, `segment:A100001/42`, `docking:17`,
    /// `session:A100001/20240501-083000`, `log`, `daemon`.
    pub subject: String,
    /// Facts about the action. Integers, strings, booleans, null, arrays and objects only
    /// (see [`canonical_json`]).
    pub details: Map<String, Value>,
}

impl NewEvent {
    /// An event with no details.
    pub fn new(actor: Actor, action: Action, subject: impl Into<String>) -> NewEvent {
        NewEvent { actor, action, subject: subject.into(), details: Map::new() }
    }

    /// Adds one detail (replacing an earlier one of the same key).
    #[must_use]
    pub fn detail(mut self, key: impl Into<String>, value: impl Into<Value>) -> NewEvent {
        self.details.insert(key.into(), value.into());
        self
    }
}

/// An event as stored in the log: one row of `custody_log`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    /// Position in the log: 1 for the first event, then each one more than the last.
    pub seq: u64,
    /// When it was written, UTC, RFC 3339 with milliseconds: `2024-05-01T08:30:00.125Z`.
    pub ts_utc: String,
    /// The same instant in the station's time zone: `2024-05-01T16:30:00.125+08:00`.
    pub ts_local: String,
    /// [`Actor::user`].
    pub actor_user: String,
    /// [`Role::as_str`].
    pub actor_role: String,
    /// [`Actor::officer`].
    pub actor_officer: Option<String>,
    /// [`Action::as_str`].
    pub action: String,
    /// [`NewEvent::subject`].
    pub subject: String,
    /// [`canonical_json`] of the details.
    pub details: String,
    /// The previous event's `hash` ([`GENESIS_PREV`] for seq 1).
    pub prev_hash: [u8; 32],
    /// [`event_hash`]`(prev_hash, self)`.
    pub hash: [u8; 32],
}

impl StoredEvent {
    /// The action, when its name is one this version knows.
    pub fn known_action(&self) -> Option<Action> {
        Action::parse(&self.action)
    }
}

/// The canonical JSON text of a details map: keys sorted by their UTF-8 bytes, no whitespace,
/// strings escaped minimally (`"` `\` and control characters only; everything else, Chinese
/// included, is written as UTF-8), integers in plain decimal.
///
/// # Errors
/// [`EventError::Float`] when any value, however deep, is a floating-point number: a float has
/// no single canonical text, so it is refused rather than rounded.
pub fn canonical_json(map: &Map<String, Value>) -> Result<String, EventError> {
    let mut out = String::new();
    write_object(&mut out, map, "details")?;
    Ok(out)
}

fn write_value(out: &mut String, v: &Value, path: &str) -> Result<(), EventError> {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            if let Some(i) = n.as_u64() {
                let _ = write!(out, "{i}");
            } else if let Some(i) = n.as_i64() {
                let _ = write!(out, "{i}");
            } else {
                return Err(EventError::Float { path: path.to_string(), value: n.to_string() });
            }
        }
        Value::String(s) => write_string(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(out, item, &format!("{path}[{i}]"))?;
            }
            out.push(']');
        }
        Value::Object(map) => write_object(out, map, path)?,
    }
    Ok(())
}

fn write_object(out: &mut String, map: &Map<String, Value>, path: &str) -> Result<(), EventError> {
    let mut entries: Vec<(&String, &Value)> = map.iter().collect();
    entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    out.push('{');
    for (i, (k, v)) in entries.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_string(out, k);
        out.push(':');
        write_value(out, v, &format!("{path}.{k}"))?;
    }
    out.push('}');
    Ok(())
}

fn write_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(&(b.len() as u64).to_be_bytes());
    out.extend_from_slice(b);
}

/// The canonical encoding of an event, version 1: every field except `prev_hash` and `hash`
/// (the chain link prepends `prev_hash`, see [`event_hash`]).
///
/// A string field is its length in bytes as a big-endian `u64`, then its UTF-8 bytes. In order:
/// 1. the version tag [`ENCODING_VERSION`], as a string field;
/// 2. `seq`, 8 bytes big-endian;
/// 3. `ts_utc`, `ts_local`, `actor_user`, `actor_role`, as string fields;
/// 4. `actor_officer`: one byte `0x00` when absent, or `0x01` then a string field;
/// 5. `action`, `subject`, `details`, as string fields.
pub fn encode(ev: &StoredEvent) -> Vec<u8> {
    let mut out = Vec::with_capacity(
        128 + ev.ts_utc.len()
            + ev.ts_local.len()
            + ev.actor_user.len()
            + ev.actor_role.len()
            + ev.actor_officer.as_ref().map_or(0, String::len)
            + ev.action.len()
            + ev.subject.len()
            + ev.details.len(),
    );
    put_bytes(&mut out, ENCODING_VERSION.as_bytes());
    out.extend_from_slice(&ev.seq.to_be_bytes());
    put_bytes(&mut out, ev.ts_utc.as_bytes());
    put_bytes(&mut out, ev.ts_local.as_bytes());
    put_bytes(&mut out, ev.actor_user.as_bytes());
    put_bytes(&mut out, ev.actor_role.as_bytes());
    match &ev.actor_officer {
        None => out.push(0),
        Some(o) => {
            out.push(1);
            put_bytes(&mut out, o.as_bytes());
        }
    }
    put_bytes(&mut out, ev.action.as_bytes());
    put_bytes(&mut out, ev.subject.as_bytes());
    put_bytes(&mut out, ev.details.as_bytes());
    out
}

/// Reads an encoding (§3) back into the event it encodes (`prev_hash` and `hash` zero: the
/// encoding holds neither). `None` when it is not exactly one encoding of this version.
pub fn decode(bytes: &[u8]) -> Option<StoredEvent> {
    fn take<'a>(b: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
        let (head, rest) = b.split_at_checked(n)?;
        *b = rest;
        Some(head)
    }
    fn text(b: &mut &[u8]) -> Option<String> {
        let len = u64::from_be_bytes(take(b, 8)?.try_into().ok()?);
        String::from_utf8(take(b, usize::try_from(len).ok()?)?.to_vec()).ok()
    }
    let mut b = bytes;
    if text(&mut b)? != ENCODING_VERSION {
        return None;
    }
    let seq = u64::from_be_bytes(take(&mut b, 8)?.try_into().ok()?);
    let (ts_utc, ts_local, actor_user, actor_role) = (text(&mut b)?, text(&mut b)?, text(&mut b)?, text(&mut b)?);
    let actor_officer = match take(&mut b, 1)? {
        [0] => None,
        [1] => Some(text(&mut b)?),
        _ => return None,
    };
    let (action, subject, details) = (text(&mut b)?, text(&mut b)?, text(&mut b)?);
    b.is_empty().then_some(StoredEvent {
        seq,
        ts_utc,
        ts_local,
        actor_user,
        actor_role,
        actor_officer,
        action,
        subject,
        details,
        prev_hash: [0; 32],
        hash: [0; 32],
    })
}

/// The chain link: `BLAKE3(prev || encode(ev))`. `ev.prev_hash` and `ev.hash` are not read;
/// a sound event has `ev.prev_hash == *prev` and `ev.hash == event_hash(prev, ev)`.
pub fn event_hash(prev: &[u8; 32], ev: &StoredEvent) -> [u8; 32] {
    let mut h = blake3::Hasher::new();
    h.update(prev);
    h.update(&encode(ev));
    *h.finalize().as_bytes()
}

/// The two timestamps of an event written at `now`: UTC with milliseconds and `Z`, and the same
/// instant in `tz` with its offset.
pub fn timestamps(now: DateTime<Utc>, tz: chrono_tz::Tz) -> (String, String) {
    let utc = now.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
    let local = now.with_timezone(&tz).format("%Y-%m-%dT%H:%M:%S%.3f%:z").to_string();
    (utc, local)
}

/// Builds the stored form of `ev` as the event after `last` (`None`: the first event), written
/// at `now` in the station time zone `tz`.
///
/// # Errors
/// When the details hold a float ([`EventError::Float`]) or the log is full.
pub fn seal(
    last: Option<(u64, [u8; 32])>,
    ev: &NewEvent,
    now: DateTime<Utc>,
    tz: chrono_tz::Tz,
) -> Result<StoredEvent, EventError> {
    let (seq, prev_hash) = match last {
        None => (1, GENESIS_PREV),
        Some((last, _)) if last >= i64::MAX as u64 => return Err(EventError::SeqOverflow { last }),
        Some((last, hash)) => (last + 1, hash),
    };
    let (ts_utc, ts_local) = timestamps(now, tz);
    let mut stored = StoredEvent {
        seq,
        ts_utc,
        ts_local,
        actor_user: ev.actor.user.clone(),
        actor_role: ev.actor.role.as_str().to_string(),
        actor_officer: ev.actor.officer.clone(),
        action: ev.action.as_str().to_string(),
        subject: ev.subject.clone(),
        details: canonical_json(&ev.details)?,
        prev_hash,
        hash: [0; 32],
    };
    stored.hash = event_hash(&prev_hash, &stored);
    Ok(stored)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use serde_json::json;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    fn map(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            other => panic!("not an object: {other}"),
        }
    }

    /// The event of the worked example in docs/CUSTODY-LOG.md.
    pub(crate) fn golden_event() -> StoredEvent {
        let now = Utc.with_ymd_and_hms(2024, 5, 1, 8, 30, 0).single().expect("valid time")
            + chrono::Duration::milliseconds(125);
        let ev = NewEvent::new(
            Actor { user: "zhangsan".into(), role: Role::Custodian, officer: Some("012345".into()) },
            Action::Docked,
            "device:A100001",
        )
        .detail("bay", 3)
        .detail("officer_name", "张三");
        seal(None, &ev, now, chrono_tz::Asia::Shanghai).expect("seals")
    }

    #[test]
    fn golden_vector_pins_the_encoding_and_hash() {
        let ev = golden_event();
        assert_eq!(ev.ts_utc, "2024-05-01T08:30:00.125Z");
        assert_eq!(ev.ts_local, "2024-05-01T16:30:00.125+08:00");
        assert_eq!(ev.details, r#"{"bay":3,"officer_name":"张三"}"#);
        assert_eq!(
            hex(&encode(&ev)),
            concat!(
                "0000000000000011",
                "657669646f636b2d637573746f64792f31", // "evidock-custody/1"
                "0000000000000001",                   // seq 1
                "0000000000000018",
                "323032342d30352d30315430383a33303a30302e3132355a",
                "000000000000001d",
                "323032342d30352d30315431363a33303a30302e3132352b30383a3030",
                "0000000000000008",
                "7a68616e6773616e", // zhangsan
                "0000000000000009",
                "637573746f6469616e", // custodian
                "01",
                "0000000000000006",
                "303132333435", // officer 012345
                "0000000000000006",
                "646f636b6564", // docked
                "000000000000000e",
                "6465766963653a41313030303031", // device:A100001
                "0000000000000021",
                "7b22626179223a332c226f6666696365725f6e616d65223a22e5bca0e4b889227d",
            )
        );
        assert_eq!(ev.prev_hash, GENESIS_PREV);
        assert_eq!(hex(&ev.hash), GOLDEN_HASH);
        let whole: Vec<u8> = GENESIS_PREV.iter().copied().chain(encode(&ev)).collect();
        assert_eq!(blake3::hash(&whole).to_hex().as_str(), GOLDEN_HASH);

        // The second event of the worked example links to the first.
        let now = Utc.with_ymd_and_hms(2024, 5, 1, 8, 41, 7).single().expect("valid time");
        let next = NewEvent::new(Actor::daemon("evidock"), Action::Undocked, "device:A100001");
        let second = seal(Some((ev.seq, ev.hash)), &next, now, chrono_tz::Asia::Shanghai).expect("seals");
        assert_eq!(second.prev_hash, ev.hash);
        assert_eq!(hex(&second.hash), "44e99ead5d89fd9f2c7c6d19d8cdd478e33535f0915c344125d06977535fea58");
    }

    /// BLAKE3(32 zero bytes || encoding) of [`golden_event`].
    const GOLDEN_HASH: &str = "200e998f1206e6f23b2c71c47b521cddba8aa3fb2fba19ed42374d36f1a16ece";

    #[test]
    fn canonical_json_sorts_keys_and_refuses_floats() {
        let check = |v: Value, want: &str| assert_eq!(canonical_json(&map(v)).as_deref(), Ok(want));
        check(json!({}), "{}");
        check(json!({"b": 1, "a": -2, "c": u64::MAX}), r#"{"a":-2,"b":1,"c":18446744073709551615}"#);
        check(json!({"z": [true, null, {"y": "x", "x": []}]}), r#"{"z":[true,null,{"x":[],"y":"x"}]}"#);
        check(json!({"名": "张三\n\"\\\u{1}\u{7f}"}), "{\"名\":\"张三\\n\\\"\\\\\\u0001\u{7f}\"}");
        // Keys sort by UTF-8 bytes: uppercase before lowercase before Chinese.
        check(json!({"中": 1, "a": 2, "B": 3}), r#"{"B":3,"a":2,"中":1}"#);
        assert_eq!(
            canonical_json(&map(json!({"a": [1, {"drift_s": 1.5}]}))),
            Err(EventError::Float { path: "details.a[1].drift_s".into(), value: "1.5".into() })
        );
        assert!(canonical_json(&map(json!({"x": 1.0}))).is_err());
    }

    #[test]
    fn canonical_json_reparses_to_the_same_value() {
        let v = json!({"k": "执法记录仪 \u{0} \t", "n": [i64::MIN, 0, u64::MAX], "o": {"b": false}});
        let text = canonical_json(&map(v.clone())).expect("canonical");
        let back: Value = serde_json::from_str(&text).expect("valid JSON");
        assert_eq!(back, v);
    }

    #[test]
    fn optional_officer_cannot_be_confused_with_a_field() {
        let mut a = golden_event();
        a.actor_officer = None;
        let mut b = a.clone();
        b.actor_officer = Some(String::new());
        assert_ne!(encode(&a), encode(&b));
        // Moving bytes between adjacent fields changes the encoding.
        let mut c = golden_event();
        c.subject = "device:A10000".into();
        c.details = format!("1{}", c.details);
        assert_ne!(encode(&c), encode(&golden_event()));
    }

    #[test]
    fn every_field_is_covered_by_the_hash() {
        let base = golden_event();
        let h = |e: &StoredEvent| event_hash(&e.prev_hash, e);
        let edits: Vec<fn(&mut StoredEvent)> = vec![
            |e| e.seq += 1,
            |e| e.ts_utc.push('0'),
            |e| e.ts_local.push('0'),
            |e| e.actor_user.push('x'),
            |e| e.actor_role = "admin".into(),
            |e| e.actor_officer = None,
            |e| e.action = "undocked".into(),
            |e| e.subject.push('2'),
            |e| e.details = "{}".into(),
            |e| e.prev_hash[31] ^= 1,
        ];
        for edit in edits {
            let mut e = base.clone();
            edit(&mut e);
            assert_ne!(h(&e), base.hash);
        }
        assert_eq!(h(&base), base.hash);
    }

    #[test]
    fn seal_links_to_the_last_event() {
        let first = golden_event();
        let now = Utc.with_ymd_and_hms(2024, 12, 31, 23, 59, 59).single().expect("valid time");
        let next = seal(
            Some((first.seq, first.hash)),
            &NewEvent::new(Actor::daemon("evidock"), Action::Undocked, "device:A100001"),
            now,
            chrono_tz::Asia::Shanghai,
        )
        .expect("seals");
        assert_eq!(next.seq, 2);
        assert_eq!(next.prev_hash, first.hash);
        assert_eq!(next.hash, event_hash(&first.hash, &next));
        assert_eq!(next.actor_role, "system");
        assert_eq!(next.details, "{}");
        assert_eq!(next.ts_utc, "2024-12-31T23:59:59.000Z");
        assert_eq!(next.ts_local, "2025-01-01T07:59:59.000+08:00");
        let full = seal(
            Some((i64::MAX as u64, [0; 32])),
            &NewEvent::new(Actor::daemon("d"), Action::Docked, "x"),
            now,
            chrono_tz::UTC,
        );
        assert_eq!(full, Err(EventError::SeqOverflow { last: i64::MAX as u64 }));
    }

    #[test]
    fn names_are_stable_unique_and_parse_back() {
        let names: Vec<&str> = Action::ALL.iter().map(|a| a.as_str()).collect();
        assert_eq!(
            names.join(" "),
            "daemon_started daemon_stopped docked undocked unknown_volume usb_arrived usb_departed identity_read \
             clock_drift clock_set ingest_started segment_copied segment_verified segment_flagged session_verified \
             gap_found hostile_entry copy_failed ingest_abandoned ingest_finished segment_wiped recorder_wiped \
             wipe_skipped archive_recovered log_verified device_registered device_retired case_created case_labelled \
             footage_assigned gap_explained retention_flag_set retention_flag_withdrawn hold_placed hold_released \
             purge_requested purge_approved purge_cancelled purge_executed report_made call_refused \
             confidentiality_marked confidentiality_cleared access_requested access_approved access_denied \
             access_expired footage_viewed footage_copied footage_exported burn_planned disc_staged disc_written \
             disc_verified disc_failed disc_moved disc_rechecked config_changed \
             identity_conflict impossible_value ingest_degraded contradiction_found session_remembered \
             signing_key_recorded checkpoint_refused deadline_recorded catalogue_mismatch \
             fixity_failed archive_scrubbed central_confirmed central_lock_changed central_alarm \
             recorder_login storage_mode_set duty_checked_out duty_refused duty_checked_in \
             duty_return_recorded handover_extension_requested handover_extension_approved \
             footage_evicted footage_recalled \
             access_voided flag_withdrawal_requested deadline_returned \
             archive_stalled log_point_verified footage_described \
             gap_reviewed recording_exemption_recorded recording_exemption_approved \
             account_changed signed_in sign_in_failed account_locked signed_out burn_started \
             docking_reviewed"
        );
        for a in Action::ALL {
            assert_eq!(Action::parse(a.as_str()), Some(a));
            assert!(!a.label_zh().is_empty());
        }
        let mut labels: Vec<&str> = Action::ALL.iter().map(|a| a.label_zh()).collect();
        labels.sort_unstable();
        labels.dedup();
        assert_eq!(labels.len(), Action::ALL.len(), "Chinese labels are distinct");
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Some(r));
        }
        assert_eq!(Role::parse("root"), None);
        assert_eq!(Action::parse("Docked"), None);
    }

    #[test]
    fn an_encoding_reads_back_into_its_event_and_nothing_else_does() {
        let ev = StoredEvent {
            seq: 42,
            ts_utc: "2024-05-01T08:30:00.125Z".into(),
            ts_local: "2024-05-01T16:30:00.125+08:00".into(),
            actor_user: "zhangsan".into(),
            actor_role: "custodian".into(),
            actor_officer: Some("012345".into()),
            action: "docked".into(),
            subject: "device:A100001".into(),
            details: "{\"officer_name\":\"张三\"}".into(),
            prev_hash: [0; 32],
            hash: [0; 32],
        };
        let bytes = encode(&ev);
        assert_eq!(decode(&bytes), Some(ev.clone()));
        let plain = StoredEvent { actor_officer: None, ..ev };
        assert_eq!(decode(&encode(&plain)), Some(plain));
        assert_eq!(decode(&bytes[..bytes.len() - 1]), None, "cut short");
        assert_eq!(decode(&[bytes.clone(), vec![0]].concat()), None, "a byte too many");
        assert_eq!(decode(&[]), None);
    }

    /// The normative document lists every action and role with its Chinese label.
    #[test]
    fn the_format_document_lists_every_action_and_role() {
        let doc = include_str!("../../docs/CUSTODY-LOG.md");
        for a in Action::ALL {
            assert!(doc.contains(&format!("| `{}` | {} |", a.as_str(), a.label_zh())), "{} missing", a.as_str());
        }
        for r in Role::ALL {
            assert!(doc.contains(&format!("| `{}` | {}", r.as_str(), r.label_zh())), "{} missing", r.as_str());
        }
    }

    /// INV: the event module is pure (no I/O, no database, no clock).
    #[test]
    fn event_module_is_pure() {
        crate::custody::chain::tests::assert_pure(include_str!("event.rs"));
    }
}
