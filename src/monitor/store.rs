//! The monitor's durable store: one SQLite file, `DIR/monitor.db` (WAL mode, `synchronous=FULL`),
//! holding every scheduled call, the OPTIONS pings and the alerts.
//!
//! A call is written when it starts (`in_progress`) and again when it ends (`done`, with its
//! record as JSON). Every write is one transaction, durable when the method returns, so a
//! `kill -9` loses nothing that was reported stored; after a restart [`Store::recover`] marks
//! the call that was in progress `interrupted`. A slot is stored once: a second start or a
//! second end is refused, never duplicated, never overwritten.
//!
//! [`Store::open`] checks at start what would otherwise fail hours later — the path is a
//! directory, it is writable, the disk has room, no other monitor uses it (an advisory lock),
//! the database is a healthy callcert store — and says which check failed, naming the path.

use super::{CallState, PingRecord, StoredCall};
use crate::engine::record::CallRecord;
use rusqlite::{params, Connection, ErrorCode, OpenFlags, OptionalExtension, TransactionBehavior};
use serde::Serialize;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The database file inside the store directory.
pub const DB_FILE: &str = "monitor.db";
/// The lock file inside the store directory (an advisory `flock`, held while a store is open).
pub const LOCK_FILE: &str = "monitor.lock";
/// Free space the store's disk must have at start: days of records and the WAL fit many times.
pub const MIN_FREE_BYTES: u64 = 4 << 20;
/// The schema this code writes and reads (`meta.schema_version`).
pub const SCHEMA_VERSION: i64 = 1;

/// How long a write waits for another process's lock on the database (a `sqlite3` shell).
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Meta keys the store keeps itself; [`Store::set_meta`] refuses them.
const META_SCHEMA_VERSION: &str = "schema_version";
const META_OPENS: &str = "opens";
const META_LAST_START: &str = "last_start_unix";
const RESERVED_META: [&str; 3] = [META_SCHEMA_VERSION, META_OPENS, META_LAST_START];

const SCHEMA: &str = "
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE calls(
    slot INTEGER PRIMARY KEY,
    scenario TEXT NOT NULL,
    scheduled_unix REAL NOT NULL,
    started_unix REAL NOT NULL,
    ended_unix REAL,
    state TEXT NOT NULL CHECK (state IN ('in_progress', 'done', 'interrupted')),
    record TEXT
);
CREATE INDEX calls_started ON calls(started_unix);
CREATE TABLE pings(
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at_unix REAL NOT NULL,
    answered INTEGER NOT NULL,
    code INTEGER,
    rtt_ms REAL,
    detail TEXT
);
CREATE INDEX pings_at ON pings(at_unix);
CREATE TABLE alerts(
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at_unix REAL NOT NULL,
    kind TEXT NOT NULL,
    body TEXT NOT NULL,
    delivered INTEGER NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT
);
CREATE INDEX alerts_at ON alerts(at_unix);
";

/// The tables a store of [`SCHEMA_VERSION`] has.
const TABLES: [&str; 4] = ["meta", "calls", "pings", "alerts"];

const CALL_COLUMNS: &str =
    "slot, scenario, scheduled_unix, started_unix, ended_unix, state, record";

/// Why the store cannot be opened or written. The message names the path and says what to do.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The store's path exists and is not a directory.
    #[error(
        "store {}: not a directory (the store is a directory that holds {DB_FILE})",
        .path.display()
    )]
    NotADirectory {
        /// The path given.
        path: PathBuf,
    },
    /// The directory or the database cannot be written: a read-only mount, or no permission.
    #[error(
        "store {}: read-only ({detail}); the monitor must be able to write its store there",
        .path.display()
    )]
    ReadOnly {
        /// The directory, or the database file.
        path: PathBuf,
        /// What refused the write.
        detail: String,
    },
    /// The disk has less room than [`MIN_FREE_BYTES`] at start, or filled up during a write
    /// (see [`StoreError::is_disk_full`]).
    #[error(
        "store {}: the disk is full ({} free, {} needed)",
        .path.display(),
        bytes(.free),
        bytes(.needed)
    )]
    DiskFull {
        /// The database file.
        path: PathBuf,
        /// Bytes free for us on its filesystem when the error was seen.
        free: u64,
        /// [`MIN_FREE_BYTES`].
        needed: u64,
    },
    /// Another process (another `callcert monitor`) holds the store's lock.
    #[error(
        "store {}: in use by another callcert monitor ({}lock {})",
        .dir.display(),
        holder_text(.holder),
        .lock.display()
    )]
    Locked {
        /// The store directory.
        dir: PathBuf,
        /// The lock file.
        lock: PathBuf,
        /// The holder's process id, as it wrote it into the lock file.
        holder: Option<u32>,
    },
    /// The file is not an SQLite database, not a callcert store, or fails its integrity check.
    #[error(
        "store {}: not a callcert store or corrupted: {detail}; move it away to start a new store",
        .path.display()
    )]
    Corrupt {
        /// The database file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// The store was written by a newer callcert with a schema this one does not know.
    #[error(
        "store {}: written by a newer callcert (schema version {found}, this one knows \
         {SCHEMA_VERSION}); upgrade callcert or give a new store directory",
        .path.display()
    )]
    NewerSchema {
        /// The database file.
        path: PathBuf,
        /// The version found in `meta`.
        found: i64,
    },
    /// SQLite refused WAL mode (some network filesystems).
    #[error(
        "store {}: the database cannot use WAL mode (journal mode stays {mode:?}); put the \
         store on a local filesystem",
        .path.display()
    )]
    NoWal {
        /// The database file.
        path: PathBuf,
        /// The journal mode SQLite answered.
        mode: String,
    },
    /// Another process holds the database itself locked (not a monitor: it would hold the
    /// lock file), for longer than the busy timeout.
    #[error(
        "store {}: the database is busy: another process holds it ({detail})",
        .path.display()
    )]
    Busy {
        /// The database file.
        path: PathBuf,
        /// SQLite's message.
        detail: String,
    },
    /// SQLite cannot open the database file.
    #[error("store {}: cannot open the database ({detail})", .path.display())]
    CannotOpen {
        /// The database file.
        path: PathBuf,
        /// SQLite's message.
        detail: String,
    },
    /// The slot is already stored: a call is never stored twice.
    #[error(
        "store {}: slot {slot} is already stored ({}); a call is never stored twice",
        .path.display(),
        .state.as_str()
    )]
    SlotTaken {
        /// The database file.
        path: PathBuf,
        /// The slot.
        slot: u64,
        /// The stored row's state.
        state: CallState,
    },
    /// The slot's call already ended: a stored record is never overwritten.
    #[error(
        "store {}: slot {slot} already ended ({}); a stored record is never overwritten",
        .path.display(),
        .state.as_str()
    )]
    AlreadyEnded {
        /// The database file.
        path: PathBuf,
        /// The slot.
        slot: u64,
        /// The stored row's state.
        state: CallState,
    },
    /// A call given to the store is not one it can keep (the caller's mistake).
    #[error("store {}: slot {slot}: {problem}", .path.display())]
    BadCall {
        /// The database file.
        path: PathBuf,
        /// The slot.
        slot: u64,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// A time or measurement given to the store is NaN or infinite.
    #[error("store {}: {field} is not a finite number", .path.display())]
    NotFinite {
        /// The database file.
        path: PathBuf,
        /// Which value.
        field: &'static str,
    },
    /// A stored row does not read back (the database was edited by hand).
    #[error(
        "store {}: {row} does not read back ({detail}); was the database edited by hand?",
        .path.display()
    )]
    BadRow {
        /// The database file.
        path: PathBuf,
        /// Which row (`slot 12`, `alert 3`).
        row: String,
        /// What does not read.
        detail: String,
    },
    /// No alert has that id.
    #[error("store {}: no alert {id}", .path.display())]
    UnknownAlert {
        /// The database file.
        path: PathBuf,
        /// The id asked for.
        id: i64,
    },
    /// The meta key belongs to the store itself.
    #[error("store {}: meta key {key:?} is the store's own and cannot be set", .path.display())]
    ReservedMetaKey {
        /// The database file.
        path: PathBuf,
        /// The key.
        key: String,
    },
    /// Any other SQLite failure (e.g. `disk I/O error`).
    #[error("store {}: cannot {op}: {source}", .path.display())]
    Sqlite {
        /// The database file.
        path: PathBuf,
        /// What the store was doing.
        op: &'static str,
        /// SQLite's error.
        source: rusqlite::Error,
    },
    /// Any other failure of the operating system.
    #[error("store {}: cannot {op}: {source}", .path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What the store was doing.
        op: &'static str,
        /// The OS error.
        source: io::Error,
    },
}

impl StoreError {
    /// A write failed because the disk filled up: nothing was written, the store stays usable,
    /// and the same write can be retried once there is room (the driver keeps the record).
    pub fn is_disk_full(&self) -> bool {
        matches!(self, StoreError::DiskFull { .. })
    }
}

/// A byte count as an operator reads it: `512 B`, `12 KiB`, `4 MiB`, `1.5 GiB`.
fn bytes(n: &u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if *n < 1024 {
        return format!("{n} B");
    }
    let mut value = *n as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    let text = format!("{value:.1}");
    let text = text.strip_suffix(".0").unwrap_or(&text);
    format!("{text} {}", UNITS[unit])
}

fn holder_text(holder: &Option<u32>) -> String {
    holder.map(|pid| format!("pid {pid}, ")).unwrap_or_default()
}

/// How many calls the store holds, by state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct CallCounts {
    /// Every stored slot.
    pub total: u64,
    /// Ended, with a record.
    pub done: u64,
    /// Cut short by the monitor stopping.
    pub interrupted: u64,
    /// Started and not ended yet.
    pub in_progress: u64,
}

/// One alert as the store holds it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredAlert {
    /// Its id (insertion order).
    pub id: i64,
    /// When it was raised, Unix seconds.
    pub at_unix: f64,
    /// What kind of alert (the alert module's word).
    pub kind: String,
    /// Its body, as delivered.
    pub body: serde_json::Value,
    /// It was delivered.
    pub delivered: bool,
    /// Delivery attempts so far.
    pub attempts: u32,
    /// The last attempt's error, when it failed.
    pub last_error: Option<String>,
}

/// The store directory and its database file, for error messages.
#[derive(Debug)]
struct Paths {
    dir: PathBuf,
    db: PathBuf,
}

/// The monitor's store: an open database with the directory's lock held.
#[derive(Debug)]
pub struct Store {
    // Dropped first: the connection closes (checkpointing the WAL) before the lock is released.
    conn: Connection,
    paths: Paths,
    /// Holds the `flock` for the store's life (`None`: a reader, see [`Store::open_reader`]).
    _lock: Option<File>,
}

impl Store {
    /// Opens (creating it if needed) the store in `dir`, checking at start, in this order, that
    /// `dir` is a directory, that it is writable, that its disk has [`MIN_FREE_BYTES`] free,
    /// that no other monitor holds it, and that its database is a healthy callcert store that
    /// takes a write.
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        let dir = dir.to_path_buf();
        let db = dir.join(DB_FILE);
        match fs::metadata(&dir) {
            Ok(m) if !m.is_dir() => return Err(StoreError::NotADirectory { path: dir }),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => fs::create_dir_all(&dir)
                .map_err(|e| io_error(&dir, &dir, "create the store directory", e))?,
            Err(e) => return Err(io_error(&dir, &dir, "read the store directory", e)),
        }
        probe_writable(&dir)?;
        let free =
            free_bytes(&dir).map_err(|e| io_error(&dir, &dir, "read the disk's free space", e))?;
        if free < MIN_FREE_BYTES {
            return Err(StoreError::DiskFull {
                path: db,
                free,
                needed: MIN_FREE_BYTES,
            });
        }
        let lock = lock_dir(&dir)?;
        let paths = Paths { dir, db };
        let conn = open_database(&paths)?;
        let mut store = Store {
            conn,
            paths,
            _lock: Some(lock),
        };
        store.check_schema()?;
        // The start-up write: a full disk, a read-only file or an I/O error shows now.
        store.write("write to the database", |tx, paths| {
            tx.prepare_cached(
                "INSERT INTO meta(key, value) VALUES (?1, '1') ON CONFLICT(key) DO UPDATE \
                 SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT)",
            )
            .and_then(|mut s| s.execute([META_OPENS]))
            .map_err(sql(paths, "write to the database"))?;
            Ok(())
        })?;
        Ok(store)
    }

    /// Opens an existing store to read it while a monitor may be running on it (`callcert
    /// monitor report`): no lock, no write; WAL lets it read while the monitor writes. Writing
    /// through it fails.
    pub fn open_reader(dir: &Path) -> Result<Store, StoreError> {
        let paths = Paths {
            dir: dir.to_path_buf(),
            db: dir.join(DB_FILE),
        };
        if !paths.db.is_file() {
            return Err(StoreError::CannotOpen {
                path: paths.db,
                detail: "no store there (no monitor has written to this folder)".into(),
            });
        }
        let conn = Connection::open_with_flags(
            &paths.db,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(sql(&paths, "open the database"))?;
        conn.busy_timeout(BUSY_TIMEOUT)
            .map_err(sql(&paths, "set the busy timeout"))?;
        let mut store = Store {
            conn,
            paths,
            _lock: None,
        };
        store.check_schema()?;
        Ok(store)
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.paths.db
    }

    /// The store directory.
    pub fn dir(&self) -> &Path {
        &self.paths.dir
    }

    /// A value kept under `key` (the schedule's anchor and seed, …). The store keeps
    /// `schema_version`, `opens` (times opened) and `last_start_unix` (see [`Store::recover`]).
    pub fn meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        let op = "read the meta table";
        self.conn
            .prepare_cached("SELECT value FROM meta WHERE key = ?1")
            .and_then(|mut s| s.query_row([key], |r| r.get(0)).optional())
            .map_err(sql(&self.paths, op))
    }

    /// Keeps `value` under `key`, replacing any earlier value. The store's own keys are refused.
    pub fn set_meta(&mut self, key: &str, value: &str) -> Result<(), StoreError> {
        if RESERVED_META.contains(&key) {
            return Err(StoreError::ReservedMetaKey {
                path: self.paths.db.clone(),
                key: key.to_owned(),
            });
        }
        let op = "write the meta table";
        self.write(op, |tx, paths| {
            tx.prepare_cached(
                "INSERT INTO meta(key, value) VALUES (?1, ?2) \
                 ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            )
            .and_then(|mut s| s.execute([key, value]))
            .map_err(sql(paths, op))?;
            Ok(())
        })
    }

    /// After a restart: every call still `in_progress` (the previous process died during it)
    /// becomes `interrupted`, with no end time; returns their slots. Also keeps `now_unix` as
    /// the monitor's last start (`meta.last_start_unix`). Call once, after [`Store::open`].
    pub fn recover(&mut self, now_unix: f64) -> Result<Vec<u64>, StoreError> {
        finite(&self.paths, now_unix, "the start time")?;
        let op = "mark interrupted calls";
        self.write(op, |tx, paths| {
            let slots = tx
                .prepare_cached("SELECT slot FROM calls WHERE state = 'in_progress' ORDER BY slot")
                .and_then(|mut s| {
                    s.query_map([], |r| r.get::<_, u64>(0))?
                        .collect::<Result<Vec<_>, _>>()
                })
                .map_err(sql(paths, op))?;
            tx.prepare_cached(
                "UPDATE calls SET state = 'interrupted', ended_unix = NULL \
                 WHERE state = 'in_progress'",
            )
            .and_then(|mut s| s.execute([]))
            .map_err(sql(paths, op))?;
            tx.prepare_cached(
                "INSERT INTO meta(key, value) VALUES (?1, ?2) \
                 ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            )
            .and_then(|mut s| s.execute([META_LAST_START, &now_unix.to_string()]))
            .map_err(sql(paths, op))?;
            Ok(slots)
        })
    }

    /// A call was placed: stores its slot `in_progress`. A slot already stored is refused
    /// ([`StoreError::SlotTaken`]).
    pub fn call_started(
        &mut self,
        slot: u64,
        scenario: &str,
        scheduled_unix: f64,
        started_unix: f64,
    ) -> Result<(), StoreError> {
        let key = slot_key(&self.paths, slot)?;
        finite(&self.paths, scheduled_unix, "the call's scheduled time")?;
        finite(&self.paths, started_unix, "the call's start time")?;
        let op = "record a call's start";
        self.write(op, |tx, paths| {
            if let Some((_, state)) = stored_state(tx, paths, key, op)? {
                return Err(StoreError::SlotTaken {
                    path: paths.db.clone(),
                    slot,
                    state,
                });
            }
            tx.prepare_cached(
                "INSERT INTO calls(slot, scenario, scheduled_unix, started_unix, state) \
                 VALUES (?1, ?2, ?3, ?4, 'in_progress')",
            )
            .and_then(|mut s| s.execute(params![key, scenario, scheduled_unix, started_unix]))
            .map_err(sql(paths, op))?;
            Ok(())
        })
    }

    /// A call ended: stores its end time, state (`done` or `interrupted`) and record. Its row
    /// must be `in_progress` (a call that already ended is refused:
    /// [`StoreError::AlreadyEnded`]) with the same scenario; a slot with no row (its start
    /// could not be written) is stored whole. The stored start times are kept.
    ///
    /// A `done` call needs its end time and record. A record that would not read back from its
    /// JSON (a NaN measurement) is refused rather than stored unreadable.
    pub fn call_ended(&mut self, call: &StoredCall) -> Result<(), StoreError> {
        let slot = call.slot;
        let bad = |problem| StoreError::BadCall {
            path: self.paths.db.clone(),
            slot,
            problem,
        };
        match call.state {
            CallState::InProgress => {
                return Err(bad(
                    "a call in progress has not ended: store it done or interrupted",
                ))
            }
            CallState::Done if call.record.is_none() => {
                return Err(bad("a done call needs its record"))
            }
            CallState::Done if call.ended_unix.is_none() => {
                return Err(bad("a done call needs its end time"))
            }
            _ => {}
        }
        let record = match &call.record {
            Some(r) => Some(record_json(r).ok_or_else(|| {
                bad("its record does not read back from JSON (a NaN or infinite number?)")
            })?),
            None => None,
        };
        let key = slot_key(&self.paths, slot)?;
        finite(
            &self.paths,
            call.scheduled_unix,
            "the call's scheduled time",
        )?;
        finite(&self.paths, call.started_unix, "the call's start time")?;
        if let Some(t) = call.ended_unix {
            finite(&self.paths, t, "the call's end time")?;
        }
        let op = "record a call's end";
        self.write(op, |tx, paths| {
            match stored_state(tx, paths, key, op)? {
                None => tx
                    .prepare_cached(
                        "INSERT INTO calls(slot, scenario, scheduled_unix, started_unix, \
                         ended_unix, state, record) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                    )
                    .and_then(|mut s| {
                        s.execute(params![
                            key,
                            call.scenario,
                            call.scheduled_unix,
                            call.started_unix,
                            call.ended_unix,
                            call.state.as_str(),
                            record
                        ])
                    }),
                Some((_, state)) if state != CallState::InProgress => {
                    return Err(StoreError::AlreadyEnded {
                        path: paths.db.clone(),
                        slot,
                        state,
                    })
                }
                Some((scenario, state)) if scenario != call.scenario => {
                    return Err(StoreError::SlotTaken {
                        path: paths.db.clone(),
                        slot,
                        state,
                    })
                }
                Some(_) => tx
                    .prepare_cached(
                        "UPDATE calls SET ended_unix = ?2, state = ?3, record = ?4 WHERE slot = ?1",
                    )
                    .and_then(|mut s| {
                        s.execute(params![key, call.ended_unix, call.state.as_str(), record])
                    }),
            }
            .map_err(sql(paths, op))?;
            Ok(())
        })
    }

    /// The highest slot stored.
    pub fn last_slot(&self) -> Result<Option<u64>, StoreError> {
        self.conn
            .prepare_cached("SELECT MAX(slot) FROM calls")
            .and_then(|mut s| s.query_row([], |r| r.get(0)))
            .map_err(sql(&self.paths, "read the last slot"))
    }

    /// One slot's call, if stored.
    pub fn call(&self, slot: u64) -> Result<Option<StoredCall>, StoreError> {
        let key = slot_key(&self.paths, slot)?;
        let sql_text = format!("SELECT {CALL_COLUMNS} FROM calls WHERE slot = ?1");
        self.read_calls(&sql_text, params![key])
            .map(|calls| calls.into_iter().next())
    }

    /// The calls started at or after `from_unix`, by slot.
    pub fn calls_since(&self, from_unix: f64) -> Result<Vec<StoredCall>, StoreError> {
        let sql_text =
            format!("SELECT {CALL_COLUMNS} FROM calls WHERE started_unix >= ?1 ORDER BY slot");
        self.read_calls(&sql_text, params![from_unix])
    }

    /// The calls started in `[from_unix, to_unix)`, by slot.
    pub fn calls_between(
        &self,
        from_unix: f64,
        to_unix: f64,
    ) -> Result<Vec<StoredCall>, StoreError> {
        let sql_text = format!(
            "SELECT {CALL_COLUMNS} FROM calls WHERE started_unix >= ?1 AND started_unix < ?2 \
             ORDER BY slot"
        );
        self.read_calls(&sql_text, params![from_unix, to_unix])
    }

    /// How many calls are stored, by state.
    pub fn count_calls(&self) -> Result<CallCounts, StoreError> {
        self.conn
            .prepare_cached(
                "SELECT COUNT(*), COALESCE(SUM(state = 'done'), 0), \
                 COALESCE(SUM(state = 'interrupted'), 0), COALESCE(SUM(state = 'in_progress'), 0) \
                 FROM calls",
            )
            .and_then(|mut s| {
                s.query_row([], |r| {
                    Ok(CallCounts {
                        total: r.get(0)?,
                        done: r.get(1)?,
                        interrupted: r.get(2)?,
                        in_progress: r.get(3)?,
                    })
                })
            })
            .map_err(sql(&self.paths, "count the calls"))
    }

    /// Stores one OPTIONS ping.
    pub fn record_ping(&mut self, p: &PingRecord) -> Result<(), StoreError> {
        finite(&self.paths, p.at_unix, "the ping's time")?;
        if let Some(rtt) = p.rtt_ms {
            finite(&self.paths, rtt, "the ping's round-trip time")?;
        }
        let op = "record a ping";
        self.write(op, |tx, paths| {
            tx.prepare_cached(
                "INSERT INTO pings(at_unix, answered, code, rtt_ms, detail) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )
            .and_then(|mut s| s.execute(params![p.at_unix, p.answered, p.code, p.rtt_ms, p.detail]))
            .map_err(sql(paths, op))?;
            Ok(())
        })
    }

    /// The pings sent at or after `from_unix`, in time order.
    pub fn pings_since(&self, from_unix: f64) -> Result<Vec<PingRecord>, StoreError> {
        self.conn
            .prepare_cached(
                "SELECT at_unix, answered, code, rtt_ms, detail FROM pings \
                 WHERE at_unix >= ?1 ORDER BY at_unix, id",
            )
            .and_then(|mut s| {
                s.query_map([from_unix], |r| {
                    Ok(PingRecord {
                        at_unix: r.get(0)?,
                        answered: r.get(1)?,
                        code: r.get(2)?,
                        rtt_ms: r.get(3)?,
                        detail: r.get(4)?,
                    })
                })?
                .collect()
            })
            .map_err(sql(&self.paths, "read the pings"))
    }

    /// Stores an alert (not delivered yet); returns its id.
    pub fn record_alert(
        &mut self,
        at_unix: f64,
        kind: &str,
        body: &serde_json::Value,
    ) -> Result<i64, StoreError> {
        finite(&self.paths, at_unix, "the alert's time")?;
        let body = body.to_string();
        let op = "record an alert";
        self.write(op, |tx, paths| {
            tx.prepare_cached("INSERT INTO alerts(at_unix, kind, body) VALUES (?1, ?2, ?3)")
                .and_then(|mut s| s.execute(params![at_unix, kind, body]))
                .map_err(sql(paths, op))?;
            Ok(tx.last_insert_rowid())
        })
    }

    /// Stores the outcome of an alert's delivery: `attempts` so far, and `error` of the last
    /// one (`None`: delivered).
    pub fn alert_delivered(
        &mut self,
        id: i64,
        attempts: u32,
        error: Option<&str>,
    ) -> Result<(), StoreError> {
        let op = "record an alert's delivery";
        self.write(op, |tx, paths| {
            let n = tx
                .prepare_cached(
                    "UPDATE alerts SET delivered = ?2, attempts = ?3, last_error = ?4 WHERE id = ?1",
                )
                .and_then(|mut s| s.execute(params![id, error.is_none(), attempts, error]))
                .map_err(sql(paths, op))?;
            if n == 0 {
                return Err(StoreError::UnknownAlert {
                    path: paths.db.clone(),
                    id,
                });
            }
            Ok(())
        })
    }

    /// The alerts raised at or after `from_unix`, in order.
    pub fn alerts_since(&self, from_unix: f64) -> Result<Vec<StoredAlert>, StoreError> {
        self.read_alerts(
            "SELECT id, at_unix, kind, body, delivered, attempts, last_error FROM alerts \
             WHERE at_unix >= ?1 ORDER BY id",
            params![from_unix],
        )
    }

    /// The alerts not delivered yet (to retry after a restart), in order.
    pub fn alerts_pending(&self) -> Result<Vec<StoredAlert>, StoreError> {
        self.read_alerts(
            "SELECT id, at_unix, kind, body, delivered, attempts, last_error FROM alerts \
             WHERE delivered = 0 ORDER BY id",
            params![],
        )
    }

    /// Runs `f` in one immediate transaction and commits it: durable when this returns `Ok`;
    /// rolled back (nothing written) on any error.
    fn write<T>(
        &mut self,
        op: &'static str,
        f: impl FnOnce(&rusqlite::Transaction<'_>, &Paths) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let paths = &self.paths;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql(paths, op))?;
        let out = f(&tx, paths)?;
        tx.commit().map_err(sql(paths, op))?;
        Ok(out)
    }

    /// Runs a query and reads each row as a tuple of its columns.
    fn rows<T>(
        &self,
        sql_text: &str,
        args: &[&dyn rusqlite::ToSql],
        op: &'static str,
    ) -> Result<Vec<T>, StoreError>
    where
        T: for<'r> TryFrom<&'r rusqlite::Row<'r>, Error = rusqlite::Error>,
    {
        self.conn
            .prepare_cached(sql_text)
            .and_then(|mut s| s.query_map(args, |r| T::try_from(r))?.collect())
            .map_err(sql(&self.paths, op))
    }

    fn read_calls(
        &self,
        sql_text: &str,
        args: &[&dyn rusqlite::ToSql],
    ) -> Result<Vec<StoredCall>, StoreError> {
        type Row = (u64, String, f64, f64, Option<f64>, String, Option<String>);
        let rows: Vec<Row> = self.rows(sql_text, args, "read the calls")?;
        rows.into_iter()
            .map(
                |(slot, scenario, scheduled_unix, started_unix, ended_unix, state, record)| {
                    let bad_row = |detail: String| StoreError::BadRow {
                        path: self.paths.db.clone(),
                        row: format!("slot {slot}"),
                        detail,
                    };
                    let state = CallState::parse(&state)
                        .ok_or_else(|| bad_row(format!("unknown state {state:?}")))?;
                    let record = match record {
                        Some(json) => Some(
                            serde_json::from_str::<CallRecord>(&json)
                                .map_err(|e| bad_row(format!("its record: {e}")))?,
                        ),
                        None => None,
                    };
                    Ok(StoredCall {
                        slot,
                        scenario,
                        scheduled_unix,
                        started_unix,
                        ended_unix,
                        state,
                        record,
                    })
                },
            )
            .collect()
    }

    fn read_alerts(
        &self,
        sql_text: &str,
        args: &[&dyn rusqlite::ToSql],
    ) -> Result<Vec<StoredAlert>, StoreError> {
        type Row = (i64, f64, String, String, bool, u32, Option<String>);
        let rows: Vec<Row> = self.rows(sql_text, args, "read the alerts")?;
        rows.into_iter()
            .map(
                |(id, at_unix, kind, body, delivered, attempts, last_error)| {
                    let body = serde_json::from_str(&body).map_err(|e| StoreError::BadRow {
                        path: self.paths.db.clone(),
                        row: format!("alert {id}"),
                        detail: format!("its body: {e}"),
                    })?;
                    Ok(StoredAlert {
                        id,
                        at_unix,
                        kind,
                        body,
                        delivered,
                        attempts,
                        last_error,
                    })
                },
            )
            .collect()
    }

    /// Creates the schema in a new database; checks an existing one is a callcert store this
    /// code can read.
    fn check_schema(&mut self) -> Result<(), StoreError> {
        let op = "read the schema";
        let tables: Vec<String> = self
            .conn
            .prepare(
                "SELECT name FROM sqlite_master WHERE type = 'table' \
                 AND name NOT LIKE 'sqlite_%' ORDER BY name",
            )
            .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
            .map_err(sql(&self.paths, op))?;
        if tables.is_empty() {
            return self.write("create the schema", |tx, paths| {
                tx.execute_batch(SCHEMA)
                    .and_then(|()| {
                        tx.execute(
                            "INSERT INTO meta(key, value) VALUES (?1, ?2)",
                            params![META_SCHEMA_VERSION, SCHEMA_VERSION.to_string()],
                        )
                    })
                    .map_err(sql(paths, "create the schema"))?;
                Ok(())
            });
        }
        let corrupt = |detail: String| StoreError::Corrupt {
            path: self.paths.db.clone(),
            detail,
        };
        if !tables.iter().any(|t| t == "meta") {
            return Err(corrupt(format!(
                "an SQLite database without callcert's meta table (tables: {})",
                tables.join(", ")
            )));
        }
        let version = self.meta(META_SCHEMA_VERSION)?;
        let version = match version {
            None => return Err(corrupt("its meta table has no schema_version".to_owned())),
            Some(v) => v
                .trim()
                .parse::<i64>()
                .map_err(|_| corrupt(format!("schema_version {v:?} is not a number")))?,
        };
        if version > SCHEMA_VERSION {
            return Err(StoreError::NewerSchema {
                path: self.paths.db.clone(),
                found: version,
            });
        }
        if version < 1 {
            return Err(corrupt(format!("unknown schema_version {version}")));
        }
        if let Some(missing) = TABLES
            .iter()
            .find(|t| !tables.iter().any(|have| have == *t))
        {
            return Err(corrupt(format!("table {missing} is missing")));
        }
        Ok(())
    }
}

/// The error mapper for a SQLite failure during `op`.
fn sql<'a>(paths: &'a Paths, op: &'static str) -> impl FnOnce(rusqlite::Error) -> StoreError + 'a {
    move |e| sqlite_error(paths, op, e)
}

/// A SQLite failure as the error an operator can act on.
fn sqlite_error(paths: &Paths, op: &'static str, e: rusqlite::Error) -> StoreError {
    let path = paths.db.clone();
    match e.sqlite_error_code() {
        Some(ErrorCode::DiskFull) => StoreError::DiskFull {
            path,
            free: free_bytes(&paths.dir).unwrap_or(0),
            needed: MIN_FREE_BYTES,
        },
        Some(ErrorCode::ReadOnly) => StoreError::ReadOnly {
            path,
            detail: e.to_string(),
        },
        Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt) => StoreError::Corrupt {
            path,
            detail: e.to_string(),
        },
        Some(ErrorCode::CannotOpen) => StoreError::CannotOpen {
            path,
            detail: e.to_string(),
        },
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => StoreError::Busy {
            path,
            detail: e.to_string(),
        },
        _ => StoreError::Sqlite {
            path,
            op,
            source: e,
        },
    }
}

/// An OS failure on `path` as the error an operator can act on; `dir` is where free space is
/// measured.
fn io_error(dir: &Path, path: &Path, op: &'static str, e: io::Error) -> StoreError {
    match e.raw_os_error() {
        Some(libc::EROFS | libc::EACCES | libc::EPERM) => StoreError::ReadOnly {
            path: path.to_path_buf(),
            detail: e.to_string(),
        },
        Some(libc::ENOSPC | libc::EDQUOT) => StoreError::DiskFull {
            path: path.to_path_buf(),
            free: free_bytes(dir).unwrap_or(0),
            needed: MIN_FREE_BYTES,
        },
        _ => StoreError::Io {
            path: path.to_path_buf(),
            op,
            source: e,
        },
    }
}

/// Creates and removes a file in `dir`: permission bits do not stop root, a read-only mount does.
fn probe_writable(dir: &Path) -> Result<(), StoreError> {
    let probe = dir.join(format!(".monitor-probe.{}", std::process::id()));
    OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&probe)
        .map_err(|e| io_error(dir, dir, "create a file in the store directory", e))?;
    fs::remove_file(&probe)
        .map_err(|e| io_error(dir, dir, "remove a file in the store directory", e))
}

/// Bytes an unprivileged writer may still use on `dir`'s filesystem (`f_bavail * f_frsize`).
fn free_bytes(dir: &Path) -> io::Result<u64> {
    let c_path = std::ffi::CString::new(dir.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "the path has a NUL byte"))?;
    let mut st = std::mem::MaybeUninit::<libc::statvfs>::zeroed();
    // SAFETY: `c_path` is NUL-terminated and `st` is valid for writes of a `statvfs`.
    let rc = unsafe { libc::statvfs(c_path.as_ptr(), st.as_mut_ptr()) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: statvfs succeeded and filled it (and it was zeroed before).
    let st = unsafe { st.assume_init() };
    #[allow(clippy::useless_conversion)] // the field types differ between targets
    Ok(u64::from(st.f_bavail).saturating_mul(u64::from(st.f_frsize)))
}

/// Takes the directory's exclusive lock (held while the returned file is open) and writes our
/// process id into it.
fn lock_dir(dir: &Path) -> Result<File, StoreError> {
    let lock = dir.join(LOCK_FILE);
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&lock)
        .map_err(|e| io_error(dir, &lock, "open the lock file", e))?;
    // SAFETY: flock on a file descriptor we own.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc != 0 {
        let e = io::Error::last_os_error();
        if e.raw_os_error() == Some(libc::EWOULDBLOCK) {
            let mut text = String::new();
            let holder = file
                .read_to_string(&mut text)
                .ok()
                .and_then(|_| text.trim().parse().ok());
            return Err(StoreError::Locked {
                dir: dir.to_path_buf(),
                lock,
                holder,
            });
        }
        return Err(io_error(dir, &lock, "lock the store", e));
    }
    file.set_len(0)
        .and_then(|()| writeln!(file, "{}", std::process::id()))
        .map_err(|e| io_error(dir, &lock, "write the lock file", e))?;
    Ok(file)
}

/// Opens the database in WAL mode with `synchronous=FULL` and checks its integrity.
fn open_database(paths: &Paths) -> Result<Connection, StoreError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn =
        Connection::open_with_flags(&paths.db, flags).map_err(sql(paths, "open the database"))?;
    conn.busy_timeout(BUSY_TIMEOUT)
        .map_err(sql(paths, "set the busy timeout"))?;
    conn.set_prepared_statement_cache_capacity(32);
    let mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))
        .map_err(sql(paths, "set WAL mode"))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::NoWal {
            path: paths.db.clone(),
            mode,
        });
    }
    conn.pragma_update(None, "synchronous", "FULL")
        .map_err(sql(paths, "set synchronous=FULL"))?;
    let problems: Vec<String> = conn
        .prepare("PRAGMA quick_check(5)")
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
        .map_err(sql(paths, "check the database's integrity"))?;
    if problems != ["ok"] {
        return Err(StoreError::Corrupt {
            path: paths.db.clone(),
            detail: format!(
                "integrity check: {}",
                problems
                    .iter()
                    .flat_map(|p| p.lines())
                    .filter(|l| !l.starts_with("***"))
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
        });
    }
    Ok(conn)
}

/// The row of `slot`, if any: its scenario and state.
fn stored_state(
    tx: &rusqlite::Transaction<'_>,
    paths: &Paths,
    key: i64,
    op: &'static str,
) -> Result<Option<(String, CallState)>, StoreError> {
    let row: Option<(String, String)> = tx
        .prepare_cached("SELECT scenario, state FROM calls WHERE slot = ?1")
        .and_then(|mut s| {
            s.query_row([key], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()
        })
        .map_err(sql(paths, op))?;
    row.map(|(scenario, state)| match CallState::parse(&state) {
        Some(state) => Ok((scenario, state)),
        None => Err(StoreError::BadRow {
            path: paths.db.clone(),
            row: format!("slot {key}"),
            detail: format!("unknown state {state:?}"),
        }),
    })
    .transpose()
}

/// A slot as SQLite's integer key.
fn slot_key(paths: &Paths, slot: u64) -> Result<i64, StoreError> {
    i64::try_from(slot).map_err(|_| StoreError::BadCall {
        path: paths.db.clone(),
        slot,
        problem: "a slot number must be below 2^63",
    })
}

fn finite(paths: &Paths, value: f64, field: &'static str) -> Result<(), StoreError> {
    if value.is_finite() {
        Ok(())
    } else {
        Err(StoreError::NotFinite {
            path: paths.db.clone(),
            field,
        })
    }
}

/// The record's JSON, if it reads back (serde_json writes NaN as `null`, which then does not).
fn record_json(record: &CallRecord) -> Option<String> {
    let json = serde_json::to_string(record).ok()?;
    serde_json::from_str::<CallRecord>(&json).ok()?;
    Some(json)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_counts_read_as_an_operator_reads_them() {
        assert_eq!(bytes(&0), "0 B");
        assert_eq!(bytes(&1023), "1023 B");
        assert_eq!(bytes(&(12 * 1024)), "12 KiB");
        assert_eq!(bytes(&MIN_FREE_BYTES), "4 MiB");
        assert_eq!(bytes(&(3 << 29)), "1.5 GiB");
    }

    #[test]
    fn sqlite_codes_map_to_the_errors_an_operator_acts_on() {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths {
            dir: dir.path().to_path_buf(),
            db: dir.path().join(DB_FILE),
        };
        let failure = |code| {
            let e = rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(code), None);
            sqlite_error(&paths, "write", e)
        };
        let full = failure(rusqlite::ffi::SQLITE_FULL);
        assert!(full.is_disk_full(), "{full:?}");
        let text = full.to_string();
        assert!(text.starts_with(&format!("store {}: the disk is full (", paths.db.display())));
        assert!(text.ends_with(" free, 4 MiB needed)"), "{text}");
        assert!(matches!(
            failure(rusqlite::ffi::SQLITE_READONLY),
            StoreError::ReadOnly { .. }
        ));
        assert!(matches!(
            failure(rusqlite::ffi::SQLITE_NOTADB),
            StoreError::Corrupt { .. }
        ));
        assert!(matches!(
            failure(rusqlite::ffi::SQLITE_CORRUPT),
            StoreError::Corrupt { .. }
        ));
        assert!(matches!(
            failure(rusqlite::ffi::SQLITE_BUSY),
            StoreError::Busy { .. }
        ));
        assert!(matches!(
            failure(rusqlite::ffi::SQLITE_CANTOPEN),
            StoreError::CannotOpen { .. }
        ));
        let io = failure(rusqlite::ffi::SQLITE_IOERR);
        assert!(!io.is_disk_full());
        let text = io.to_string();
        assert!(
            text.starts_with(&format!("store {}: cannot write: ", paths.db.display()))
                && text.contains("I/O error"),
            "{text}"
        );
    }

    #[test]
    fn os_errors_map_to_read_only_and_disk_full() {
        let dir = Path::new("/x");
        let e = |errno| io_error(dir, dir, "probe", io::Error::from_raw_os_error(errno));
        assert!(matches!(e(libc::EROFS), StoreError::ReadOnly { .. }));
        assert!(e(libc::EROFS)
            .to_string()
            .starts_with("store /x: read-only (Read-only file system"));
        assert!(e(libc::ENOSPC).is_disk_full());
        assert!(matches!(e(libc::EIO), StoreError::Io { .. }));
    }
}
