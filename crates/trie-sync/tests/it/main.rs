//! trie-sync's integration tests: one binary, one module per topic.

mod builder_oracle;
mod damage;
mod fixtures;
mod progress;
mod scheduler;
mod sync_harness;
mod trie_check;
mod vectors;
