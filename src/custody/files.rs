//! The custody log's files beside the database: the station's signing key (private, mode
//! 0600), its verifier key (public), and the append-only side file of signed checkpoints.
//!
//! Owns: creating the key pair once, reading keys back, appending a checkpoint note durably
//! (`O_APPEND`, `fsync`), reading checkpoint notes from a file.
//! Must never: overwrite or truncate a key or the side file, or print a private key.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::checkpoint::{split_notes, NoteSigner, NoteVerifier};
use super::CustodyError;

/// The private signing key's file name in the state folder.
pub const SIGNING_KEY_FILE: &str = "custody-signing.key";
/// The public verifier key's file name in the state folder.
pub const VERIFIER_KEY_FILE: &str = "custody-signing.pub";
/// The side file of signed checkpoints' name in the state folder.
pub const CHECKPOINT_FILE: &str = "custody-checkpoints.txt";

/// The three files in a state folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPaths {
    /// The private signing key (mode 0600).
    pub signing: PathBuf,
    /// The public verifier key.
    pub verifier: PathBuf,
    /// The append-only side file of checkpoints.
    pub checkpoints: PathBuf,
}

impl KeyPaths {
    /// The files' places in `state_dir`.
    pub fn in_dir(state_dir: &Path) -> KeyPaths {
        KeyPaths {
            signing: state_dir.join(SIGNING_KEY_FILE),
            verifier: state_dir.join(VERIFIER_KEY_FILE),
            checkpoints: state_dir.join(CHECKPOINT_FILE),
        }
    }
}

fn io_err(path: &Path, doing: &'static str) -> impl FnOnce(io::Error) -> CustodyError + use<> {
    let path = path.to_path_buf();
    move |source| CustodyError::File { path, doing, source }
}

fn fsync_parent(path: &Path) -> io::Result<()> {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => File::open(dir)?.sync_all(),
        _ => File::open(".")?.sync_all(),
    }
}

/// Writes a new file that must not exist yet, with `mode`, durably.
fn write_new(path: &Path, mode: u32, text: &str) -> io::Result<()> {
    let mut f = OpenOptions::new().write(true).create_new(true).mode(mode).custom_flags(libc::O_NOFOLLOW).open(path)?;
    // The umask may have narrowed the mode; a key's mode is exact.
    f.set_permissions(fs::Permissions::from_mode(mode))?;
    f.write_all(text.as_bytes())?;
    f.sync_all()?;
    fsync_parent(path)
}

/// Creates a new key pair named `name` from 32 bytes of operating-system randomness: the
/// private key file (mode 0600, refused if it exists) and the public verifier key file (mode
/// 0644, one line `<name>+<id>+<key>`).
///
/// # Errors
/// When the name is not allowed, randomness is unavailable, a file exists or cannot be written.
pub fn create_key(paths: &KeyPaths, name: &str) -> Result<NoteSigner, CustodyError> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| CustodyError::File {
        path: paths.signing.clone(),
        doing: "getting randomness for a new signing key",
        source: io::Error::other(e.to_string()),
    })?;
    let signer = NoteSigner::from_seed(name, seed)?;
    seed.fill(0);
    write_new(&paths.signing, 0o600, &(signer.encode() + "\n"))
        .map_err(io_err(&paths.signing, "creating the signing key"))?;
    write_verifier(paths, &signer)?;
    Ok(signer)
}

fn write_verifier(paths: &KeyPaths, signer: &NoteSigner) -> Result<(), CustodyError> {
    write_new(&paths.verifier, 0o644, &(signer.verifier().encode() + "\n"))
        .map_err(io_err(&paths.verifier, "writing the verifier key"))
}

/// Reads the private signing key. Refuses a key file that others than its owner may read.
///
/// # Errors
/// When the file is missing, unreadable, readable by group or others, or malformed.
pub fn load_signer(path: &Path) -> Result<NoteSigner, CustodyError> {
    let meta = fs::symlink_metadata(path).map_err(io_err(path, "reading the signing key"))?;
    if !meta.is_file() {
        return Err(CustodyError::Key { path: path.to_path_buf(), reason: "not a regular file".into() });
    }
    if meta.permissions().mode() & 0o077 != 0 {
        return Err(CustodyError::Key {
            path: path.to_path_buf(),
            reason: format!("mode {:o} lets others read it; it must be 0600", meta.permissions().mode() & 0o777),
        });
    }
    let text = fs::read_to_string(path).map_err(io_err(path, "reading the signing key"))?;
    NoteSigner::parse(&text).map_err(|e| CustodyError::Key { path: path.to_path_buf(), reason: e.to_string() })
}

/// Reads a public verifier key file (one line `<name>+<id>+<key>`).
///
/// # Errors
/// When the file is missing, unreadable or malformed.
pub fn load_verifier(path: &Path) -> Result<NoteVerifier, CustodyError> {
    let text = fs::read_to_string(path).map_err(io_err(path, "reading the verifier key"))?;
    NoteVerifier::parse(&text).map_err(|e| CustodyError::Key { path: path.to_path_buf(), reason: e.to_string() })
}

/// The station's signer: read from `paths.signing`, or created with `name` when there is no
/// key yet (at install, or the daemon's first start). A missing verifier key file is written
/// again from the private key.
///
/// # Errors
/// When the key exists but cannot be read, or cannot be created.
pub fn load_or_create_signer(paths: &KeyPaths, name: &str) -> Result<NoteSigner, CustodyError> {
    let signer = match paths.signing.try_exists() {
        Ok(true) => load_signer(&paths.signing)?,
        Ok(false) => return create_key(paths, name),
        Err(e) => return Err(io_err(&paths.signing, "looking for the signing key")(e)),
    };
    match paths.verifier.try_exists() {
        Ok(true) => {}
        Ok(false) => write_verifier(paths, &signer)?,
        Err(e) => return Err(io_err(&paths.verifier, "looking for the verifier key")(e)),
    }
    Ok(signer)
}

/// Appends a signed checkpoint note and a blank line to the side file (created with mode 0644
/// if missing), opened `O_APPEND`, and fsyncs it (and its folder when created).
///
/// # Errors
/// When the file cannot be opened, written or synced.
pub fn append_note(path: &Path, note: &str) -> Result<(), CustodyError> {
    let existed = path.try_exists().unwrap_or(true);
    let mut f = OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o644)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .map_err(io_err(path, "opening the checkpoint side file"))?;
    f.write_all(format!("{note}\n").as_bytes()).map_err(io_err(path, "appending to the checkpoint side file"))?;
    f.sync_all().map_err(io_err(path, "syncing the checkpoint side file"))?;
    if !existed {
        fsync_parent(path).map_err(io_err(path, "syncing the folder of the checkpoint side file"))?;
    }
    Ok(())
}

/// Reads the signed notes in a checkpoint file (one note, or a side file of many).
///
/// # Errors
/// When the file cannot be read or is not UTF-8.
pub fn read_notes(path: &Path) -> Result<Vec<String>, CustodyError> {
    let text = fs::read_to_string(path).map_err(io_err(path, "reading checkpoints"))?;
    Ok(split_notes(&text))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::custody::checkpoint::Checkpoint;

    #[test]
    fn keys_are_created_once_with_their_modes() {
        let dir = tempfile::tempdir().expect("temp dir");
        let paths = KeyPaths::in_dir(dir.path());
        let signer = load_or_create_signer(&paths, "evidock/站点").expect("creates");
        let mode = |p: &Path| fs::metadata(p).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode(&paths.signing), 0o600);
        assert_eq!(mode(&paths.verifier), 0o644);
        let vkey = fs::read_to_string(&paths.verifier).expect("read");
        assert_eq!(vkey, signer.verifier().encode() + "\n");
        assert!(vkey.starts_with("evidock/站点+"));
        // Loaded again, not made anew.
        let again = load_or_create_signer(&paths, "other/name").expect("loads");
        assert_eq!(again.encode(), signer.encode());
        let err = create_key(&paths, "evidock/站点").expect_err("exists");
        assert!(err.to_string().contains("creating the signing key"), "{err}");
        // A lost verifier key is written again from the private key.
        fs::remove_file(&paths.verifier).expect("rm");
        load_or_create_signer(&paths, "x").expect("loads");
        assert_eq!(load_verifier(&paths.verifier).expect("verifier"), signer.verifier());
        // A private key others can read is refused.
        fs::set_permissions(&paths.signing, fs::Permissions::from_mode(0o640)).expect("chmod");
        let err = load_signer(&paths.signing).expect_err("too open");
        assert!(err.to_string().contains("mode 640"), "{err}");
        // Two stations never share a key.
        let dir2 = tempfile::tempdir().expect("temp dir");
        let other = create_key(&KeyPaths::in_dir(dir2.path()), "evidock/站点").expect("creates");
        assert_ne!(other.verifier(), signer.verifier());
    }

    #[test]
    fn side_file_appends_and_reads_back() {
        let dir = tempfile::tempdir().expect("temp dir");
        let paths = KeyPaths::in_dir(dir.path());
        let signer = create_key(&paths, "evidock/s").expect("key");
        let notes: Vec<String> = (1..=3u64)
            .map(|n| Checkpoint { origin: "evidock/s".into(), size: n, root: [n as u8; 32], extensions: vec![] })
            .map(|c| c.sign(&signer).expect("signs"))
            .collect();
        for n in &notes {
            append_note(&paths.checkpoints, n).expect("appends");
        }
        assert_eq!(read_notes(&paths.checkpoints).expect("reads"), notes);
        let v = load_verifier(&paths.verifier).expect("verifier");
        for n in notes {
            Checkpoint::open(&n, &v).expect("opens");
        }
        assert!(matches!(read_notes(&dir.path().join("none")), Err(CustodyError::File { .. })));
    }
}
