//! dock
