"""The controller's index of runs in `.orc/orc.db` (sqlite, WAL): ids, state, position, waves.

A run records where it is (play and wave) after every wave, so a paused or interrupted run can
be continued by another `orc` process. The same table is the controller side of the rollout
lock: a run that is running (its process alive), paused or being rolled back holds its hosts; a
run whose process died is marked interrupted and holds nothing. Only the newest runs are kept
(`prune`), as on the hosts, where their journals live.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import sqlite3
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestrator import statedir
from orchestrator.errors import InputError, LockError
from orchestrator.secrets import masking  # no secret-derived text is stored in .orc/
from orchestrator.inventory import Inventory, connection_for
# a rolled back run's state is the marker its hosts' journals carry
from orchestrator.undo.record import ROLLED_BACK, ROLLING_BACK  # noqa: F401 - states too

RUNNING, PAUSED, SUCCEEDED, FAILED, HALTED, ABORTED, INTERRUPTED = (
    "running", "paused", "succeeded", "failed", "halted", "aborted", "interrupted",
)
HOLDING = (RUNNING, PAUSED, ROLLING_BACK)
ACTIVE = (RUNNING, ROLLING_BACK)  # a process is working on the run: it holds while alive

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY, playbook TEXT NOT NULL, inventory TEXT NOT NULL, options TEXT NOT NULL,
    status TEXT NOT NULL, hosts TEXT NOT NULL, position TEXT NOT NULL,
    pid INTEGER, controller TEXT, created REAL NOT NULL, updated REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS waves (
    run_id TEXT NOT NULL, play INTEGER NOT NULL, wave INTEGER NOT NULL, hosts TEXT NOT NULL,
    status TEXT NOT NULL, started REAL, finished REAL, report TEXT,
    PRIMARY KEY (run_id, play, wave)
);
CREATE TABLE IF NOT EXISTS preimages (
    run_id TEXT NOT NULL, host TEXT NOT NULL, batch TEXT NOT NULL, seq INTEGER NOT NULL,
    kind TEXT NOT NULL, key TEXT NOT NULL, task TEXT NOT NULL, predicted INTEGER NOT NULL,
    summary TEXT NOT NULL, PRIMARY KEY (run_id, host, batch, seq)
);
"""


@dataclass
class Run:
    id: str
    playbook: str
    inventory: list[str]
    options: dict[str, Any]
    status: str
    hosts: list[str]
    position: dict[str, int]  # {"play": i, "wave": j}: the next wave to run
    pid: int | None
    controller: str | None
    created: float
    updated: float


def _machine(key: str) -> str:
    """A held host is `name@address:port`; the machine is what two runs must not share."""
    return key.rpartition("@")[2] or key


def new_run_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(3)


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class RunStore:
    def __init__(self, root: Path | str = ".orc"):
        self.root = Path(root)
        self.path = self.root / "orc.db"

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        with closing(statedir.connect(self.path, timeout=30, isolation_level=None)) as conn:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.executescript(SCHEMA)
            yield conn

    def _row(self, row: tuple) -> Run:
        (id_, playbook, inventory, options, status, hosts, position, pid, controller, created,
         updated) = row
        return Run(id_, playbook, json.loads(inventory), json.loads(options), status,
                   json.loads(hosts), json.loads(position), pid, controller, created, updated)

    @contextmanager
    def _exclusive(self) -> Iterator[sqlite3.Connection]:
        """A write transaction no other orc process interleaves with (checks, then claims)."""
        with self._db() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    @staticmethod
    def _claim(db: sqlite3.Connection, run_id: str, status: str,
               new: tuple[str, list[str], dict[str, Any], list[str]] | None = None) -> None:
        """Give `run_id` to this process with `status`; `new` (playbook, inventory, options,
        hosts) creates its row first."""
        now = time.time()
        if new is None:
            db.execute("UPDATE runs SET status=?, pid=?, updated=? WHERE id=?",
                       (status, os.getpid(), now, run_id))
            return
        playbook, inventory, options, hosts = new
        db.execute("INSERT INTO runs VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                   (run_id, playbook, json.dumps(inventory), json.dumps(options), status,
                    json.dumps(hosts), json.dumps({"play": 0, "wave": 0}), os.getpid(),
                    socket.gethostname(), now, now))

    def start(self, playbook: str, inventory: list[str], options: dict[str, Any],
              hosts: list[str], run_id: str | None = None) -> Run:
        """Create a run holding `hosts`, or refuse naming the run that holds any of them."""
        with self._exclusive() as db:
            self._check_free(db, hosts, exclude=run_id)
            if run_id is None:
                run_id = new_run_id()
                self._claim(db, run_id, RUNNING, (playbook, inventory, options, hosts))
            else:
                self._claim(db, run_id, RUNNING)
        return self.get(run_id)

    def _check_free(self, db: sqlite3.Connection, hosts: list[str], exclude: str | None) -> None:
        wanted = set(hosts)
        marks = ", ".join("?" * len(HOLDING))
        for row in db.execute(f"SELECT * FROM runs WHERE status IN ({marks})",
                              HOLDING).fetchall():
            other = self._row(row)
            if other.id == exclude:
                continue
            if other.status in ACTIVE and not _alive(other.pid):
                db.execute("UPDATE runs SET status=?, updated=? WHERE id=?",
                           (INTERRUPTED, time.time(), other.id))  # a stale lock: its process died
                continue
            theirs = {_machine(h): h for h in other.hosts}
            shared = sorted(theirs[_machine(h)] for h in wanted if _machine(h) in theirs)
            if shared:
                more = f" and {len(shared) - 1} more" if len(shared) > 1 else ""
                raise LockError(f"run {other.id} ({other.status}, pid {other.pid}) holds "
                                f"{shared[0]}{more}: wait for it, `orc resume` or `orc abort` it")

    def hold(self, run_id: str, hosts: list[str], playbook: str = "",
             inventory: list[str] | None = None) -> str | None:
        """Mark `run_id` as being rolled back by this process, holding `hosts`, or refuse
        naming the run (this one or another) that is working on them. Returns the run's
        status before, None when the index did not know it (a rollback from the hosts'
        journals alone then gets an entry of its own)."""
        with self._exclusive() as db:
            row = db.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
            run = self._row(row) if row else None
            if run and run.status in ACTIVE and _alive(run.pid) and run.pid != os.getpid():
                raise LockError(f"run {run.id} is {run.status} (pid {run.pid}): wait for it "
                                "to end")
            self._check_free(db, hosts, exclude=run_id)
            self._claim(db, run_id, ROLLING_BACK,
                        None if run else (playbook, inventory or [], {}, hosts))
        if run is None:
            return None
        return INTERRUPTED if run.status in ACTIVE else run.status  # ACTIVE here: it died

    def prune(self, keep: int) -> list[str]:
        """Forget all but the newest `keep` runs (0 keeps all); a run that holds hosts is
        never forgotten. Returns the ids removed."""
        if keep <= 0:
            return []
        marks = ", ".join("?" * len(HOLDING))
        with self._db() as db:
            rows = db.execute(f"SELECT id FROM runs WHERE status NOT IN ({marks}) AND id NOT IN "
                              "(SELECT id FROM runs ORDER BY created DESC LIMIT ?)",
                              (*HOLDING, keep)).fetchall()
            old = [row[0] for row in rows]
            for table, column in (("preimages", "run_id"), ("waves", "run_id"), ("runs", "id")):
                db.executemany(f"DELETE FROM {table} WHERE {column} = ?", [(i,) for i in old])
        return old

    def get(self, run_id: str) -> Run:
        with self._db() as db:
            row = db.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
            if row is None:
                rows = db.execute("SELECT id FROM runs WHERE id LIKE ?", (f"{run_id}%",)).fetchall()
                if len(rows) == 1:
                    row = db.execute("SELECT * FROM runs WHERE id = ?", rows[0]).fetchone()
        if row is None:
            raise InputError(f"no run {run_id!r} in {self.path}: see `orc runs`")
        run = self._row(row)
        if run.status in ACTIVE and not _alive(run.pid):
            self.set_status(run.id, INTERRUPTED)
            run.status = INTERRUPTED
        return run

    def list(self, limit: int = 50) -> list[Run]:
        with self._db() as db:
            rows = db.execute("SELECT id FROM runs ORDER BY created DESC LIMIT ?",
                              (limit,)).fetchall()
        return [self.get(row[0]) for row in rows]

    def set_status(self, run_id: str, status: str, position: dict[str, int] | None = None) -> None:
        with self._db() as db:
            if position is None:
                db.execute("UPDATE runs SET status=?, updated=? WHERE id=?",
                           (status, time.time(), run_id))
            else:
                db.execute("UPDATE runs SET status=?, position=?, updated=? WHERE id=?",
                           (status, json.dumps(position), time.time(), run_id))

    def record_wave(self, run_id: str, play: int, wave: int, hosts: list[str], status: str,
                    started: float, finished: float | None, report: dict[str, Any],
                    position: dict[str, int] | None = None) -> None:
        """Keep a wave's report and, in the same transaction, the run's `position` (the next
        wave), so a run killed later resumes after the last wave that ended."""
        with self._exclusive() as db:
            db.execute("INSERT OR REPLACE INTO waves VALUES (?,?,?,?,?,?,?,?)",
                       (run_id, play, wave, json.dumps(hosts), status, started, finished,
                        json.dumps(masking.hide_tree(json.loads(json.dumps(report,
                                                                           default=str))))))
            if position is not None:
                db.execute("UPDATE runs SET position=?, updated=? WHERE id=?",
                           (json.dumps(position), time.time(), run_id))

    def waves(self, run_id: str) -> list[dict[str, Any]]:
        with self._db() as db:
            rows = db.execute("SELECT report FROM waves WHERE run_id=? ORDER BY play, wave",
                              (run_id,)).fetchall()
        return [json.loads(row[0]) for row in rows]

    def record_preimages(self, run_id: str, host: str, batch: str,
                         rows: list[tuple[int, str, str, str, bool, str]]) -> None:
        """Index what a host recorded (kind, key, task, summary): the bytes stay on the host."""
        with self._db() as db:
            db.executemany("INSERT OR REPLACE INTO preimages VALUES (?,?,?,?,?,?,?,?,?)",
                           [(run_id, host, batch, *(masking.hide(v) if isinstance(v, str)
                                                    else v for v in row)) for row in rows])

    def preimages(self, run_id: str) -> list[dict[str, Any]]:
        with self._db() as db:
            rows = db.execute("SELECT host, batch, seq, kind, key, task, predicted, summary "
                              "FROM preimages WHERE run_id=? ORDER BY host, batch, seq",
                              (run_id,)).fetchall()
        names = ("host", "batch", "seq", "kind", "key", "task", "predicted", "summary")
        return [dict(zip(names, row)) for row in rows]


def lock_keys(inventory: Inventory, names: list[str]) -> list[str]:
    """What a run holds: the machines it connects to, so two inventories that call one machine
    by different names (or two machines by one name) lock correctly."""
    keys = []
    for name in names:
        connection = connection_for(inventory, name)
        where = "local" if connection.local else f"{connection.hostname}:{connection.port}"
        keys.append(f"{name}@{where}")
    return keys
