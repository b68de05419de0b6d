#!/usr/bin/env python3
"""Randomized exactly-once test of the export, with fixed seeds.

Several writer sessions run random transaction shapes (one-shot records,
begin/complete, savepoints rolled back or released, commits, rollbacks,
two-phase commits resolved much later, entries left pending and timed out),
interleaved with ticks and with an exporter that pages through a sink with
random page sizes, sometimes "crashes" before acknowledging (and must then get
the identical page again), reconnects, or changes its TimeZone. At the end
everything is resolved and the sink drained.

It asserts that every entry in the log was exported in exactly one
acknowledged page, that every entry the writers know they committed is among
them and that nothing rolled back is.

Runs against the cluster in PGHOST/PGPORT/PGUSER, one fresh database a seed:
    extension/test/random_export.py --seeds 1 2 3 --steps 1500
With --sql-edition FILE, each database gets the SQL edition instead, installed
with psql -f FILE by a role that owns the database, has CREATEROLE and is not
a superuser (auditlog_owner, made if missing):
    extension/test/random_export.py --sql-edition extension/sql-edition/auditlog.sql
"""
import argparse
import json
import random
import subprocess
import sys

import psycopg

SINK = "rand"


def connect(dbname):
    return psycopg.connect(dbname=dbname, autocommit=True)


class Writer:
    """One application session; its transaction is driven by explicit SQL."""

    def __init__(self, dbname, number):
        self.conn = connect(dbname)
        self.number = number
        self.state = "idle"  # idle, open, prepared
        self.ids = []  # entries written by the open transaction
        self.savepoints = []  # len(self.ids) at each savepoint
        self.gid = None


class Run:
    def __init__(self, dbname, seed, writers):
        self.rng = random.Random(seed)
        self.dbname = dbname
        self.writers = [Writer(dbname, n) for n in range(writers)]
        self.admin = connect(dbname)
        self.exporter = connect(dbname)
        self.committed = set()  # entry ids known committed
        self.discarded = set()  # entry ids rolled back
        self.pending_committed = set()  # begun, committed, not completed: timed out later
        self.exported = []  # every id in every acknowledged page
        self.in_flight = None  # (page_id, body) handed out and not acknowledged
        self.pages = 0
        self.prepared_count = 0

    # --- writers

    def record(self, w):
        entry_id = w.conn.execute(
            "SELECT auditlog.record(operation => %s, actor_id => %s, details => jsonb_build_object('n', %s::int))",
            (f"rand.op{self.rng.randint(1, 5)}", f"w{w.number}", self.rng.randint(0, 10**6))).fetchone()[0]
        w.ids.append(entry_id)

    def begin_complete(self, w):
        entry_id = w.conn.execute("SELECT auditlog.begin(operation => 'rand.two_phase')").fetchone()[0]
        done = w.conn.execute("SELECT auditlog.complete(%s, 'success')", (entry_id,)).fetchone()[0]
        assert done, "complete() of an entry just begun returned false"
        w.ids.append(entry_id)

    def writer_step(self, w):
        r = self.rng.random()
        if w.state == "idle":
            w.conn.execute("BEGIN")
            w.state, w.ids, w.savepoints = "open", [], []
            self.record(w)
        elif w.state == "open":
            if r < 0.35:
                self.record(w)
            elif r < 0.45:
                self.begin_complete(w)
            elif r < 0.50:
                # Begun and never completed in this transaction: timed out later.
                entry_id = w.conn.execute("SELECT auditlog.begin(operation => 'rand.abandoned')").fetchone()[0]
                w.ids.append(("pending", entry_id))
            elif r < 0.58:
                w.conn.execute(f"SAVEPOINT s{len(w.savepoints)}")
                w.savepoints.append(len(w.ids))
            elif r < 0.64 and w.savepoints:
                keep = w.savepoints.pop()
                w.conn.execute(f"ROLLBACK TO SAVEPOINT s{len(w.savepoints)}")
                w.conn.execute(f"RELEASE SAVEPOINT s{len(w.savepoints)}")
                self.discard(w.ids[keep:])
                w.ids = w.ids[:keep]
            elif r < 0.68 and w.savepoints:
                w.savepoints.pop()
                w.conn.execute(f"RELEASE SAVEPOINT s{len(w.savepoints)}")
            elif r < 0.86:
                w.conn.execute("COMMIT")
                self.commit(w.ids)
                w.state = "idle"
            elif r < 0.94:
                w.conn.execute("ROLLBACK")
                self.discard(w.ids)
                w.state = "idle"
            else:
                self.prepared_count += 1
                w.gid = f"rand_{self.dbname}_{self.prepared_count}"
                w.conn.execute(f"PREPARE TRANSACTION '{w.gid}'")
                w.state = "prepared"
        elif w.state == "prepared" and r < 0.15:
            # Resolved from another session, as a transaction manager would.
            if self.rng.random() < 0.8:
                self.admin.execute(f"COMMIT PREPARED '{w.gid}'")
                self.commit(w.ids)
            else:
                self.admin.execute(f"ROLLBACK PREPARED '{w.gid}'")
                self.discard(w.ids)
            w.state = "idle"

    def commit(self, ids):
        for i in ids:
            if isinstance(i, tuple):
                self.pending_committed.add(i[1])
            else:
                self.committed.add(i)

    def discard(self, ids):
        for i in ids:
            self.discarded.add(i[1] if isinstance(i, tuple) else i)

    # --- exporter

    def export_step(self):
        r = self.rng.random()
        if r < 0.05:
            self.exporter.close()  # the control plane dies; a new one starts
            self.exporter = connect(self.dbname)
            return
        if r < 0.10:
            self.exporter.execute(f"SET TimeZone = '{self.rng.choice(['UTC', 'Asia/Kolkata', 'America/Los_Angeles'])}'")
        page = self.exporter.execute("SELECT page_id, body, rows FROM auditlog.next_page(%s, %s)",
                                     (SINK, self.rng.randint(1, 40))).fetchone()
        if page is None:
            assert self.in_flight is None, "next_page() returned nothing while a page was in flight"
            return
        page_id, body, rows = page
        if self.in_flight is not None:
            assert (page_id, body) == self.in_flight, "a page in flight came back different"
        lines = body.splitlines()
        assert len(lines) == rows, f"page says {rows} rows, body has {len(lines)}"
        if self.rng.random() < 0.25:
            self.in_flight = (page_id, body)  # uploaded, then died before the ack
            return
        acked = self.exporter.execute("SELECT auditlog.ack(%s, %s)", (SINK, page_id)).fetchone()[0]
        assert acked, "ack() of the page in flight returned false"
        self.in_flight = None
        self.pages += 1
        self.exported.extend(json.loads(line)["id"] for line in lines)

    # --- the run

    def step(self):
        r = self.rng.random()
        if r < 0.70:
            self.writer_step(self.rng.choice(self.writers))
        elif r < 0.78:
            self.admin.execute("SELECT auditlog.tick()")
        elif r < 0.80:
            self.admin.execute("SELECT auditlog.timeout_pending(older_than => '1 microsecond', max_rows => 5)")
        else:
            self.export_step()

    def finish(self):
        for w in self.writers:
            if w.state == "open":
                if self.rng.random() < 0.7:
                    w.conn.execute("COMMIT")
                    self.commit(w.ids)
                else:
                    w.conn.execute("ROLLBACK")
                    self.discard(w.ids)
            elif w.state == "prepared":
                self.admin.execute(f"COMMIT PREPARED '{w.gid}'")
                self.commit(w.ids)
            w.state = "idle"
        while self.admin.execute("SELECT auditlog.timeout_pending(older_than => '1 microsecond')").fetchone()[0]:
            pass
        self.committed |= self.pending_committed
        empty = 0
        while empty < 2:
            page = self.exporter.execute("SELECT page_id, body FROM auditlog.next_page(%s, 50)", (SINK,)).fetchone()
            if page is None:
                empty += 1
                self.admin.execute("SELECT auditlog.tick()")
                continue
            empty = 0
            if self.in_flight is not None:
                assert page == self.in_flight, "the page in flight came back different at the drain"
                self.in_flight = None
            self.exporter.execute("SELECT auditlog.ack(%s, %s)", (SINK, page[0]))
            self.pages += 1
            self.exported.extend(json.loads(line)["id"] for line in page[1].splitlines())

    def check(self):
        logged = {str(r[0]) for r in self.admin.execute("SELECT id FROM auditlog.entry").fetchall()}
        exported = set(self.exported)
        duplicates = len(self.exported) - len(exported)
        committed = {str(i) for i in self.committed}
        discarded = {str(i) for i in self.discarded}
        problems = []
        if duplicates:
            problems.append(f"{duplicates} entries exported more than once")
        if logged - exported:
            problems.append(f"{len(logged - exported)} logged entries never exported")
        if exported - logged:
            problems.append(f"{len(exported - logged)} exported ids not in the log")
        if committed - logged:
            problems.append(f"{len(committed - logged)} committed entries missing from the log")
        if discarded & exported:
            problems.append(f"{len(discarded & exported)} rolled-back entries exported")
        return problems, len(logged)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--writers", type=int, default=6)
    parser.add_argument("--sql-edition", metavar="FILE", help="install the SQL edition with psql -f FILE")
    args = parser.parse_args()

    failed = 0
    with connect("postgres") as admin:
        for seed in args.seeds:
            dbname = f"random_export_{seed}"
            admin.execute(f"DROP DATABASE IF EXISTS {dbname}")
            if args.sql_edition:
                admin.execute("SELECT 1 FROM pg_roles WHERE rolname = 'auditlog_owner'").fetchone() or \
                    admin.execute("CREATE ROLE auditlog_owner LOGIN CREATEROLE")
                admin.execute(f"CREATE DATABASE {dbname} OWNER auditlog_owner")
                subprocess.run(["psql", "-X", "-q", "-U", "auditlog_owner", "-d", dbname,
                                "-v", "ON_ERROR_STOP=1", "-f", args.sql_edition], check=True)
            else:
                admin.execute(f"CREATE DATABASE {dbname}")
            with connect(dbname) as setup:
                setup.execute("SET client_min_messages = warning")
                if not args.sql_edition:
                    setup.execute("CREATE EXTENSION auditlog")
                setup.execute("SELECT auditlog.ensure_partitions(1)")
                setup.execute("SELECT auditlog.create_sink(%s, 'file:///srv/random')", (SINK,))
            run = Run(dbname, seed, args.writers)
            for _ in range(args.steps):
                run.step()
            run.finish()
            problems, logged = run.check()
            status = "ok" if not problems else "FAILED: " + "; ".join(problems)
            print(f"seed {seed}: {logged} entries, {run.pages} pages, "
                  f"{len(run.discarded)} rolled back, {run.prepared_count} prepared: {status}")
            failed += bool(problems)
            for c in [w.conn for w in run.writers] + [run.admin, run.exporter]:
                c.close()
            admin.execute(f"DROP DATABASE {dbname}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
