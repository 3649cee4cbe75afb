//! The archive: where footage is filed ([`layout`], pure), the durable file primitives
//! every archive write goes through ([`fsio`]), and the case filer that moves or links
//! footage into case folders ([`assign`]), and the case folders' labels, manifests and their
//! offline check ([`casefolder`]).
//!
//! Must never: overwrite or modify a file once it is in place (R5: write-once).

pub mod assign;
pub mod casefolder;
pub mod fsio;
pub mod layout;
