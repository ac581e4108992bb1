//! Bad input: one line on stderr naming the problem, exit code 2, no panic, nothing stored damaged.

use std::io::Write;

use crate::cli::{path, run, Server};

#[test]
fn bad_root_hex_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    run(&["gen", "--db", path(dir.path()), "--accounts", "10"]).success();
    run(&["verify", "--db", path(dir.path()), "--root", "0x1234"]).bad_input("bad state root \"0x1234\"");
    let not_hex = format!("0x{}", "zz".repeat(32));
    run(&["verify", "--db", path(dir.path()), "--root", &not_hex]).bad_input("bad state root");
}

#[test]
fn uncreatable_db_path_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"not a directory").unwrap();
    run(&["gen", "--db", path(&file.join("db")), "--accounts", "10"])
        .bad_input("cannot create database directory");
    run(&["gen", "--db", path(&file), "--accounts", "10"]).bad_input("cannot create database directory");
    assert_eq!(std::fs::read(&file).unwrap(), b"not a directory");
}

#[test]
fn missing_database_is_refused_not_created() {
    let dir = tempfile::tempdir().unwrap();
    let absent = dir.path().join("absent");
    run(&["verify", "--db", path(&absent)]).bad_input("no redb database at");
    run(&["serve", "--db", path(&absent), "--listen", "127.0.0.1:0"]).bad_input("no redb database at");
    assert!(!absent.exists());
    run(&["--backend", "memory", "verify", "--db", path(&absent)]).bad_input("cannot use --backend memory");
}

#[test]
fn a_file_that_is_not_a_database_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let redb = dir.path().join(statesync::REDB_FILE);
    std::fs::write(&redb, b"definitely not redb").unwrap();
    run(&["gen", "--db", path(dir.path()), "--accounts", "10"]).bad_input("cannot open database");
    assert_eq!(std::fs::read(&redb).unwrap(), b"definitely not redb");
}

#[test]
fn another_backends_database_is_named() {
    let dir = tempfile::tempdir().unwrap();
    run(&["--backend", "fjall", "gen", "--db", path(dir.path()), "--accounts", "10"]).success();
    run(&["--backend", "redb", "verify", "--db", path(dir.path())])
        .bad_input("holds a fjall database, not redb: pass --backend fjall");
    // Without --backend, the engine of the database there is used.
    run(&["verify", "--db", path(dir.path())]).success();
}

#[test]
fn db_held_by_another_process_is_refused_and_undamaged() {
    let dir = tempfile::tempdir().unwrap();
    let root = run(&["gen", "--db", path(dir.path()), "--accounts", "200"]).success().last_line().to_string();
    // `serve` holds it read-only: readers may share it (see `serve`), writers are refused.
    let server = Server::start(dir.path(), &[]);
    run(&["gen", "--db", path(dir.path()), "--accounts", "10"]).bad_input("already open in another process");
    run(&["sync", "--db", path(dir.path()), "--root", &root, "--peer", &server.addr])
        .bad_input("already open in another process");
    assert_eq!(server.terminate(), Some(0));
    run(&["verify", "--db", path(dir.path()), "--root", &root]).success();
}

#[test]
fn malformed_genesis_files_are_refused_without_creating_a_database() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let cases: [(&str, &str); 5] = [
        ("{\"alloc\": {", "is not valid JSON"),
        ("{\"config\": {}}", "has no \"alloc\" object"),
        ("{\"alloc\": {\"0x12\": {\"balance\": \"1\"}}}", "account 0x12: address"),
        ("{\"alloc\": {\"0x0000000000000000000000000000000000000001\": {\"balance\": \"lots\"}}}", "balance"),
        (
            "{\"alloc\": {\"0x0000000000000000000000000000000000000001\": {\"storage\": {\"0x01\": \"0xnope\"}}}}",
            "storage slot 0x01",
        ),
    ];
    for (index, (text, needle)) in cases.iter().enumerate() {
        let file = dir.path().join(format!("genesis-{index}.json"));
        std::fs::File::create(&file).unwrap().write_all(text.as_bytes()).unwrap();
        run(&["gen", "--db", path(&db), "--genesis", path(&file)]).bad_input(needle);
    }
    run(&["gen", "--db", path(&db), "--genesis", path(&dir.path().join("absent.json"))])
        .bad_input("cannot read genesis file");
    assert!(!db.exists(), "a refused genesis created the database");
}

#[test]
fn bad_synthetic_settings_and_listen_addresses_are_refused() {
    run(&["--backend", "memory", "gen", "--accounts", "10", "--contracts", "1.5"])
        .bad_input("contract fraction");
    let dir = tempfile::tempdir().unwrap();
    run(&["gen", "--db", path(dir.path()), "--accounts", "10"]).success();
    // An address of another machine cannot be bound.
    run(&["serve", "--db", path(dir.path()), "--listen", "192.0.2.1:1"])
        .bad_input("cannot listen on 192.0.2.1:1");
    run(&["serve", "--db", path(dir.path()), "--listen", "nowhere"]).bad_input("invalid value 'nowhere'");
}
