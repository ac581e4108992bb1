//! Integration tests of kvdb: one binary, a module per topic.
//!
//! - `suite`: behaviour every [`kvdb::KeyValueStore`] must have, written once and stamped out per
//!   backend.
//! - `bad_input`: opening what is not a usable database gives a typed error, never a panic.
//! - `crash`: a writer SIGKILLed at a random moment leaves every batch all-or-nothing.
//! - `durability`: writes report exactly the batches their durability setting makes durable.
//! - `read_only`: read-only redb handles share a file, across processes too, keep writers out and
//!   refuse writes.

mod backends;
#[cfg(any(feature = "redb", feature = "fjall"))]
mod bad_input;
#[cfg(any(feature = "redb", feature = "fjall"))]
mod crash;
mod data;
mod durability;
#[cfg(feature = "redb")]
mod read_only;
mod suite;
