//! The archive: where footage is filed ([`layout`], pure) and the durable file primitives
//! every archive write goes through ([`fsio`]).
//!
//! Must never: overwrite or modify a file once it is in place (R5: write-once).

pub mod fsio;
pub mod layout;
