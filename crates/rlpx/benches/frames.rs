//! Throughput of the whole RLPx message path through the public [`RlpxStream`]: the sender's
//! snappy compression (when on), AES-256-CTR and the keccak/AES header and frame MACs, then the
//! receiver's MAC checks, decryption and snappy decompression.
//!
//! Two streams are joined by an in-memory `tokio::io::duplex` whose buffer holds a whole frame,
//! and one task sends a message and then receives it on the other end: the figure is one core
//! doing both sides' work, with no socket in the way (the handshake is done once, untimed).
//! Messages of 1 KiB, 64 KiB and 1 MiB, snappy off and on.
//!
//! The payload is shaped like a `NodeData` answer, the bulk of what a state sync receives: branch
//! nodes (`0xf9 0x0211`, 16 hashes each prefixed `0xa0`, an empty value), the hashes pseudo-random
//! from a fixed seed, so snappy finds as little to compress as in real trie nodes.
//!
//! Run: `cargo bench -p rlpx --bench frames` (or `cargo xtask bench rlpx_frames`).

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use rlpx::{NodeKey, RlpxStream};

/// Message sizes: a small eth request, a typical answer, and a large one.
const MESSAGE_BYTES: [(usize, &str); 3] = [(1 << 10, "1KiB"), (64 << 10, "64KiB"), (1 << 20, "1MiB")];

/// The duplex buffer: larger than the biggest frame, so one task can send it whole before reading.
const PIPE_BYTES: usize = 4 << 20;

/// An eth message id, as any capability message would carry.
const MSG_ID: u64 = 0x1e;

fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// `len` bytes of RLP branch nodes with pseudo-random child hashes, cut at `len`.
fn node_data_payload(len: usize) -> Vec<u8> {
    let mut payload = Vec::with_capacity(len + 532);
    let mut counter = 0u64;
    while payload.len() < len {
        payload.extend_from_slice(&[0xf9, 0x02, 0x11]);
        for _child in 0..16 {
            payload.push(0xa0);
            for _ in 0..4 {
                counter += 1;
                payload.extend_from_slice(&splitmix(counter).to_le_bytes());
            }
        }
        payload.push(0x80);
    }
    payload.truncate(len);
    payload
}

/// Two ends of an RLPx connection over an in-memory pipe, with fixed keys.
async fn stream_pair() -> (RlpxStream, RlpxStream) {
    let (dialer_io, listener_io) = tokio::io::duplex(PIPE_BYTES);
    let alice = NodeKey::from_bytes(&[0x11; 32]).expect("a valid secret key");
    let bob = NodeKey::from_bytes(&[0x22; 32]).expect("a valid secret key");
    let (dialed, accepted) =
        tokio::join!(RlpxStream::connect(dialer_io, &alice, bob.id()), RlpxStream::accept(listener_io, &bob));
    (dialed.expect("handshake (dialer)"), accepted.expect("handshake (listener)"))
}

fn frames(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread().build().expect("a tokio runtime");
    let (mut sender, mut receiver) = runtime.block_on(stream_pair());
    let mut group = c.benchmark_group("rlpx_frames");
    group.sample_size(30).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(4));
    for snappy in [false, true] {
        sender.set_snappy(snappy);
        receiver.set_snappy(snappy);
        let mode = if snappy { "snappy" } else { "plain" };
        for (bytes, label) in MESSAGE_BYTES {
            let payload = node_data_payload(bytes);
            // Checked once, untimed: the message arrives whole.
            runtime.block_on(async {
                sender.send(MSG_ID, &payload).await.expect("send");
                assert_eq!(receiver.recv().await.expect("recv"), (MSG_ID, payload.clone()));
            });
            group.throughput(Throughput::Bytes(bytes as u64));
            group.bench_function(BenchmarkId::new(mode, label), |b| {
                b.iter_custom(|iters| {
                    runtime.block_on(async {
                        let started = Instant::now();
                        for _ in 0..iters {
                            sender.send(MSG_ID, &payload).await.expect("send");
                            let (_, received) = receiver.recv().await.expect("recv");
                            std::hint::black_box(received);
                        }
                        started.elapsed()
                    })
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, frames);
criterion_main!(benches);
