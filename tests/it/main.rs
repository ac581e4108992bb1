//! Integration tests of the `statesync` command, through the real binary (several processes talking
//! over loopback) and through the library functions it is built from.

mod bad_input;
mod cli;
mod gen_verify;
mod repair;
mod rlpx;
mod serve;
mod sync;
