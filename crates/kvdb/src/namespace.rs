//! The separate key spaces a store keeps.

use std::fmt;

/// A separate key space of a store: the same key may hold different values in different namespaces.
///
/// Sync keeps trie nodes and contract code apart (a code blob and a trie node could share a hash in
/// principle, and a user may want to prune one without the other) and keeps its own bookkeeping in
/// [`Namespace::Meta`] so it never collides with state data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Namespace {
    /// Trie nodes (account trie and storage tries), keyed by the keccak-256 hash of their RLP.
    TrieNodes,
    /// Contract code blobs, keyed by the keccak-256 hash of the code.
    Code,
    /// Sync bookkeeping such as progress counters, keyed by name.
    Meta,
}

impl Namespace {
    /// Every namespace, in a fixed order; backends create one table (or partition) per entry.
    pub const ALL: [Namespace; 3] = [Namespace::TrieNodes, Namespace::Code, Namespace::Meta];

    /// A stable name, used as the table or partition name on disk: changing it orphans stored data.
    pub const fn name(self) -> &'static str {
        match self {
            Namespace::TrieNodes => "trie_nodes",
            Namespace::Code => "code",
            Namespace::Meta => "meta",
        }
    }

    /// A dense index in `0..ALL.len()`, for backends that keep one structure per namespace.
    pub const fn index(self) -> usize {
        match self {
            Namespace::TrieNodes => 0,
            Namespace::Code => 1,
            Namespace::Meta => 2,
        }
    }
}

impl fmt::Display for Namespace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
