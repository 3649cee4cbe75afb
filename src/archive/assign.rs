//! The case filer: files archived footage into case folders (R4). A file in a day's holding
//! folder is moved into `YYYY/MM/DD/<case>/<serial>/` by one rename on the same filesystem
//! (contents untouched) and its hash is checked again at the new place; a file already in
//! another case's folder gets a hard link, so a recording serves several cases without a
//! second copy. The case folder's label and manifest are written by [`super::casefolder`]
//! after the filing.
//!
//! Owns: the only changes to the archive besides the ingest executor's new files.
//! Must never: change a file's bytes, overwrite anything, or leave the catalogue pointing
//! where the file is not: a move is recorded before the rename and finished after it, and an
//! interrupted move is finished or abandoned by [`recover`].

use std::io;
use std::path::{Path, PathBuf};

use crate::catalog::{ArchivedFile, Case, Catalog, CatalogError};
use crate::config::Config;

use super::{fsio, layout};

pub use super::casefolder::LABEL_FILE;

/// Why filing failed.
#[derive(Debug, thiserror::Error)]
pub enum AssignError {
    /// The catalogue failed or refused.
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    /// A filesystem step failed.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The path.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
    /// The file at its new place does not hash as catalogued: it is left there and reported.
    #[error("{path} does not match its catalogued hash after filing: it was not changed by evidock; check the disk")]
    HashMismatch {
        /// The path.
        path: PathBuf,
    },
    /// An archive path that is not `YYYY/MM/DD/<folder>/<serial>/<name>`.
    #[error("{0} is not an archive footage path")]
    NotFootage(String),
    /// Footage whose local copy was evicted (INV-20): recall it first.
    #[error("{0}")]
    Evicted(String),
}

/// Where a file goes in a case folder, from its current archive path.
///
/// # Errors
/// When the path is not `YYYY/MM/DD/<folder>/<serial>/<name>`.
pub fn case_path(current: &str, case_folder: &str) -> Result<String, AssignError> {
    let parts: Vec<&str> = current.split('/').collect();
    if parts.len() != 6 || parts[..3].iter().any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit())) {
        return Err(AssignError::NotFootage(current.to_string()));
    }
    Ok(format!("{}/{}/{}/{case_folder}/{}/{}", parts[0], parts[1], parts[2], parts[4], parts[5]))
}

fn io_err<'p>(action: &'static str, path: &'p Path) -> impl FnOnce(io::Error) -> AssignError + 'p {
    move |source| AssignError::Io { action, path: path.to_path_buf(), source }
}

fn check_hash(config: &Config, path: &Path, file: &ArchivedFile) -> Result<(), AssignError> {
    let (n, h, _) = fsio::read_back(path, config.ingest.read_back, config.ingest.chunk_bytes)
        .map_err(io_err("reading back", path))?;
    if n != file.size || h.to_hex().as_str() != file.blake3 {
        return Err(AssignError::HashMismatch { path: path.to_path_buf() });
    }
    Ok(())
}

/// Finishes or abandons moves a crash interrupted: a file found at its new place (and not at
/// its old) is checked and filed; one still at its old place was never moved. Returns how
/// many moves were finished.
///
/// # Errors
/// When the catalogue or the filesystem fails.
pub fn recover(config: &Config, catalog: &mut Catalog) -> Result<usize, AssignError> {
    let root = &config.paths.archive_root;
    let mut finished = 0;
    for m in catalog.pending_moves()? {
        let (from, to) = (root.join(&m.from), root.join(&m.to));
        match (from.exists(), to.exists()) {
            (false, true) => {
                check_hash(config, &to, &m.file)?;
                if let Some(dir) = to.parent() {
                    fsio::fsync_dir(dir).map_err(io_err("syncing", dir))?;
                }
                catalog.file_into_case(m.case_id, &m.file, &m.to, Some(m.id), true)?;
                finished += 1;
            }
            _ => catalog.abandon_move(m.id)?,
        }
    }
    Ok(finished)
}

/// Files `files` into `case`. Returns the new paths. Already filed files are skipped.
///
/// # Errors
/// On the first file that cannot be filed (the ones before it stay filed).
pub fn assign(
    config: &Config,
    catalog: &mut Catalog,
    case: &Case,
    files: &[ArchivedFile],
) -> Result<Vec<String>, AssignError> {
    recover(config, catalog)?;
    crate::central::offload::refuse_evicted(catalog, files.iter().map(|f| f.archive_path.as_str()))
        .map_err(AssignError::Evicted)?;
    let root = &config.paths.archive_root;
    let mut out = Vec::new();
    for file in files {
        if case.files.iter().any(|(id, _, _)| *id == file.id) {
            continue;
        }
        let target = case_path(&file.archive_path, &case.folder)?;
        let in_holding = file.archive_path.split('/').nth(3) == Some(layout::HOLDING_FOLDER);
        let (from, to) = (root.join(&file.archive_path), root.join(&target));
        let dir = fsio::create_dirs(root, Path::new(&target).parent().unwrap_or(Path::new("")))
            .map_err(io_err("creating", &to))?;
        let immutable = config.ingest.immutable;
        if immutable {
            fsio::set_immutable_flag(&from, false).map_err(io_err("clearing the immutable flag of", &from))?;
        }
        if in_holding {
            let move_id = catalog.begin_move(file, case.id, &target)?;
            fsio::rename_noreplace(&from, &to).map_err(io_err("moving", &from))?;
            crate::failpoint!("assign.after-rename");
            fsio::fsync_dir(&dir).map_err(io_err("syncing", &dir))?;
            if let Some(old) = from.parent() {
                fsio::fsync_dir(old).map_err(io_err("syncing", old))?;
            }
            check_hash(config, &to, file)?;
            catalog.file_into_case(case.id, file, &target, Some(move_id), false)?;
        } else {
            std::fs::hard_link(&from, &to).map_err(io_err("linking", &to))?;
            fsio::fsync_dir(&dir).map_err(io_err("syncing", &dir))?;
            check_hash(config, &to, file)?;
            catalog.file_into_case(case.id, file, &target, None, false)?;
        }
        if immutable {
            let now = if in_holding { &to } else { &from };
            fsio::set_immutable_flag(now, true).map_err(io_err("setting the immutable flag of", now))?;
        }
        out.push(target);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_paths_keep_the_date_serial_and_name() {
        assert_eq!(
            case_path("2024/05/01/未关联案件+UNASSIGNED/A1/x.MP4", "宜卫罚〔2024〕12号").unwrap(),
            "2024/05/01/宜卫罚〔2024〕12号/A1/x.MP4"
        );
        assert!(case_path("2024/05/01/A1/x.MP4", "c").is_err());
        assert!(case_path("../05/01/h/A1/x.MP4", "c").is_err());
    }
}
