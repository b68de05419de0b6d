-- export.sql: the SQL edition's twins of export.c: a tick's time and mark,
-- the refusal to run inside a transaction block, the deadline of a
-- disabling transaction, and page ids. docs/design.md ("The SQL edition")
-- says what each gives up next to the C, and why.

-- Written to and never kept: a row inserted here gives the (sub)transaction
-- that inserts it an xid of its own, which SQL has no other way to ask for.
CREATE TABLE auditlog_internal.xid_probe (pid int);
COMMENT ON TABLE auditlog_internal.xid_probe IS
  'Internal (SQL edition): always empty; a row written and removed here gives a (sub)transaction its xid.';

-- (taken_at, mark): the time t (the clock, never below the floor), the
-- floor raised to t, then the mark x. The C reads the next xid to be
-- assigned; SQL cannot, so it has one assigned: that of a subtransaction
-- started after the floor was raised, read back as the xmin of the row it
-- writes. Every xid at or above it was assigned after the floor reached t,
-- and every writer reads the floor after its own xid is assigned, so every
-- entry of a writer w >= x has logged_at >= t, as in the C. (The ticking
-- transaction's own xid, if it has one, may be older than t: it is not the
-- mark.)
CREATE FUNCTION auditlog_internal.tick_time_and_mark(OUT taken_at timestamptz, OUT mark xid8)
RETURNS record
LANGUAGE plpgsql VOLATILE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  top xid8;
  sub xid;
BEGIN
  taken_at := auditlog_internal.clock();
  PERFORM setval('auditlog.clock_floor', auditlog_internal.clock_floor_value(taken_at));
  top := pg_current_xact_id();
  BEGIN
    INSERT INTO auditlog_internal.xid_probe VALUES (pg_backend_pid()) RETURNING xmin INTO sub;
    RAISE EXCEPTION USING ERRCODE = 'P0004';  -- undoes the row; the xid stays assigned
  EXCEPTION WHEN assert_failure THEN
    NULL;
  END;
  -- The subtransaction's 32-bit xid in the top one's epoch (or the next,
  -- had the counter wrapped in between).
  mark := ((top::text::bigint >> 32 << 32) | sub::text::bigint)::text::xid8;
  IF mark < top THEN
    mark := (mark::text::bigint + (1::bigint << 32))::text::xid8;
  END IF;
END
$$;

-- What export.c's refusal refuses, as far as SQL can see it:
-- * a subtransaction: each (sub)transaction that has an xid holds a lock on
--   it; one row written here gives every level its xid, and more than one
--   such lock held by this backend means more than one level;
-- * an implicit block: the query string holds another statement after this
--   one.
-- What SQL cannot see from inside a function is an explicit block (BEGIN),
-- or a later statement of a pipeline: the times a statement and its
-- transaction began differ in both, and also for a lone statement sent with
-- the extended protocol. Nor can it make the first statement of a pipeline
-- commit as soon as it returns. docs/guarantees.md says what that leaves to
-- the client (auditlogctl sends each of these calls on its own, in autocommit).
CREATE FUNCTION auditlog_internal.refuse_transaction_block(what text)
RETURNS void
LANGUAGE plpgsql VOLATILE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  levels int;
BEGIN
  INSERT INTO auditlog_internal.xid_probe VALUES (pg_backend_pid());
  DELETE FROM auditlog_internal.xid_probe WHERE pid = pg_backend_pid();
  SELECT count(*) INTO levels FROM pg_locks
  WHERE locktype = 'transactionid' AND pid = pg_backend_pid() AND mode = 'ExclusiveLock' AND granted;
  IF levels > 1 THEN
    RAISE EXCEPTION '% cannot run inside a subtransaction', what
      USING ERRCODE = 'active_sql_transaction',
            HINT = 'Call it on its own, not after SAVEPOINT nor inside a PL/pgSQL block with an EXCEPTION clause.';
  END IF;
  IF auditlog_internal.statements(current_query()) > 1 THEN
    RAISE EXCEPTION '% cannot run inside a transaction block', what
      USING ERRCODE = 'active_sql_transaction',
            HINT = 'Call it on its own, outside BEGIN ... COMMIT and not with other statements in one query string, so that it commits by itself.';
  END IF;
END
$$;

-- How many statements a query string holds: its semicolons outside quotes,
-- comments and dollar quotes, not counting one that only closes the string.
CREATE FUNCTION auditlog_internal.statements(query text)
RETURNS int
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  n int := 1;
  i int := 1;
  len int := length(query);
  c text;
  p int;
  tag text;
  depth int;
BEGIN
  IF query IS NULL OR strpos(rtrim(query, E' \t\r\n;'), ';') = 0 THEN
    RETURN 1;  -- the usual case, at no cost
  END IF;
  WHILE i <= len LOOP
    c := substr(query, i, 1);
    IF c = '''' THEN
      -- a string; E'...' also escapes with a backslash
      IF i > 1 AND upper(substr(query, i - 1, 1)) = 'E' THEN
        i := i + 1;
        WHILE i <= len AND substr(query, i, 1) <> '''' LOOP
          i := i + CASE WHEN substr(query, i, 1) = chr(92) THEN 2 ELSE 1 END;  -- a backslash
        END LOOP;
      ELSE
        i := i + 1;
        WHILE i <= len LOOP
          EXIT WHEN substr(query, i, 1) = '''' AND substr(query, i + 1, 1) <> '''';
          i := i + CASE WHEN substr(query, i, 2) = '''''' THEN 2 ELSE 1 END;
        END LOOP;
      END IF;
    ELSIF c = '"' THEN
      p := strpos(substr(query, i + 1), '"');
      EXIT WHEN p = 0;
      i := i + p;
    ELSIF substr(query, i, 2) = '--' THEN
      p := strpos(substr(query, i), E'\n');
      EXIT WHEN p = 0;
      i := i + p - 1;
    ELSIF substr(query, i, 2) = '/*' THEN
      depth := 1;
      i := i + 2;
      WHILE i <= len AND depth > 0 LOOP
        IF substr(query, i, 2) = '/*' THEN depth := depth + 1; i := i + 2;
        ELSIF substr(query, i, 2) = '*/' THEN depth := depth - 1; i := i + 2;
        ELSE i := i + 1;
        END IF;
      END LOOP;
      CONTINUE;
    ELSIF c = '$' AND substring(substr(query, i) FROM '^[$][A-Za-z_]*[$]') IS NOT NULL
          AND (i = 1 OR substr(query, i - 1, 1) !~ '[A-Za-z0-9_]') THEN
      tag := substring(substr(query, i) FROM '^[$][A-Za-z_]*[$]');
      p := strpos(substr(query, i + length(tag)), tag);
      EXIT WHEN p = 0;
      i := i + length(tag) + p - 1 + length(tag);
      CONTINUE;
    ELSIF c = ';' THEN
      IF btrim(substr(query, i + 1), E' \t\r\n;') <> '' THEN
        n := n + 1;
      END IF;
    END IF;
    i := i + 1;
  END LOOP;
  RETURN n;
END
$$;
COMMENT ON FUNCTION auditlog_internal.statements IS
  'Internal (SQL edition): how many statements a query string holds.';

-- The transaction must commit within 250 ms of the first commit_promptly()
-- of it, or fail. The C checks in a pre-commit callback; SQL's is a
-- deferred constraint trigger, which runs just before the commit: a row
-- written here for the transaction is checked then, and never kept.
CREATE TABLE auditlog_internal.commit_deadline (
  xact  xid8 PRIMARY KEY,
  since timestamptz NOT NULL,
  what  text NOT NULL
);
COMMENT ON TABLE auditlog_internal.commit_deadline IS
  'Internal (SQL edition): transactions that must commit promptly, each checked just before it commits; always empty after.';

CREATE FUNCTION auditlog_internal.check_commit_deadline()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  DELETE FROM auditlog_internal.commit_deadline WHERE xact = NEW.xact;
  IF clock_timestamp() - NEW.since > interval '250 milliseconds' THEN
    RAISE EXCEPTION '%: the transaction went on too long after its closing tick', NEW.what
      USING ERRCODE = 'active_sql_transaction',
            DETAIL = 'It must commit within 250 ms of the tick: entries committed meanwhile would be missed by the sink. Nothing was changed.',
            HINT = 'Call auditlog.disable_sink() in a statement of its own.';
  END IF;
  RETURN NULL;
END
$$;
COMMENT ON FUNCTION auditlog_internal.check_commit_deadline IS
  'Internal (SQL edition): fails a commit that comes more than 250 ms after the transaction''s commit_promptly().';

CREATE CONSTRAINT TRIGGER commit_deadline_check
  AFTER INSERT ON auditlog_internal.commit_deadline
  DEFERRABLE INITIALLY DEFERRED
  FOR EACH ROW EXECUTE FUNCTION auditlog_internal.check_commit_deadline();

CREATE FUNCTION auditlog_internal.commit_promptly(what text)
RETURNS void
LANGUAGE plpgsql VOLATILE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  -- Several calls in one transaction: the first one's time counts.
  INSERT INTO auditlog_internal.commit_deadline VALUES (pg_current_xact_id(), clock_timestamp(), what)
  ON CONFLICT (xact) DO NOTHING;
END
$$;

CREATE FUNCTION auditlog_internal.new_page_id()
RETURNS uuid
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
RETURN auditlog_internal.uuid_v7(clock_timestamp());
