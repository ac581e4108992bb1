//! Integration tests of the downloader: whole syncs from in-process and TCP peers.

mod faults;
mod fixtures;
mod hedging;
mod key_filter;
mod matrix;
mod overlap;
mod pivot;
mod progress;
mod store_faults;
mod tcp;
