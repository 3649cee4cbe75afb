//! The adapter for recorders that follow the storage contract (`ZFY-CUSTODY/1`, see
//! `docs/RECORDER-FORMAT.md`): identity and clock come from the identity file, a clock request
//! is a file the recorder applies on undock, and its storage is already mounted.
//!
//! Must never: write to the volume except [`Adapter::set_clock`]'s request.

use chrono::NaiveDateTime;

use crate::dock::volume::{components, Volume};
use crate::recorder::format::{self, Identity};

use super::{Adapter, AdapterError};

/// The adapter for recorders that follow the storage contract (`ZFY-CUSTODY/1`).
#[derive(Debug)]
pub struct ContractAdapter<'v> {
    volume: &'v Volume,
}

impl<'v> ContractAdapter<'v> {
    /// An adapter over a mounted volume.
    pub fn new(volume: &'v Volume) -> ContractAdapter<'v> {
        ContractAdapter { volume }
    }
}

impl Adapter for ContractAdapter<'_> {
    fn identify(&self) -> Result<Identity, AdapterError> {
        let bytes = match self.volume.read_small(&components(format::IDENTITY_FILE), format::MAX_IDENTITY_BYTES) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(AdapterError::NotARecorder { file: format::IDENTITY_FILE })
            }
            Err(e) => return Err(AdapterError::Io { action: "reading the identity file", source: e }),
        };
        Identity::parse(&bytes).map_err(|source| AdapterError::BadIdentity { file: format::IDENTITY_FILE, source })
    }

    fn read_clock(&self) -> Result<NaiveDateTime, AdapterError> {
        self.identify().map(|id| id.clock)
    }

    fn set_clock(&self, now: NaiveDateTime) -> Result<(), AdapterError> {
        let id = self.identify()?;
        if !id.clock_settable {
            return Err(AdapterError::ClockNotSettable { serial: id.serial });
        }
        let body = format!("clock={}\n", format::format_wall(now));
        self.volume
            .write_request(&components(format::SYNC_TIME_FILE), body.as_bytes())
            .map_err(|source| AdapterError::Io { action: "writing the clock request", source })
    }

    fn switch_to_storage(&self) -> Result<(), AdapterError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_without_identity_is_not_a_recorder_and_is_not_written() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("holiday.jpg"), b"x").unwrap();
        let v = Volume::open(dir.path()).unwrap();
        let a = ContractAdapter::new(&v);
        assert!(matches!(a.identify(), Err(AdapterError::NotARecorder { .. })));
        assert!(a.set_clock(NaiveDateTime::default()).is_err());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "nothing written");
    }

    #[test]
    fn clock_request_only_when_settable() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("ZFY")).unwrap();
        let id = "format=ZFY-CUSTODY/1\nserial=A123456\nbadge=012345\nmodel=M\nfirmware=1\nclock=2024-05-01T18:00:00\n";
        std::fs::write(dir.path().join("ZFYINFO.TXT"), id).unwrap();
        let v = Volume::open(dir.path()).unwrap();
        let a = ContractAdapter::new(&v);
        assert!(matches!(a.set_clock(NaiveDateTime::default()), Err(AdapterError::ClockNotSettable { .. })));
        std::fs::write(dir.path().join("ZFYINFO.TXT"), format!("{id}clock_settable=1\n")).unwrap();
        let t = format::parse_wall(0, "t", "2024-05-01T18:00:05").unwrap();
        a.set_clock(t).unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.path().join("ZFY/SYNCTIME.TXT")).unwrap(),
            "clock=2024-05-01T18:00:05\n"
        );
        assert_eq!(a.read_clock().unwrap(), format::parse_wall(0, "t", "2024-05-01T18:00:00").unwrap());
    }
}
