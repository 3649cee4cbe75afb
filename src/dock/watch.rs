//! The dock-root watch: a `notify` watch on the dock root whose events become
//! [`DockEvent::Rescan`] hints. A volume mounted (or placed) at `<dock root>/<name>/` is a
//! docking; its removal is an undocking. The daemon also rescans periodically, so a lost
//! hint only delays, never loses, a docking.

use std::path::Path;

use notify::{RecursiveMode, Watcher};
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::mpsc::Sender;

use super::DockEvent;

/// Starts watching `dock_root` (not recursively: each volume is one entry). Keep the
/// returned watcher alive as long as hints are wanted; dropping it stops the watch.
///
/// # Errors
/// When the watch cannot be set up (no inotify instances left, root missing).
pub fn watch(dock_root: &Path, tx: Sender<DockEvent>) -> notify::Result<notify::RecommendedWatcher> {
    let mut watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        let event = match res {
            Ok(ev) if !is_hint(&ev.kind) => return,
            Ok(_) => DockEvent::Rescan,
            Err(e) => DockEvent::WatchFailed(e.to_string()),
        };
        // A full queue already holds a rescan hint; hints are level-triggered, so dropping
        // this one loses nothing. A closed queue means the daemon is stopping.
        match tx.try_send(event) {
            Ok(()) | Err(TrySendError::Full(_)) | Err(TrySendError::Closed(_)) => {}
        }
    })?;
    watcher.watch(dock_root, RecursiveMode::NonRecursive)?;
    Ok(watcher)
}

/// Whether an event can mean a docking or an undocking. Opening or reading the dock root
/// (which every rescan does) cannot: treating it as a hint would make each rescan trigger the
/// next.
fn is_hint(kind: &notify::EventKind) -> bool {
    !matches!(kind, notify::EventKind::Access(_))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opening_the_dock_root_is_no_hint() {
        use notify::event::{AccessKind, AccessMode, CreateKind, ModifyKind, RemoveKind, RenameMode};
        use notify::EventKind;
        assert!(!is_hint(&EventKind::Access(AccessKind::Open(AccessMode::Any))));
        assert!(!is_hint(&EventKind::Access(AccessKind::Close(AccessMode::Read))));
        assert!(is_hint(&EventKind::Create(CreateKind::Folder)));
        assert!(is_hint(&EventKind::Remove(RemoveKind::Folder)));
        assert!(is_hint(&EventKind::Modify(ModifyKind::Name(RenameMode::Both))));
    }

    #[tokio::test]
    async fn a_new_folder_is_a_hint() {
        let dir = tempfile::tempdir().unwrap();
        let (tx, mut rx) = tokio::sync::mpsc::channel(4);
        let _w = watch(dir.path(), tx).unwrap();
        std::fs::create_dir(dir.path().join("A100001")).unwrap();
        let ev = tokio::time::timeout(std::time::Duration::from_secs(10), rx.recv()).await.unwrap();
        assert_eq!(ev, Some(DockEvent::Rescan));
    }
}
