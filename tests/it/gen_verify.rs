//! `gen` then `verify`: roots, reproducibility, backends, gaps.

use std::process::Stdio;
use std::time::{Duration, Instant};

use statesync::kvdb::{Error as StoreError, KeyValueStore, Namespace, RedbOptions, RedbStore, WriteBatch};
use statesync::trie_sync::{ChildRef, Node};
use statesync::{OpenMode, StoreLocation};

use crate::cli::{path, run, vectors_or_skip, MAINNET_ROOT};

#[test]
fn gen_mainnet_genesis_prints_the_mainnet_root_and_verifies() {
    let Some(vectors) = vectors_or_skip("gen_mainnet_genesis_prints_the_mainnet_root_and_verifies") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let genesis = vectors.join("mainnet.json");
    let gen = run(&["gen", "--db", path(dir.path()), "--genesis", path(&genesis)]).success();
    assert_eq!(gen.last_line(), MAINNET_ROOT);
    assert!(gen.stderr.contains("8893 accounts"), "{}", gen.stderr);
    let verify = run(&["verify", "--db", path(dir.path()), "--root", MAINNET_ROOT]).success();
    assert!(verify.stdout.contains("accounts       8893"), "{}", verify.stdout);
    assert!(verify.stdout.contains("complete"), "{}", verify.stdout);
}

#[test]
fn gen_synthetic_is_reproducible_across_backends() {
    let dir = tempfile::tempdir().unwrap();
    let args = ["--accounts", "500", "--seed", "42", "--contracts", "0.3", "--max-slots", "200"];
    let redb = run(&[&["gen", "--db", path(&dir.path().join("a"))][..], &args].concat()).success();
    let fjall =
        run(&[&["--backend", "fjall", "gen", "--db", path(&dir.path().join("b"))][..], &args].concat())
            .success();
    let memory = run(&[&["--backend", "memory", "gen"][..], &args].concat()).success();
    let root = redb.last_line();
    assert!(root.starts_with("0x") && root.len() == 66, "{root}");
    assert_eq!(fjall.last_line(), root);
    assert_eq!(memory.last_line(), root);
    let other_seed = run(&["--backend", "memory", "gen", "--accounts", "500", "--seed", "43"]).success();
    assert_ne!(other_seed.last_line(), root);

    // verify defaults to the recorded root; --json gives the figures.
    let verify =
        run(&["--backend", "fjall", "--json", "verify", "--db", path(&dir.path().join("b"))]).success();
    let report: serde_json::Value = serde_json::from_str(&verify.stdout).unwrap();
    assert_eq!(report["root"], root);
    assert_eq!(report["accounts"], 500);
    assert_eq!(report["complete"], true);
    assert!(report["codes"].as_u64().unwrap() > 0 && report["storage_slots"].as_u64().unwrap() > 0);
}

#[test]
fn export_genesis_then_gen_genesis_gives_the_same_state() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("synthetic.json");
    let args = ["--accounts", "400", "--seed", "9", "--contracts", "0.5", "--max-slots", "300"];
    let gen = run(&[&["--json", "gen", "--db", path(&dir.path().join("a"))][..], &args].concat()).success();
    let exported = run(&[&["--json", "gen", "--export-genesis", path(&file)][..], &args].concat()).success();
    let reread =
        run(&["--json", "gen", "--db", path(&dir.path().join("b")), "--genesis", path(&file)]).success();
    let [gen, exported, reread] = [gen, exported, reread].map(|run| {
        serde_json::from_str::<serde_json::Value>(&run.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", run.stdout))
    });
    for field in ["root", "accounts", "contracts", "nodes", "codes"] {
        assert_eq!(exported[field], gen[field], "{field}: {exported} vs {gen}");
        assert_eq!(reread[field], gen[field], "{field}: {reread} vs {gen}");
    }
    assert!(gen["codes"].as_u64().unwrap() > 0 && gen["storage_slots"].as_u64().unwrap() > 300, "{gen}");
    // The genesis path counts the slots of every account, shared storage tries as often as they are used.
    assert!(reread["storage_slots"].as_u64() >= gen["storage_slots"].as_u64(), "{reread} vs {gen}");

    // What go-ethereum needs besides the alloc: a private chain config and full 32-byte storage words.
    let genesis: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(genesis["config"]["chainId"], statesync::EXPORT_CHAIN_ID);
    assert_eq!(genesis["config"]["terminalTotalDifficulty"], 0);
    let alloc = genesis["alloc"].as_object().unwrap();
    assert_eq!(alloc.len(), 400);
    let (slot, value) = alloc
        .values()
        .find_map(|account| account["storage"].as_object()?.iter().next())
        .expect("some account has storage");
    assert_eq!((slot.len(), value.as_str().unwrap().len()), (66, 66), "{slot}: {value}");

    // Without --db only the file is written; the root is still the last line.
    let plain =
        run(&[&["gen", "--export-genesis", path(&dir.path().join("again.json"))][..], &args].concat())
            .success();
    assert_eq!(plain.last_line(), gen["root"].as_str().unwrap());
    assert!(plain.stderr.contains("go-ethereum genesis file"), "{}", plain.stderr);
}

#[test]
fn export_genesis_needs_a_synthetic_state_and_a_writable_file() {
    let dir = tempfile::tempdir().unwrap();
    let failed = run(&["gen", "--export-genesis", path(&dir.path().join("no-accounts.json"))]);
    assert_eq!(failed.code, Some(2), "{}", failed.stderr);
    run(&["gen", "--accounts", "10", "--export-genesis", path(&dir.path().join("no/such/dir.json"))])
        .bad_input("cannot write genesis file");
}

#[test]
fn verify_lists_missing_nodes_with_paths_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let root = run(&["gen", "--db", path(dir.path()), "--accounts", "300"]).success().last_line().to_string();
    // Delete one account-trie child of the root and one code blob.
    {
        let store = StoreLocation::redb(dir.path()).open("test", OpenMode::Existing, true).unwrap();
        let root_hash = statesync::parse_root(&root).unwrap();
        let node = store.get(Namespace::TrieNodes, root_hash.as_bytes()).unwrap().unwrap();
        let child = match Node::decode(&node).unwrap() {
            Node::Branch { children, .. } => children
                .iter()
                .find_map(|c| match c {
                    Some(ChildRef::Hash(hash)) => Some(*hash),
                    _ => None,
                })
                .unwrap(),
            other => panic!("root is not a branch: {other:?}"),
        };
        let mut code = None;
        store.for_each(Namespace::Code, &mut |key, _| code = code.clone().or(Some(key.to_vec()))).unwrap();
        let mut batch = WriteBatch::new();
        batch.delete(Namespace::TrieNodes, child.as_bytes().to_vec());
        batch.delete(Namespace::Code, code.unwrap());
        store.write(batch).unwrap();
    }
    let verify = run(&["verify", "--db", path(dir.path()), "--root", &root]).expect_code(1);
    assert!(verify.stdout.contains("missing"), "{}", verify.stdout);
    assert!(verify.stdout.contains("trie node"), "{}", verify.stdout);
    assert!(verify.stdout.contains("code"), "{}", verify.stdout);
    assert!(verify.stderr.contains("is incomplete"), "{}", verify.stderr);
}

#[test]
fn verify_repairs_what_a_killed_writer_left_then_reads_it() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(statesync::REDB_FILE);
    // gen opens the database before it builds the state, so killing it soon after the file appears
    // leaves the file as a crashed writer does.
    let mut gen = crate::cli::statesync(&["gen", "--db", path(dir.path()), "--accounts", "200000"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !file.exists() {
        assert!(Instant::now() < deadline, "gen created no database");
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(100));
    gen.kill().unwrap();
    let status = gen.wait().unwrap();
    assert!(!status.success(), "gen finished before it was killed: {status:?}");
    let opened = RedbStore::open_read_only(&file, RedbOptions::new());
    assert!(matches!(opened, Err(StoreError::NeedsRepair { .. })), "{opened:?}");

    // verify opens it anyway (repairing it first) and finds no recorded state in it.
    run(&["verify", "--db", path(dir.path())]).bad_input("records no state root: pass --root");
    RedbStore::open_read_only(&file, RedbOptions::new()).expect("repaired: opens read-only now");
}

#[test]
fn gen_again_with_the_same_state_is_a_no_op_that_prints_the_root() {
    let dir = tempfile::tempdir().unwrap();
    let args = ["gen", "--db", path(dir.path()), "--accounts", "300", "--seed", "5"];
    let root = run(&args).success().last_line().to_string();
    let again = run(&args).success();
    assert_eq!(again.last_line(), root);
    assert!(
        again.stderr.contains("already complete") && again.stderr.contains("nothing written"),
        "{}",
        again.stderr
    );
    let json = run(&[&["--json"][..], &args].concat()).success();
    let report: serde_json::Value = serde_json::from_str(json.stdout.trim()).unwrap();
    assert_eq!(
        (&report["root"], &report["already_present"]),
        (&serde_json::json!(root), &serde_json::json!(true))
    );
    run(&["verify", "--db", path(dir.path()), "--root", &root]).success();
}

#[test]
fn gen_into_a_database_holding_anything_else_is_refused_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let gen = ["gen", "--db", path(&db), "--accounts", "300"];

    // Another complete state.
    let other = run(&["gen", "--db", path(&db), "--accounts", "200", "--seed", "2"])
        .success()
        .last_line()
        .to_string();
    let refused = run(&gen).bad_input(&format!("{} (redb) already holds state {other}", db.display()));
    assert!(refused.stdout.is_empty(), "{}", refused.stdout);
    let verified = run(&["--json", "verify", "--db", path(&db)]).success();
    let report: serde_json::Value = serde_json::from_str(verified.stdout.trim()).unwrap();
    assert_eq!((&report["root"], &report["accounts"]), (&serde_json::json!(other), &serde_json::json!(200)));

    // What an interrupted gen leaves: nodes (say, a storage-trie root) or code, no complete state.
    let node = Node::Leaf { path: vec![1, 2, 3], value: b"slot".to_vec() }.encode();
    let remains: [(&str, Namespace, Vec<u8>); 3] = [
        ("nodes", Namespace::TrieNodes, node),
        ("code", Namespace::Code, b"\x60\x00".to_vec()),
        // A recorded root whose node is gone is no complete state either.
        ("root", Namespace::Meta, vec![0x11; 32]),
    ];
    for (name, namespace, value) in remains {
        let partial = dir.path().join(name);
        let location = StoreLocation::redb(partial.clone());
        {
            let store = location.open("test", OpenMode::Create, true).unwrap();
            let mut batch = WriteBatch::new();
            batch.put(
                Namespace::TrieNodes,
                statesync::trie_sync::keccak256(b"a child").as_bytes().to_vec(),
                b"x".to_vec(),
            );
            if namespace == Namespace::Meta {
                batch.put(Namespace::Meta, statesync::HEAD_ROOT_KEY.to_vec(), value);
            } else {
                batch.put(namespace, statesync::trie_sync::keccak256(&value).as_bytes().to_vec(), value);
            }
            store.write(batch).unwrap();
        }
        run(&["gen", "--db", path(&partial), "--accounts", "300"]).bad_input(&format!(
            "{} (redb) already holds trie nodes or code of an incomplete state",
            partial.display()
        ));
        let store = location.open("test", OpenMode::ReadOnly, true).unwrap();
        let entries = store.count(Namespace::TrieNodes).unwrap() + store.count(Namespace::Code).unwrap();
        assert_eq!(entries, if name == "root" { 1 } else { 2 }, "{name}: nothing written");
    }

    // The same check holds for fjall.
    let fjall = dir.path().join("fjall");
    run(&["--backend", "fjall", "gen", "--db", path(&fjall), "--accounts", "100"]).success();
    run(&["--backend", "fjall", "gen", "--db", path(&fjall), "--accounts", "101"])
        .bad_input("(fjall) already holds state 0x");
}
