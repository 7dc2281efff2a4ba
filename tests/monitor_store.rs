//! The monitor's store (`src/monitor/store.rs`): records read back as written, a slot is stored
//! once, a `kill -9` loses no call reported stored, and a full disk, a read-only directory or a
//! corrupted database are refused at start with the path in the message.
//!
//! The crash, read-only and full-disk tests run this test binary again as a child (tests marked
//! `#[ignore]`, run only by their parent with the child's variables set); the read-only and
//! full-disk ones inside a private mount namespace (`unshare -m`, util-linux) on a tmpfs.

use callcert::engine::record::{CallMedia, CallRecord, Failure, FailureKind, HungUpBy};
use callcert::monitor::store::{CallCounts, Store, StoreError, DB_FILE, LOCK_FILE};
use callcert::monitor::{CallState, PingRecord, StoredCall};
use callcert::scenario::runner::{HeardPrompt, StepsResult};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

/// The child tests' variables: the store directory and the phase to run.
const CHILD_DIR: &str = "CALLCERT_STORE_CHILD_DIR";
const CHILD_PHASE: &str = "CALLCERT_STORE_CHILD_PHASE";

/// Monday 2025-06-16 09:00 UTC: the monitor's calls are stored in Unix seconds.
const T0: f64 = 1_750_064_400.0;

fn record(index: u64) -> CallRecord {
    let base = 1000.0 * index as f64;
    CallRecord {
        index,
        call_id: format!("{index}-mystery@callcert"),
        scheduled_ms: base,
        invite_sent_ms: Some(base + 0.4567),
        first_100_ms: Some(base + 2.0),
        first_18x_ms: Some(base + 120.25),
        first_18x_code: Some(180),
        answered_ms: Some(base + 2120.0),
        first_rtp_ms: Some(base + 2140.0),
        first_voice_ms: Some(base + 2_400.123_456),
        bye_ms: Some(base + 32_120.0),
        bye_by: Some(HungUpBy::Caller),
        ended_ms: base + 32_130.0,
        final_code: Some(200),
        failure: None,
        retransmissions_sent: 0,
        retransmissions_received: 1,
        media: Some(CallMedia {
            codec: "PCMU".to_owned(),
            tx_packets: 1500,
            rx_packets: 1498,
            rx_lost: 2,
            rx_jitter_ms: 1.25,
            tx_late_skipped: 0,
            malformed: 0,
            rtt_ms: Some(41.5),
        }),
        ivr: Some(StepsResult {
            steps: 3,
            passed: 3,
            completed: true,
            failure: None,
            failure_kind: None,
            dtmf_response_ms: vec![812.5, 640.25],
            query_response_ms: vec![1_503.0],
            agent_wait_ms: vec![12_000.0],
            prompts: vec![HeardPrompt {
                step: 1,
                name: Some("welcome".to_owned()),
                confidence: 0.93,
                onset_after_answer_ms: 310.0,
            }],
        }),
        cut_by_end: false,
        phase: None,
        quality: None,
    }
}

/// A failed call's record: no answer, a SIP error.
fn failed_record(index: u64) -> CallRecord {
    CallRecord {
        answered_ms: None,
        first_rtp_ms: None,
        first_voice_ms: None,
        bye_ms: None,
        bye_by: None,
        final_code: Some(503),
        media: None,
        ivr: None,
        failure: Some(Failure {
            kind: FailureKind::SipError,
            detail: "503 Service Unavailable, \"trunk busy\" 呼叫".to_owned(),
        }),
        ..record(index)
    }
}

fn started(slot: u64) -> f64 {
    T0 + 180.0 * slot as f64
}

fn done(slot: u64, scenario: &str, record: CallRecord) -> StoredCall {
    StoredCall {
        slot,
        scenario: scenario.to_owned(),
        scheduled_unix: started(slot) - 0.25,
        started_unix: started(slot),
        ended_unix: Some(started(slot) + 33.0),
        state: CallState::Done,
        record: Some(record),
    }
}

fn store_call(store: &mut Store, call: &StoredCall) {
    store
        .call_started(
            call.slot,
            &call.scenario,
            call.scheduled_unix,
            call.started_unix,
        )
        .unwrap();
    store.call_ended(call).unwrap();
}

fn open(dir: &Path) -> Store {
    Store::open(dir).unwrap_or_else(|e| panic!("{e}"))
}

fn open_err(dir: &Path) -> StoreError {
    match Store::open(dir) {
        Ok(_) => panic!("{} opened", dir.display()),
        Err(e) => e,
    }
}

#[test]
fn call_record_round_trips_through_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path());
    assert_eq!(store.path(), dir.path().join(DB_FILE));
    let ok = done(0, "billing/balance", record(0));
    let failed = done(1, "billing/balance", failed_record(1));
    store_call(&mut store, &ok);
    store_call(&mut store, &failed);
    let cut = StoredCall {
        slot: 2,
        scenario: "sales".to_owned(),
        scheduled_unix: started(2),
        started_unix: started(2) + 0.003,
        ended_unix: Some(started(2) + 5.0),
        state: CallState::Interrupted,
        record: Some(CallRecord {
            cut_by_end: true,
            failure: Some(Failure {
                kind: FailureKind::Interrupted,
                detail: "monitor stopped".to_owned(),
            }),
            ..record(2)
        }),
    };
    store_call(&mut store, &cut);
    assert_eq!(store.calls_since(T0).unwrap(), vec![ok, failed, cut]);
}

/// serde_json writes the shortest decimal that reads back as the same f64, and the store keeps
/// times as SQLite REALs (8-byte IEEE): measurements at full precision must survive both.
///
/// Needs serde_json's `float_roundtrip` feature: without it serde_json reads about one in ten
/// 17-digit numbers back one ULP off (e.g. 14210.308840580521 as 14210.30884058052).
#[test]
fn full_precision_measurements_round_trip_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path());
    let mut rng = StdRng::seed_from_u64(3);
    let mut values = vec![
        0.1 + 0.2,
        1.0 / 3.0,
        std::f64::consts::PI * 1000.0,
        5e-324,
        f64::MAX,
        9_007_199_254_740_993.0,
    ];
    values.extend((0..60).map(|_| rng.random::<f64>() * 1e5));
    let mut expected = Vec::new();
    for (i, x) in values.iter().enumerate() {
        let slot = i as u64;
        let mut r = record(slot);
        r.first_voice_ms = Some(*x);
        r.media.as_mut().unwrap().rx_jitter_ms = *x / 7.0;
        r.ivr.as_mut().unwrap().dtmf_response_ms = vec![*x, -*x / 3.0];
        let mut call = done(slot, "floats", r);
        call.started_unix = T0 + x.fract();
        call.scheduled_unix = T0 + 1.0 / 7.0;
        call.ended_unix = Some(T0 + *x / 1e3);
        expected.push(call);
    }
    for call in &expected {
        store_call(&mut store, call);
    }
    let back = store.calls_since(T0).unwrap();
    assert_eq!(back.len(), expected.len());
    let bits = |c: &StoredCall| {
        let r = c.record.as_ref().unwrap();
        let mut v = vec![
            c.started_unix,
            c.ended_unix.unwrap(),
            r.first_voice_ms.unwrap(),
        ];
        v.push(r.media.as_ref().unwrap().rx_jitter_ms);
        v.extend(&r.ivr.as_ref().unwrap().dtmf_response_ms);
        v.iter().map(|x| x.to_bits()).collect::<Vec<_>>()
    };
    let lossy: Vec<u64> = expected
        .iter()
        .zip(&back)
        .filter(|(want, got)| bits(want) != bits(got))
        .map(|(want, _)| want.slot)
        .collect();
    assert!(
        lossy.is_empty(),
        "slots {lossy:?} of {} read back with other numbers (is serde_json's float_roundtrip \
         feature on?)",
        expected.len()
    );
    assert_eq!(back, expected);
}

#[test]
#[allow(clippy::disallowed_methods)] // timing print only
fn reopened_store_keeps_everything_and_is_in_wal_mode() {
    let dir = tempfile::tempdir().unwrap();
    let calls: Vec<StoredCall> = (0..20).map(|s| done(s, "main", record(s))).collect();
    let ping = PingRecord {
        at_unix: T0 + 30.0,
        answered: true,
        code: Some(200),
        rtt_ms: Some(12.5),
        detail: None,
    };
    let lost = PingRecord {
        at_unix: T0 + 60.0,
        answered: false,
        code: None,
        rtt_ms: None,
        detail: Some("timeout after 5 s".to_owned()),
    };
    let body = serde_json::json!({"state": "failing", "checks": ["ACC-CONNECT-RATE"]});
    let alert;
    {
        let mut store = open(dir.path());
        let t = std::time::Instant::now();
        for c in &calls {
            store_call(&mut store, c);
        }
        eprintln!(
            "{} calls stored (start + end, synchronous=FULL) in {:?}: {:?} per call",
            calls.len(),
            t.elapsed(),
            t.elapsed() / calls.len() as u32
        );
        store
            .call_started(20, "main", started(20), started(20))
            .unwrap();
        store.record_ping(&ping).unwrap();
        store.record_ping(&lost).unwrap();
        alert = store.record_alert(T0 + 61.0, "state", &body).unwrap();
        store.set_meta("anchor_unix", "1750064400").unwrap();

        // Another connection sees the file in WAL mode while the store is open.
        let peek = rusqlite::Connection::open(dir.path().join(DB_FILE)).unwrap();
        let mode: String = peek
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
    }
    let mut store = open(dir.path());
    let mut back = store.calls_since(0.0).unwrap();
    let open_call = back.pop().unwrap();
    assert_eq!(back, calls);
    assert_eq!(
        (open_call.slot, open_call.state, open_call.record),
        (20, CallState::InProgress, None)
    );
    assert_eq!(store.pings_since(0.0).unwrap(), vec![ping, lost]);
    let alerts = store.alerts_since(0.0).unwrap();
    assert_eq!(alerts.len(), 1);
    assert_eq!((alerts[0].id, &alerts[0].body), (alert, &body));
    assert_eq!(
        store.meta("anchor_unix").unwrap().as_deref(),
        Some("1750064400")
    );
    assert_eq!(store.meta("opens").unwrap().as_deref(), Some("2"));
    assert_eq!(store.last_slot().unwrap(), Some(20));
    assert_eq!(store.recover(T0 + 4000.0).unwrap(), vec![20]);
    drop(store);

    let peek = rusqlite::Connection::open(dir.path().join(DB_FILE)).unwrap();
    let mode: String = peek
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
}

#[test]
fn second_open_while_the_first_is_alive_is_locked() {
    let dir = tempfile::tempdir().unwrap();
    let first = open(dir.path());
    let e = open_err(dir.path());
    assert!(matches!(e, StoreError::Locked { .. }), "{e:?}");
    assert_eq!(
        e.to_string(),
        format!(
            "store {}: in use by another callcert monitor (pid {}, lock {})",
            dir.path().display(),
            std::process::id(),
            dir.path().join(LOCK_FILE).display()
        )
    );
    drop(first);
    let again = open(dir.path());
    assert_eq!(again.count_calls().unwrap(), CallCounts::default());
}

#[test]
fn a_slot_is_stored_once_and_its_record_never_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path());
    let first = done(7, "main", record(7));
    store
        .call_started(7, "main", first.scheduled_unix, first.started_unix)
        .unwrap();

    let e = store
        .call_started(7, "main", started(7), started(7))
        .unwrap_err();
    assert!(
        matches!(
            e,
            StoreError::SlotTaken {
                slot: 7,
                state: CallState::InProgress,
                ..
            }
        ),
        "{e:?}"
    );
    assert!(
        e.to_string()
            .contains("slot 7 is already stored (in_progress)"),
        "{e}"
    );

    let mut other = first.clone();
    other.scenario = "sales".to_owned();
    let e = store.call_ended(&other).unwrap_err();
    assert!(matches!(e, StoreError::SlotTaken { slot: 7, .. }), "{e:?}");

    store.call_ended(&first).unwrap();
    let mut second = first.clone();
    second.record = Some(failed_record(7));
    let e = store.call_ended(&second).unwrap_err();
    assert!(
        matches!(
            e,
            StoreError::AlreadyEnded {
                slot: 7,
                state: CallState::Done,
                ..
            }
        ),
        "{e:?}"
    );
    assert!(e.to_string().contains("never overwritten"), "{e}");
    let e = store
        .call_started(7, "main", started(7), started(7))
        .unwrap_err();
    assert!(
        matches!(
            e,
            StoreError::SlotTaken {
                state: CallState::Done,
                ..
            }
        ),
        "{e:?}"
    );

    // Invalid ends are refused and write nothing.
    let mut not_ended = done(8, "main", record(8));
    not_ended.state = CallState::InProgress;
    assert!(matches!(
        store.call_ended(&not_ended),
        Err(StoreError::BadCall { slot: 8, .. })
    ));
    let mut no_record = done(8, "main", record(8));
    no_record.record = None;
    assert!(matches!(
        store.call_ended(&no_record),
        Err(StoreError::BadCall { slot: 8, .. })
    ));
    let mut nan = done(8, "main", record(8));
    nan.record.as_mut().unwrap().ended_ms = f64::NAN;
    let e = store.call_ended(&nan).unwrap_err();
    assert!(e.to_string().contains("does not read back"), "{e}");
    let mut nan_time = done(8, "main", record(8));
    nan_time.ended_unix = Some(f64::INFINITY);
    assert!(matches!(
        store.call_ended(&nan_time),
        Err(StoreError::NotFinite { .. })
    ));
    assert!(matches!(
        store.call_started(8, "main", f64::NAN, started(8)),
        Err(StoreError::NotFinite { .. })
    ));
    assert!(matches!(
        store.call_started(u64::MAX, "main", T0, T0),
        Err(StoreError::BadCall { .. })
    ));

    // An end whose start was never stored is stored whole, once.
    let orphan = done(9, "main", record(9));
    store.call_ended(&orphan).unwrap();
    assert!(matches!(
        store.call_ended(&orphan),
        Err(StoreError::AlreadyEnded { slot: 9, .. })
    ));

    assert_eq!(store.calls_since(0.0).unwrap(), vec![first, orphan]);
    assert_eq!(
        store.count_calls().unwrap(),
        CallCounts {
            total: 2,
            done: 2,
            interrupted: 0,
            in_progress: 0
        }
    );
}

#[test]
fn recover_interrupts_the_calls_in_progress_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let finished: Vec<StoredCall> = (0..3).map(|s| done(s, "main", record(s))).collect();
    {
        let mut store = open(dir.path());
        for c in &finished {
            store_call(&mut store, c);
        }
        store
            .call_started(3, "main", started(3), started(3))
            .unwrap();
        // The process dies here: no call_ended for slot 3.
    }
    let mut store = open(dir.path());
    assert_eq!(
        store.count_calls().unwrap(),
        CallCounts {
            total: 4,
            done: 3,
            interrupted: 0,
            in_progress: 1
        }
    );
    assert_eq!(store.recover(T0 + 1e4).unwrap(), vec![3]);
    assert_eq!(
        store.meta("last_start_unix").unwrap().as_deref(),
        Some("1750074400")
    );
    let calls = store.calls_since(0.0).unwrap();
    assert_eq!(calls[..3], finished[..]);
    assert_eq!(
        calls[3],
        StoredCall {
            slot: 3,
            scenario: "main".to_owned(),
            scheduled_unix: started(3),
            started_unix: started(3),
            ended_unix: None,
            state: CallState::Interrupted,
            record: None,
        }
    );
    assert_eq!(store.recover(T0 + 2e4).unwrap(), Vec::<u64>::new());
    // An interrupted call is final too.
    let e = store.call_ended(&done(3, "main", record(3))).unwrap_err();
    assert!(
        matches!(
            e,
            StoreError::AlreadyEnded {
                state: CallState::Interrupted,
                ..
            }
        ),
        "{e:?}"
    );
}

#[test]
fn windows_select_calls_by_start_time() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path());
    assert_eq!(store.last_slot().unwrap(), None);
    for s in [0, 1, 2, 5, 6] {
        store_call(&mut store, &done(s, "main", record(s)));
    }
    let slots = |calls: Vec<StoredCall>| calls.iter().map(|c| c.slot).collect::<Vec<_>>();
    assert_eq!(store.last_slot().unwrap(), Some(6));
    assert_eq!(slots(store.calls_since(started(2)).unwrap()), [2, 5, 6]);
    assert_eq!(
        slots(store.calls_between(started(1), started(5)).unwrap()),
        [1, 2]
    );
    assert_eq!(
        slots(store.calls_between(started(3), started(5)).unwrap()),
        [0u64; 0]
    );
    assert_eq!(store.call(5).unwrap().unwrap().slot, 5);
    assert_eq!(store.call(4).unwrap(), None);
}

#[test]
fn pings_and_alerts_read_back_with_their_delivery() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path());
    let pings: Vec<PingRecord> = (0..5)
        .map(|i| PingRecord {
            at_unix: T0 + 30.0 * i as f64,
            answered: i != 3,
            code: (i != 3).then_some(if i == 4 { 503 } else { 200 }),
            rtt_ms: (i != 3).then_some(10.0 + i as f64 / 3.0),
            detail: (i == 3).then(|| "no response in 5 s".to_owned()),
        })
        .collect();
    for p in pings.iter().rev() {
        store.record_ping(p).unwrap();
    }
    assert_eq!(store.pings_since(T0 + 60.0).unwrap(), pings[2..]);
    let mut bad = pings[0].clone();
    bad.rtt_ms = Some(f64::NAN);
    assert!(matches!(
        store.record_ping(&bad),
        Err(StoreError::NotFinite { .. })
    ));

    let a = store
        .record_alert(T0, "state", &serde_json::json!({"to": "failing"}))
        .unwrap();
    let b = store
        .record_alert(T0 + 600.0, "availability", &serde_json::json!({"up": 0.98}))
        .unwrap();
    assert!(b > a);
    store.alert_delivered(a, 3, Some("HTTP 500")).unwrap();
    store.alert_delivered(b, 1, None).unwrap();
    let pending = store.alerts_pending().unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(
        (pending[0].id, pending[0].attempts, pending[0].delivered),
        (a, 3, false)
    );
    assert_eq!(pending[0].last_error.as_deref(), Some("HTTP 500"));
    let since = store.alerts_since(T0 + 1.0).unwrap();
    assert_eq!(since.len(), 1);
    assert_eq!(
        (since[0].id, since[0].delivered, since[0].kind.as_str()),
        (b, true, "availability")
    );
    assert_eq!(since[0].body, serde_json::json!({"up": 0.98}));
    let e = store.alert_delivered(b + 10, 1, None).unwrap_err();
    assert!(matches!(e, StoreError::UnknownAlert { .. }), "{e:?}");
}

#[test]
fn meta_keeps_values_and_refuses_the_stores_own_keys() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path());
    assert_eq!(store.meta("seed").unwrap(), None);
    store.set_meta("seed", "42").unwrap();
    store.set_meta("seed", "43").unwrap();
    assert_eq!(store.meta("seed").unwrap().as_deref(), Some("43"));
    assert_eq!(store.meta("schema_version").unwrap().as_deref(), Some("1"));
    for key in ["schema_version", "opens", "last_start_unix"] {
        let e = store.set_meta(key, "9").unwrap_err();
        assert!(matches!(e, StoreError::ReservedMetaKey { .. }), "{e:?}");
    }
    assert_eq!(store.meta("schema_version").unwrap().as_deref(), Some("1"));
}

#[test]
fn a_hand_edited_record_is_an_error_naming_the_slot() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut store = open(dir.path());
        for s in 0..3 {
            store_call(&mut store, &done(s, "main", record(s)));
        }
        store
            .record_alert(T0, "state", &serde_json::json!({}))
            .unwrap();
    }
    let db = dir.path().join(DB_FILE);
    {
        let c = rusqlite::Connection::open(&db).unwrap();
        c.execute(
            "UPDATE calls SET record = '{\"index\": 1, ' WHERE slot = 1",
            [],
        )
        .unwrap();
        c.execute("UPDATE alerts SET body = 'not json'", [])
            .unwrap();
    }
    let store = open(dir.path());
    let e = store.calls_since(0.0).unwrap_err();
    let text = e.to_string();
    assert!(
        text.starts_with(&format!(
            "store {}: slot 1 does not read back (its record: ",
            db.display()
        )),
        "{text}"
    );
    assert_eq!(store.calls_since(started(2)).unwrap().len(), 1);
    let e = store.alerts_since(0.0).unwrap_err();
    assert!(e.to_string().contains("alert 1 does not read back"), "{e}");
}

#[test]
fn a_regular_file_as_the_store_directory_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("store");
    std::fs::write(&file, b"not a directory").unwrap();
    let e = open_err(&file);
    assert!(matches!(e, StoreError::NotADirectory { .. }), "{e:?}");
    assert_eq!(
        e.to_string(),
        format!(
            "store {}: not a directory (the store is a directory that holds monitor.db)",
            file.display()
        )
    );
    // Below a file: the directory cannot be created.
    let e = open_err(&file.join("sub"));
    assert!(
        e.to_string()
            .starts_with(&format!("store {}/sub: ", file.display())),
        "{e}"
    );
}

#[test]
fn a_missing_directory_is_created_with_its_parents() {
    let dir = tempfile::tempdir().unwrap();
    let deep = dir.path().join("a/b/c");
    let mut store = open(&deep);
    store_call(&mut store, &done(0, "main", record(0)));
    assert!(deep.join(DB_FILE).is_file());
}

#[test]
fn garbage_instead_of_a_database_is_corrupt_with_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join(DB_FILE);
    let mut garbage = vec![0u8; 4096];
    StdRng::seed_from_u64(7).fill(&mut garbage[..]);
    std::fs::write(&db, &garbage).unwrap();
    let e = open_err(dir.path());
    assert!(matches!(e, StoreError::Corrupt { .. }), "{e:?}");
    assert_eq!(
        e.to_string(),
        format!(
            "store {}: not a callcert store or corrupted: file is not a database; move it away \
             to start a new store",
            db.display()
        )
    );
    // Refused, not overwritten.
    assert_eq!(std::fs::read(&db).unwrap(), garbage);
}

/// A store with enough calls to span many pages; closed (so its WAL is checkpointed).
fn multi_page_store(dir: &Path) -> std::path::PathBuf {
    let mut store = open(dir);
    for s in 0..200 {
        store_call(&mut store, &done(s, "main", record(s)));
    }
    drop(store);
    let db = dir.join(DB_FILE);
    let len = std::fs::metadata(&db).unwrap().len();
    assert!(len >= 32 * 4096, "{len} bytes");
    db
}

#[test]
fn a_truncated_database_is_refused_with_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let db = multi_page_store(dir.path());
    let len = std::fs::metadata(&db).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&db)
        .unwrap()
        .set_len(len / 2)
        .unwrap();
    let e = open_err(dir.path());
    eprintln!("truncated: {e}");
    assert!(matches!(e, StoreError::Corrupt { .. }), "{e:?}");
    assert!(
        e.to_string()
            .starts_with(&format!("store {}: ", db.display())),
        "{e}"
    );
}

#[test]
fn a_garbage_page_inside_the_database_fails_the_integrity_check() {
    let dir = tempfile::tempdir().unwrap();
    let db = multi_page_store(dir.path());
    let mut page = vec![0u8; 4096];
    StdRng::seed_from_u64(11).fill(&mut page[..]);
    let mut f = std::fs::OpenOptions::new().write(true).open(&db).unwrap();
    f.seek(SeekFrom::Start(8192)).unwrap();
    f.write_all(&page).unwrap();
    drop(f);
    let e = open_err(dir.path());
    eprintln!("garbage page: {e}");
    assert!(matches!(e, StoreError::Corrupt { .. }), "{e:?}");
    assert!(
        e.to_string().starts_with(&format!(
            "store {}: not a callcert store or corrupted: ",
            db.display()
        )),
        "{e}"
    );
}

#[test]
fn another_sqlite_database_is_not_taken_for_a_store() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join(DB_FILE);
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute_batch("CREATE TABLE contacts(name TEXT); INSERT INTO contacts VALUES ('x');")
        .unwrap();
    let e = open_err(dir.path());
    assert!(matches!(e, StoreError::Corrupt { .. }), "{e:?}");
    assert!(
        e.to_string()
            .contains("an SQLite database without callcert's meta table (tables: contacts)"),
        "{e}"
    );
}

#[test]
fn a_store_from_a_newer_callcert_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    drop(open(dir.path()));
    let db = dir.path().join(DB_FILE);
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute(
            "UPDATE meta SET value = '2' WHERE key = 'schema_version'",
            [],
        )
        .unwrap();
    let e = open_err(dir.path());
    assert!(
        matches!(e, StoreError::NewerSchema { found: 2, .. }),
        "{e:?}"
    );
    assert!(
        e.to_string().starts_with(&format!(
            "store {}: written by a newer callcert (schema version 2, this one knows 1)",
            db.display()
        )),
        "{e}"
    );
}

/// Reads a child test's variable; the child tests run only under their parent.
fn child_var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("this test is run by its parent test in tests/monitor_store.rs, with {name} set")
    })
}

fn child_args(name: &str) -> [&str; 5] {
    [
        "--exact",
        name,
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ]
}

/// The calls the crash child writes, one per slot, until it is killed.
fn crash_call(slot: u64) -> StoredCall {
    done(
        slot,
        "crash",
        if slot % 5 == 4 {
            failed_record(slot)
        } else {
            record(slot)
        },
    )
}

#[test]
#[ignore = "run by killed_writer_loses_no_ended_call_and_duplicates_none"]
fn crash_writer_child() {
    let dir = child_var(CHILD_DIR);
    let mut store = open(Path::new(&dir));
    let mut out = std::io::stdout();
    for slot in 0..20_000 {
        let call = crash_call(slot);
        store_call(&mut store, &call);
        writeln!(out, "ended {slot}").unwrap();
        out.flush().unwrap();
    }
    writeln!(out, "child finished").unwrap();
}

#[test]
#[allow(clippy::disallowed_methods)] // the stall timeout and a timing print
fn killed_writer_loses_no_ended_call_and_duplicates_none() {
    use std::os::unix::process::ExitStatusExt;
    const KILL_AFTER: usize = 100;
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(child_args("crash_writer_child"))
        .env(CHILD_DIR, dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    // (libtest may print `test NAME ... ` on the same line as the first one)
    let ended_slot = |line: &str| {
        line.split("ended ")
            .nth(1)
            .map(|n| n.trim().parse::<u64>().unwrap())
    };
    let mut ended = Vec::new();
    let mut first_at = None;
    while ended.len() < KILL_AFTER {
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(line) => {
                if let Some(slot) = ended_slot(&line) {
                    first_at.get_or_insert_with(std::time::Instant::now);
                    ended.push(slot);
                }
            }
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("the writer stalled after {} calls: {e}", ended.len());
            }
        }
    }
    let elapsed = first_at.unwrap().elapsed();
    child.kill().unwrap(); // SIGKILL, by the child's pid
    let status = child.wait().unwrap();
    reader.join().unwrap();
    // Lines the child printed before it died.
    ended.extend(rx.try_iter().filter_map(|l| ended_slot(&l)));
    assert_eq!(
        status.signal(),
        Some(libc::SIGKILL),
        "the writer finished before it was killed ({status})"
    );
    eprintln!(
        "{} calls confirmed before SIGKILL; {:?} per call (start + end, synchronous=FULL)",
        ended.len(),
        elapsed / (KILL_AFTER as u32 - 1)
    );
    assert_eq!(ended, (0..ended.len() as u64).collect::<Vec<_>>());

    let mut store = open(dir.path());
    let interrupted = store.recover(T0 + 1e6).unwrap();
    let calls = store.calls_since(0.0).unwrap();
    // One row per slot, no gap, no duplicate.
    let slots: Vec<u64> = calls.iter().map(|c| c.slot).collect();
    assert_eq!(slots, (0..calls.len() as u64).collect::<Vec<_>>());
    // Every call confirmed ended is there, as written.
    for &slot in &ended {
        assert_eq!(calls[slot as usize], crash_call(slot), "slot {slot}");
    }
    // At most one more ended (killed before it printed) and one started (killed before it
    // ended: now interrupted).
    let counts = store.count_calls().unwrap();
    assert!(
        counts.done == ended.len() as u64 || counts.done == ended.len() as u64 + 1,
        "{counts:?}, {} confirmed",
        ended.len()
    );
    assert_eq!(counts.in_progress, 0);
    assert_eq!(counts.interrupted, interrupted.len() as u64);
    assert!(interrupted.len() <= 1, "{interrupted:?}");
    if let Some(&slot) = interrupted.first() {
        assert_eq!(slot, counts.total - 1);
        assert_eq!(calls.last().unwrap().state, CallState::Interrupted);
    }
    // The store takes new calls after the crash.
    let next = store.last_slot().unwrap().unwrap() + 1;
    store_call(&mut store, &crash_call(next));
}

/// Runs `script` with `sh -e` in a private mount namespace (`unshare -m`; as another user, in a
/// user namespace too: `unshare -r -m`), with `$D` the directory and `$TESTEXE` this binary.
fn in_mount_namespace(dir: &Path, script: &str) -> Output {
    let has_unshare = Command::new("unshare")
        .arg("--help")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    assert!(
        has_unshare,
        "the read-only and full-disk tests need `unshare` (util-linux) to mount a private tmpfs"
    );
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    let mut cmd = Command::new("unshare");
    if !root {
        cmd.arg("-r");
    }
    let out = cmd
        .args(["-m", "sh", "-ec", script])
        .env("D", dir)
        .env("TESTEXE", std::env::current_exe().unwrap())
        .output()
        .unwrap();
    let text = format!(
        "status {}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "the child failed (needs root, or unprivileged user namespaces):\n{text}"
    );
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        // (libtest may print `test NAME ... ` on the same line as the first one)
        if let Some(i) = line.find("store /").or_else(|| line.find("child ok")) {
            eprintln!("child: {}", &line[i..]);
        }
    }
    out
}

fn assert_phases(out: &Output, phases: &[&str]) {
    let stdout = String::from_utf8_lossy(&out.stdout);
    for phase in phases {
        assert!(
            stdout.contains(&format!("child ok: {phase}\n")),
            "phase {phase} did not pass:\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn a_read_only_store_directory_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let run = "--exact read_only_child --ignored --nocapture --test-threads=1";
    let out = in_mount_namespace(
        dir.path(),
        &format!(
            "mount -t tmpfs -o size=16m callcert-ro \"$D\"
             {CHILD_PHASE}=prepare {CHILD_DIR}=\"$D\" \"$TESTEXE\" {run}
             mount -o remount,ro \"$D\"
             {CHILD_PHASE}=check {CHILD_DIR}=\"$D\" \"$TESTEXE\" {run}"
        ),
    );
    assert_phases(&out, &["prepare", "check"]);
}

#[test]
#[ignore = "run by a_read_only_store_directory_is_refused_at_start"]
fn read_only_child() {
    let d = std::path::PathBuf::from(child_var(CHILD_DIR));
    let store_dir = d.join("store");
    match child_var(CHILD_PHASE).as_str() {
        "prepare" => {
            let mut store = open(&store_dir);
            store_call(&mut store, &done(0, "main", record(0)));
        }
        "check" => {
            for dir in [store_dir.clone(), d.clone(), d.join("new/deeper")] {
                let e = open_err(&dir);
                assert!(matches!(e, StoreError::ReadOnly { .. }), "{e:?}");
                assert_eq!(
                    e.to_string(),
                    format!(
                        "store {}: read-only (Read-only file system (os error 30)); the monitor \
                         must be able to write its store there",
                        dir.display()
                    )
                );
            }
            assert!(store_dir.join(DB_FILE).is_file());
        }
        other => panic!("unknown phase {other}"),
    }
    println!("child ok: {}", child_var(CHILD_PHASE));
}

#[test]
fn a_full_disk_is_refused_at_start_and_a_write_that_fills_it_can_be_retried() {
    let dir = tempfile::tempdir().unwrap();
    let run = "--exact disk_full_child --ignored --nocapture --test-threads=1";
    let out = in_mount_namespace(
        dir.path(),
        &format!(
            "mount -t tmpfs -o size=8m callcert-full \"$D\"
             {CHILD_PHASE}=fills-later {CHILD_DIR}=\"$D\" \"$TESTEXE\" {run}
             dd if=/dev/zero of=\"$D/fill\" bs=4k 2>/dev/null || true
             {CHILD_PHASE}=full-at-start {CHILD_DIR}=\"$D\" \"$TESTEXE\" {run}"
        ),
    );
    assert_phases(&out, &["fills-later", "full-at-start"]);
}

/// Writes into `path` until the filesystem is full.
fn fill_disk(path: &Path) {
    let mut f = std::fs::File::create(path).unwrap();
    let chunk = vec![0u8; 64 * 1024];
    for _ in 0..1024 {
        if let Err(e) = f.write_all(&chunk) {
            assert_eq!(e.raw_os_error(), Some(libc::ENOSPC), "{e}");
            return;
        }
    }
    panic!("{} never filled the disk", path.display());
}

#[test]
#[ignore = "run by a_full_disk_is_refused_at_start_and_a_write_that_fills_it_can_be_retried"]
fn disk_full_child() {
    let d = std::path::PathBuf::from(child_var(CHILD_DIR));
    let store_dir = d.join("store");
    let db = store_dir.join(DB_FILE);
    match child_var(CHILD_PHASE).as_str() {
        "fills-later" => {
            let mut store = open(&store_dir);
            let mut stored = Vec::new();
            for s in 0..5 {
                let call = done(s, "main", record(s));
                store_call(&mut store, &call);
                stored.push(call);
            }
            fill_disk(&d.join("fill2"));
            // Big records, until a write fails: it must be a full disk, and change nothing.
            let big = |slot: u64| {
                let mut r = record(slot);
                r.call_id = format!("{slot}-{}", "x".repeat(32 * 1024));
                done(slot, "main", r)
            };
            let mut failed = None;
            for s in 5..1000 {
                let call = big(s);
                if let Err(e) =
                    store.call_started(s, "main", call.scheduled_unix, call.started_unix)
                {
                    failed = Some((call, false, e));
                    break;
                }
                if let Err(e) = store.call_ended(&call) {
                    failed = Some((call, true, e));
                    break;
                }
                stored.push(call);
            }
            let (call, was_started, e) = failed.expect("the writes never filled the disk");
            assert!(e.is_disk_full(), "{e:?}");
            let text = e.to_string();
            assert!(
                text.starts_with(&format!("store {}: the disk is full (", db.display()))
                    && text.ends_with(" free, 4 MiB needed)"),
                "{text}"
            );
            println!("{text}");
            assert_eq!(
                store.calls_since(0.0).unwrap().len(),
                stored.len() + usize::from(was_started)
            );
            // Room again: the same write succeeds, once.
            std::fs::remove_file(d.join("fill2")).unwrap();
            if !was_started {
                store
                    .call_started(call.slot, "main", call.scheduled_unix, call.started_unix)
                    .unwrap();
            }
            store.call_ended(&call).unwrap();
            stored.push(call);
            drop(store);
            let store = open(&store_dir);
            assert_eq!(store.calls_since(0.0).unwrap(), stored);
        }
        "full-at-start" => {
            for dir in [store_dir.clone(), d.join("fresh")] {
                let e = open_err(&dir);
                assert!(e.is_disk_full(), "{e:?}");
                let text = e.to_string();
                assert!(
                    text.starts_with(&format!(
                        "store {}: the disk is full (",
                        dir.join(DB_FILE).display()
                    )) && text.ends_with(" free, 4 MiB needed)"),
                    "{text}"
                );
                println!("{text}");
            }
        }
        other => panic!("unknown phase {other}"),
    }
    println!("child ok: {}", child_var(CHILD_PHASE));
}
