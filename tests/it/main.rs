//! End-to-end tests: the real `evidock` binary on temporary stations, real SQLite, real
//! filesystem events. One binary, a module per feature, `support` for the station.

mod access;
mod ambarella;
mod burn;
mod cases;
mod cli;
mod control;
mod crash;
mod devices;
mod faults;
mod history;
mod hostile;
mod ingest;
mod retention;
mod sdk;
mod support;
mod vendor;
