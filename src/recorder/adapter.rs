//! Recorder adapters: identify, read clock, set clock, switch to storage.
