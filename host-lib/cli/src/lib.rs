//! The `evnic` command-line tool's commands, as a library (the binary is `src/main.rs`).
//!
//! - On any device: `info`, `stats`, `filter add|del|list`, `listen`, `capture`.
//! - On the simulated device only (feature `sim`): `replay` ([`replay`]), `tx` ([`txcmd`]),
//!   `demo` ([`demo`]), and frame injection for `listen` and `capture`.

pub mod capture;
#[cfg(feature = "sim")]
pub mod demo;
pub mod pcap;
#[cfg(feature = "sim")]
pub mod replay;
pub mod state;
#[cfg(feature = "sim")]
pub mod txcmd;
