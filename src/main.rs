//! The `statesync` command: gen, serve, sync, verify, demo.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

mod progress;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use statesync::report::{human_bytes, human_duration, per_second};
use statesync::trie_sync::SyntheticConfig;
use statesync::{
    Backend, BoundServer, OpenMode, ServeOptions, StateSource, StoreFault, StoreLocation, EXIT_BAD_INPUT,
    EXIT_FAILURE,
};

/// Download, verify and store the complete Ethereum state trie of a state root from untrusted peers.
///
/// Exit codes: 0 success; 1 the state is incomplete or damaged, or the command failed inside;
/// 2 bad input (arguments, files, databases or peers that cannot be used; nothing stored is changed).
#[derive(Debug, Parser)]
#[command(name = "statesync", version, propagate_version = true)]
struct Cli {
    /// Log verbosity on stderr: error, warn, info, debug or trace, or a filter such as
    /// `info,peers=debug` [default: info; warn for demo]
    #[arg(long, global = true, value_name = "LEVEL")]
    log_level: Option<String>,
    /// Print the command's report as one JSON object on stdout instead of text.
    #[arg(long, global = true)]
    json: bool,
    /// Storage engine of the database in --db: fjall (an LSM directory, DIR/fjall/), redb (one file,
    /// DIR/state.redb; several serve processes can share it) or memory (gone at exit; gen and sync
    /// only) [default: the engine of the database already in --db; for a new one, fjall for sync and
    /// redb for gen]
    #[arg(long, global = true, value_enum)]
    backend: Option<Backend>,
    /// MiB of memory for the storage engine's cache [default: 256 for redb, 128 for redb read by serve
    /// and verify, 64 for fjall; 64 for gen]
    #[arg(long, global = true, value_name = "MIB")]
    cache_mib: Option<usize>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Write a state into a database: a reproducible synthetic one, or a genesis file's.
    ///
    /// Prints the state root (0x and 64 hex digits) as the last line of stdout, and counts on stderr.
    Gen(GenArgs),
    /// Serve the database's trie nodes and code over wire v1 until SIGINT or SIGTERM.
    ///
    /// Prints the address it listens on as the first line of stdout; logs connections on stderr.
    Serve(ServeArgs),
    /// Download the state of a root from peers into --db, verifying every node; resumes a partial sync.
    ///
    /// Shows a progress bar on a terminal (log lines otherwise) and a report at the end. Exits 0 only
    /// when the state is complete; SIGINT/SIGTERM stop it with what is complete kept, to resume later.
    Sync(SyncArgs),
    /// The whole thing in one process, no arguments needed: generate a synthetic state (50,000
    /// accounts) in a temporary directory, serve it from 4 peers on loopback (one faulty), sync it
    /// into redb, verify it, and print what happened with the figures.
    Demo(DemoArgs),
    /// Walk a stored state from its root, re-hash every node and code blob, and count what is there.
    ///
    /// Exits 1 and lists the first missing entries (hash and nibble path) if anything is missing.
    Verify(VerifyArgs),
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["accounts", "genesis"])))]
struct GenArgs {
    /// Database directory (created if absent). It must hold no state, or exactly the one generated
    /// (then nothing is written).
    #[arg(long, value_name = "DIR")]
    db: Option<PathBuf>,
    /// Accounts of a synthetic state.
    #[arg(long, value_name = "N")]
    accounts: Option<usize>,
    /// Seed of the synthetic state: the same settings always give the same root.
    #[arg(long, value_name = "S", default_value_t = 1, conflicts_with = "genesis")]
    seed: u64,
    /// Fraction of synthetic accounts that are contracts (code, and most with storage), 0 to 1.
    #[arg(long, value_name = "F", default_value_t = 0.2, conflicts_with = "genesis")]
    contracts: f64,
    /// Slots of the largest synthetic storage trie (most are much smaller).
    #[arg(long, value_name = "K", default_value_t = 1_000, conflicts_with = "genesis")]
    max_slots: usize,
    /// A go-ethereum style genesis file: its `alloc` (balance, nonce, code, storage) is the state.
    #[arg(long, value_name = "FILE", conflicts_with = "accounts")]
    genesis: Option<PathBuf>,
    /// Also write the synthetic state as a go-ethereum genesis file (a private chain, id 1337, merged
    /// at genesis), so another client can load the very same state. Without --db, only the file is
    /// written.
    #[arg(long, value_name = "FILE", requires = "accounts")]
    export_genesis: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// Database directory to serve (must exist).
    #[arg(long, value_name = "DIR")]
    db: Option<PathBuf>,
    /// Address to listen on; port 0 picks a free port (printed on stdout's first line).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:30333")]
    listen: SocketAddr,
    /// Peers served at once; more are told "too many peers" and closed.
    #[arg(long, value_name = "N", default_value_t = 50)]
    max_peers: usize,
    /// Network id sent in the Status handshake; peers on another network are disconnected [default:
    /// the genesis file's chain id over RLPx, 1 otherwise].
    #[arg(long, value_name = "ID")]
    network_id: Option<u64>,
    /// Also serve over RLPx (eth/66 GetNodeData, as go-ethereum v1.13 did) on this address; needs
    /// --genesis or --chain. The enode URL is printed as the second line of stdout.
    #[arg(long, value_name = "ADDR", requires = "chain_source")]
    rlpx: Option<SocketAddr>,
    #[command(flatten)]
    chain: ChainArgs,
    /// Misbehave on purpose, for tests and demos.
    #[arg(long, value_enum, hide = true)]
    fault: Option<StoreFault>,
    /// Seconds a connected client may stay silent between requests before it is disconnected,
    /// freeing its slot.
    #[arg(long, value_name = "SECS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
    idle_timeout: u64,
}

#[derive(Debug, Args)]
struct SyncArgs {
    /// Database directory (created if absent; a partial sync in it is resumed).
    #[arg(long, value_name = "DIR")]
    db: Option<PathBuf>,
    /// State root to download (0x and 64 hex digits).
    #[arg(long, value_name = "HASH")]
    root: String,
    /// A peer: an Ethereum node as `enode://PUBKEY@HOST:PORT` (RLPx, eth/66), or a wire v1 server
    /// as `host:port`; repeat for more peers.
    #[arg(long = "peer", value_name = "ADDR", required = true)]
    peers: Vec<String>,
    /// Network id for the Status handshake; peers on another network are disconnected [default:
    /// the genesis file's chain id for RLPx peers, 1 otherwise].
    #[arg(long, value_name = "ID")]
    network_id: Option<u64>,
    #[command(flatten)]
    chain: ChainArgs,
    /// Verified bytes held in memory before they are committed to the database. Larger batches write
    /// faster; a crash loses at most this much work (it is fetched again on restart).
    #[arg(long, value_name = "BYTES", default_value_t = statesync::downloader::DEFAULT_COMMIT_THRESHOLD,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    commit_bytes: usize,
    /// Make every N-th commit durable (fsynced); 1 makes each one durable. A crash, even a kill,
    /// loses the commits since the last durable one; they are fetched again on restart.
    #[arg(long, value_name = "N", default_value_t = statesync::BULK_DURABILITY_EVERY,
          value_parser = clap::value_parser!(u32).range(1..))]
    durable_every: u32,
    /// First walk the stored state of --root, re-hashing everything, and remove each damaged entry
    /// (missing, corrupt or unreadable) with every stored node above it, so that the sync fetches
    /// exactly those again from the peers and skips everything intact. For a database `verify`
    /// finds incomplete or damaged.
    #[arg(long)]
    repair: bool,
    /// With --json, also print the progress as JSON lines on stdout, one object a second (share of
    /// work done, ETA, counters), before the report's object.
    #[arg(long, requires = "json")]
    json_progress: bool,
}

/// The chain RLPx peers must share with us, and who we are to them.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("chain_source").args(["chain_genesis", "chain"])))]
struct ChainArgs {
    /// The chain of RLPx peers, from a go-ethereum genesis file (its hash and fork schedule are
    /// computed; its config.chainId is the default network id).
    #[arg(long = "genesis", value_name = "FILE", conflicts_with = "chain")]
    chain_genesis: Option<PathBuf>,
    /// The chain of RLPx peers by name.
    #[arg(long, value_name = "NAME", value_parser = ["mainnet"])]
    chain: Option<String>,
    /// Our node key (secp256k1, 64 hex digits, go-ethereum's format); created if absent [default:
    /// DIR/nodekey, created once]
    #[arg(long, value_name = "FILE")]
    node_key: Option<PathBuf>,
}

impl ChainArgs {
    /// The chain asked for, if any.
    fn spec(&self) -> Option<statesync::ChainSpec> {
        match (&self.chain_genesis, &self.chain) {
            (Some(path), _) => Some(statesync::ChainSpec::Genesis(path.clone())),
            (None, Some(_)) => Some(statesync::ChainSpec::Mainnet),
            (None, None) => None,
        }
    }

    /// Our eth settings, when a chain is given.
    fn eth(
        &self,
        network_id: Option<u64>,
        db: Option<&std::path::Path>,
    ) -> Result<Option<statesync::eth_peer::EthConfig>> {
        let Some(spec) = self.spec() else { return Ok(None) };
        let chain = statesync::load_chain(&spec, network_id)?;
        let key = statesync::load_node_key(self.node_key.as_deref(), db)?;
        Ok(Some(statesync::eth_config(key, chain)))
    }
}

#[derive(Debug, Args)]
struct DemoArgs {
    /// Accounts of the synthetic state.
    #[arg(long, value_name = "N", default_value_t = 50_000)]
    accounts: usize,
    /// Seed of the synthetic state.
    #[arg(long, value_name = "S", default_value_t = 1)]
    seed: u64,
    /// Peers serving it; the last one is faulty (it flips a byte of every blob it sends).
    #[arg(long, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..=16))]
    peers: u64,
    /// Keep the databases in DIR instead of a temporary directory removed at the end.
    #[arg(long, value_name = "DIR")]
    keep: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct VerifyArgs {
    /// Database directory (must exist).
    #[arg(long, value_name = "DIR")]
    db: Option<PathBuf>,
    /// State root to walk (0x and 64 hex digits); defaults to the root recorded by gen or sync.
    #[arg(long, value_name = "HASH")]
    root: Option<String>,
    /// Missing entries listed in full (all are counted).
    #[arg(long, value_name = "N", default_value_t = 10)]
    max_missing: usize,
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => return parse_error(error),
    };
    let default_level = if matches!(cli.command, Command::Demo(_)) { "warn" } else { "info" };
    if let Err(error) = init_logging(cli.log_level.as_deref().unwrap_or(default_level)) {
        eprintln!("error: {error:#}");
        return ExitCode::from(EXIT_BAD_INPUT as u8);
    }
    match run(cli) {
        Ok(code) => code,
        Err(error) => {
            // Our errors already name their cause in one line; others get anyhow's chain.
            match error.downcast_ref::<statesync::Error>() {
                Some(ours) => {
                    eprintln!("error: {ours}");
                    ExitCode::from(ours.exit_code() as u8)
                }
                None => {
                    eprintln!("error: {error:#}");
                    ExitCode::from(EXIT_FAILURE as u8)
                }
            }
        }
    }
}

/// Prints a usage error: one line for a bad value, clap's full message (with usage) otherwise; help
/// and version go to stdout with success.
fn parse_error(error: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    match error.kind() {
        ErrorKind::DisplayHelp
        | ErrorKind::DisplayVersion
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = error.print();
            ExitCode::from(if error.use_stderr() { EXIT_BAD_INPUT as u8 } else { 0 })
        }
        ErrorKind::InvalidValue | ErrorKind::ValueValidation => {
            let rendered = error.render().to_string();
            eprintln!("{}", rendered.lines().next().unwrap_or("error: invalid value"));
            ExitCode::from(EXIT_BAD_INPUT as u8)
        }
        _ => {
            let _ = error.print();
            ExitCode::from(EXIT_BAD_INPUT as u8)
        }
    }
}

fn init_logging(level: &str) -> Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_new(level)
        .with_context(|| format!("bad --log-level {level:?}"))?;
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| progress::LogWriter)
        .with_ansi(ansi)
        .init();
    Ok(())
}

fn run(cli: Cli) -> Result<ExitCode> {
    let json = cli.json;
    let cache = cli.cache_mib.map(|mib| mib << 20);
    let at = |dir: Option<PathBuf>, new| StoreLocation::detect(cli.backend, dir, new).with_cache(cache);
    match cli.command {
        Command::Gen(args) => {
            let location = at(args.db.clone(), Backend::Redb);
            gen(&location, args, json)
        }
        Command::Serve(args) => {
            let location = at(args.db.clone(), Backend::Redb);
            let options = ServeOptions {
                listen: args.listen,
                max_peers: args.max_peers,
                network_id: args.network_id.unwrap_or(1),
                fault: args.fault,
                idle_timeout: std::time::Duration::from_secs(args.idle_timeout),
            };
            let rlpx = match args.rlpx {
                Some(addr) => match args.chain.eth(args.network_id, args.db.as_deref())? {
                    Some(eth) => Some((addr, eth)),
                    None => return Err(statesync::Error::NoChain.into()),
                },
                None => None,
            };
            serve(&location, &options, rlpx, json)
        }
        Command::Sync(args) => {
            let location = at(args.db.clone(), Backend::Fjall);
            sync(&location, &args, json)
        }
        Command::Demo(args) => demo(&args, json),
        Command::Verify(args) => {
            let location = at(args.db, Backend::Redb);
            verify(&location, args.root.as_deref(), args.max_missing, json)
        }
    }
}

fn gen(location: &StoreLocation, args: GenArgs, json: bool) -> Result<ExitCode> {
    let source = match (args.genesis, args.accounts) {
        (Some(path), _) => StateSource::Genesis(path),
        (None, Some(accounts)) => StateSource::Synthetic(SyntheticConfig {
            seed: args.seed,
            accounts,
            contract_fraction: args.contracts,
            max_slots: args.max_slots,
        }),
        (None, None) => unreachable!("clap requires --accounts or --genesis"),
    };
    if let (Some(path), StateSource::Synthetic(config)) = (&args.export_genesis, &source) {
        let exported = statesync::export_genesis(config, path)?;
        let only_the_file = location.dir.is_none();
        if json && only_the_file {
            println!("{}", serde_json::to_string(&exported)?);
        } else if !json {
            eprintln!(
                "exported {} accounts ({} contracts, {} storage slots; {} trie nodes, {} code blobs) as a go-ethereum genesis file: {}, {} in {}",
                exported.accounts,
                exported.contracts,
                exported.storage_slots,
                exported.nodes,
                exported.codes,
                exported.path.display(),
                human_bytes(exported.bytes),
                human_duration(exported.elapsed),
            );
            if only_the_file {
                println!("{}", exported.root);
            }
        }
        if only_the_file {
            return Ok(ExitCode::SUCCESS);
        }
    }
    // Read the genesis file before touching the database, so a bad file leaves no empty database.
    if let StateSource::Genesis(path) = &source {
        statesync::GenesisState::read(path).map_err(statesync::Error::from)?;
    }
    let store = location.open_for_gen()?;
    let report = statesync::generate(store.as_ref(), &source, location)?;
    if json {
        println!("{}", serde_json::to_string(&report)?);
    } else if report.already_present {
        eprintln!("state {} is already complete in {}: nothing written", report.root, location.describe());
        println!("{}", report.root);
    } else {
        eprintln!(
            "generated {} accounts ({} contracts, {} storage slots): {} trie nodes, {} code blobs, {} in {} into {}",
            report.accounts,
            report.contracts,
            report.storage_slots,
            report.nodes,
            report.codes,
            human_bytes(report.bytes),
            human_duration(report.elapsed),
            location.describe(),
        );
        println!("{}", report.root);
    }
    Ok(ExitCode::SUCCESS)
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|source| statesync::Error::Io { what: "starting the async runtime", source })
        .map_err(Into::into)
}

fn serve(
    location: &StoreLocation,
    options: &ServeOptions,
    rlpx: Option<(SocketAddr, statesync::eth_peer::EthConfig)>,
    json: bool,
) -> Result<ExitCode> {
    let store = location.open("serve", OpenMode::ReadOnly, true)?;
    runtime()?.block_on(async {
        let stop_signal = statesync::shutdown_signal()?;
        let server = BoundServer::bind(store.clone(), options).await?;
        let rlpx = match rlpx {
            Some((addr, eth)) => Some(statesync::BoundRlpxServer::bind(store, addr, eth, options).await?),
            None => None,
        };
        let addr = server.local_addr();
        let enode = rlpx.as_ref().map(|server| server.enode().to_string());
        if json {
            println!("{}", serde_json::json!({ "listening": addr.to_string(), "enode": enode }));
        } else {
            println!("{addr}");
            if let Some(enode) = &enode {
                println!("{enode}");
            }
        }
        let stop = server.shutdown_handle();
        let running = tokio::spawn(server.run());
        let rlpx_running = rlpx.map(|server| (server.shutdown_handle(), tokio::spawn(server.run())));
        stop_signal.await;
        tracing::info!(target: "statesync::serve", "signal received, shutting down");
        stop.shutdown();
        if let Some((stop, running)) = rlpx_running {
            stop.shutdown();
            running.await.map_err(|error| statesync::Error::Task(error.to_string()))?;
        }
        running.await.map_err(|error| statesync::Error::Task(error.to_string()))?;
        Ok(ExitCode::SUCCESS)
    })
}

fn sync(location: &StoreLocation, args: &SyncArgs, json: bool) -> Result<ExitCode> {
    let root = statesync::parse_root(&args.root)?;
    let peers = statesync::resolve_peers(&args.peers)?;
    // A database this command creates is removed again if the peers turn out unusable, so bad input
    // leaves nothing behind.
    let created = location.dir.as_ref().filter(|dir| !dir.exists()).cloned();
    let result = sync_into(location, args, root, peers, json);
    if let (Err(error), Some(dir)) = (&result, created) {
        if error.downcast_ref::<statesync::Error>().is_some_and(statesync::Error::is_bad_input) {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
    result
}

fn sync_into(
    location: &StoreLocation,
    args: &SyncArgs,
    root: statesync::H256,
    peers: Vec<statesync::PeerAddress>,
    json: bool,
) -> Result<ExitCode> {
    let eth = if peers.iter().any(statesync::PeerAddress::is_rlpx) {
        match args.chain.eth(args.network_id, None)? {
            Some(eth) => Some(eth),
            None => return Err(statesync::Error::NoChain.into()),
        }
    } else {
        None
    };
    let store = if args.repair {
        location.open_for_repair("sync", args.durable_every)?
    } else {
        location.open_durable_every("sync", OpenMode::Create, false, args.durable_every)?
    };
    // The node key is kept beside the database once it exists.
    let eth = match (eth, &location.dir, &args.chain.node_key) {
        (Some(mut eth), Some(dir), None) => {
            eth.node_key = std::sync::Arc::new(statesync::load_node_key(None, Some(dir))?);
            Some(eth)
        }
        (eth, _, _) => eth,
    };
    if let Some(eth) = &eth {
        tracing::info!(target: "statesync::sync", node = %eth.node_key.id(), network = eth.chain.network_id, genesis = ?eth.chain.genesis_hash, "speaking RLPx eth/66");
    }
    let progress_record = location.dir.as_ref().map(|dir| dir.join(statesync::PROGRESS_RECORD_FILE));
    let options = statesync::SyncOptions {
        progress_record,
        root,
        peers,
        eth,
        network_id: args.network_id.unwrap_or(1),
        downloader: statesync::downloader::DownloaderConfig {
            commit_threshold: args.commit_bytes,
            ..statesync::downloader::DownloaderConfig::default()
        },
    };
    let summary = runtime()?.block_on(async {
        let mut display = progress::SyncDisplay::new(json, args.json_progress);
        // Installed before the sync starts; without handlers, the sync simply cannot be interrupted.
        let signal = statesync::shutdown_signal();
        let interrupt = async move {
            match signal {
                Ok(signal) => signal.await,
                Err(_) => std::future::pending::<()>().await,
            }
        };
        let mut observe = |status: &statesync::SyncStatus| display.update(status);
        let result = if args.repair {
            statesync::repair_and_sync(store, &options, &mut observe, interrupt).await
        } else {
            statesync::sync(store, &options, &mut observe, interrupt).await
        };
        display.finish();
        result
    })?;
    if json {
        println!("{}", serde_json::to_string(&summary)?);
    } else if summary.already_complete {
        let checked =
            if summary.repair.is_some() { " (walked and re-hashed: nothing is damaged)" } else { "" };
        println!(
            "state {} is already complete in {}{checked}: nothing to fetch",
            summary.root,
            location.describe()
        );
    } else {
        print_sync_summary(&summary);
    }
    Ok(ExitCode::SUCCESS)
}

fn demo(args: &DemoArgs, json: bool) -> Result<ExitCode> {
    let mut options = statesync::DemoOptions::default();
    options.state.accounts = args.accounts;
    options.state.seed = args.seed;
    options.peers = args.peers as usize;
    options.dir = args.keep.clone();
    let report = runtime()?.block_on(async {
        let mut display = progress::SyncDisplay::new(json, false);
        let mut out: Box<dyn std::io::Write + Send> =
            if json { Box::new(std::io::sink()) } else { Box::new(std::io::stdout()) };
        let result = statesync::demo(&options, &mut out, &mut |status| display.update(status)).await;
        display.finish();
        result
    })?;
    if json {
        println!("{}", serde_json::to_string(&report)?);
    }
    Ok(if report.same_entries_as_source { ExitCode::SUCCESS } else { ExitCode::from(EXIT_FAILURE as u8) })
}

fn print_sync_summary(summary: &statesync::SyncSummary) {
    let entries = summary.nodes + summary.codes;
    println!("synced {} in {}", summary.root, human_duration(summary.elapsed));
    println!("  trie nodes     {}", summary.nodes);
    println!("  code blobs     {}", summary.codes);
    println!(
        "  bytes          {} ({}/s)",
        human_bytes(summary.bytes),
        human_bytes(per_second(summary.bytes, summary.elapsed) as u64)
    );
    println!("  rate           {:.0} entries/s", per_second(entries, summary.elapsed));
    if summary.resumed_from > 0 {
        println!("  resumed from   {} entries committed by an earlier sync", summary.resumed_from);
    }
    if let Some(recovery) = &summary.recovery {
        if recovery.rolled_back() {
            println!(
                "  rolled back    the database held {} entries, the last run had made {} durable: {} fetched again",
                recovery.found,
                recovery.reported,
                recovery.reported - recovery.found
            );
        } else {
            println!(
                "  recovered      {} entries (the last run had made {} durable)",
                recovery.found, recovery.reported
            );
        }
    }
    println!(
        "  requests       {} ({} hashes retried, {} hedged)",
        summary.requests, summary.retried, summary.hedged
    );
    println!("  duplicate      {}", summary.duplicate);
    println!("  unexpected     {}", summary.unexpected);
    println!(
        "  peers          {} connected, {} unreachable, {} dropped",
        summary.peers_connected,
        summary.peers_unreachable.len(),
        summary.peers_dropped.len()
    );
    for peer in &summary.peers {
        println!("    connected {} ({})", peer.address, peer.client.as_deref().unwrap_or("wire v1"));
    }
    for failure in &summary.peers_unreachable {
        println!("    unreachable {failure}");
    }
    for dropped in &summary.peers_dropped {
        println!("    dropped {}: {}", dropped.peer, dropped.reason);
    }
    if let Some(repair) = &summary.repair {
        println!(
            "  repaired       {} damaged entries ({} missing, {} corrupt) and the {} intact nodes above them removed and fetched again; verified by the last of {} walks",
            repair.damaged,
            repair.missing,
            repair.damaged - repair.missing,
            repair.ancestors,
            repair.walks,
        );
        if repair.corrupt_elsewhere > 0 {
            println!(
                "                 also removed: {} corrupt entries no walk reached",
                repair.corrupt_elsewhere
            );
        }
        for entry in &repair.entries {
            println!("    {} {:<9} at path {}: {}", entry.hash, entry.kind, entry.path, entry.damage);
        }
    }
}

fn verify(location: &StoreLocation, root: Option<&str>, max_missing: usize, json: bool) -> Result<ExitCode> {
    let root = root.map(statesync::parse_root).transpose()?;
    let store = location.open("verify", OpenMode::ReadOnly, true)?;
    let root = match root {
        Some(root) => root,
        None => statesync::recorded_root(store.as_ref())?.ok_or_else(|| {
            statesync::Error::NoRecordedRoot { path: location.dir.clone().unwrap_or_default() }
        })?,
    };
    let report = statesync::verify(store.as_ref(), root, max_missing)?;
    if json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        println!("state root     {}", report.root);
        println!("accounts       {}", report.accounts);
        println!("storage slots  {}", report.storage_slots);
        println!("trie nodes     {}", report.nodes);
        println!("code blobs     {}", report.codes);
        println!("bytes          {} ({})", report.bytes, human_bytes(report.bytes));
        println!(
            "walked in      {} ({:.0} nodes/s)",
            human_duration(report.elapsed),
            per_second(report.nodes + report.codes, report.elapsed)
        );
        if report.complete {
            println!("complete: every node and code blob is present and matches its hash");
        } else {
            println!("missing        {} entries; the first {}:", report.missing_count, report.missing.len());
            for entry in &report.missing {
                println!("  {} {:<9} at path {}", entry.hash, entry.kind, entry.path);
            }
        }
    }
    if report.complete {
        Ok(ExitCode::SUCCESS)
    } else {
        Err(statesync::Error::Incomplete { root, missing: report.missing_count }.into())
    }
}
