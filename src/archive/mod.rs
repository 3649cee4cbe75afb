//! The archive: where footage is filed ([`layout`], pure), the durable file primitives
//! every archive write goes through ([`fsio`]), and the case filer that moves or links
//! footage into case folders ([`assign`]).
//!
//! Must never: overwrite or modify a file once it is in place (R5: write-once).

pub mod assign;
pub mod fsio;
pub mod layout;
