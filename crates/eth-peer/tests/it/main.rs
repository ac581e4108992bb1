//! Integration tests of eth-peer: our RLPx eth/66 client against our server, and against scripted
//! hostile peers.

mod backpressure;
mod sync;
