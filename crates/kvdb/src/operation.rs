//! What a disk backend was doing when it failed.

/// What the store was doing when its engine failed: decides how an error is classified (e.g. an
/// unreadable file is "not a database" only on open) and is named in [`Error::Backend`](crate::Error).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Operation {
    Open,
    Read,
    Write,
    Flush,
}

impl Operation {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Operation::Open => "open",
            Operation::Read => "read",
            Operation::Write => "write",
            Operation::Flush => "flush",
        }
    }
}
