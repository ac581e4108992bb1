//! Node keys on disk, in go-ethereum's `nodekey` format.

use rlpx::{NodeKey, NodeKeyError};

#[test]
fn save_then_load_in_geth_format() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nodekey");
    let key = NodeKey::generate();
    key.save(&path).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text.len(), 64, "64 hex digits, no 0x, no newline");
    assert!(text.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
    assert_eq!(NodeKey::load(&path).unwrap().id(), key.id());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    }
}

#[test]
fn load_accepts_a_final_newline_and_refuses_junk() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nodekey");
    std::fs::write(&path, "b71c71a67e1177ad4e901695e1b4b9ee17ae16c6668d313eac2f96dbcda3f291\n").unwrap();
    let key = NodeKey::load(&path).unwrap();
    assert_eq!(key.to_hex(), "b71c71a67e1177ad4e901695e1b4b9ee17ae16c6668d313eac2f96dbcda3f291");

    std::fs::write(&path, "0xb71c71a67e1177ad4e901695e1b4b9ee17ae16c6668d313eac2f96dbcda3f2").unwrap();
    assert!(matches!(NodeKey::load(&path), Err(NodeKeyError::BadHex)));
    std::fs::write(&path, "zz1c71a67e1177ad4e901695e1b4b9ee17ae16c6668d313eac2f96dbcda3f291").unwrap();
    assert!(matches!(NodeKey::load(&path), Err(NodeKeyError::BadHex)));
    std::fs::write(&path, "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141").unwrap();
    assert!(matches!(NodeKey::load(&path), Err(NodeKeyError::OutOfRange)), "the curve order itself");
    assert!(matches!(NodeKey::load(dir.path().join("missing")), Err(NodeKeyError::Io { .. })));
}
