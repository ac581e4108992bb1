//! trie-sync's integration tests: one binary, one module per topic.

mod builder_oracle;
mod fixtures;
mod trie_check;
mod vectors;
