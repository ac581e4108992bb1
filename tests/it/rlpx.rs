//! RLPx end to end through the real binary: `serve --rlpx` of a synthetic state exported as a genesis
//! file, `sync --peer enode://...` on the same genesis, `verify`; each way an RLPx peer can be unusable
//! is exit 2 with one line; node keys are kept in `DIR/nodekey` or `--node-key FILE` and reused.

use std::path::{Path, PathBuf};

use statesync::rlpx::NodeKey;

use crate::cli::{path, run, Server};

/// A synthetic state in `dir/source` with its genesis file `dir/genesis-SEED.json`: gen's JSON
/// report, the root and the genesis file.
fn gen_with_genesis(dir: &Path, accounts: u32, seed: u32) -> (serde_json::Value, String, PathBuf) {
    let genesis = dir.join(format!("genesis-{seed}.json"));
    let (accounts, seed) = (accounts.to_string(), seed.to_string());
    let source = dir.join("source");
    let gen = run(&[
        "--json",
        "gen",
        "--db",
        path(&source),
        "--accounts",
        &accounts,
        "--seed",
        &seed,
        "--export-genesis",
        path(&genesis),
    ])
    .success();
    let generated: serde_json::Value = serde_json::from_str(gen.stdout.trim()).expect("gen --json report");
    let root = generated["root"].as_str().expect("a root").to_string();
    (generated, root, genesis)
}

/// `serve --rlpx` of `db` on `genesis`, with `extra` arguments.
fn serve_rlpx(db: &Path, genesis: &Path, extra: &[&str]) -> Server {
    let mut args = vec!["--rlpx", "127.0.0.1:0", "--genesis", path(genesis)];
    args.extend_from_slice(extra);
    Server::start(db, &args)
}

/// The node id of an `enode://ID@HOST:PORT` URL.
fn enode_id(enode: &str) -> &str {
    enode.strip_prefix("enode://").and_then(|rest| rest.split('@').next()).expect("an enode URL")
}

/// The node id a key file holds, as an enode shows it (checks the file is 64 hex digits).
fn key_file_id(file: &Path) -> String {
    let text = std::fs::read_to_string(file).expect("reading the node key file");
    assert_eq!(text.len(), 64, "node key file {}: {text:?}", file.display());
    assert!(text.bytes().all(|b| b.is_ascii_hexdigit()), "node key file {}: {text:?}", file.display());
    hex::encode(NodeKey::load(file).expect("a valid node key").id().as_bytes())
}

#[test]
fn rlpx_sync_from_serve_matches_gen_verifies_and_names_the_client() {
    let dir = tempfile::tempdir().unwrap();
    let (generated, root, genesis) = gen_with_genesis(dir.path(), 300, 3);
    let server = serve_rlpx(&dir.path().join("source"), &genesis, &[]);
    let enode = server.enode.clone().expect("serve --rlpx prints its enode");

    let synced = dir.path().join("synced");
    let sync = run(&[
        "--json",
        "sync",
        "--db",
        path(&synced),
        "--root",
        &root,
        "--peer",
        &enode,
        "--genesis",
        path(&genesis),
    ])
    .success();
    let report: serde_json::Value = serde_json::from_str(sync.stdout.trim()).expect("sync --json report");
    assert_eq!(report["root"], root.as_str());
    assert_eq!(report["already_complete"], false);
    assert_eq!((&report["nodes"], &report["codes"]), (&generated["nodes"], &generated["codes"]), "{report}");
    assert!(generated["codes"].as_u64().unwrap() > 0, "the state has contracts: {generated}");
    assert_eq!(report["peers_connected"], 1, "{report}");
    let peer = &report["peers"][0];
    let client = peer["client"].as_str().unwrap_or_else(|| panic!("the peer's client is named: {report}"));
    assert!(client.starts_with("statesync/"), "client {client:?}");
    assert!(report["peers_dropped"].as_array().unwrap().is_empty(), "{report}");

    let verify = run(&["--json", "verify", "--db", path(&synced), "--root", &root]).success();
    let verified: serde_json::Value = serde_json::from_str(verify.stdout.trim()).unwrap();
    assert_eq!(verified["complete"], true, "{verified}");
    assert_eq!((&verified["nodes"], &verified["codes"]), (&generated["nodes"], &generated["codes"]));
    assert_eq!(verified["accounts"], 300);

    // The sync kept its node key beside the database (and a second sync, a no-op, keeps it); the
    // server's is beside its own database.
    let sync_id = key_file_id(&synced.join(statesync::NODE_KEY_FILE));
    let again =
        run(&["sync", "--db", path(&synced), "--root", &root, "--peer", &enode, "--genesis", path(&genesis)])
            .success();
    assert!(again.stdout.contains("already complete"), "{}", again.stdout);
    assert_eq!(key_file_id(&synced.join(statesync::NODE_KEY_FILE)), sync_id);
    assert_eq!(key_file_id(&dir.path().join("source").join(statesync::NODE_KEY_FILE)), enode_id(&enode));
    assert_eq!(server.terminate(), Some(0));
}

#[test]
fn unusable_rlpx_peers_and_bad_enodes_are_exit_2_with_one_line_and_store_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (_, root, genesis) = gen_with_genesis(dir.path(), 200, 1);
    let source = dir.path().join("source");
    let other_genesis = dir.path().join("genesis-2.json");
    run(&["gen", "--accounts", "200", "--seed", "2", "--export-genesis", path(&other_genesis)]).success();
    let server = serve_rlpx(&source, &genesis, &[]);
    let enode = server.enode.clone().unwrap();
    let synced = dir.path().join("synced");
    let db = path(&synced);
    let sync = |peer: &str, extra: &[&str]| {
        run(&[&["sync", "--db", db, "--root", &root, "--peer", peer], extra].concat())
    };

    sync("enode://zz@127.0.0.1:1", &["--genesis", path(&genesis)])
        .bad_input("bad peer address \"enode://zz@");
    sync(&enode, &[]).bad_input("enode:// peers need the chain: pass --genesis FILE or --chain mainnet");
    sync(&enode, &["--genesis", path(&other_genesis)]).bad_input("peer's genesis is 0x");
    // Mainnet's network id (1) differs first; on the same network id, its genesis does.
    sync(&enode, &["--chain", "mainnet"]).bad_input("peer on network 1337, we are on 1");
    sync(&enode, &["--chain", "mainnet", "--network-id", "1337"]).bad_input("peer's genesis is 0x");
    sync(&enode, &["--genesis", path(&genesis), "--network-id", "5"])
        .bad_input("peer on network 1337, we are on 5");
    sync(&enode, &["--genesis", path(&dir.path().join("absent.json"))]).bad_input("cannot read genesis file");
    let bad_key = dir.path().join("bad-key");
    std::fs::write(&bad_key, "not a key").unwrap();
    sync(&enode, &["--genesis", path(&genesis), "--node-key", path(&bad_key)]).bad_input("node key");

    // The server on another network refuses us just the same.
    let elsewhere = serve_rlpx(&source, &genesis, &["--network-id", "5"]);
    sync(elsewhere.enode.as_deref().unwrap(), &["--genesis", path(&genesis)])
        .bad_input("peer on network 5, we are on 1337");
    // And serve itself refuses --rlpx without a chain (a node key alone is not one): clap's usage
    // error (several lines, by design, as for every missing argument).
    let serve = ["serve", "--db", path(&source), "--listen", "127.0.0.1:0", "--rlpx", "127.0.0.1:0"];
    let key = dir.path().join("serve.key");
    for extra in [&[][..], &["--node-key", path(&key)][..]] {
        let usage = run(&[&serve[..], extra].concat()).expect_code(2);
        assert!(usage.stderr.contains("--genesis <FILE>|--chain <NAME>"), "{}", usage.stderr);
    }
    assert!(!key.exists(), "a refused serve created its node key");

    // None of that stored anything (not even an empty database); the right chain still syncs.
    assert!(!synced.exists(), "a refused sync left a database behind");
    sync(&enode, &["--genesis", path(&genesis)]).success();
    run(&["verify", "--db", db, "--root", &root]).success();
}

#[test]
fn serve_keeps_its_node_key_in_the_database_directory() {
    let dir = tempfile::tempdir().unwrap();
    let (_, _, genesis) = gen_with_genesis(dir.path(), 50, 1);
    let source = dir.path().join("source");
    let key_file = source.join(statesync::NODE_KEY_FILE);
    assert!(!key_file.exists());

    let first = serve_rlpx(&source, &genesis, &[]);
    let first_enode = first.enode.clone().unwrap();
    assert_eq!(first.terminate(), Some(0));
    let id = key_file_id(&key_file);
    assert_eq!(enode_id(&first_enode), id, "the enode is the key file's");

    let second = serve_rlpx(&source, &genesis, &[]);
    assert_eq!(enode_id(second.enode.as_deref().unwrap()), id, "the second serve reused DIR/nodekey");
    assert_eq!(second.terminate(), Some(0));
    assert_eq!(key_file_id(&key_file), id, "the key file is unchanged");
}

#[test]
fn node_key_file_is_created_when_absent_and_reused() {
    let dir = tempfile::tempdir().unwrap();
    let (_, root, genesis) = gen_with_genesis(dir.path(), 50, 1);
    let source = dir.path().join("source");

    // serve --node-key FILE: created (not DIR/nodekey), then reused.
    let serve_key = dir.path().join("serve.key");
    let first = serve_rlpx(&source, &genesis, &["--node-key", path(&serve_key)]);
    let id = key_file_id(&serve_key);
    assert_eq!(enode_id(first.enode.as_deref().unwrap()), id);
    assert!(!source.join(statesync::NODE_KEY_FILE).exists(), "--node-key replaces DIR/nodekey");
    assert_eq!(first.terminate(), Some(0));
    let server = serve_rlpx(&source, &genesis, &["--node-key", path(&serve_key)]);
    let enode = server.enode.clone().unwrap();
    assert_eq!(enode_id(&enode), id, "the second serve reused --node-key FILE");

    // sync --node-key FILE: created on the first sync, left as it is by a second one.
    let sync_key = dir.path().join("sync.key");
    let sync = |db: &str| {
        run(&[
            "sync",
            "--db",
            db,
            "--root",
            &root,
            "--peer",
            &enode,
            "--genesis",
            path(&genesis),
            "--node-key",
            path(&sync_key),
        ])
        .success()
    };
    let first_db = dir.path().join("first");
    sync(path(&first_db));
    let sync_id = key_file_id(&sync_key);
    assert_ne!(sync_id, id, "the sync has its own key");
    let key_text = std::fs::read(&sync_key).unwrap();
    assert!(!first_db.join(statesync::NODE_KEY_FILE).exists(), "--node-key replaces DIR/nodekey");
    sync(path(&dir.path().join("second")));
    assert_eq!(std::fs::read(&sync_key).unwrap(), key_text, "the second sync reused --node-key FILE");
}
