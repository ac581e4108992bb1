//! Opening what is not a usable database: a typed error, never a panic and never a scribbled file.

use std::fs;
use std::path::{Path, PathBuf};

use kvdb::Error;

use crate::data::value;

/// A directory that rejects new files, or `None` when permission bits do not stop us (tests often run
/// as root, which ignores them); the caller then skips that assertion and says so.
fn read_only_dir(parent: &Path) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let dir = parent.join("read-only");
    fs::create_dir(&dir).ok()?;
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o555)).ok()?;
    match fs::write(dir.join("probe"), b"") {
        Err(_) => Some(dir),
        Ok(()) => {
            eprintln!(
                "note: {} accepts writes despite mode 0o555 (running as root?): skipping",
                dir.display()
            );
            None
        }
    }
}

/// Fails under CI when neither read-only location was available, so the case cannot pass vacuously
/// there; elsewhere says loudly that nothing was checked.
fn assert_checked(checked: usize) {
    if checked == 0 {
        assert!(
            std::env::var_os("CI").is_none(),
            "no read-only location on this machine: the case was not tested"
        );
        eprintln!("SKIPPED: no read-only location on this machine");
    }
}

/// `/sys` is mounted read-only in containers and refuses new files even to root; `None` if this
/// machine lets us create files there after all (then the assertion is skipped, with a note).
fn read_only_file_system_path(name: &str) -> Option<PathBuf> {
    let path = Path::new("/sys").join(name);
    match fs::File::create_new(&path) {
        Err(err)
            if matches!(
                err.kind(),
                std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem
            ) =>
        {
            Some(path)
        }
        Ok(_) => {
            let _ = fs::remove_file(&path);
            eprintln!("note: /sys is writable here: skipping the read-only file system case");
            None
        }
        Err(err) => {
            eprintln!("note: /sys refused a file with {err}, not a permission error: skipping");
            None
        }
    }
}

#[cfg(feature = "redb")]
mod redb {
    use super::*;
    use kvdb::{KeyValueStore, Namespace, RedbOptions, RedbStore, WriteBatch};

    fn open(path: &Path) -> kvdb::Result<RedbStore> {
        RedbStore::open(path, RedbOptions::new())
    }

    #[test]
    fn a_directory_is_not_a_database() {
        let dir = tempfile::tempdir().expect("tempdir");
        let result = open(dir.path());
        assert!(matches!(result, Err(Error::NotADatabase { backend: "redb", .. })), "{result:?}");
    }

    #[test]
    fn a_text_file_is_not_a_database() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("notes.txt");
        fs::write(&path, "these are my notes, not a database\n".repeat(100)).expect("write");
        let result = open(&path);
        assert!(matches!(result, Err(Error::NotADatabase { backend: "redb", .. })), "{result:?}");
        assert_eq!(
            fs::read_to_string(&path).expect("read back"),
            "these are my notes, not a database\n".repeat(100),
            "the file is left untouched"
        );
    }

    #[test]
    fn garbage_bytes_are_not_a_database() {
        let dir = tempfile::tempdir().expect("tempdir");
        for (n, len) in [1usize, 100, 4096, 1 << 16].into_iter().enumerate() {
            let path = dir.path().join(format!("garbage-{len}"));
            fs::write(&path, value(n as u64, len)).expect("write");
            let result = open(&path);
            assert!(matches!(result, Err(Error::NotADatabase { .. })), "{len} bytes: {result:?}");
        }
    }

    #[test]
    fn an_empty_file_becomes_a_new_database() -> kvdb::Result<()> {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("empty.redb");
        fs::write(&path, b"").expect("write");
        let store = open(&path)?;
        let mut batch = WriteBatch::new();
        batch.put(Namespace::Meta, b"k".to_vec(), b"v".to_vec());
        store.write(batch)?;
        assert_eq!(store.get(Namespace::Meta, b"k")?, Some(b"v".to_vec()));
        Ok(())
    }

    #[test]
    fn opening_twice_is_locked() -> kvdb::Result<()> {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("db.redb");
        let first = open(&path)?;
        let second = open(&path);
        assert!(matches!(&second, Err(Error::Locked { path: locked }) if *locked == path), "{second:?}");
        drop(first);
        open(&path).map(drop) // the lock goes with the first handle
    }

    #[test]
    fn a_read_only_location_is_read_only() {
        let mut checked = 0;
        if let Some(path) = read_only_file_system_path("kvdb-test.redb") {
            let result = open(&path);
            assert!(matches!(result, Err(Error::ReadOnly { .. })), "{result:?}");
            checked += 1;
        }
        let dir = tempfile::tempdir().expect("tempdir");
        if let Some(read_only) = read_only_dir(dir.path()) {
            let result = open(&read_only.join("db.redb"));
            assert!(matches!(result, Err(Error::ReadOnly { .. })), "{result:?}");
            checked += 1;
        }
        assert_checked(checked);
    }

    #[test]
    fn a_missing_parent_directory_is_an_io_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let result = open(&dir.path().join("no/such/dir/db.redb"));
        assert!(
            matches!(&result, Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound),
            "{result:?}"
        );
    }
}

#[cfg(feature = "fjall")]
mod fjall {
    use super::*;
    use kvdb::{FjallOptions, FjallStore};

    fn open(path: &Path) -> kvdb::Result<FjallStore> {
        FjallStore::open(path, FjallOptions::new())
    }

    #[test]
    fn a_file_is_not_a_database() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("notes.txt");
        fs::write(&path, "not a database").expect("write");
        let result = open(&path);
        assert!(matches!(result, Err(Error::NotADatabase { backend: "fjall", .. })), "{result:?}");
    }

    #[test]
    fn a_foreign_directory_is_not_a_database() {
        let dir = tempfile::tempdir().expect("tempdir");
        fs::write(dir.path().join("holiday.jpg"), value(1, 1000)).expect("write");
        let result = open(dir.path());
        assert!(matches!(result, Err(Error::NotADatabase { backend: "fjall", .. })), "{result:?}");
        let names: Vec<_> = fs::read_dir(dir.path()).expect("list").collect();
        assert_eq!(names.len(), 1, "nothing was written into the foreign directory");
    }

    #[test]
    fn a_garbage_version_marker_is_not_a_database() {
        let dir = tempfile::tempdir().expect("tempdir");
        fs::write(dir.path().join("version"), value(2, 64)).expect("write");
        let result = open(dir.path());
        assert!(matches!(result, Err(Error::NotADatabase { backend: "fjall", .. })), "{result:?}");
    }

    #[test]
    fn opening_twice_is_locked() -> kvdb::Result<()> {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("db");
        let first = open(&path)?;
        let second = open(&path);
        assert!(matches!(&second, Err(Error::Locked { path: locked }) if *locked == path), "{second:?}");
        drop(first);
        open(&path).map(drop)
    }

    #[test]
    fn a_read_only_location_is_read_only() {
        let mut checked = 0;
        if let Some(path) = read_only_file_system_path("kvdb-test-fjall") {
            let result = open(&path);
            assert!(matches!(result, Err(Error::ReadOnly { .. })), "{result:?}");
            checked += 1;
        }
        let dir = tempfile::tempdir().expect("tempdir");
        if let Some(read_only) = read_only_dir(dir.path()) {
            let result = open(&read_only.join("db"));
            assert!(matches!(result, Err(Error::ReadOnly { .. })), "{result:?}");
            checked += 1;
        }
        assert_checked(checked);
    }
}
