//! Node codec and trie builder throughput.
//!
//! - `node/decode`: strict decoding of every node of a synthetic state (account and storage tries, so a
//!   real mix of branches, extensions and leaves); `node/keccak_decode`: the same plus the keccak-256 a
//!   sync does on every delivered node.
//! - `builder/*`: building account-trie-like tries (random 32-byte keys, ~70-byte account values) of 100k
//!   and 1M leaves with [`TrieBuilder`], every emitted node handed to a sink that counts its bytes.
//!
//! All data is generated from fixed seeds.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use primitive_types::U256;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use trie_sync::{keccak256, Node, StateAccount, SyntheticConfig, SyntheticState, TrieBuilder};

/// Accounts of the state whose nodes the codec benches decode.
const CODEC_ACCOUNTS: usize = 20_000;

fn codec(c: &mut Criterion) {
    let state = SyntheticState::generate(&SyntheticConfig::new(1, CODEC_ACCOUNTS)).expect("valid config");
    let nodes: Vec<&[u8]> = state.nodes.values().map(Vec::as_slice).collect();
    let mut group = c.benchmark_group("node");
    group.throughput(Throughput::Elements(nodes.len() as u64));
    group.sample_size(20).warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(3));
    group.bench_function("decode", |b| {
        b.iter(|| {
            for rlp in &nodes {
                black_box(Node::decode(rlp).expect("generated nodes decode"));
            }
        })
    });
    group.bench_function("keccak_decode", |b| {
        b.iter(|| {
            for rlp in &nodes {
                black_box(keccak256(rlp));
                black_box(Node::decode(rlp).expect("generated nodes decode"));
            }
        })
    });
    group.finish();
}

/// `count` account-like pairs sorted by key: random 32-byte keys, `rlp([nonce, balance, root, code])`.
fn account_pairs(count: usize) -> Vec<([u8; 32], Vec<u8>)> {
    let mut rng = StdRng::seed_from_u64(count as u64);
    let mut pairs: Vec<([u8; 32], Vec<u8>)> = (0..count)
        .map(|_| {
            let mut account = StateAccount::with_balance(U256::from(rng.random::<u64>()));
            account.nonce = rng.random_range(0..1_000);
            (rng.random::<[u8; 32]>(), account.encode())
        })
        .collect();
    pairs.sort_unstable_by_key(|(key, _)| *key);
    pairs.dedup_by(|a, b| a.0 == b.0);
    pairs
}

fn builder(c: &mut Criterion) {
    let mut group = c.benchmark_group("builder");
    group.sample_size(10).warm_up_time(Duration::from_millis(500));
    for (name, count, seconds) in [("100k", 100_000, 6), ("1M", 1_000_000, 15)] {
        let pairs = account_pairs(count);
        group.throughput(Throughput::Elements(pairs.len() as u64));
        group.measurement_time(Duration::from_secs(seconds));
        group.bench_function(name, |b| {
            b.iter(|| {
                let mut emitted_bytes = 0usize;
                let mut builder = TrieBuilder::new(|_, rlp: &[u8]| emitted_bytes += rlp.len());
                for (key, value) in &pairs {
                    builder.insert(key, value).expect("sorted distinct keys");
                }
                black_box(builder.finish());
                emitted_bytes
            })
        });
    }
    group.finish();
}

criterion_group!(benches, codec, builder);
criterion_main!(benches);
