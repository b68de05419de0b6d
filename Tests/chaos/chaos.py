#!/usr/bin/env python3
"""Chaos suite: exactly-once export when everything goes wrong at once.

Each run (one seed) writes with several concurrent clients of random
transaction shapes (one-shot records, begin/complete, savepoints rolled back,
aborts, long transactions spanning many ticks, two-phase transactions
resolved seconds later, begin() never completed), while two `auditlogctl
daemon` replicas export a sink to an S3-compatible server (moto) through a
proxy that answers 500 and 503 SlowDown, stalls and resets connections for a
fraction of requests. The replicas are killed with SIGKILL at random moments
(mid-page, mid-upload, between upload and acknowledgement) and started again,
and Postgres is stopped with `pg_ctl -m immediate` and restarted mid-run.
Writers and exporters run as roles of their own (auditlog_writer and
auditlog_admin); with --statement-timeout '1s' those roles get that timeout,
and with --prefill the log first holds that many entries of history: no
statement of the product may time out.

Then it drains and compares: the entry ids in storage equal the committed
entries of the log (the sink was created first), no id is in two objects,
every committed begin() is in the log exactly once, what writers committed
is there and what they rolled back is not, and `auditlogctl verify` passes.
One summary line a run, then `N passed, M failed`.

Tests/chaos/run.sh starts the cluster and moto and calls this; run it with
--help for the options.
"""
import argparse
import gzip
import json
import os
import random
import re
import secrets
import signal
import subprocess
import sys
import threading
import time

import boto3
import psycopg
import psycopg.sql

from fault_proxy import FaultProxy

PG_BIN = "/usr/lib/postgresql/15/bin"
# A secret of this invocation's: nothing a run produces may contain it.
SECRET = "chaos-secret-" + secrets.token_hex(12)
AWS = {"AWS_ACCESS_KEY_ID": "chaos", "AWS_SECRET_ACCESS_KEY": SECRET, "AWS_REGION": "us-east-1"}


class Ledger:
    """What the writers know of their entries, shared between threads."""

    def __init__(self):
        self.lock = threading.Lock()
        self.committed = set()  # the COMMIT (or COMMIT PREPARED) returned
        self.discarded = set()  # rolled back, or cut off before COMMIT by a crash
        self.uncertain = set()  # the connection died during the COMMIT: either way
        self.abandoned = set()  # begin() committed, never completed: timed out at the end
        self.prepared = {}  # gid -> (ids, abandoned ids, resolve at)
        self.counts = {"transactions": 0, "rollbacks": 0, "prepared": 0, "prepared and committed": 0,
                       "prepared and rolled back": 0, "long": 0, "crashed": 0}
        self.errors = []  # errors other than a lost connection: statement timeouts above all

    def add(self, kind, ids, abandoned=()):
        with self.lock:
            if kind == "committed":
                self.committed.update(ids)
                self.abandoned.update(abandoned)
            elif kind == "discarded":
                self.discarded.update(ids)
                self.discarded.update(abandoned)
            else:
                self.uncertain.update(ids)
                self.uncertain.update(abandoned)

    def count(self, name):
        with self.lock:
            self.counts[name] += 1


class Writer(threading.Thread):
    """An application session writing random transaction shapes until told to stop."""

    def __init__(self, run, number):
        super().__init__(daemon=True)
        self.run_ = run
        self.rng = random.Random(run.seed * 1000 + number)
        self.number = number
        self.conn = None

    def run(self):
        while not self.run_.stopping.is_set():
            try:
                if self.conn is None:
                    self.conn = psycopg.connect(self.run_.writer_dsn, autocommit=True, connect_timeout=2)
                self.transaction()
            except psycopg.OperationalError:
                self.conn = None
                time.sleep(0.2)
            except psycopg.Error as error:
                with self.run_.ledger.lock:
                    self.run_.ledger.errors.append(f"{type(error).__name__}: {str(error).splitlines()[0]}")
                self.conn.execute("ROLLBACK")
        if self.conn is not None:
            self.conn.close()

    def record(self, operation):
        return str(self.conn.execute(
            "SELECT auditlog.record(operation => %s, actor_id => %s, details => jsonb_build_object('n', %s::int))",
            (operation, f"w{self.number}", self.rng.randint(0, 10**6))).fetchone()[0])

    def transaction(self):
        ledger = self.run_.ledger
        r = self.rng.random()
        if r < 0.3:
            # One-shot: the statement is the commit; a crash during it leaves it uncertain.
            try:
                ledger.add("committed", [self.record(self.run_.operation("record"))])
            except psycopg.OperationalError:
                ledger.count("crashed")
                raise
            return
        ids, abandoned, savepoints = [], [], []
        committing = False
        try:
            self.conn.execute("BEGIN")
            ledger.count("transactions")
            long_one = r < 0.4
            for _ in range(self.rng.randint(1, 6)):
                s = self.rng.random()
                if s < 0.5:
                    ids.append(self.record(self.run_.operation("record")))
                elif s < 0.65:
                    entry = str(self.conn.execute("SELECT auditlog.begin(operation => %s)",
                                                  (self.run_.operation("two_phase"),)).fetchone()[0])
                    assert self.conn.execute("SELECT auditlog.complete(%s, 'success')", (entry,)).fetchone()[0]
                    ids.append(entry)
                elif s < 0.72:
                    abandoned.append(str(self.conn.execute(
                        "SELECT auditlog.begin(operation => %s)", (self.run_.operation("abandoned"),)).fetchone()[0]))
                elif s < 0.85:
                    self.conn.execute(f"SAVEPOINT s{len(savepoints)}")
                    savepoints.append((len(ids), len(abandoned)))
                elif savepoints:
                    keep, keep_abandoned = savepoints.pop()
                    self.conn.execute(f"ROLLBACK TO SAVEPOINT s{len(savepoints)}")
                    self.conn.execute(f"RELEASE SAVEPOINT s{len(savepoints)}")
                    ledger.add("discarded", ids[keep:], abandoned[keep_abandoned:])
                    del ids[keep:], abandoned[keep_abandoned:]
            if long_one:
                ledger.count("long")
                time.sleep(self.rng.uniform(1.0, 3.0))  # across many ticks
                ids.append(self.record(self.run_.operation("long")))
            e = self.rng.random()
            committing = True
            if e < 0.8:
                self.conn.execute("COMMIT")
                ledger.add("committed", ids, abandoned)
            elif e < 0.9:
                self.conn.execute("ROLLBACK")
                ledger.count("rollbacks")
                ledger.add("discarded", ids, abandoned)
            else:
                gid = f"chaos_{self.run_.seed}_{self.number}_{self.rng.getrandbits(32)}"
                with ledger.lock:
                    ledger.prepared[gid] = (ids, abandoned, time.monotonic() + self.rng.uniform(1.0, 6.0))
                self.conn.execute(f"PREPARE TRANSACTION '{gid}'")
                ledger.count("prepared")
        except psycopg.OperationalError:
            ledger.count("crashed")
            ledger.add("uncertain" if committing else "discarded", ids, abandoned)
            raise
        except psycopg.Error:
            ledger.add("uncertain" if committing else "discarded", ids, abandoned)
            raise


class Resolver(threading.Thread):
    """The transaction manager: resolves prepared transactions seconds later."""

    def __init__(self, run):
        super().__init__(daemon=True)
        self.run_ = run
        self.rng = random.Random(run.seed * 1000 + 999)

    def run(self):
        while not self.run_.stopping.is_set():
            self.resolve(due_only=True)
            time.sleep(0.3)

    def resolve(self, due_only):
        ledger = self.run_.ledger
        with ledger.lock:
            due = [(gid, entry) for gid, entry in ledger.prepared.items() if not due_only or entry[2] <= time.monotonic()]
        for gid, (ids, abandoned, _) in due:
            commit = not due_only or self.rng.random() < 0.85
            try:
                with psycopg.connect(self.run_.writer_dsn, autocommit=True, connect_timeout=2) as conn:
                    if conn.execute("SELECT 1 FROM pg_prepared_xacts WHERE gid = %s", (gid,)).fetchone() is None:
                        # Never prepared (the crash came first) or resolved already.
                        with ledger.lock:
                            ledger.prepared.pop(gid, None)
                        ledger.add("uncertain", ids, abandoned)
                        continue
                    conn.execute(f"{'COMMIT' if commit else 'ROLLBACK'} PREPARED '{gid}'")
                with ledger.lock:
                    ledger.prepared.pop(gid, None)
                ledger.add("committed" if commit else "discarded", ids, abandoned)
                ledger.count("prepared and committed" if commit else "prepared and rolled back")
            except psycopg.OperationalError:
                pass  # Postgres is restarting: try again later


class Exporter:
    """One `auditlogctl daemon` replica, killed and started again."""

    def __init__(self, run, number):
        self.run_ = run
        self.number = number
        self.process = None
        self.log = open(os.path.join(run.workdir, f"exporter-{run.seed}-{number}.log"), "ab")

    def start(self):
        self.process = subprocess.Popen(
            [self.run_.auditlogctl, "daemon", "--interval", "200ms", "--database", self.run_.exporter_dsn,
             "--statement-timeout", self.run_.args.statement_timeout or "5s",
             "--retain", "100 years", "--max-rows", str(self.run_.rng.randint(3, 200))],
            env={**os.environ, **AWS, "AWS_ENDPOINT_URL_S3": self.run_.proxy.endpoint},
            stdout=self.log, stderr=self.log, stdin=subprocess.DEVNULL)

    def kill(self):
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()


class Run:
    def __init__(self, args, seed, dbname):
        self.args = args
        self.seed = seed
        self.rng = random.Random(seed)
        self.dbname = dbname
        self.shared = dbname == SHARED_DATABASE
        self.sink = f"chaos-{seed}"
        self.dsn = f"host=127.0.0.1 port={args.port} user=postgres dbname={dbname}"
        self.writer_dsn = f"host=127.0.0.1 port={args.port} user=chaos_writer dbname={dbname}"
        self.exporter_dsn = f"host=127.0.0.1 port={args.port} user=chaos_exporter dbname={dbname}"
        self.auditlogctl = args.auditlogctl
        self.workdir = args.workdir
        self.bucket = f"chaos-{seed}-{random.Random().getrandbits(32):08x}"
        self.ledger = Ledger()
        self.stopping = threading.Event()
        self.kills = 0
        self.restarts = 0
        self.produced = []  # what auditlogctl printed, searched for the secret at the end
        self.s3 = boto3.client("s3", endpoint_url=args.moto, region_name="us-east-1",
                               aws_access_key_id="chaos", aws_secret_access_key=SECRET)

    def operation(self, kind):
        """The operation of a writer's entry: this run's prefix, so its sink takes only this run's entries."""
        return f"chaos.{self.seed}.{kind}"

    def setup(self):
        if not self.shared:
            create_database(self.args, self.dbname)
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            conn.execute("SET client_min_messages = warning")
            conn.execute("SELECT auditlog.ensure_partitions(1)")
            conn.execute("SELECT auditlog.create_sink(%s, %s, operation_prefix => %s)",
                         (self.sink, f"s3://{self.bucket}/log", f"chaos.{self.seed}."))
        self.s3.create_bucket(Bucket=self.bucket)
        self.proxy = FaultProxy(self.args.moto, self.seed, self.args.fault_rate)

    def restart_postgres(self):
        subprocess.run(["runuser", "-u", "postgres", "--", f"{PG_BIN}/pg_ctl", "-D", self.args.pgdata,
                        "-m", "immediate", "-w", "-s", "-l", os.path.join(self.args.pgdata, "..", "server.log"),
                        "restart"], check=True, stdout=subprocess.DEVNULL)
        self.restarts += 1

    def chaos(self):
        writers = [Writer(self, n) for n in range(self.args.writers)]
        resolver = Resolver(self)
        exporters = [Exporter(self, n) for n in range(2)]
        for thread in writers + [resolver]:
            thread.start()
        for exporter in exporters:
            exporter.start()
        start = time.monotonic()
        restarts_at = sorted(self.rng.uniform(0.25, 0.75) * self.args.seconds for _ in range(self.args.pg_restarts))
        next_kill = start + self.rng.uniform(0.5, 2.5)
        while time.monotonic() - start < self.args.seconds:
            now = time.monotonic()
            if restarts_at and now - start >= restarts_at[0]:
                restarts_at.pop(0)
                self.restart_postgres()
            if now >= next_kill:
                victim = self.rng.choice(exporters)
                victim.kill()
                self.kills += 1
                time.sleep(self.rng.uniform(0, 0.5))
                victim.start()
                next_kill = time.monotonic() + self.rng.uniform(0.5, 2.5)
            time.sleep(0.05)
        self.stopping.set()
        for thread in writers + [resolver]:
            thread.join()
        resolver.resolve(due_only=False)  # whatever is still prepared commits
        for exporter in exporters:
            exporter.kill()

    def drain(self):
        """Times out abandoned entries and exports everything, faults off."""
        self.proxy.enabled = False
        time.sleep(1.1)
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            while conn.execute("SELECT auditlog.timeout_pending('1 second', 100000)").fetchone()[0]:
                pass
            for _ in range(30):
                run = subprocess.run([self.auditlogctl, "run", "--database", self.exporter_dsn, "--retain", "100 years",
                                      "--statement-timeout", self.args.statement_timeout or "5s", "--sink", self.sink],
                                     env={**os.environ, **AWS, "AWS_ENDPOINT_URL_S3": self.proxy.endpoint},
                                     capture_output=True, text=True)
                self.produced.append(run.stdout + run.stderr)
                conn.execute("SELECT auditlog.tick()")
                lag, in_flight = conn.execute(
                    "SELECT lag_rows, page_in_flight FROM auditlog.sink_status WHERE sink = %s", (self.sink,)).fetchone()
                if lag == 0 and in_flight is None:
                    return True
        return False

    def check(self, drained):
        stored = []
        pages = 0
        for listing in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix="log/"):
            for obj in listing.get("Contents", []):
                body = gzip.decompress(self.s3.get_object(Bucket=self.bucket, Key=obj["Key"])["Body"].read())
                stored.extend(json.loads(line)["id"] for line in body.splitlines())
                pages += 1
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            # (The checks, not the product, read the whole log: no timeout here.)
            conn.execute("SET statement_timeout = 0")
            prefix = f"chaos.{self.seed}."
            logged = {str(r[0]) for r in conn.execute(
                "SELECT id FROM auditlog.entry WHERE starts_with(operation, %s) AND logged_at > now() - interval '1 day'",
                (prefix,))}
            twice_in_log = conn.execute(
                "SELECT count(*) FROM (SELECT id FROM auditlog.entry WHERE starts_with(operation, %s)"
                " GROUP BY id HAVING count(*) > 1) AS d", (prefix,)).fetchone()[0]
            still_pending = conn.execute("SELECT count(*) FROM auditlog.pending WHERE starts_with(operation, %s)",
                                         (prefix,)).fetchone()[0]
            timed_out = {str(r[0]) for r in conn.execute(
                "SELECT id FROM auditlog.entry WHERE operation = %s AND result = 'timeout'"
                " AND logged_at > now() - interval '1 day'", (self.operation("abandoned"),))}
        verify = subprocess.run([self.auditlogctl, "verify", self.sink, "--database", self.exporter_dsn],
                                env={**os.environ, **AWS, "AWS_ENDPOINT_URL_S3": self.args.moto},
                                capture_output=True, text=True)
        self.produced.append(verify.stdout + verify.stderr)
        self.produced.append(subprocess.run([self.auditlogctl, "status", "--json", "--database", self.exporter_dsn],
                                            capture_output=True, text=True).stdout)
        self.produced.append(subprocess.run([f"{PG_BIN}/pg_dump", "--dbname", self.dsn],
                                            capture_output=True, text=True).stdout)
        self.produced.append(open(os.path.join(self.args.pgdata, "..", "server.log"), errors="replace").read())
        exported = set(stored)
        ledger = self.ledger
        problems = []
        missing = len(logged - exported)
        duplicated = len(stored) - len(exported)
        if not drained:
            problems.append("the sink did not drain")
        if missing:
            problems.append(f"{missing} logged entries not in storage")
        if exported - logged:
            problems.append(f"{len(exported - logged)} stored ids not in the log")
        if duplicated:
            problems.append(f"{duplicated} ids stored twice")
        if twice_in_log:
            problems.append(f"{twice_in_log} ids twice in the log")
        if ledger.committed - logged:
            problems.append(f"{len(ledger.committed - logged)} committed entries missing from the log")
        if (ledger.discarded - ledger.uncertain) & logged:
            problems.append(f"{len((ledger.discarded - ledger.uncertain) & logged)} rolled-back entries in the log")
        if ledger.abandoned - timed_out:
            problems.append(f"{len(ledger.abandoned - timed_out)} committed begin()s not timed out into the log")
        if still_pending:
            problems.append(f"{still_pending} entries still pending")
        if ledger.errors:
            problems.append(f"{len(ledger.errors)} writer errors, the first: {ledger.errors[0]}")
        # Exporters may fail to reach Postgres while it restarts (SQLSTATE
        # class 08, 57P0x) and storage when the proxy fails; nothing else.
        exporter_log = "".join(open(os.path.join(self.workdir, f"exporter-{self.seed}-{n}.log"), errors="replace").read()
                               for n in range(2))
        unexpected = [line for line in exporter_log.splitlines()
                      if (m := re.search(r"SQLSTATE ([0-9A-Z]{5})", line)) and not m.group(1).startswith(("08", "57P0"))]
        if unexpected:
            problems.append(f"{len(unexpected)} unexpected exporter errors, the first: {unexpected[0]}")
        if SECRET in exporter_log or any(SECRET in text for text in self.produced):
            problems.append("the storage secret appears in what the run produced")
        if verify.returncode != 0:
            problems.append("auditlogctl verify failed: " + " | ".join(verify.stderr.strip().splitlines()[:3]))
        c = ledger.counts
        print(f"chaos seed {self.seed}: entries committed {len(logged)}, exported {len(exported)}, "
              f"missing {missing}, duplicated {duplicated} ({pages} objects, {c['transactions']} transactions, "
              f"{c['rollbacks']} rolled back, {c['prepared']} prepared ({c['prepared and committed']} committed later, "
              f"{c['prepared and rolled back']} rolled back later), {c['long']} long, "
              f"{len(ledger.abandoned)} abandoned begin()s, {self.kills} exporter kills, "
              f"{self.restarts} Postgres restarts, {self.proxy.faults()} storage faults of "
              f"{self.proxy.counts['requests']} requests): " + ("ok" if not problems else "FAILED: " + "; ".join(problems)),
              flush=True)
        return not problems

    def close(self):
        self.proxy.stop()
        with psycopg.connect(f"host=127.0.0.1 port={self.args.port} user=postgres dbname=postgres",
                             autocommit=True) as admin:
            for (gid,) in admin.execute("SELECT gid FROM pg_prepared_xacts WHERE database = %s", (self.dbname,)).fetchall():
                with psycopg.connect(self.dsn, autocommit=True) as conn:
                    conn.execute(f"ROLLBACK PREPARED '{gid}'")
            if not self.shared:
                admin.execute(f"DROP DATABASE IF EXISTS {self.dbname} WITH (FORCE)")
        if self.shared:
            with psycopg.connect(self.dsn, autocommit=True) as conn:
                conn.execute("SELECT auditlog.drop_sink(%s)", (self.sink,))


SHARED_DATABASE = "chaos"


def create_database(args, dbname):
    """A database with the extension, and the roles writers and exporters log in as."""
    with psycopg.connect(f"host=127.0.0.1 port={args.port} user=postgres dbname=postgres", autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {dbname} WITH (FORCE)")
        if args.sql_edition:
            # As a managed service's admin installs it: the database's owner,
            # with CREATEROLE, not a superuser, runs the script with psql.
            if admin.execute("SELECT 1 FROM pg_roles WHERE rolname = 'auditlog_owner'").fetchone() is None:
                admin.execute("CREATE ROLE auditlog_owner LOGIN CREATEROLE")
            admin.execute(f"CREATE DATABASE {dbname} OWNER auditlog_owner")
            subprocess.run(["psql", "-X", "-q", "-h", "127.0.0.1", "-p", str(args.port), "-U", "auditlog_owner",
                            "-d", dbname, "-v", "ON_ERROR_STOP=1", "-f", args.sql_edition], check=True)
        else:
            admin.execute(f"CREATE DATABASE {dbname}")
    with psycopg.connect(f"host=127.0.0.1 port={args.port} user=postgres dbname={dbname}", autocommit=True) as conn:
        conn.execute("SET client_min_messages = warning")
        if not args.sql_edition:
            conn.execute("CREATE EXTENSION auditlog")
        for role, group in (("chaos_writer", "auditlog_writer"), ("chaos_exporter", "auditlog_admin")):
            if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone() is None:
                conn.execute(f"CREATE ROLE {role} LOGIN IN ROLE {group}")
            if args.statement_timeout:
                conn.execute(psycopg.sql.SQL("ALTER ROLE {} SET statement_timeout = {}").format(
                    psycopg.sql.Identifier(role), psycopg.sql.Literal(args.statement_timeout)))


def prefill(args):
    """The shared database with args.prefill entries of history over the 30 days before today."""
    started = time.monotonic()
    create_database(args, SHARED_DATABASE)
    with psycopg.connect(f"host=127.0.0.1 port={args.port} user=postgres dbname={SHARED_DATABASE}",
                         autocommit=True) as conn:
        conn.execute("SET client_min_messages = warning")
        conn.execute(f"""
            CREATE VIEW chaos_history AS
            SELECT gen_random_uuid() AS id, 'audit' AS stream,
                   auditlog.utc_day(now()) - interval '30 days' + n * (interval '30 days' - interval '1 second') / {args.prefill} AS logged_at,
                   auditlog.utc_day(now()) - interval '30 days' + n * (interval '30 days' - interval '1 second') / {args.prefill} AS started_at,
                   'history.update' AS operation, 'user' AS actor_type, 'u-' || (n % 5000) AS actor_id,
                   'tenant-' || (n % 1000) AS tenant_id, 'project' AS resource_type, 'p-' || (n % 20000) AS resource_id,
                   NULL::text AS request_id, '/v1/projects' AS request_uri, '192.0.2.1'::inet AS source_ip,
                   'chaos' AS user_agent, 'token' AS auth_method, NULL::text AS credential_id,
                   'success'::auditlog.result AS result, 200 AS http_status, NULL::text AS error_code,
                   NULL::text AS error_message, '{{"k": 1}}'::jsonb AS details
            FROM generate_series(1, {args.prefill}) AS n""")
        span = conn.execute("SELECT auditlog.import_begin(auditlog.utc_day(now()) - interval '30 days',"
                            " auditlog.utc_day(now()) - interval '1 second')").fetchone()[0]
        conn.execute("SELECT auditlog.import_rows(%s, 'chaos_history')", (span,))
        conn.execute("DROP VIEW chaos_history")
        conn.execute("VACUUM ANALYZE auditlog.entry")
    print(f"chaos: prefilled the log with {args.prefill} entries in {time.monotonic() - started:.0f} s", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True, help="the cluster's port (127.0.0.1)")
    parser.add_argument("--pgdata", required=True, help="the cluster's data directory, for pg_ctl restart")
    parser.add_argument("--moto", required=True, help="the S3-compatible server's endpoint")
    parser.add_argument("--auditlogctl", required=True, help="the auditlogctl executable")
    parser.add_argument("--workdir", required=True, help="where exporters' logs go")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--runs", type=int, help="seeds 1..N instead of --seeds")
    parser.add_argument("--long", type=float, metavar="SECONDS",
                        help="run seeds 1, 2, 3, ... until this many seconds have passed")
    parser.add_argument("--seconds", type=float, default=15, help="how long the chaos lasts in each run")
    parser.add_argument("--writers", type=int, default=4)
    parser.add_argument("--pg-restarts", type=int, default=1, help="immediate Postgres restarts a run")
    parser.add_argument("--fault-rate", type=float, default=0.12, help="the fraction of storage requests that fail")
    parser.add_argument("--statement-timeout", metavar="DURATION",
                        help="the statement_timeout of the writer and exporter roles, such as 1s")
    parser.add_argument("--sql-edition", metavar="FILE",
                        help="install the SQL edition with psql -f FILE (by a role that is not a superuser)")
    parser.add_argument("--prefill", type=int, default=0, metavar="ENTRIES",
                        help="first fill the log with this many entries of history; all runs then share that database")
    args = parser.parse_args()
    if args.prefill:
        prefill(args)
    seeds = list(range(1, args.runs + 1)) if args.runs else args.seeds
    if args.long:
        deadline = time.monotonic() + args.long
        seeds = iter(lambda: None, 0)  # endless; stopped by the deadline below

    passed = failed = 0
    for number, seed in enumerate(seeds, start=1):
        if args.long:
            if time.monotonic() >= deadline:
                break
            seed = number
        run = Run(args, seed, SHARED_DATABASE if args.prefill else f"chaos_{seed}")
        run.setup()
        try:
            run.chaos()
            ok = run.check(run.drain())
        finally:
            run.close()
        passed += ok
        failed += not ok
    print(f"chaos: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
