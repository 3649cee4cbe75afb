//! The recorder contract, version 1 (`ZFY-CUSTODY/1`): identity file, segment names and
//! segment hash chain records, with their canonical encoding and parsers.
//!
//! Owns: the bytes a recorder writes and how they are read. Pure: no I/O, no clock; every
//! parser takes bytes and returns typed values or a [`FormatError`] naming the line and field.
//! Must never: guess at malformed input (a bad field is an error, never a default), or
//! replace undecodable text (GBK names are decoded exactly or refused).
//!
//! The normative description is `docs/RECORDER-FORMAT.md`; this module is its reference
//! implementation. Requirements: R2 (clock), R5 (chain), R6 (interruptions), R13 (times), R14
//! (health).

use std::fmt;

use chrono::NaiveDateTime;

/// Version tag every identity file and genesis record carries.
pub const FORMAT_VERSION: &str = "ZFY-CUSTODY/1";
/// Identity file, at the volume root.
pub const IDENTITY_FILE: &str = "ZFYINFO.TXT";
/// Folder holding one chain file per recording session.
pub const CHAIN_DIR: &str = "ZFY/CHAIN";
/// Extension of a chain file.
pub const CHAIN_EXT: &str = "CHN";
/// Folder holding dated footage folders (`DCIM/YYYYMMDD/`).
pub const FOOTAGE_DIR: &str = "DCIM";
/// File a dock writes to ask the recorder to set its clock (the `SyncDevTime` request).
pub const SYNC_TIME_FILE: &str = "ZFY/SYNCTIME.TXT";
/// Largest identity file a dock reads.
pub const MAX_IDENTITY_BYTES: u64 = 64 * 1024;
/// Largest chain file a dock reads.
pub const MAX_CHAIN_BYTES: u64 = 64 * 1024 * 1024;
/// Wall-clock format used in identity and chain records (device local time, no zone).
pub const WALL_FORMAT: &str = "%Y-%m-%dT%H:%M:%S";

/// A BLAKE3 digest.
pub type Digest = [u8; 32];

/// The all-zero link that precedes every genesis record.
pub const ZERO_LINK: Digest = [0u8; 32];

/// Why a line or field could not be read. Carries the line number (1-based, 0 for the whole
/// input) and a human-readable reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {reason}")]
pub struct FormatError {
    /// 1-based line number, 0 when the error concerns the whole input.
    pub line: usize,
    /// What is wrong, naming the field.
    pub reason: String,
}

impl FormatError {
    fn new(line: usize, reason: impl Into<String>) -> FormatError {
        FormatError { line, reason: reason.into() }
    }
}

// ---------------------------------------------------------------------------------------------
// Identity (GetZFYInfo)
// ---------------------------------------------------------------------------------------------

/// What a recorder tells about itself (the `GetZFYInfo` answer), read from [`IDENTITY_FILE`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// Device serial, 7 characters `[0-9A-Z]`.
    pub serial: String,
    /// Bound officer badge number (警号), 6 characters `[0-9A-Z]`.
    pub badge: String,
    /// Officer name, decoded from GBK (or UTF-8 with BOM).
    pub officer_name: Option<String>,
    /// Officer unit.
    pub unit: Option<String>,
    /// Model name.
    pub model: String,
    /// Firmware version.
    pub firmware: String,
    /// The recorder's clock when it entered storage mode (device local time).
    pub clock: NaiveDateTime,
    /// Offset of the device clock's zone in seconds east of UTC, where the recorder states it.
    pub clock_utc_offset: Option<i32>,
    /// Whether the recorder honours a [`SYNC_TIME_FILE`] request.
    pub clock_settable: bool,
    /// Whether the recorder writes a segment hash chain.
    pub writes_chain: bool,
    /// Free storage in bytes, where known.
    pub storage_free: Option<u64>,
    /// Total storage in bytes, where known.
    pub storage_total: Option<u64>,
    /// Battery charge in percent, where known.
    pub battery_percent: Option<u8>,
}

/// Decodes identity text: UTF-8 when it starts with a UTF-8 byte-order mark, GBK (as its
/// superset GB18030) otherwise. Malformed sequences are an error, never replaced.
///
/// # Errors
/// When the bytes are not valid in the detected encoding.
pub fn decode_text(bytes: &[u8]) -> Result<String, FormatError> {
    if let Some(rest) = bytes.strip_prefix(b"\xEF\xBB\xBF") {
        return String::from_utf8(rest.to_vec())
            .map_err(|e| FormatError::new(0, format!("invalid UTF-8 at byte {}", e.utf8_error().valid_up_to() + 3)));
    }
    encoding_rs::GB18030
        .decode_without_bom_handling_and_without_replacement(bytes)
        .map(|s| s.into_owned())
        .ok_or_else(|| FormatError::new(0, "text is neither valid GBK nor UTF-8 with a byte-order mark"))
}

/// Encodes text as GBK, the way recorders write their identity file.
///
/// # Errors
/// When a character has no GBK encoding.
pub fn encode_gbk(text: &str) -> Result<Vec<u8>, FormatError> {
    let (bytes, _, unmappable) = encoding_rs::GBK.encode(text);
    if unmappable {
        return Err(FormatError::new(0, format!("{text:?} has characters GBK cannot encode")));
    }
    Ok(bytes.into_owned())
}

fn is_id_char(c: char) -> bool {
    c.is_ascii_digit() || c.is_ascii_uppercase()
}

fn check_id(line: usize, key: &str, value: &str, len: usize) -> Result<(), FormatError> {
    if value.chars().count() != len || !value.chars().all(is_id_char) {
        return Err(FormatError::new(line, format!("{key} must be {len} characters 0-9 A-Z, found {value:?}")));
    }
    Ok(())
}

fn parse_num<T: std::str::FromStr>(line: usize, key: &str, value: &str) -> Result<T, FormatError> {
    value.parse().map_err(|_| FormatError::new(line, format!("{key}: not a valid number: {value:?}")))
}

fn parse_flag(line: usize, key: &str, value: &str) -> Result<bool, FormatError> {
    match value {
        "1" => Ok(true),
        "0" => Ok(false),
        _ => Err(FormatError::new(line, format!("{key}: expected 0 or 1, found {value:?}"))),
    }
}

/// Parses a wall-clock time in [`WALL_FORMAT`].
///
/// # Errors
/// When the text is not such a time.
pub fn parse_wall(line: usize, key: &str, value: &str) -> Result<NaiveDateTime, FormatError> {
    NaiveDateTime::parse_from_str(value, WALL_FORMAT)
        .map_err(|_| FormatError::new(line, format!("{key}: expected YYYY-MM-DDThh:mm:ss, found {value:?}")))
}

/// Formats a wall-clock time in [`WALL_FORMAT`].
pub fn format_wall(t: NaiveDateTime) -> String {
    t.format(WALL_FORMAT).to_string()
}

fn parse_offset(line: usize, value: &str) -> Result<i32, FormatError> {
    let bad = || FormatError::new(line, format!("clock_tz: expected +HH:MM or -HH:MM, found {value:?}"));
    let (sign, rest) = match value.as_bytes().first() {
        Some(b'+') => (1, &value[1..]),
        Some(b'-') => (-1, &value[1..]),
        _ => return Err(bad()),
    };
    let (h, m) = rest.split_once(':').ok_or_else(bad)?;
    let h: i32 = h.parse().map_err(|_| bad())?;
    let m: i32 = m.parse().map_err(|_| bad())?;
    if !(0..=14).contains(&h) || !(0..60).contains(&m) || rest.len() != 5 {
        return Err(bad());
    }
    Ok(sign * (h * 3600 + m * 60))
}

impl Identity {
    /// Parses an identity file's bytes (see [`decode_text`] for the encoding).
    ///
    /// # Errors
    /// On a missing required key, an unknown key, a repeated key or a bad value.
    pub fn parse(bytes: &[u8]) -> Result<Identity, FormatError> {
        let text = decode_text(bytes)?;
        let mut fields: Vec<(usize, &str, &str)> = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let line = i + 1;
            let raw = raw.trim_end_matches('\r');
            if raw.trim().is_empty() || raw.starts_with('#') {
                continue;
            }
            let (k, v) = raw
                .split_once('=')
                .ok_or_else(|| FormatError::new(line, format!("expected key=value, found {raw:?}")))?;
            let (k, v) = (k.trim(), v.trim());
            if v.chars().any(char::is_control) {
                return Err(FormatError::new(line, format!("{k}: control characters are not allowed")));
            }
            if fields.iter().any(|(_, seen, _)| *seen == k) {
                return Err(FormatError::new(line, format!("{k} is given twice")));
            }
            fields.push((line, k, v));
        }
        let get = |key: &str| fields.iter().find(|(_, k, _)| *k == key).map(|(l, _, v)| (*l, *v));
        let need = |key: &str| get(key).ok_or_else(|| FormatError::new(0, format!("required key {key} is missing")));

        for (line, k, _) in &fields {
            const KNOWN: &[&str] = &[
                "format",
                "serial",
                "badge",
                "officer_name",
                "unit",
                "model",
                "firmware",
                "clock",
                "clock_tz",
                "clock_settable",
                "chain",
                "storage_free",
                "storage_total",
                "battery",
            ];
            if !KNOWN.contains(k) {
                return Err(FormatError::new(*line, format!("unknown key {k}")));
            }
        }
        let (line, format) = need("format")?;
        if format != FORMAT_VERSION {
            return Err(FormatError::new(line, format!("format: expected {FORMAT_VERSION}, found {format:?}")));
        }
        let (line, serial) = need("serial")?;
        check_id(line, "serial", serial, 7)?;
        let (line, badge) = need("badge")?;
        check_id(line, "badge", badge, 6)?;
        let text_opt = |key: &str| get(key).map(|(_, v)| v.to_string()).filter(|v| !v.is_empty());
        let (_, model) = need("model")?;
        let (_, firmware) = need("firmware")?;
        let (line, clock) = need("clock")?;
        let clock = parse_wall(line, "clock", clock)?;
        let clock_utc_offset = get("clock_tz").map(|(l, v)| parse_offset(l, v)).transpose()?;
        let flag = |key: &str, default: bool| {
            get(key).map(|(l, v)| parse_flag(l, key, v)).transpose().map(|f| f.unwrap_or(default))
        };
        let num = |key: &str| get(key).map(|(l, v)| parse_num::<u64>(l, key, v)).transpose();
        let battery_percent = match get("battery") {
            None => None,
            Some((l, v)) => {
                let b: u8 = parse_num(l, "battery", v)?;
                if b > 100 {
                    return Err(FormatError::new(l, format!("battery: percent above 100: {b}")));
                }
                Some(b)
            }
        };
        Ok(Identity {
            serial: serial.to_string(),
            badge: badge.to_string(),
            officer_name: text_opt("officer_name"),
            unit: text_opt("unit"),
            model: model.to_string(),
            firmware: firmware.to_string(),
            clock,
            clock_utc_offset,
            clock_settable: flag("clock_settable", false)?,
            writes_chain: flag("chain", true)?,
            storage_free: num("storage_free")?,
            storage_total: num("storage_total")?,
            battery_percent,
        })
    }

    /// Renders the identity as UTF-8 text in the file's key order (a recorder would encode it
    /// with [`encode_gbk`]).
    pub fn render(&self) -> String {
        let mut s = format!("format={FORMAT_VERSION}\nserial={}\nbadge={}\n", self.serial, self.badge);
        if let Some(n) = &self.officer_name {
            s += &format!("officer_name={n}\n");
        }
        if let Some(u) = &self.unit {
            s += &format!("unit={u}\n");
        }
        s += &format!("model={}\nfirmware={}\nclock={}\n", self.model, self.firmware, format_wall(self.clock));
        if let Some(off) = self.clock_utc_offset {
            let sign = if off < 0 { '-' } else { '+' };
            let off = off.abs();
            s += &format!("clock_tz={sign}{:02}:{:02}\n", off / 3600, off % 3600 / 60);
        }
        s += &format!("clock_settable={}\nchain={}\n", u8::from(self.clock_settable), u8::from(self.writes_chain));
        if let Some(v) = self.storage_free {
            s += &format!("storage_free={v}\n");
        }
        if let Some(v) = self.storage_total {
            s += &format!("storage_total={v}\n");
        }
        if let Some(v) = self.battery_percent {
            s += &format!("battery={v}\n");
        }
        s
    }
}

// ---------------------------------------------------------------------------------------------
// Segment names
// ---------------------------------------------------------------------------------------------

/// What a segment holds, from its extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MediaKind {
    /// `MP4`, code `V`.
    Video,
    /// `WAV`, code `A`.
    Audio,
    /// `JPG`, code `P`.
    Photo,
}

impl MediaKind {
    /// One-letter code used in chain records.
    pub fn code(self) -> &'static str {
        match self {
            MediaKind::Video => "V",
            MediaKind::Audio => "A",
            MediaKind::Photo => "P",
        }
    }
    /// File extension (upper case).
    pub fn extension(self) -> &'static str {
        match self {
            MediaKind::Video => "MP4",
            MediaKind::Audio => "WAV",
            MediaKind::Photo => "JPG",
        }
    }
    fn from_code(line: usize, s: &str) -> Result<MediaKind, FormatError> {
        match s {
            "V" => Ok(MediaKind::Video),
            "A" => Ok(MediaKind::Audio),
            "P" => Ok(MediaKind::Photo),
            _ => Err(FormatError::new(line, format!("kind: expected V, A or P, found {s:?}"))),
        }
    }
    fn from_extension(s: &str) -> Option<MediaKind> {
        match s.to_ascii_uppercase().as_str() {
            "MP4" => Some(MediaKind::Video),
            "WAV" => Some(MediaKind::Audio),
            "JPG" => Some(MediaKind::Photo),
            _ => None,
        }
    }
}

/// A segment file name: `<serial>_<badge>_<YYYYMMDDhhmmss>_<seq:06>.<EXT>`, e.g.
/// `A123456_012345_20240501093015_000042.MP4`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentName {
    /// Device serial.
    pub serial: String,
    /// Officer badge number.
    pub badge: String,
    /// Start (device wall clock).
    pub start: NaiveDateTime,
    /// Sequence number, never reset on the device.
    pub seq: u64,
    /// Media kind, from the extension.
    pub kind: MediaKind,
}

impl SegmentName {
    /// Parses a file name; `None` when it does not follow the pattern.
    pub fn parse(name: &str) -> Option<SegmentName> {
        let (stem, ext) = name.rsplit_once('.')?;
        let kind = MediaKind::from_extension(ext)?;
        let mut parts = stem.split('_');
        let serial = parts.next()?;
        let badge = parts.next()?;
        let start = parts.next()?;
        let seq = parts.next()?;
        if parts.next().is_some()
            || serial.len() != 7
            || badge.len() != 6
            || !serial.chars().all(is_id_char)
            || !badge.chars().all(is_id_char)
            || start.len() != 14
            || seq.len() < 6
            || !seq.bytes().all(|b| b.is_ascii_digit())
        {
            return None;
        }
        let start = NaiveDateTime::parse_from_str(start, "%Y%m%d%H%M%S").ok()?;
        Some(SegmentName { serial: serial.into(), badge: badge.into(), start, seq: seq.parse().ok()?, kind })
    }

    /// The canonical file name.
    pub fn render(&self) -> String {
        format!(
            "{}_{}_{}_{:06}.{}",
            self.serial,
            self.badge,
            self.start.format("%Y%m%d%H%M%S"),
            self.seq,
            self.kind.extension()
        )
    }

    /// The dated folder the recorder puts it in, relative to the volume root.
    pub fn folder(&self) -> String {
        format!("{FOOTAGE_DIR}/{}", self.start.format("%Y%m%d"))
    }
}

// ---------------------------------------------------------------------------------------------
// Chain records
// ---------------------------------------------------------------------------------------------

/// Why a recorder interrupted recording between two segments (R6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InterruptReason {
    /// Battery exhausted or swapped.
    Battery,
    /// Storage full.
    StorageFull,
    /// Device fault.
    Fault,
    /// Weather (rain, cold, heat).
    Weather,
    /// Obstructed (by people or objects).
    Obstructed,
    /// Any other reason, explained by voice on restart.
    Other,
}

impl InterruptReason {
    /// All reasons, in code order.
    pub const ALL: [InterruptReason; 6] = [
        InterruptReason::Battery,
        InterruptReason::StorageFull,
        InterruptReason::Fault,
        InterruptReason::Weather,
        InterruptReason::Obstructed,
        InterruptReason::Other,
    ];
    /// Code used in chain records.
    pub fn code(self) -> &'static str {
        match self {
            InterruptReason::Battery => "battery",
            InterruptReason::StorageFull => "storage_full",
            InterruptReason::Fault => "fault",
            InterruptReason::Weather => "weather",
            InterruptReason::Obstructed => "obstructed",
            InterruptReason::Other => "other",
        }
    }
    /// Chinese label for reports.
    pub fn label_zh(self) -> &'static str {
        match self {
            InterruptReason::Battery => "电量不足",
            InterruptReason::StorageFull => "存储已满",
            InterruptReason::Fault => "设备故障",
            InterruptReason::Weather => "天气原因",
            InterruptReason::Obstructed => "遭遇阻挠",
            InterruptReason::Other => "其他原因",
        }
    }
    fn from_code(line: usize, s: &str) -> Result<InterruptReason, FormatError> {
        InterruptReason::ALL
            .into_iter()
            .find(|r| r.code() == s)
            .ok_or_else(|| FormatError::new(line, format!("reason: unknown interruption reason {s:?}")))
    }
}

/// One record of a session's chain, without its link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    /// `GEN`: opens a session.
    Genesis {
        /// Device serial.
        serial: String,
        /// Session identifier, `[0-9A-Za-z-]`, unique on the device.
        session: String,
        /// Boot identifier, `[0-9A-Za-z-]`, new at every power-on.
        boot: String,
        /// The sequence number the next segment will carry.
        first_seq: u64,
        /// Wall clock at session start.
        wall: NaiveDateTime,
        /// Milliseconds since boot at session start.
        mono_ms: u64,
        /// Last link of the previous session on this device, `None` for the first.
        prev_tail: Option<Digest>,
    },
    /// `SEG`: one finished segment.
    Segment {
        /// Sequence number.
        seq: u64,
        /// File name (see [`SegmentName`]).
        name: String,
        /// Media kind.
        kind: MediaKind,
        /// Wall clock at the first frame.
        start: NaiveDateTime,
        /// Wall clock at the last frame.
        end: NaiveDateTime,
        /// Monotonic milliseconds at the first frame.
        mono_start_ms: u64,
        /// Monotonic milliseconds at the last frame.
        mono_end_ms: u64,
        /// Size in bytes.
        size: u64,
        /// BLAKE3 of the whole file.
        hash: Digest,
    },
    /// `PART`: BLAKE3 of the first `offset` bytes of a segment still being written.
    Partial {
        /// Sequence number of the segment being written.
        seq: u64,
        /// Number of bytes attested.
        offset: u64,
        /// BLAKE3 of bytes `0..offset`.
        hash: Digest,
        /// Wall clock.
        wall: NaiveDateTime,
        /// Monotonic milliseconds.
        mono_ms: u64,
    },
    /// `INT`: recording interrupted, for a reason, before the next segment.
    Interruption {
        /// Why.
        reason: InterruptReason,
        /// Wall clock when recording stopped.
        wall: NaiveDateTime,
        /// Monotonic milliseconds when recording stopped.
        mono_ms: u64,
    },
    /// `BOOT`: the recorder restarted within the session; monotonic time restarts at zero.
    Reboot {
        /// New boot identifier.
        boot: String,
        /// Wall clock after the restart.
        wall: NaiveDateTime,
    },
    /// `CLK`: the wall clock was set; `old` and `new` readings at the same monotonic instant.
    ClockJump {
        /// Wall clock before.
        old: NaiveDateTime,
        /// Wall clock after.
        new: NaiveDateTime,
        /// Monotonic milliseconds.
        mono_ms: u64,
    },
    /// `END`: the session ended normally.
    Close {
        /// Sequence number of the last segment (`first_seq - 1` when none).
        last_seq: u64,
        /// Number of segments in the session.
        segments: u64,
        /// Wall clock.
        wall: NaiveDateTime,
        /// Monotonic milliseconds.
        mono_ms: u64,
    },
}

/// A record with the link the recorder wrote after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Linked {
    /// 1-based line in the chain file.
    pub line: usize,
    /// The record.
    pub record: Record,
    /// The link as written: `BLAKE3(previous link || canonical encoding)`.
    pub link: Digest,
}

/// Lower-case hex of a digest.
pub fn hex(d: &Digest) -> String {
    blake3::Hash::from_bytes(*d).to_hex().to_string()
}

/// Parses 64 hex digits.
///
/// # Errors
/// When the text is not 64 hex digits.
pub fn parse_hex(line: usize, key: &str, s: &str) -> Result<Digest, FormatError> {
    if s.len() != 64 || !s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
        return Err(FormatError::new(line, format!("{key}: expected 64 lower-case hex digits, found {s:?}")));
    }
    blake3::Hash::from_hex(s).map(|h| *h.as_bytes()).map_err(|_| FormatError::new(line, format!("{key}: bad hex")))
}

fn is_token(s: &str) -> bool {
    !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

impl Record {
    /// The record type tag.
    pub fn tag(&self) -> &'static str {
        match self {
            Record::Genesis { .. } => "GEN",
            Record::Segment { .. } => "SEG",
            Record::Partial { .. } => "PART",
            Record::Interruption { .. } => "INT",
            Record::Reboot { .. } => "BOOT",
            Record::ClockJump { .. } => "CLK",
            Record::Close { .. } => "END",
        }
    }

    /// The canonical encoding: the record's line without its trailing `|link`, as UTF-8 bytes.
    pub fn canonical(&self) -> String {
        let w = |t: &NaiveDateTime| format_wall(*t);
        match self {
            Record::Genesis { serial, session, boot, first_seq, wall, mono_ms, prev_tail } => format!(
                "GEN|{FORMAT_VERSION}|{serial}|{session}|{boot}|{first_seq}|{}|{mono_ms}|{}",
                w(wall),
                prev_tail.as_ref().map_or_else(|| "-".to_string(), hex)
            ),
            Record::Segment { seq, name, kind, start, end, mono_start_ms, mono_end_ms, size, hash } => format!(
                "SEG|{seq}|{name}|{}|{}|{}|{mono_start_ms}|{mono_end_ms}|{size}|{}",
                kind.code(),
                w(start),
                w(end),
                hex(hash)
            ),
            Record::Partial { seq, offset, hash, wall, mono_ms } => {
                format!("PART|{seq}|{offset}|{}|{}|{mono_ms}", hex(hash), w(wall))
            }
            Record::Interruption { reason, wall, mono_ms } => format!("INT|{}|{}|{mono_ms}", reason.code(), w(wall)),
            Record::Reboot { boot, wall } => format!("BOOT|{boot}|{}", w(wall)),
            Record::ClockJump { old, new, mono_ms } => format!("CLK|{}|{}|{mono_ms}", w(old), w(new)),
            Record::Close { last_seq, segments, wall, mono_ms } => {
                format!("END|{last_seq}|{segments}|{}|{mono_ms}", w(wall))
            }
        }
    }

    /// The link this record gets after `prev`.
    pub fn link_after(&self, prev: &Digest) -> Digest {
        let mut h = blake3::Hasher::new();
        h.update(prev);
        h.update(self.canonical().as_bytes());
        *h.finalize().as_bytes()
    }

    /// Parses one canonical encoding (a line without its link).
    ///
    /// # Errors
    /// On an unknown tag, a wrong field count or a bad field.
    pub fn parse(line: usize, s: &str) -> Result<Record, FormatError> {
        let f: Vec<&str> = s.split('|').collect();
        let want = |n: usize| {
            if f.len() == n {
                Ok(())
            } else {
                Err(FormatError::new(line, format!("{}: expected {} fields, found {}", f[0], n, f.len())))
            }
        };
        let num = |i: usize, key: &str| parse_num::<u64>(line, key, f[i]);
        let wall = |i: usize, key: &str| parse_wall(line, key, f[i]);
        let token = |i: usize, key: &str| {
            if is_token(f[i]) {
                Ok(f[i].to_string())
            } else {
                Err(FormatError::new(line, format!("{key}: expected 1-64 of [0-9A-Za-z-], found {:?}", f[i])))
            }
        };
        match f[0] {
            "GEN" => {
                want(9)?;
                if f[1] != FORMAT_VERSION {
                    return Err(FormatError::new(line, format!("GEN: unsupported version {:?}", f[1])));
                }
                check_id(line, "serial", f[2], 7)?;
                Ok(Record::Genesis {
                    serial: f[2].to_string(),
                    session: token(3, "session")?,
                    boot: token(4, "boot")?,
                    first_seq: num(5, "first_seq")?,
                    wall: wall(6, "wall")?,
                    mono_ms: num(7, "mono_ms")?,
                    prev_tail: if f[8] == "-" { None } else { Some(parse_hex(line, "prev_tail", f[8])?) },
                })
            }
            "SEG" => {
                want(10)?;
                let name = f[2];
                if SegmentName::parse(name).is_none() {
                    return Err(FormatError::new(line, format!("name: not a segment file name: {name:?}")));
                }
                Ok(Record::Segment {
                    seq: num(1, "seq")?,
                    name: name.to_string(),
                    kind: MediaKind::from_code(line, f[3])?,
                    start: wall(4, "start")?,
                    end: wall(5, "end")?,
                    mono_start_ms: num(6, "mono_start_ms")?,
                    mono_end_ms: num(7, "mono_end_ms")?,
                    size: num(8, "size")?,
                    hash: parse_hex(line, "blake3", f[9])?,
                })
            }
            "PART" => {
                want(6)?;
                Ok(Record::Partial {
                    seq: num(1, "seq")?,
                    offset: num(2, "offset")?,
                    hash: parse_hex(line, "blake3", f[3])?,
                    wall: wall(4, "wall")?,
                    mono_ms: num(5, "mono_ms")?,
                })
            }
            "INT" => {
                want(4)?;
                Ok(Record::Interruption {
                    reason: InterruptReason::from_code(line, f[1])?,
                    wall: wall(2, "wall")?,
                    mono_ms: num(3, "mono_ms")?,
                })
            }
            "BOOT" => {
                want(3)?;
                Ok(Record::Reboot { boot: token(1, "boot")?, wall: wall(2, "wall")? })
            }
            "CLK" => {
                want(4)?;
                Ok(Record::ClockJump { old: wall(1, "old")?, new: wall(2, "new")?, mono_ms: num(3, "mono_ms")? })
            }
            "END" => {
                want(5)?;
                Ok(Record::Close {
                    last_seq: num(1, "last_seq")?,
                    segments: num(2, "segments")?,
                    wall: wall(3, "wall")?,
                    mono_ms: num(4, "mono_ms")?,
                })
            }
            other => Err(FormatError::new(line, format!("unknown record type {other:?}"))),
        }
    }
}

/// A chain file as read: the records that parsed, and the lines that did not.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChainFile {
    /// Records in file order.
    pub records: Vec<Linked>,
    /// Lines that could not be parsed (kept, reported, never silently dropped).
    pub bad_lines: Vec<FormatError>,
}

impl ChainFile {
    /// Parses a chain file: one `<canonical>|<link>` line per record, `\n` line ends, ASCII.
    /// Bad lines are collected, not fatal: the verifier reports them.
    pub fn parse(bytes: &[u8]) -> ChainFile {
        let mut out = ChainFile::default();
        let text = match std::str::from_utf8(bytes) {
            Ok(t) => t,
            Err(e) => {
                out.bad_lines
                    .push(FormatError::new(0, format!("chain file is not ASCII/UTF-8 (byte {})", e.valid_up_to())));
                return out;
            }
        };
        for (i, raw) in text.lines().enumerate() {
            let line = i + 1;
            let raw = raw.trim_end_matches('\r');
            if raw.is_empty() {
                continue;
            }
            let parsed = raw
                .rsplit_once('|')
                .ok_or_else(|| FormatError::new(line, "missing link field"))
                .and_then(|(body, link)| Ok((Record::parse(line, body)?, parse_hex(line, "link", link)?)));
            match parsed {
                Ok((record, link)) => out.records.push(Linked { line, record, link }),
                Err(e) => out.bad_lines.push(e),
            }
        }
        out
    }

    /// Renders records as a chain file, computing links from [`ZERO_LINK`].
    pub fn render(records: &[Record]) -> String {
        let mut prev = ZERO_LINK;
        let mut s = String::new();
        for r in records {
            prev = r.link_after(&prev);
            s += &format!("{}|{}\n", r.canonical(), hex(&prev));
        }
        s
    }
}

impl fmt::Display for MediaKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MediaKind::Video => "video",
            MediaKind::Audio => "audio",
            MediaKind::Photo => "photo",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> NaiveDateTime {
        parse_wall(0, "t", s).unwrap()
    }

    #[test]
    fn identity_round_trips_through_gbk() {
        let id = Identity {
            serial: "A123456".into(),
            badge: "012345".into(),
            officer_name: Some("张三".into()),
            unit: Some("宜良县卫生健康局".into()),
            model: "DSJ-V9".into(),
            firmware: "2.1.0".into(),
            clock: t("2024-05-01T18:00:00"),
            clock_utc_offset: Some(8 * 3600),
            clock_settable: true,
            writes_chain: true,
            storage_free: Some(1 << 30),
            storage_total: Some(64 << 30),
            battery_percent: Some(87),
        };
        let bytes = encode_gbk(&id.render()).unwrap();
        assert_ne!(bytes, id.render().as_bytes(), "GBK differs from UTF-8 for Chinese text");
        assert_eq!(Identity::parse(&bytes).unwrap(), id);
        let mut bom = b"\xEF\xBB\xBF".to_vec();
        bom.extend_from_slice(id.render().as_bytes());
        assert_eq!(Identity::parse(&bom).unwrap(), id);
    }

    #[test]
    fn identity_errors_name_the_field() {
        let base =
            "format=ZFY-CUSTODY/1\nserial=A123456\nbadge=012345\nmodel=M\nfirmware=1\nclock=2024-05-01T18:00:00\n";
        assert!(Identity::parse(base.as_bytes()).is_ok());
        let check = |text: &str, expect: &str| {
            let err = Identity::parse(text.as_bytes()).unwrap_err().to_string();
            assert!(err.contains(expect), "{err:?} should contain {expect:?}");
        };
        check(&base.replace("A123456", "A12"), "serial must be 7 characters");
        check(&base.replace("badge=012345\n", ""), "required key badge is missing");
        check(&format!("{base}battery=140\n"), "battery: percent above 100");
        check(&format!("{base}colour=red\n"), "unknown key colour");
        check(&format!("{base}serial=B123456\n"), "serial is given twice");
        check(&base.replace("2024-05-01T18:00:00", "yesterday"), "clock: expected");
        // A lone GBK lead byte is malformed: refused, never replaced.
        let mut bad = base.as_bytes().to_vec();
        bad.extend_from_slice(b"unit=\xD5\n");
        assert!(Identity::parse(&bad).unwrap_err().reason.contains("neither valid GBK"));
    }

    #[test]
    fn segment_names() {
        let n = SegmentName::parse("A123456_012345_20240501093015_000042.MP4").unwrap();
        assert_eq!(n.seq, 42);
        assert_eq!(n.kind, MediaKind::Video);
        assert_eq!(n.folder(), "DCIM/20240501");
        assert_eq!(n.render(), "A123456_012345_20240501093015_000042.MP4");
        for bad in [
            "../x.MP4",
            "A123456_012345_20240501093015_000042.EXE",
            "a123456_012345_20240501093015_000042.MP4",
            "A123456_012345_20241301093015_000042.MP4",
            "A123456_012345_20240501093015_42.MP4",
        ] {
            assert!(SegmentName::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn records_round_trip_and_link() {
        let records = vec![
            Record::Genesis {
                serial: "A123456".into(),
                session: "S1".into(),
                boot: "B1".into(),
                first_seq: 1,
                wall: t("2024-05-01T09:30:00"),
                mono_ms: 10,
                prev_tail: None,
            },
            Record::Partial { seq: 1, offset: 4, hash: [1; 32], wall: t("2024-05-01T09:30:05"), mono_ms: 5010 },
            Record::Segment {
                seq: 1,
                name: "A123456_012345_20240501093000_000001.MP4".into(),
                kind: MediaKind::Video,
                start: t("2024-05-01T09:30:00"),
                end: t("2024-05-01T09:40:00"),
                mono_start_ms: 10,
                mono_end_ms: 600_010,
                size: 8,
                hash: [2; 32],
            },
            Record::Interruption { reason: InterruptReason::Battery, wall: t("2024-05-01T09:40:00"), mono_ms: 600_010 },
            Record::Reboot { boot: "B2".into(), wall: t("2024-05-01T09:45:00") },
            Record::ClockJump { old: t("2024-05-01T09:45:01"), new: t("2024-05-01T09:45:03"), mono_ms: 1000 },
            Record::Close { last_seq: 1, segments: 1, wall: t("2024-05-01T09:50:00"), mono_ms: 300_000 },
        ];
        let text = ChainFile::render(&records);
        let parsed = ChainFile::parse(text.as_bytes());
        assert!(parsed.bad_lines.is_empty(), "{:?}", parsed.bad_lines);
        assert_eq!(parsed.records.iter().map(|l| l.record.clone()).collect::<Vec<_>>(), records);
        let mut prev = ZERO_LINK;
        for l in &parsed.records {
            assert_eq!(l.record.link_after(&prev), l.link);
            prev = l.link;
        }
    }

    #[test]
    fn bad_chain_lines_are_kept_as_errors() {
        let parsed = ChainFile::parse(b"SEG|1|x\nNOPE|1|aa\n\xff\n");
        assert!(parsed.records.is_empty());
        assert_eq!(parsed.bad_lines.len(), 1, "non-UTF-8 input is one whole-file error");
        let parsed = ChainFile::parse(b"SEG|1|x\nNOPE|1|aa\n");
        assert_eq!(parsed.bad_lines.iter().map(|e| e.line).collect::<Vec<_>>(), vec![1, 2]);
    }
}

#[cfg(test)]
mod hostile_input {
    //! Parsers fed arbitrary bytes: never a panic, always a value or a clear error.
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

        #[test]
        fn identity_parser_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            let _ = Identity::parse(&bytes);
        }

        #[test]
        fn identity_parser_survives_mutated_valid_files(
            pos in 0usize..200, byte in any::<u8>(), cut in 0usize..250,
        ) {
            let good = "format=ZFY-CUSTODY/1\nserial=A123456\nbadge=012345\nofficer_name=张三\nmodel=M\nfirmware=1\nclock=2024-05-01T18:00:00\nbattery=80\n";
            let mut b = encode_gbk(good).unwrap();
            let p = pos % b.len();
            b[p] = byte;
            b.truncate(cut.min(b.len()));
            if let Ok(id) = Identity::parse(&b) {
                prop_assert_eq!(id.serial.len(), 7);
                prop_assert_eq!(id.badge.len(), 6);
            }
        }

        #[test]
        fn chain_parser_never_panics(text in "(GEN|SEG|PART|INT|BOOT|CLK|END|\\||[0-9a-f]{1,64}|[A-Z0-9_.:-]{1,20}|\n|\u{0}|é){0,60}") {
            let c = ChainFile::parse(text.as_bytes());
            for l in &c.records {
                // Anything that parsed renders back to the same canonical line.
                let again = Record::parse(l.line, &l.record.canonical());
                prop_assert_eq!(again.as_ref(), Ok(&l.record));
            }
        }

        #[test]
        fn chain_parser_never_panics_on_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..800)) {
            let _ = ChainFile::parse(&bytes);
        }

        #[test]
        fn segment_names_never_panic(name in "\\PC{0,60}") {
            if let Some(n) = SegmentName::parse(&name) {
                prop_assert_eq!(SegmentName::parse(&n.render()), Some(n));
            }
        }
    }
}
