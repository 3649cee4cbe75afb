//! Archive layout: where a segment is filed (R4), as a pure function of its recording start,
//! its case and its device.
//!
//! `<archive root>/YYYY/MM/DD/<case folder>/<device serial>/<file name>`, dated by the
//! recording's corrected start in the station's time zone. Footage not yet assigned to a case
//! goes to the day's holding folder [`HOLDING_FOLDER`]. Case folder names come from case
//! numbers such as `宜卫罚〔2024〕12号`: Chinese is kept, anything unsafe is escaped reversibly.
//!
//! Must never: touch the filesystem, or produce a path that leaves the archive root (every
//! component is a single safe name).

use chrono::{NaiveDate, NaiveDateTime};

/// The holding folder of a day, for footage not yet assigned to a case. It contains `+`,
/// which case folder names always escape, so no case number can collide with it.
pub const HOLDING_FOLDER: &str = "未关联案件+UNASSIGNED";

/// Folder, inside a device folder, holding the chain files (the recorder's and the dock's).
pub const CHAIN_FOLDER: &str = "chain";

/// Prefix of temporary files inside the archive; never a complete file (INV-2).
pub const TEMP_PREFIX: &str = ".evidock-tmp.";

/// Longest case number accepted, in characters.
pub const MAX_CASE_CHARS: usize = 80;

/// A case number that cannot become a folder name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LayoutError {
    /// Empty or only white space.
    #[error("case number is empty")]
    EmptyCase,
    /// Too long.
    #[error("case number {0:?} is too long (at most {MAX_CASE_CHARS} characters, 200 bytes once escaped)")]
    CaseTooLong(String),
    /// A folder name that is not an escaped case number.
    #[error("folder name {0:?} is not an escaped case number")]
    NotACaseFolder(String),
    /// A name that is not safe as one path component.
    #[error("{0:?} is not a safe file name")]
    UnsafeName(String),
}

/// Characters kept as they are in case folder names: letters and digits of any script, and
/// the punctuation case numbers use. Everything else, `%` and `+` included, is escaped.
fn keep(c: char) -> bool {
    c.is_alphanumeric() || "〔〕【】（）《》()[]-_·—－，、".contains(c)
}

/// The folder name for a case number: kept characters as they are, every other character
/// as `%XX` per UTF-8 byte. Reversible with [`case_from_folder`].
///
/// # Errors
/// When the case number is empty or longer than [`MAX_CASE_CHARS`].
pub fn case_folder(case_number: &str) -> Result<String, LayoutError> {
    let trimmed = case_number.trim();
    if trimmed.is_empty() {
        return Err(LayoutError::EmptyCase);
    }
    if trimmed.chars().count() > MAX_CASE_CHARS {
        return Err(LayoutError::CaseTooLong(trimmed.to_string()));
    }
    let mut out = String::new();
    for c in trimmed.chars() {
        if keep(c) {
            out.push(c);
        } else {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("%{b:02X}"));
            }
        }
    }
    if out.len() > 200 {
        return Err(LayoutError::CaseTooLong(trimmed.to_string()));
    }
    Ok(out)
}

/// The case number a folder name stands for.
///
/// # Errors
/// When the name is not the output of [`case_folder`].
pub fn case_from_folder(folder: &str) -> Result<String, LayoutError> {
    let bad = || LayoutError::NotACaseFolder(folder.to_string());
    let mut bytes = Vec::new();
    let mut chars = folder.chars();
    while let Some(c) = chars.next() {
        if c == '%' {
            let hex: String = chars.by_ref().take(2).collect();
            let b = u8::from_str_radix(&hex, 16).map_err(|_| bad())?;
            if hex.len() != 2 || hex.to_uppercase() != hex {
                return Err(bad());
            }
            bytes.push(b);
        } else if keep(c) {
            let mut buf = [0u8; 4];
            bytes.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
        } else {
            return Err(bad());
        }
    }
    let s = String::from_utf8(bytes).map_err(|_| bad())?;
    if case_folder(&s).as_deref() != Ok(folder) {
        return Err(bad());
    }
    Ok(s)
}

/// Whether `name` is safe as one path component inside the archive: non-empty, at most 200
/// bytes, no `/`, no NUL or control characters, not `.` or `..`, not hidden.
pub fn is_safe_component(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 200
        && !name.starts_with('.')
        && !name.contains('/')
        && !name.chars().any(|c| c.is_control())
}

/// The date folder `YYYY/MM/DD` for a local date.
pub fn date_folder(date: NaiveDate) -> String {
    date.format("%Y/%m/%d").to_string()
}

/// Where a segment is filed, relative to the archive root.
///
/// `start` is the recording's corrected start in the station's time zone; `case_folder` is
/// `None` for the holding folder.
///
/// # Errors
/// When the serial or file name is not a safe path component.
pub fn segment_path(
    start: NaiveDateTime,
    case_folder: Option<&str>,
    serial: &str,
    file_name: &str,
) -> Result<String, LayoutError> {
    for part in [serial, file_name] {
        if !is_safe_component(part) {
            return Err(LayoutError::UnsafeName(part.to_string()));
        }
    }
    Ok(format!("{}/{}/{serial}/{file_name}", date_folder(start.date()), case_folder.unwrap_or(HOLDING_FOLDER)))
}

/// Where a chain file of a session that started at `start` is filed, relative to the root.
///
/// # Errors
/// When the serial or file name is not a safe path component.
pub fn chain_path(start: NaiveDateTime, serial: &str, file_name: &str) -> Result<String, LayoutError> {
    for part in [serial, file_name] {
        if !is_safe_component(part) {
            return Err(LayoutError::UnsafeName(part.to_string()));
        }
    }
    Ok(format!("{}/{HOLDING_FOLDER}/{serial}/{CHAIN_FOLDER}/{file_name}", date_folder(start.date())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn chinese_case_numbers_stay_readable() {
        assert_eq!(case_folder("宜卫罚〔2024〕12号").unwrap(), "宜卫罚〔2024〕12号");
        assert_eq!(case_folder(" 东医保〔2019〕3号 ").unwrap(), "东医保〔2019〕3号");
    }

    #[test]
    fn unsafe_characters_are_escaped_reversibly() {
        for (case, folder) in [
            ("../etc", "%2E%2E%2Fetc"),
            ("a/b", "a%2Fb"),
            ("50%", "50%25"),
            ("x+UNASSIGNED", "x%2BUNASSIGNED"),
            ("a\nb", "a%0Ab"),
            ("案 1", "案%201"),
        ] {
            assert_eq!(case_folder(case).unwrap(), folder, "{case:?}");
            assert_eq!(case_from_folder(folder).unwrap(), case);
        }
        assert_eq!(case_folder("  ").unwrap_err(), LayoutError::EmptyCase);
        assert!(matches!(case_folder(&"长".repeat(81)), Err(LayoutError::CaseTooLong(_))));
        assert!(case_from_folder(HOLDING_FOLDER).is_err(), "the holding folder is no case");
        assert!(case_from_folder("%2e").is_err(), "lower-case escapes are not canonical");
        assert!(case_from_folder("%E5").is_err(), "a broken UTF-8 sequence is not a case");
    }

    #[test]
    fn paths() {
        let t = NaiveDateTime::parse_from_str("2024-05-01T09:30:15", "%Y-%m-%dT%H:%M:%S").unwrap();
        assert_eq!(
            segment_path(t, None, "A123456", "A123456_012345_20240501093015_000042.MP4").unwrap(),
            "2024/05/01/未关联案件+UNASSIGNED/A123456/A123456_012345_20240501093015_000042.MP4"
        );
        assert_eq!(
            segment_path(t, Some("宜卫罚〔2024〕12号"), "A123456", "x.MP4").unwrap(),
            "2024/05/01/宜卫罚〔2024〕12号/A123456/x.MP4"
        );
        assert!(segment_path(t, None, "..", "x").is_err());
        assert!(segment_path(t, None, "A1", ".hidden").is_err());
        assert!(chain_path(t, "A1", "a/b").is_err());
    }

    proptest! {
        #[test]
        fn any_case_number_round_trips_to_one_safe_component(case in "\\PC{1,40}") {
            if let Ok(folder) = case_folder(&case) {
                prop_assert!(is_safe_component(&folder));
                prop_assert!(!folder.contains('/') && folder != HOLDING_FOLDER);
                prop_assert_eq!(case_from_folder(&folder).unwrap(), case.trim());
            }
        }
    }
}
