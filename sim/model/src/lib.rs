//! Plain-Rust reference model of the evnic RX parser and filter table, and a seeded frame
//! generator, used to check the RTL (differential tests) and itself cross-checked against
//! `etherparse`.
//!
//! - [`parse()`]: what the parser block outputs for one frame (key, flags, length).
//! - [`FilterTable`]: what the filter block answers for a key, with its hit counters.
//! - [`FrameGen`]: well-formed frames of every kind (built with `etherparse`) and mutated ones
//!   (truncated, flipped bytes, bad IHL or checksum, fragments, long IP lengths, oversize, MAC
//!   error), FCS included; [`beats`] cuts a frame into 64-bit stream beats.

#![forbid(unsafe_code)]

pub mod filter;
pub mod gen;
pub mod parse;

pub use filter::{Action, Entry, FilterTable, Hit};
pub use gen::{beats, fcs, FrameGen, FrameKind, GenFrame, Mutation};
pub use parse::{parse, Parsed};
