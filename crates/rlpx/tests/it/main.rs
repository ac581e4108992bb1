//! Integration tests of the rlpx crate: one binary, a module per topic.

mod hostile;
mod node_key;
mod session;
mod stream;
mod timeouts;
mod util;
