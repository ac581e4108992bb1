//! eth-wire's integration tests, one module per topic.

mod forkid;
mod genesis;
mod messages;
mod status;
