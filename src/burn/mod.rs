//! Burn-to-disc jobs (R8): long-term footage on optical discs that a stranger can verify
//! offline twenty years from now.
//!
//! Owns: the pure disc plan ([`plan`]), staging one disc as a BagIt bag (RFC 8493) read from
//! the archive with a fixity check ([`bag`]), and the `xorriso` edge that builds the ISO
//! image, writes it, checks the medium and reads every file back ([`image`]).
//! Must never: modify the archive (staging hard-links or copies, then reads back); count a
//! disc as a copy before a full read-back verify found every file intact (INV-14); split a
//! file across discs.

pub mod bag;
pub mod image;
pub mod plan;

use std::path::PathBuf;

/// A burn step that could not be done.
#[derive(Debug, thiserror::Error)]
pub enum BurnError {
    /// A file or folder could not be read or written.
    #[error("{doing} {path}: {source}")]
    Io {
        /// What was being done.
        doing: &'static str,
        /// The file or folder.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// An archive file no longer has the hash the custody log recorded at its copy (R5).
    #[error(
        "fixity check failed: archive file {path} has BLAKE3 {found}, the custody log recorded {expected} when it was copied; \
         nothing was burned and the archive was not touched: report it and check the file with `evidock log query` / \
         存档文件与保管日志记录的哈希值不符，已停止"
    )]
    Fixity {
        /// Path relative to the archive root.
        path: String,
        /// BLAKE3 recorded at ingest.
        expected: String,
        /// BLAKE3 read now.
        found: String,
    },
    /// An outside program (xorriso, the write command) failed or is missing.
    #[error("{program}: {message}")]
    Tool {
        /// The program.
        program: String,
        /// What happened, with its output.
        message: String,
    },
    /// Extra tag files could not be written into the bag.
    #[error("writing tag files into {path}: {source}")]
    TagFiles {
        /// The bag's `custody/` folder.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

/// The volume id (disc label) of disc `n` of `of` of burn job `job`: at most 32 characters of
/// `[A-Z0-9_]`, as ISO 9660 allows, e.g. `EVIDOCK_J00012_D01_OF_03`.
pub fn disc_label(job: i64, n: usize, of: usize) -> String {
    format!("EVIDOCK_J{job:05}_D{n:02}_OF_{of:02}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn labels_are_valid_volume_ids() {
        let l = super::disc_label(12, 1, 3);
        assert_eq!(l, "EVIDOCK_J00012_D01_OF_03");
        assert!(l.len() <= 32 && l.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'));
    }
}
