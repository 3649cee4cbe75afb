//! The dock-side seal: a chain in the recorder format, written by the dock at ingest for a
//! recorder that wrote none ("sealed at dock", weaker than "sealed at source").
