#!/usr/bin/env python3
"""The functions that commit on their own, sent in an extended-protocol
pipeline (several statements before one Sync, which Postgres runs as one
implicit transaction).

- next_page() first in a pipeline commits as soon as it returns: a statement
  after it that fails cannot roll back the pin whose key the client holds,
  so the page is handed out again identical, under the same key.
- next_page(), ack() and disable_sink() later in a pipeline are refused.
- disable_sink() first in a pipeline commits at once, whatever follows.

Usage: pipeline.py (connects with the PG* environment variables).
"""
import sys

import psycopg

failures = []


def check(what, ok):
    print(f"{'ok' if ok else 'FAILED'}: {what}")
    if not ok:
        failures.append(what)


def pipelined(conn, *statements):
    """Sends statements in one pipeline and one Sync; returns each one's rows,
    or the error that ended the pipeline for the one that failed and those
    after it."""
    outcomes = []
    failure = None
    with conn.pipeline() as pipeline:
        cursors = [conn.cursor() for _ in statements]
        for cursor, statement in zip(cursors, statements):
            cursor.execute(statement)
        try:
            pipeline.sync()
        except psycopg.Error as error:
            failure = error
        for cursor in cursors:
            try:
                outcomes.append(cursor.fetchall())
            except psycopg.Error:
                outcomes.append(failure)
    return outcomes


def main():
    conn = psycopg.connect(autocommit=True)
    conn.execute("SET client_min_messages = warning")
    conn.execute("CREATE EXTENSION IF NOT EXISTS auditlog")
    conn.execute("SELECT auditlog.ensure_partitions()")
    conn.execute("SELECT auditlog.drop_sink(name) FROM auditlog.sink WHERE name = 'pipelined'")
    conn.execute("SELECT auditlog.create_sink('pipelined', 'file:///tmp/pipelined')")
    conn.execute("SELECT auditlog.record(operation => 'pipelined.' || n) FROM generate_series(1, 3) AS n")

    # next_page() first, then a statement that fails, before one Sync.
    first, failed = pipelined(conn, "SELECT page_id, object_key FROM auditlog.next_page('pipelined')",
                              "SELECT 1 / 0")
    check("next_page() first in a pipeline hands out a page", isinstance(first, list) and len(first) == 1)
    check("the statement after it fails", isinstance(failed, psycopg.errors.DivisionByZero))
    again = conn.execute("SELECT page_id, object_key FROM auditlog.next_page('pipelined')").fetchall()
    check("the page stays pinned: handed out again under the same key", again == first)

    # Later in a pipeline: refused, nothing changed. The class: every function
    # that commits on its own, from the catalog, called with null arguments
    # (the refusal comes first).
    calls = conn.execute("""
        SELECT format('SELECT %s(%s)', p.oid::regproc, array_to_string(array_fill('NULL'::text, ARRAY[p.pronargs]), ', '))
        FROM pg_proc p
        WHERE p.pronamespace IN ('auditlog'::regnamespace, 'auditlog_internal'::regnamespace) AND p.prokind = 'f' AND p.prorettype <> 'trigger'::regtype
          AND p.prosrc LIKE '%auditlog_internal.refuse_transaction_block(%'
        ORDER BY 1""").fetchall()
    check("the functions that commit on their own are found", len(calls) >= 9)
    for statement in [f"SELECT auditlog.ack('pipelined', '{first[0][0]}')",
                      "SELECT count(*) FROM auditlog.next_page('pipelined')",
                      "SELECT auditlog.disable_sink('pipelined')"] + [call for (call,) in calls]:
        _, refused = pipelined(conn, "SELECT 1", statement)
        check(f"refused as the second statement of a pipeline: {statement}",
              isinstance(refused, psycopg.errors.ActiveSqlTransaction) and "pipeline" in str(refused))
    state = conn.execute("SELECT enabled, page_in_flight FROM auditlog.sink_status WHERE sink = 'pipelined'").fetchone()
    check("the sink is still enabled with the same page in flight", state == (True, first[0][0]))

    # disable_sink() first, then a failing statement: disabled, committed.
    disabled, failed = pipelined(conn, "SELECT auditlog.disable_sink('pipelined')", "SELECT 1 / 0")
    check("disable_sink() first in a pipeline runs", disabled == [(True,)])
    enabled = conn.execute("SELECT enabled FROM auditlog.sink WHERE name = 'pipelined'").fetchone()[0]
    check("and commits at once, whatever follows it", enabled is False)

    conn.execute("SELECT auditlog.drop_sink('pipelined')")
    print(f"{len(failures)} failed" if failures else "ok: pipelines")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
