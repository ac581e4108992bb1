//! Integration tests of the peers crate, one module per topic.

mod exchange;
mod fixtures;
mod in_process;
mod peer_set;
mod server;
mod tcp;
mod wire;
