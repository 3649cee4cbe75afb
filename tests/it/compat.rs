//! The custody-log format stays compatible (issue 18; docs/CUSTODY-LOG.md; R11): a log written
//! by evidock before the stored tree nodes (`fixtures/custody-log-v1/`, made by its `make.sh`
//! with that version) verifies with today's code, and today's inclusion and consistency proofs
//! are the ones that version printed, before and after the catalogue is upgraded in place.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::support::{text, Station};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/custody-log-v1").join(name)
}

fn json(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(bytes)))
}

/// Every field the old version printed, but the event as people read it (its rendering of
/// times has changed since; its canonical `encoding` is compared).
fn assert_same_proof(st: &Station, args: &[&str], file: &str) {
    let want = json(&std::fs::read(fixture(file)).unwrap());
    let o = st.evidock(args);
    assert!(o.status.success(), "{args:?}: {}", text(&o));
    let got = json(&o.stdout);
    let fields = want.as_object().expect("an object");
    assert!(fields.contains_key("proof"), "{want}");
    for (k, v) in fields.iter().filter(|(k, _)| k.as_str() != "event") {
        assert_eq!(&got[k], v, "{args:?}: field {k}");
    }
}

#[test]
fn a_log_written_before_the_stored_tree_nodes_verifies_and_proves_the_same() {
    let st = Station::new();
    let state = st.path("state");
    std::fs::create_dir_all(&state).unwrap();
    for f in ["catalog.sqlite", "custody-signing.pub", "custody-checkpoints.txt"] {
        std::fs::copy(fixture(f), state.join(f)).unwrap();
    }
    let db = rusqlite::Connection::open(state.join("catalog.sqlite")).unwrap();
    let (size, first): (i64, i64) = db
        .query_row(
            "SELECT (SELECT max(seq) FROM custody_log), (SELECT tree_size FROM custody_checkpoints ORDER BY id LIMIT 1)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    let tree: i64 =
        db.query_row("SELECT count(*) FROM sqlite_schema WHERE name = 'custody_tree'", [], |r| r.get(0)).unwrap();
    assert_eq!(tree, 0, "written before the stored tree nodes");
    assert!(size > 300, "a few hundred events: {size}");
    drop(db);
    let (size, first) = (size.to_string(), first.to_string());
    let check = |when: &str| {
        let o = st.evidock(&["log", "verify", "--json"]);
        assert!(o.status.success(), "{when}: {}", text(&o));
        let v = json(&o.stdout);
        assert_eq!(v["intact"], Value::Bool(true), "{when}: {v}");
        for seq in ["1", "137", first.as_str(), size.as_str()] {
            assert_same_proof(&st, &["log", "prove", seq, "--json"], &format!("prove-{seq}.json"));
        }
        assert_same_proof(
            &st,
            &["log", "consistency", &first, &size, "--json"],
            &format!("consistency-{first}-{size}.json"),
        );
    };
    // Read as it was written (the log commands open the database read-only).
    check("as written");
    // Upgraded in place: a command that writes opens the catalogue, which gains today's tables
    // (stored tree nodes, query keys and hours) and fills them from the log.
    st.register("F999999");
    let db = rusqlite::Connection::open(state.join("catalog.sqlite")).unwrap();
    let keys: i64 = db.query_row("SELECT count(*) FROM custody_keys", [], |r| r.get(0)).unwrap();
    assert!(keys > 0, "the query keys are filled from the old log");
    drop(db);
    check("upgraded in place");
}
