//! Cases (R4, R13).
pub(super) const SCHEMA: &str = "";
