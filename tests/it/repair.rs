//! `sync --repair` through the real binary: a synced database with entries deleted and corrupted at
//! random fails `verify` (exit 1); `sync --repair` fetches exactly the damaged entries and the
//! stored nodes above them (counted here independently, from the trie itself), and `verify` passes.
//! And a database the storage engine reports corrupt is exit 1 with a message saying what to do.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;

use statesync::kvdb::{KeyValueStore, Namespace, WriteBatch};
use statesync::trie_sync::{ChildRef, Node, StateAccount, EMPTY_CODE_HASH, EMPTY_ROOT};
use statesync::{Backend, OpenMode, StoreLocation, H256};

use crate::cli::{path, run, statesync as command, Run, Server};

/// A stored entry: its hash, and whether it is code (else a trie node).
type Entry = (H256, bool);

/// The state at `root` as a graph of references (children by hash; an account leaf's storage root
/// and code), read from `store` with the node codec alone: the oracle.
fn references(store: &dyn KeyValueStore, root: H256) -> HashMap<Entry, Vec<Entry>> {
    let mut graph: HashMap<Entry, Vec<Entry>> = HashMap::new();
    let mut stack = vec![(root, true)];
    while let Some((hash, accounts)) = stack.pop() {
        if graph.contains_key(&(hash, false)) {
            continue;
        }
        let blob = store.get(Namespace::TrieNodes, hash.as_bytes()).unwrap().expect("a complete state");
        let (mut children, mut values) = (Vec::new(), Vec::new());
        node_refs(&Node::decode(&blob).unwrap(), &mut children, &mut values);
        let mut refs: Vec<Entry> = children.iter().map(|child| (*child, false)).collect();
        stack.extend(children.into_iter().map(|child| (child, accounts)));
        for value in values.iter().filter(|_| accounts) {
            let account = StateAccount::decode(value).unwrap();
            if account.storage_root != EMPTY_ROOT {
                refs.push((account.storage_root, false));
                stack.push((account.storage_root, false));
            }
            if account.code_hash != EMPTY_CODE_HASH {
                refs.push((account.code_hash, true));
                graph.entry((account.code_hash, true)).or_default();
            }
        }
        graph.insert((hash, false), refs);
    }
    graph
}

fn node_refs(node: &Node, children: &mut Vec<H256>, values: &mut Vec<Vec<u8>>) {
    let child = |child: &ChildRef, children: &mut Vec<H256>, values: &mut Vec<Vec<u8>>| match child {
        ChildRef::Hash(hash) => children.push(*hash),
        ChildRef::Embedded(node) => node_refs(node, children, values),
    };
    match node {
        Node::Leaf { value, .. } => values.push(value.clone()),
        Node::Extension { child: next, .. } => child(next, children, values),
        Node::Branch { children: slots, value } => {
            for next in slots.iter().flatten() {
                child(next, children, values);
            }
            if let Some(value) = value {
                values.push(value.clone());
            }
        }
    }
}

/// Every trie node with one of `damaged` below it.
fn ancestors(graph: &HashMap<Entry, Vec<Entry>>, damaged: &HashSet<Entry>) -> HashSet<H256> {
    fn above(
        entry: Entry,
        graph: &HashMap<Entry, Vec<Entry>>,
        damaged: &HashSet<Entry>,
        memo: &mut HashMap<Entry, bool>,
    ) -> bool {
        if let Some(known) = memo.get(&entry) {
            return *known;
        }
        let mut result = false;
        for child in &graph[&entry] {
            result |= damaged.contains(child) | above(*child, graph, damaged, memo);
        }
        memo.insert(entry, result);
        result
    }
    let mut memo = HashMap::new();
    graph.keys().filter(|entry| above(**entry, graph, damaged, &mut memo)).map(|entry| entry.0).collect()
}

/// A small deterministic generator (splitmix64), so a failure can be replayed.
struct Picker(u64);

impl Picker {
    fn below(&mut self, bound: usize) -> usize {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        ((z ^ (z >> 31)) % bound as u64) as usize
    }
}

/// Opens the database in `dir` (whichever engine made it) for writing, as a tool would.
fn open(dir: &Path) -> Arc<dyn KeyValueStore> {
    StoreLocation::detect(None, Some(dir.into()), Backend::Fjall)
        .open("test", OpenMode::Existing, true)
        .unwrap()
}

/// Replaces the stored value of `entry` with one that does not hash to its key.
fn corrupt(batch: &mut WriteBatch, store: &dyn KeyValueStore, entry: Entry) {
    let namespace = if entry.1 { Namespace::Code } else { Namespace::TrieNodes };
    let mut value = store.get(namespace, entry.0.as_bytes()).unwrap().unwrap();
    let at = value.len() / 2;
    value[at] ^= 0x5a;
    batch.put(namespace, entry.0.as_bytes().to_vec(), value);
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text.trim()).unwrap_or_else(|error| panic!("{error}: {text}"))
}

/// `gen` (2,000 accounts) into `dir/source`, serve it, `sync` it into `dir/synced`: the server and the
/// root.
fn synced_copy(dir: &Path) -> (Server, String, serde_json::Value) {
    let source = dir.join("source");
    let generated = json(
        &run(&["--json", "gen", "--db", path(&source), "--accounts", "2000", "--seed", "4"]).success().stdout,
    );
    let root = generated["root"].as_str().unwrap().to_string();
    let server = Server::start(&source, &[]);
    run(&["sync", "--db", path(&dir.join("synced")), "--root", &root, "--peer", &server.addr]).success();
    (server, root, generated)
}

#[test]
fn sync_repair_fetches_exactly_the_damaged_entries_and_the_nodes_above_them() {
    let dir = tempfile::tempdir().unwrap();
    let (server, root, generated) = synced_copy(dir.path());
    let synced = dir.path().join("synced");

    // Damage 8 random entries, none below another: 3 trie nodes deleted, 3 corrupted, one code blob
    // of each.
    let store = open(&synced);
    let root_hash = statesync::parse_root(&root).unwrap();
    let graph = references(store.as_ref(), root_hash);
    // Not the root: everything is below it.
    let mut nodes: Vec<Entry> =
        graph.keys().filter(|entry| !entry.1 && entry.0 != root_hash).copied().collect();
    let mut codes: Vec<Entry> = graph.keys().filter(|entry| entry.1).copied().collect();
    nodes.sort();
    codes.sort();
    let mut picker = Picker(0x5eed);
    let mut damaged: HashSet<Entry> = HashSet::new();
    let mut pick = |pool: &[Entry], damaged: &mut HashSet<Entry>| loop {
        let candidate = pool[picker.below(pool.len())];
        let above_chosen = ancestors(&graph, damaged).contains(&candidate.0);
        let above_candidate = ancestors(&graph, &[candidate].into());
        let below_chosen = damaged.iter().any(|chosen| above_candidate.contains(&chosen.0));
        if !damaged.contains(&candidate) && !above_chosen && !below_chosen {
            damaged.insert(candidate);
            return candidate;
        }
    };
    let mut batch = WriteBatch::new();
    for _ in 0..3 {
        let deleted = pick(&nodes, &mut damaged);
        batch.delete(Namespace::TrieNodes, deleted.0.as_bytes().to_vec());
        let corrupted = pick(&nodes, &mut damaged);
        corrupt(&mut batch, store.as_ref(), corrupted);
    }
    let deleted = pick(&codes, &mut damaged);
    batch.delete(Namespace::Code, deleted.0.as_bytes().to_vec());
    let corrupted = pick(&codes, &mut damaged);
    corrupt(&mut batch, store.as_ref(), corrupted);
    store.write(batch).unwrap();
    drop(store);
    let above = ancestors(&graph, &damaged);
    assert!(above.contains(&root_hash));

    let verify = run(&["verify", "--db", path(&synced), "--root", &root]).expect_code(1);
    assert!(verify.stderr.contains("--repair"), "the message says what to do: {}", verify.stderr);
    let plain = run(&["sync", "--db", path(&synced), "--root", &root, "--peer", &server.addr]).success();
    assert!(plain.stdout.contains("already complete"), "without --repair, the stored root is trusted");

    let repaired =
        run(&["--json", "sync", "--db", path(&synced), "--root", &root, "--peer", &server.addr, "--repair"])
            .success();
    let report = json(&repaired.stdout);
    let repair = &report["repair"];
    let fetched = report["nodes"].as_u64().unwrap() + report["codes"].as_u64().unwrap();
    eprintln!(
        "damaged {}, ancestors {}, fetched {fetched} ({} nodes, {} codes), walks {}",
        repair["damaged"], repair["ancestors"], report["nodes"], report["codes"], repair["walks"]
    );
    assert_eq!(repair["damaged"], damaged.len() as u64, "{repair}");
    assert_eq!(repair["missing"], 4);
    assert_eq!(repair["ancestors"], above.len() as u64, "{repair}");
    assert_eq!(repair["removed"], 4 + above.len() as u64, "the 4 corrupt entries and every ancestor");
    assert_eq!(repair["corrupt_elsewhere"], 0);
    assert_eq!(repair["walks"], 2, "one to find the damage, one to verify the sync");
    assert_eq!(
        fetched,
        (damaged.len() + above.len()) as u64,
        "exactly the damaged entries and their ancestors"
    );
    assert_eq!(report["codes"], 2);
    assert_eq!(report["duplicate"], 0);

    let verified = json(&run(&["--json", "verify", "--db", path(&synced), "--root", &root]).success().stdout);
    assert_eq!(verified["nodes"], generated["nodes"]);
    assert_eq!(verified["codes"], generated["codes"]);
    // The root is recorded again: verify without --root finds it.
    run(&["verify", "--db", path(&synced)]).success();
    let again =
        run(&["sync", "--db", path(&synced), "--root", &root, "--peer", &server.addr, "--repair"]).success();
    assert!(again.stdout.contains("nothing is damaged"), "{}", again.stdout);
}

#[test]
fn damage_hidden_below_other_damage_is_found_by_a_later_walk() {
    let dir = tempfile::tempdir().unwrap();
    let (server, root, generated) = synced_copy(dir.path());
    let synced = dir.path().join("synced");

    // Delete a child of the root and corrupt an account leaf two or more nodes below it: the first
    // walk cannot see the leaf; the scan removes it; the second walk finds it missing below the
    // fetched nodes.
    let store = open(&synced);
    let root_hash = statesync::parse_root(&root).unwrap();
    let graph = references(store.as_ref(), root_hash);
    let is_branch = |entry: &Entry| {
        !entry.1
            && matches!(
                Node::decode(&store.get(Namespace::TrieNodes, entry.0.as_bytes()).unwrap().unwrap()),
                Ok(Node::Branch { .. })
            )
    };
    let (top, leaf) = graph[&(root_hash, false)]
        .iter()
        .find_map(|top| {
            let grandchild = graph[top].iter().find(|entry| is_branch(entry))?;
            Some((*top, *graph[grandchild].iter().find(|entry| !entry.1)?))
        })
        .expect("a branch two levels down");
    let mut batch = WriteBatch::new();
    batch.delete(Namespace::TrieNodes, top.0.as_bytes().to_vec());
    corrupt(&mut batch, store.as_ref(), leaf);
    store.write(batch).unwrap();
    drop(store);

    run(&["verify", "--db", path(&synced), "--root", &root]).expect_code(1);
    let report = json(
        &run(&["--json", "sync", "--db", path(&synced), "--root", &root, "--peer", &server.addr, "--repair"])
            .success()
            .stdout,
    );
    let repair = &report["repair"];
    let fetched = report["nodes"].as_u64().unwrap() + report["codes"].as_u64().unwrap();
    eprintln!("hidden damage: {repair}; fetched {fetched}");
    assert_eq!(repair["damaged"], 2, "the root's child, then the leaf: {repair}");
    assert_eq!(repair["corrupt_elsewhere"], 1, "the scan found the leaf: {repair}");
    assert_eq!(repair["walks"], 3);
    let expected: u64 = repair["damaged"].as_u64().unwrap() + repair["ancestors"].as_u64().unwrap();
    assert_eq!(fetched, expected, "each sync fetched what its walk found");
    let verified = json(&run(&["--json", "verify", "--db", path(&synced), "--root", &root]).success().stdout);
    assert_eq!(verified["nodes"], generated["nodes"]);
}

#[test]
fn a_database_its_engine_reports_corrupt_is_exit_1_naming_a_new_directory() {
    let dir = tempfile::tempdir().unwrap();
    let root = run(&["--backend", "fjall", "gen", "--db", path(dir.path()), "--accounts", "300"])
        .success()
        .last_line()
        .to_string();
    // Flip bytes in the middle of the largest table file of the fjall directory.
    let mut tables = Vec::new();
    let mut stack = vec![dir.path().join(statesync::FJALL_DIR)];
    while let Some(folder) = stack.pop() {
        for entry in std::fs::read_dir(folder).unwrap() {
            let entry = entry.unwrap().path();
            if entry.is_dir() {
                stack.push(entry);
            } else if entry.parent().is_some_and(|parent| parent.ends_with("tables")) {
                tables.push((std::fs::metadata(&entry).unwrap().len(), entry));
            }
        }
    }
    let (_, table) = tables.into_iter().max().expect("fjall wrote a table");
    let mut bytes = std::fs::read(&table).unwrap();
    let middle = bytes.len() / 2;
    for byte in &mut bytes[middle..middle + 64] {
        *byte ^= 0xff;
    }
    std::fs::write(&table, bytes).unwrap();

    for args in [
        vec!["--backend", "fjall", "verify", "--db", path(dir.path())],
        vec![
            "--backend",
            "fjall",
            "sync",
            "--db",
            path(dir.path()),
            "--root",
            &root,
            "--peer",
            "127.0.0.1:1",
            "--repair",
        ],
    ] {
        let failed = run(&args).expect_code(1);
        assert!(failed.stderr.contains("corrupted"), "{}", failed.stderr);
        assert!(failed.stderr.contains("start over with a new --db directory"), "{}", failed.stderr);
        assert!(!failed.stderr.contains("panicked"), "{}", failed.stderr);
    }
}

/// `gen` (300 accounts) into `dir`, then flips every byte of the 4 KiB in the middle of the redb file,
/// as damage outside redb would: the root.
fn gen_with_a_damaged_page(dir: &Path) -> String {
    let root = run(&["gen", "--db", path(dir), "--accounts", "300"]).success().last_line().to_string();
    let file = dir.join(statesync::REDB_FILE);
    let mut bytes = std::fs::read(&file).unwrap();
    let middle = bytes.len() / 2;
    for byte in &mut bytes[middle..middle + 4096] {
        *byte ^= 0xa5;
    }
    std::fs::write(&file, bytes).unwrap();
    root
}

/// A redb file with a page damaged outside redb: `sync --repair` checks every page when it opens the
/// file, and reports it corrupt (exit 1, naming a new directory) instead of crashing inside redb.
#[test]
fn a_redb_file_with_a_damaged_page_is_exit_1_for_repair_not_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let root = gen_with_a_damaged_page(dir.path());
    let args = ["sync", "--db", path(dir.path()), "--root", &root, "--peer", "127.0.0.1:1", "--repair"];
    let failed = run(&args);
    assert!(!failed.stderr.contains("panicked"), "{}", failed.stderr);
    let failed = failed.expect_code(1);
    assert!(failed.stderr.contains("start over with a new --db directory"), "{}", failed.stderr);
}

/// The same file for `verify`, which opens it read-only (so redb cannot check its pages) and walks
/// into the damaged page, where redb panics: exit 1 with what to do, never a panic's trace.
#[test]
fn a_redb_file_with_a_damaged_page_is_exit_1_for_verify_not_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let root = gen_with_a_damaged_page(dir.path());
    for args in [
        vec!["verify", "--db", path(dir.path()), "--root", &root],
        vec!["verify", "--db", path(dir.path())],
        vec!["--json", "verify", "--db", path(dir.path())],
    ] {
        let failed = command(&args).env("RUST_BACKTRACE", "1").output().expect("running statesync");
        let failed = Run::from(failed);
        for trace in ["panicked", "stack backtrace", "RUST_BACKTRACE"] {
            assert!(!failed.stderr.contains(trace), "{args:?}: {}", failed.stderr);
        }
        let failed = failed.expect_code(1);
        assert!(failed.stdout.is_empty(), "{args:?}: no report: {}", failed.stdout);
        let lines: Vec<&str> = failed.stderr.lines().filter(|line| !line.trim().is_empty()).collect();
        assert_eq!(lines.len(), 1, "{args:?}: one line: {}", failed.stderr);
        assert!(lines[0].starts_with("error: state "), "{args:?}: {}", failed.stderr);
        assert!(lines[0].contains("storage engine failed"), "{args:?}: {}", failed.stderr);
        assert!(lines[0].contains("sync --repair"), "{args:?}: {}", failed.stderr);
        assert!(lines[0].contains("start over with a new --db directory"), "{args:?}: {}", failed.stderr);
    }
}
