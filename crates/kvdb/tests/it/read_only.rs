//! `RedbStore::open_read_only`: readers share a file, in one process and across processes; a writer
//! and readers exclude each other; a read-only store refuses writes with a typed error and changes
//! nothing; nothing is created or repaired.
//!
//! The cross-process reader is this same test binary, re-executed to run the ignored test
//! `read_only::child_reader` (as the crash tests re-execute theirs).

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};

use kvdb::{Error, KeyValueStore, Namespace, RedbOptions, RedbStore, WriteBatch};

use crate::data::{key, value};

/// Tells the re-executed binary which file to hold read-only.
const CHILD_ENV: &str = "KVDB_READ_ONLY_CHILD";
/// Entries written before the readers open.
const ENTRIES: u64 = 100;

/// A database at `path` with `ENTRIES` trie nodes and one code blob, closed again.
fn written(path: &Path) -> kvdb::Result<()> {
    let store = RedbStore::open(path, RedbOptions::new())?;
    let mut batch = WriteBatch::new();
    for n in 0..ENTRIES {
        batch.put(Namespace::TrieNodes, key(n), value(n, 100));
    }
    batch.put(Namespace::Code, key(ENTRIES), value(ENTRIES, 1000));
    store.write(batch)
}

fn read_only(path: &Path) -> kvdb::Result<RedbStore> {
    RedbStore::open_read_only(path, RedbOptions::new())
}

/// Every entry `written` put there is read back through `store`.
fn assert_holds_the_data(store: &RedbStore) -> kvdb::Result<()> {
    assert_eq!(store.count(Namespace::TrieNodes)?, ENTRIES);
    for n in [0, ENTRIES / 2, ENTRIES - 1] {
        assert_eq!(store.get(Namespace::TrieNodes, &key(n))?, Some(value(n, 100)));
    }
    assert!(store.contains(Namespace::Code, &key(ENTRIES))?);
    assert!(!store.contains(Namespace::Code, &key(0))?);
    let mut visited = 0;
    store.for_each(Namespace::TrieNodes, &mut |_, _| visited += 1)?;
    assert_eq!(visited, ENTRIES);
    assert_eq!(store.count(Namespace::Meta)?, 0);
    Ok(())
}

#[test]
fn two_readers_in_one_process_share_the_file_and_see_the_data() -> kvdb::Result<()> {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("db.redb");
    written(&path)?;
    let (first, second) = (read_only(&path)?, read_only(&path)?);
    assert_holds_the_data(&first)?;
    assert_holds_the_data(&second)?;
    Ok(())
}

#[test]
fn a_writer_and_a_reader_exclude_each_other() -> kvdb::Result<()> {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("db.redb");
    written(&path)?;

    let writer = RedbStore::open(&path, RedbOptions::new())?;
    let reader = read_only(&path);
    assert!(matches!(&reader, Err(Error::Locked { path: locked }) if *locked == path), "{reader:?}");
    drop(writer);

    let reader = read_only(&path)?;
    let writer = RedbStore::open(&path, RedbOptions::new());
    assert!(matches!(&writer, Err(Error::Locked { path: locked }) if *locked == path), "{writer:?}");
    drop(reader);
    RedbStore::open(&path, RedbOptions::new()).map(drop) // the shared lock goes with the last reader
}

#[test]
fn writes_and_flushes_are_refused_and_change_nothing() -> kvdb::Result<()> {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("db.redb");
    written(&path)?;
    let before = fs::read(&path).expect("read the file");
    let store = read_only(&path)?;

    let mut batch = WriteBatch::new();
    batch.put(Namespace::TrieNodes, key(ENTRIES + 1), value(ENTRIES + 1, 100));
    batch.delete(Namespace::TrieNodes, key(0));
    let result = store.write(batch);
    assert!(matches!(&result, Err(Error::ReadOnlyStore { path: refused }) if *refused == path), "{result:?}");
    let result = store.write(WriteBatch::new());
    assert!(matches!(result, Err(Error::ReadOnlyStore { .. })), "an empty batch too: {result:?}");
    let result = store.flush();
    assert!(matches!(result, Err(Error::ReadOnlyStore { .. })), "{result:?}");

    assert_holds_the_data(&store)?;
    assert!(!store.contains(Namespace::TrieNodes, &key(ENTRIES + 1))?);
    drop(store);
    assert_eq!(fs::read(&path).expect("read the file"), before, "the file is byte for byte unchanged");
    Ok(())
}

#[test]
fn a_missing_file_is_an_error_and_is_not_created() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("absent.redb");
    let result = read_only(&path);
    assert!(
        matches!(&result, Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound),
        "{result:?}"
    );
    assert!(!path.exists(), "a read-only open created the file");
}

#[test]
fn what_is_not_a_database_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().expect("tempdir");
    let result = read_only(dir.path());
    assert!(matches!(result, Err(Error::NotADatabase { backend: "redb", .. })), "{result:?}");
    for (name, bytes) in [("empty", Vec::new()), ("garbage", value(7, 4096))] {
        let path = dir.path().join(name);
        fs::write(&path, &bytes).expect("write");
        let result = read_only(&path);
        assert!(matches!(result, Err(Error::NotADatabase { .. })), "{name}: {result:?}");
        assert_eq!(fs::read(&path).expect("read back"), bytes, "{name} is left untouched");
    }
}

/// The child: hold `$KVDB_READ_ONLY_CHILD` read-only, report how many trie nodes it sees, and keep it
/// open until stdin closes.
#[test]
#[ignore = "the child process of the read-only tests, run by them"]
fn child_reader() -> kvdb::Result<()> {
    let path = std::env::var(CHILD_ENV).expect("run by the read-only tests, with KVDB_READ_ONLY_CHILD set");
    let store = read_only(Path::new(&path))?;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "@count {}", store.count(Namespace::TrieNodes)?).expect("stdout");
    stdout.flush().expect("stdout");
    let _ = std::io::stdin().lock().read_line(&mut String::new());
    drop(store);
    writeln!(stdout, "@closed").expect("stdout");
    Ok(())
}

/// A child process holding a file read-only; killed if dropped before [`ChildReader::close`].
struct ChildReader {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<std::process::ChildStdout>,
}

impl ChildReader {
    /// Starts the child on `path` and waits until it holds the file, returning the count it saw.
    fn start(path: &Path) -> (ChildReader, u64) {
        let exe = std::env::current_exe().expect("test binary");
        let mut child = Command::new(exe)
            .args(["read_only::child_reader", "--exact", "--ignored", "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, path)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn the child");
        let stdin = child.stdin.take();
        let stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        let mut reader = ChildReader { child, stdin, stdout };
        let count = reader.wait_for("@count ").parse().expect("a count");
        (reader, count)
    }

    /// Reads stdout up to the line carrying `marker` (libtest's own text may precede it) and returns
    /// what follows it.
    fn wait_for(&mut self, marker: &str) -> String {
        let mut line = String::new();
        loop {
            line.clear();
            let read = self.stdout.read_line(&mut line).expect("child stdout");
            assert!(read > 0, "the child exited before printing {marker:?}");
            if let Some((_, rest)) = line.split_once(marker) {
                return rest.trim().to_string();
            }
        }
    }

    /// Tells the child to close the file, waits until it has, and checks that it exited cleanly.
    fn close(mut self) {
        drop(self.stdin.take());
        self.wait_for("@closed");
        let status = self.child.wait().expect("reap the child");
        assert!(status.success(), "the child failed: {status:?}");
    }
}

impl Drop for ChildReader {
    fn drop(&mut self) {
        if self.stdin.is_some() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

#[test]
fn a_reader_in_another_process_shares_the_file_and_keeps_writers_out() -> kvdb::Result<()> {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("db.redb");
    written(&path)?;

    let (child, seen) = ChildReader::start(&path);
    assert_eq!(seen, ENTRIES, "the child reads the data");
    let here = read_only(&path)?;
    assert_holds_the_data(&here)?;
    let writer = RedbStore::open(&path, RedbOptions::new());
    assert!(matches!(writer, Err(Error::Locked { .. })), "{writer:?}");
    drop(here);
    let writer = RedbStore::open(&path, RedbOptions::new());
    assert!(matches!(writer, Err(Error::Locked { .. })), "the child still holds it: {writer:?}");
    child.close();
    RedbStore::open(&path, RedbOptions::new()).map(drop)
}

#[test]
fn a_writer_in_this_process_keeps_a_reader_in_another_out() -> kvdb::Result<()> {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("db.redb");
    written(&path)?;
    let writer = RedbStore::open(&path, RedbOptions::new())?;
    let exe = std::env::current_exe().expect("test binary");
    let output = Command::new(exe)
        .args(["read_only::child_reader", "--exact", "--ignored", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, &path)
        .stdin(Stdio::null())
        .output()
        .expect("run the child");
    let (stdout, stderr) = (String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(!output.status.success(), "the child opened a file a writer holds:\n{stdout}");
    // libtest prints the error a test returns (its Debug form) on stderr.
    assert!(stderr.contains("Locked"), "the child failed with Locked:\n{stdout}\n{stderr}");
    drop(writer);
    Ok(())
}
