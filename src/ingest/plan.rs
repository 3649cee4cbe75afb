//! The pure part of an ingest: where each file goes and what its times are once corrected
//! for the recorder's clock drift (R2, R4, R13).
//!
//! Must never: do I/O or read a clock; `dock_now` and the drift are inputs.

use chrono::{Duration, NaiveDateTime};

use crate::archive::layout::{self, LayoutError};
use crate::recorder::format::SegmentName;

/// Drift of the recorder clock: device reading minus dock reading, in whole seconds.
pub fn drift_seconds(device: NaiveDateTime, dock: NaiveDateTime) -> i64 {
    (device - dock).num_seconds()
}

/// A device wall-clock time corrected by the drift measured at docking (the recorder's
/// clock is assumed to have drifted steadily; footage is flagged when the drift exceeds the
/// configured threshold).
pub fn corrected(device: NaiveDateTime, drift_s: i64) -> NaiveDateTime {
    device - Duration::seconds(drift_s)
}

/// Where a footage file goes, relative to the archive root: dated by its corrected start
/// (from its name), or by the docking time when the name carries no start.
///
/// # Errors
/// When the serial or the name is not a safe path component.
pub fn footage_destination(
    serial: &str,
    name: &str,
    drift_s: i64,
    dock_now: NaiveDateTime,
) -> Result<String, LayoutError> {
    let start = SegmentName::parse(name).map_or(dock_now, |n| corrected(n.start, drift_s));
    layout::segment_path(start, None, serial, name)
}

/// The `n`th alternative for a name already taken by different content (`n` from 2):
/// `A.MP4` becomes `A~2.MP4`. The original is never replaced.
pub fn alternative_name(name: &str, n: u32) -> String {
    match name.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() => format!("{stem}~{n}.{ext}"),
        _ => format!("{name}~{n}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S").unwrap()
    }

    #[test]
    fn drift_moves_footage_across_midnight() {
        // The recorder runs 10 minutes fast: footage it stamped 00:05 was shot at 23:55 the day before.
        let drift = drift_seconds(t("2024-05-02T18:10:00"), t("2024-05-02T18:00:00"));
        assert_eq!(drift, 600);
        assert_eq!(corrected(t("2024-05-02T00:05:00"), drift), t("2024-05-01T23:55:00"));
        let p =
            footage_destination("A123456", "A123456_012345_20240502000500_000001.MP4", drift, t("2024-05-02T18:00:00"));
        assert_eq!(p.unwrap(), "2024/05/01/未关联案件+UNASSIGNED/A123456/A123456_012345_20240502000500_000001.MP4");
        let p = footage_destination("A123456", "notes.txt", drift, t("2024-05-02T18:00:00")).unwrap();
        assert!(p.starts_with("2024/05/02/"), "{p}");
    }

    #[test]
    fn alternatives_keep_the_extension() {
        assert_eq!(alternative_name("A.MP4", 2), "A~2.MP4");
        assert_eq!(alternative_name("README", 3), "README~3");
    }
}
