//! `statesync demo`: everything at once, on loopback, in a temporary directory.

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use downloader::DownloaderConfig;
use kvdb::{KeyValueStore, Namespace};
use trie_sync::SyntheticConfig;

use crate::report::{human_bytes, human_duration, per_second};
use crate::{
    eth_config, generate, parse_root, sync, synthetic_chain, verify, BoundRlpxServer, Error, OpenMode,
    PeerAddress, Result, ServeOptions, StateSource, StoreFault, StoreLocation, SyncOptions, SyncStatus,
    SyncSummary, VerifyReport,
};
use rlpx::NodeKey;

/// Settings of the demo.
#[derive(Debug, Clone, PartialEq)]
pub struct DemoOptions {
    /// The synthetic state.
    pub state: SyntheticConfig,
    /// Peers serving it (the last one faulty when `fault` is set).
    pub peers: usize,
    /// How the faulty peer misbehaves; `None` for honest peers only.
    pub fault: Option<StoreFault>,
    /// Where to put the databases; a temporary directory (removed at the end) if `None`.
    pub dir: Option<PathBuf>,
}

impl Default for DemoOptions {
    fn default() -> Self {
        Self {
            state: SyntheticConfig { seed: 1, accounts: 50_000, contract_fraction: 0.2, max_slots: 2_000 },
            peers: 4,
            fault: Some(StoreFault::Corrupt),
            dir: None,
        }
    }
}

/// What the demo did, with every figure.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct DemoReport {
    /// What `gen` wrote into the source database.
    pub generated: crate::GenReport,
    /// The peers' addresses; the faulty one is named in `faulty_peer`.
    pub peers: Vec<String>,
    /// The faulty peer's address, if any.
    pub faulty_peer: Option<String>,
    /// What the sync did.
    pub sync: SyncSummary,
    /// What the verify walk of the synced database found.
    pub verify: VerifyReport,
    /// Whether the synced database holds exactly the source's entries (trie nodes and code).
    pub same_entries_as_source: bool,
    /// Time the whole demo took.
    #[serde(serialize_with = "crate::report::serialize_secs")]
    pub elapsed: Duration,
}

/// Runs the demo: generates a synthetic state into a redb database, serves it from `options.peers`
/// TCP servers on 127.0.0.1 (the last one faulty), syncs it into a fjall database (as `sync` would
/// create), verifies
/// that, and checks it holds exactly the source's entries. Tells what it does on `out`.
pub async fn demo(
    options: &DemoOptions,
    out: &mut (dyn Write + Send),
    observe: &mut (dyn FnMut(&SyncStatus) + Send),
) -> Result<DemoReport> {
    let started = Instant::now();
    let temp;
    let dir: &Path = match &options.dir {
        Some(dir) => dir,
        None => {
            temp = tempfile::Builder::new()
                .prefix("statesync-demo-")
                .tempdir()
                .map_err(|source| Error::Io { what: "creating a temporary directory", source })?;
            temp.path()
        }
    };
    let say = |out: &mut (dyn Write + Send), line: String| {
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    };

    let config = &options.state;
    say(out, format!(
        "1/4 generating a synthetic state: {} accounts (seed {}, {:.0}% contracts, storage tries up to {} slots) into {}",
        config.accounts, config.seed, config.contract_fraction * 100.0, config.max_slots, dir.join("source").display()
    ));
    let source_location = StoreLocation::redb(dir.join("source"));
    let source = source_location.open("demo", OpenMode::Create, true)?;
    let generated = generate(source.as_ref(), &StateSource::Synthetic(config.clone()), &source_location)?;
    say(
        out,
        format!(
            "    root {}\n    {} contracts, {} storage slots, {} trie nodes, {} code blobs, {} in {}",
            generated.root,
            generated.contracts,
            generated.storage_slots,
            generated.nodes,
            generated.codes,
            human_bytes(generated.bytes),
            human_duration(generated.elapsed)
        ),
    );
    let root = parse_root(&generated.root)?;

    let chain = synthetic_chain(root);
    let mut servers = Vec::new();
    let mut addrs: Vec<SocketAddr> = Vec::new();
    let mut enodes: Vec<PeerAddress> = Vec::new();
    let mut faulty_peer = None;
    for index in 0..options.peers {
        let fault = options.fault.filter(|_| index + 1 == options.peers && options.peers > 1);
        let serve = ServeOptions {
            listen: ([127, 0, 0, 1], 0).into(),
            max_peers: 8,
            network_id: 1,
            fault,
            idle_timeout: peers::TcpConfig::default().idle_timeout,
        };
        let eth = eth_config(NodeKey::generate(), chain.clone());
        let server = BoundRlpxServer::bind(source.clone(), serve.listen, eth, &serve).await?;
        let enode = server.enode();
        addrs.push(enode.addr);
        enodes.push(PeerAddress::Rlpx(enode));
        if fault.is_some() {
            faulty_peer = Some(enode.addr.to_string());
        }
        servers.push((server.shutdown_handle(), tokio::spawn(server.run())));
    }
    let listing: Vec<String> = addrs
        .iter()
        .map(|addr| match &faulty_peer {
            Some(faulty) if *faulty == addr.to_string() => {
                format!("{addr} (faulty: {})", fault_name(options.fault))
            }
            _ => addr.to_string(),
        })
        .collect();
    say(
        out,
        format!(
            "2/4 serving it over RLPx (eth/66, network {}) from {} peers on loopback: {}",
            chain.network_id,
            addrs.len(),
            listing.join(", ")
        ),
    );

    let synced_location = StoreLocation::fjall(dir.join("synced"));
    say(out, format!("3/4 syncing {root:?} from them into {}", dir.join("synced").display()));
    let synced = synced_location.open("demo", OpenMode::Create, true)?;
    let sync_options = SyncOptions {
        root,
        peers: enodes,
        network_id: 1,
        eth: Some(eth_config(NodeKey::generate(), chain)),
        progress_record: None,
        downloader: DownloaderConfig::default(),
    };
    let summary = sync(synced.clone(), &sync_options, observe, std::future::pending()).await;
    for (stop, running) in servers {
        stop.shutdown();
        let _ = running.await;
    }
    let summary = summary?;
    let entries = summary.nodes + summary.codes;
    say(
        out,
        format!(
            "    {} trie nodes and {} code blobs ({}) in {}: {:.0} entries/s, {}/s",
            summary.nodes,
            summary.codes,
            human_bytes(summary.bytes),
            human_duration(summary.elapsed),
            per_second(entries, summary.elapsed),
            human_bytes(per_second(summary.bytes, summary.elapsed) as u64)
        ),
    );
    say(out, format!(
        "    {} requests, {} hashes retried, {} duplicate and {} unexpected blobs (rejected: they match no hash asked for)",
        summary.requests, summary.retried, summary.duplicate, summary.unexpected
    ));
    if summary.peers_dropped.is_empty() {
        say(out, "    no peer dropped".into());
    }
    for dropped in &summary.peers_dropped {
        say(out, format!("    dropped peer {}: {}", dropped.peer, dropped.reason));
    }

    say(
        out,
        "4/4 verifying: walking the synced state from its root, re-hashing every node and code blob".into(),
    );
    let report = verify(synced.as_ref(), root, 10)?;
    say(
        out,
        format!(
            "    {} accounts, {} storage slots, {} trie nodes, {} code blobs, {} in {}: {}",
            report.accounts,
            report.storage_slots,
            report.nodes,
            report.codes,
            human_bytes(report.bytes),
            human_duration(report.elapsed),
            if report.complete { "complete" } else { "INCOMPLETE" }
        ),
    );
    let same = same_entries(source.as_ref(), synced.as_ref())?;
    say(
        out,
        format!(
            "    the synced database holds {} the source's trie nodes and code",
            if same { "exactly" } else { "NOT the same as" }
        ),
    );
    if !report.complete {
        return Err(Error::Incomplete { root, missing: report.missing_count });
    }
    let elapsed = started.elapsed();
    say(out, format!("demo finished in {}", human_duration(elapsed)));
    Ok(DemoReport {
        generated,
        peers: addrs.iter().map(ToString::to_string).collect(),
        faulty_peer,
        sync: summary,
        verify: report,
        same_entries_as_source: same,
        elapsed,
    })
}

fn fault_name(fault: Option<StoreFault>) -> &'static str {
    match fault {
        Some(StoreFault::Corrupt) => "flips a byte of every blob it sends",
        Some(StoreFault::Partial) => "leaves out every other blob",
        Some(StoreFault::Empty) => "answers nothing",
        Some(StoreFault::Slow) => "takes 50 ms per blob",
        None => "honest",
    }
}

/// Whether `a` and `b` hold the same keys in the trie-node and code namespaces (the source's
/// recorded root and the sync's checkpoint live in Meta and differ by design).
fn same_entries(a: &dyn KeyValueStore, b: &dyn KeyValueStore) -> Result<bool> {
    for namespace in [Namespace::TrieNodes, Namespace::Code] {
        let (mut left, mut right) = (Vec::new(), Vec::new());
        a.for_each(namespace, &mut |key, _| left.push(key.to_vec()))?;
        b.for_each(namespace, &mut |key, _| right.push(key.to_vec()))?;
        if left != right {
            return Ok(false);
        }
    }
    Ok(true)
}
