//! End-to-end tests: the real `evidock` binary on temporary stations, real SQLite, real
//! filesystem events. One binary, a module per feature, `support` for the station.

mod access;
mod ambarella;
mod api;
mod approvals;
mod burn;
mod cases;
mod central;
mod cli;
mod compat;
mod control;
mod crash;
mod describe;
mod devices;
mod duty;
mod faults;
mod fixity;
mod fork;
mod history;
mod hostile;
mod ingest;
mod limits;
mod memory;
mod profiles;
mod regulations;
mod retention;
mod sdk;
mod stall;
mod support;
mod values;
mod vendor;
mod viewing;
mod web;
mod web_archive;
mod web_custodian;
mod web_footage;
