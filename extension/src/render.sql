-- render.sql: the SQL edition's twins of what render.c implements: an
-- entry's NDJSON line and CSV line, a CSV cell, and the page renderer. Every
-- byte is the C's: pages pinned by one edition render again to the same
-- SHA-256 under the other (extension/test/render_twins.sh compares them).
--
-- Speed comes from the planner inlining SQL functions into the page query:
-- the helpers below are single-expression LANGUAGE sql functions with a body
-- parsed at CREATE (RETURN ...), so they need no SET search_path (which would
-- stop inlining, as would STRICT or IMMUTABLE over to_char()/to_json(): they
-- are STABLE). The public functions keep the C's signatures and wrap them.
-- A PL/pgSQL function runs only to raise an error.
--
-- The C aggregate render_entries() has no twin: a PL/pgSQL aggregate's state
-- is copied at every row (20,000 rows took 23 s). render_query() renders
-- with window functions instead, the same page whatever order rows come in.

-- sql edition: without auditlog_internal.render_step
-- sql edition: without auditlog_internal.render_final
-- sql edition: without auditlog_internal.render_entries

-- The C renderer's errors, raised in the middle of an expression. STABLE,
-- so that it can sit in an inlined STABLE function; it takes the row value
-- that caused the error so that the planner, seeing a non-constant argument,
-- never evaluates it ahead of the row that needs it.
CREATE FUNCTION auditlog_internal.render_error(sqlstate text, message text, detail text, hint text, culprit anyelement)
RETURNS text
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF hint IS NOT NULL THEN
    RAISE EXCEPTION USING ERRCODE = sqlstate, MESSAGE = message, HINT = hint;
  ELSIF detail IS NOT NULL THEN
    RAISE EXCEPTION USING ERRCODE = sqlstate, MESSAGE = message, DETAIL = detail;
  END IF;
  RAISE EXCEPTION USING ERRCODE = sqlstate, MESSAGE = message;
END
$$;
COMMENT ON FUNCTION auditlog_internal.render_error IS
  'Internal (SQL edition): raises an error of the page renderer from within an expression.';

-- A time as the NDJSON writes it: "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ" of
-- its UTC fields, the year as kept (0 for 1 BC, -1 for 2 BC), and an error
-- for infinity.
CREATE FUNCTION auditlog_internal.ndjson_time(t timestamptz)
RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
RETURN CASE
  WHEN t >= '0001-01-01 00:00:00+00' AND t < 'infinity'
    THEN to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
  WHEN t IS NULL THEN NULL
  WHEN NOT isfinite(t)
    THEN auditlog_internal.render_error('22008', 'audit entry time out of range', NULL, NULL, t)
  -- BC: to_char() writes 1 BC as 0001, the C as 0000 (what %04d makes of the
  -- year it keeps, extract(year) + 1), 44 BC as -043, 4713 BC as -4712.
  ELSE CASE WHEN extract(year FROM t AT TIME ZONE 'UTC') = -1 THEN '0000'
            WHEN extract(year FROM t AT TIME ZONE 'UTC') > -101
              THEN '-' || lpad((-1 - extract(year FROM t AT TIME ZONE 'UTC')::int)::text, 3, '0')
            ELSE (extract(year FROM t AT TIME ZONE 'UTC')::int + 1)::text END
       || to_char(t AT TIME ZONE 'UTC', '-MM-DD"T"HH24:MI:SS.US"Z"')
END;
COMMENT ON FUNCTION auditlog_internal.ndjson_time IS
  'Internal (SQL edition): a time as NDJSON lines write it, in UTC with microseconds.';

-- The fields of an NDJSON line, by name and in table order (writer_xid left
-- out), typed so that to_json() writes each as the C does: strings (text,
-- uuid, inet as inet_out() writes it, enum) quoted and escaped as
-- escape_json() does, int bare, jsonb as its text, times preformatted.
CREATE TYPE auditlog_internal.ndjson_fields AS (
  id            uuid,
  stream        text,
  logged_at     text,
  started_at    text,
  operation     text,
  actor_type    text,
  actor_id      text,
  tenant_id     text,
  resource_type text,
  resource_id   text,
  request_id    text,
  request_uri   text,
  source_ip     inet,
  user_agent    text,
  auth_method   text,
  credential_id text,
  result        auditlog.result,
  http_status   int,
  error_code    text,
  error_message text,
  details       jsonb
);
COMMENT ON TYPE auditlog_internal.ndjson_fields IS
  'Internal (SQL edition): the fields of an entry''s NDJSON line, in order.';

-- Most entries have no string that JSON escapes (no quote, backslash nor
-- control character: one check of them all), and their line is written
-- with format() at half the cost of to_json() of its fields; the others'
-- with to_json(), which escapes as the C does.
CREATE FUNCTION auditlog_internal.ndjson_text(e auditlog.entry)
RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
RETURN CASE
  WHEN format('%s%s%s%s%s%s%s%s%s%s%s%s%s%s', e.stream, e.operation, e.actor_type, e.actor_id, e.tenant_id, e.resource_type,
              e.resource_id, e.request_id, e.request_uri, e.user_agent, e.auth_method, e.credential_id, e.error_code,
              e.error_message) !~ '[\x01-\x1f"\\]'
    THEN format('{"id":%s,"stream":%s,"logged_at":%s,"started_at":%s,"operation":%s,"actor_type":%s,"actor_id":%s,'
                '"tenant_id":%s,"resource_type":%s,"resource_id":%s,"request_id":%s,"request_uri":%s,"source_ip":%s,'
                '"user_agent":%s,"auth_method":%s,"credential_id":%s,"result":%s,"http_status":%s,"error_code":%s,'
                '"error_message":%s,"details":%s}',
                coalesce('"' || e.id::text || '"', 'null'), coalesce('"' || e.stream || '"', 'null'),
                coalesce('"' || auditlog_internal.ndjson_time(e.logged_at) || '"', 'null'),
                coalesce('"' || auditlog_internal.ndjson_time(e.started_at) || '"', 'null'),
                coalesce('"' || e.operation || '"', 'null'), coalesce('"' || e.actor_type || '"', 'null'),
                coalesce('"' || e.actor_id || '"', 'null'), coalesce('"' || e.tenant_id || '"', 'null'),
                coalesce('"' || e.resource_type || '"', 'null'), coalesce('"' || e.resource_id || '"', 'null'),
                coalesce('"' || e.request_id || '"', 'null'), coalesce('"' || e.request_uri || '"', 'null'),
                coalesce(to_json(e.source_ip)::text, 'null'), coalesce('"' || e.user_agent || '"', 'null'),
                coalesce('"' || e.auth_method || '"', 'null'), coalesce('"' || e.credential_id || '"', 'null'),
                coalesce('"' || e.result::text || '"', 'null'), coalesce(e.http_status::text, 'null'),
                coalesce('"' || e.error_code || '"', 'null'), coalesce('"' || e.error_message || '"', 'null'),
                coalesce(e.details::text, 'null'))
  ELSE row_to_json(ROW(e.id, e.stream, auditlog_internal.ndjson_time(e.logged_at), auditlog_internal.ndjson_time(e.started_at),
                       e.operation, e.actor_type, e.actor_id, e.tenant_id, e.resource_type, e.resource_id, e.request_id,
                       e.request_uri, e.source_ip, e.user_agent, e.auth_method, e.credential_id, e.result, e.http_status,
                       e.error_code, e.error_message, e.details)::auditlog_internal.ndjson_fields)::text
END;
COMMENT ON FUNCTION auditlog_internal.ndjson_text IS
  'Internal (SQL edition): an entry''s NDJSON line, inlined into the page query.';

CREATE FUNCTION auditlog.ndjson_line(e auditlog.entry)
RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN auditlog_internal.ndjson_text(e);

-- Inlined wherever it is called (everything in it is immutable). strpos()
-- and LIKE: cheaper than a regular expression on a cell's short value.
-- quote_ident() quotes and doubles quotes as CSV does, and a value that
-- needs quoting is never an identifier it would leave as it is.
CREATE FUNCTION auditlog.csv_cell(value text)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE
  WHEN strpos(value, '"') > 0 OR strpos(value, ',') > 0 OR strpos(value, E'\r') > 0 OR strpos(value, E'\n') > 0
       OR ascii(value) = 32 OR value LIKE '% '
    THEN quote_ident(CASE WHEN ascii(value) IN (61, 43, 45, 64, 9, 13) THEN '''' ELSE '' END || value)
  WHEN ascii(value) IN (61, 43, 45, 64, 9, 13) THEN '''' || value  -- = + - @ tab CR
  ELSE coalesce(value, '')
END;

-- The cells of an entry's CSV line but details (which the page query takes
-- from a column of its own, so as to write the jsonb as text once): each
-- through csv_cell() but those whose text can never need quoting nor start
-- like a formula (uuid, times, inet, the result's labels).
CREATE FUNCTION auditlog_internal.csv_cells(e auditlog.entry)
RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
RETURN coalesce(e.id::text, '') || ',' || auditlog.csv_cell(e.stream) || ','
  -- to_char() of infinity is null: an empty cell
  || coalesce(to_char(e.logged_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), '') || ','
  || coalesce(to_char(e.started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), '') || ','
  || auditlog.csv_cell(e.operation) || ',' || auditlog.csv_cell(e.actor_type) || ',' || auditlog.csv_cell(e.actor_id) || ','
  || auditlog.csv_cell(e.tenant_id) || ',' || auditlog.csv_cell(e.resource_type) || ',' || auditlog.csv_cell(e.resource_id) || ','
  || auditlog.csv_cell(e.request_id) || ',' || auditlog.csv_cell(e.request_uri) || ','
  || coalesce(e.source_ip::text, '') || ','  -- inet::text: with its netmask
  || auditlog.csv_cell(e.user_agent) || ',' || auditlog.csv_cell(e.auth_method) || ',' || auditlog.csv_cell(e.credential_id) || ','
  || coalesce(e.result::text, '') || ','
  || coalesce(CASE WHEN e.http_status < 0 THEN '''' ELSE '' END || e.http_status::text, '') || ','
  || auditlog.csv_cell(e.error_code) || ',' || auditlog.csv_cell(e.error_message);
COMMENT ON FUNCTION auditlog_internal.csv_cells IS
  'Internal (SQL edition): an entry''s CSV cells but details, each quoted as needed.';

-- The same cells as they are, the fast way for the page query: when
-- csv_plain_ok() says no cell of them needs quoting nor an apostrophe, they
-- are what csv_cells() writes. (format() writes null as nothing.)
CREATE FUNCTION auditlog_internal.csv_plain(e auditlog.entry)
RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
RETURN format('%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s',
              e.id, e.stream, to_char(e.logged_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
              to_char(e.started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), e.operation, e.actor_type,
              e.actor_id, e.tenant_id, e.resource_type, e.resource_id, e.request_id, e.request_uri,
              e.source_ip::text, e.user_agent, e.auth_method, e.credential_id, e.result, e.http_status,
              e.error_code, e.error_message);
COMMENT ON FUNCTION auditlog_internal.csv_plain IS
  'Internal (SQL edition): an entry''s CSV cells but details, as they are.';

-- 19 commas: none in a cell, so that a cell's start and end show beside a
-- comma (one regular expression: cheaper here than strpos() of two
-- characters, which sets up a search table each call).
CREATE FUNCTION auditlog_internal.csv_plain_ok(cells text)
RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN octet_length(cells) - octet_length(replace(cells, ',', '')) = 19
  AND cells !~ '["\r\n]|^[-=+@\t ]|,[-=+@\t ]| ,| $';
COMMENT ON FUNCTION auditlog_internal.csv_plain_ok IS
  'Internal (SQL edition): whether csv_plain() wrote what csv_cells() would.';

-- (No entry: every column null, a line of empty cells, as in C.)
CREATE FUNCTION auditlog.entry_csv(e auditlog.entry)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN auditlog_internal.csv_cells(e) || ',' || auditlog.csv_cell(e.details::text);

-- The page renderer. The query renders each entry of query in (logged_at,
-- id) order, sums in a window the bytes of the body up to each line, and
-- keeps the prefix that fits: the same rows whatever order query yields
-- them in. The C aggregate's checks become expressions that raise on the row
-- that fails them: a bad format or max_bytes at any row (no row, no error, as
-- in C), an entry without its key, an entry twice while its first copy is in
-- the page, a body past 1 GB.
--
-- Bounded, the rendering stops at the first line that does not fit, as the
-- C's does: a second window counts the lines past the bound, and its
-- condition (none yet) becomes the window's run condition, which ends the
-- scan below it, so that entries past the page are never rendered (a page
-- of large entries would otherwise render all of its 10,000 candidates).
-- (count(*) FILTER: Postgres 15 knows that count(*) never decreases, not
-- count(expression).)
--
-- The lines are rendered in a subquery of their own, fenced by OFFSET 0:
-- pulled up, each line would be rendered again for each window function
-- that reads it. Its ORDER BY (which query mostly satisfies already) hands
-- the windows their rows in order. e::auditlog.entry takes query's columns
-- by position, whatever their names, as the aggregate's argument did. A CSV
-- line is the cells as they are (csv_plain()) when they need no quoting,
-- which a line of ordinary entries never does, and cell by cell otherwise.
--
-- string_agg() is given the lines in the windows' order without an ORDER BY
-- of its own: on Postgres 15 that would sort the page's text again (on disk
-- past work_mem). An aggregate takes its rows in the order of the subquery
-- below it, and a window's rows can never be gathered from parallel workers
-- out of order; should a plan ever do otherwise, the row numbers, taken in the
-- same order, say so and the page is an error, never a wrong body.
CREATE FUNCTION auditlog_internal.render_query(query text, format text, max_bytes int, head text)
RETURNS text
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
SET DateStyle = 'ISO'
SET TimeZone = 'UTC'
SET IntervalStyle = 'postgres'
RETURN format(
  $q$SELECT r.rows, r.first_logged_at, r.ids[1] AS first_id, r.last_logged_at, r.ids[r.rows] AS last_id,
       CASE WHEN r.rows = 0 OR r.ns = ARRAY(SELECT pg_catalog.generate_series(1::bigint, r.rows)) THEN r.body
            ELSE auditlog_internal.render_error('XX000', 'auditlog: the lines of a page were joined out of order', NULL, NULL, r.ns) END AS body
FROM (SELECT pg_catalog.count(*)::int AS rows, pg_catalog.min(p.logged_at) AS first_logged_at, pg_catalog.max(p.logged_at) AS last_logged_at,
             pg_catalog.array_agg(p.id) AS ids, pg_catalog.array_agg(p.n) AS ns,
             %1$s pg_catalog.string_agg(
               CASE WHEN p.again THEN auditlog_internal.render_error('23505', pg_catalog.format('render_entries() got the entry %%s twice', p.id), NULL, NULL, p.id)%2$s
                    ELSE p.line END, E'\n') || E'\n' AS body
      FROM %3$s) r$q$,
  -- the head, counted in the bytes of the body
  CASE WHEN head IS NOT NULL THEN quote_literal(head) || ' ||' END,
  -- no more than a text can hold: MaxAllocSize less a varlena header
  CASE WHEN max_bytes IS NULL OR max_bytes > 1073741819 THEN pg_catalog.format(
    $$
                    WHEN p.bytes > %s THEN auditlog_internal.render_error('54000', 'page body would exceed 1 GB', 'Render pages with a bound on their bytes.', NULL, p.bytes)$$,
    1073741819 - coalesce(octet_length(head), 0)) END,
  -- Bounded: the lines up to the first that does not fit (at least one),
  -- which is left out, unless it is the second copy of the last one in (its
  -- error).
  pg_catalog.format(
    CASE WHEN max_bytes > 0 THEN $q$(SELECT w.*, pg_catalog.count(*) FILTER (
                   WHERE CASE WHEN w.n = 1 OR w.bytes <= %2$s THEN false
                              WHEN w.again THEN auditlog_internal.render_error('23505', pg_catalog.format('render_entries() got the entry %%s twice', w.id), NULL, NULL, w.id) IS NULL
                              ELSE true END) OVER (ORDER BY w.logged_at, w.id ROWS UNBOUNDED PRECEDING) AS past
            FROM (%1$s) w) p
      WHERE p.past < 1$q$
         ELSE '(%1$s) p' END,
    -- the lines, numbered and summed in key order
    pg_catalog.format(
      $q$SELECT l.logged_at, l.id, l.line, pg_catalog.row_number() OVER w AS n,
                   pg_catalog.sum(pg_catalog.octet_length(l.line) + 1) OVER w AS bytes,
                   pg_catalog.lag(l.logged_at) OVER w = l.logged_at AND pg_catalog.lag(l.id) OVER w = l.id AS again
            FROM (SELECT e.logged_at, e.id,
                         CASE WHEN e.logged_at IS NULL OR e.id IS NULL
                              THEN auditlog_internal.render_error('22004', 'render_entries() got an entry without its logged_at or id', NULL, NULL, e.id)
                              ELSE %2$s END AS line
                  FROM (SELECT (e::auditlog.entry).*%3$s FROM (%1$s) e ORDER BY 3, 1 OFFSET 0) e
                  ORDER BY 1, 2 OFFSET 0) l
            WINDOW w AS (ORDER BY l.logged_at, l.id ROWS UNBOUNDED PRECEDING)$q$,
      query,
      CASE
        WHEN format IS NULL
          THEN $$auditlog_internal.render_error('22004', 'render_entries() needs a format', NULL, NULL, e.id)$$
        WHEN format NOT IN ('ndjson', 'csv')
          THEN pg_catalog.format($$auditlog_internal.render_error('22023', %L, NULL, 'Use ndjson or csv.', e.id)$$,
                                 pg_catalog.format('unsupported page format "%s"', format))
        WHEN max_bytes <= 0
          THEN $$auditlog_internal.render_error('22023', 'max_bytes must be positive, or null for no bound', NULL, NULL, e.id)$$
        WHEN format = 'ndjson'
          THEN 'auditlog_internal.ndjson_text(ROW(e.id, e.stream, e.logged_at, e.started_at, e.operation, e.actor_type, e.actor_id, e.tenant_id, e.resource_type, e.resource_id, e.request_id, e.request_uri, e.source_ip, e.user_agent, e.auth_method, e.credential_id, e.result, e.http_status, e.error_code, e.error_message, e.details, e.writer_xid)::auditlog.entry)'
        -- each cell quoted as needed only when the cells as they are would not do
        ELSE $$CASE WHEN auditlog_internal.csv_plain_ok(e.plain) THEN e.plain
                              ELSE auditlog_internal.csv_cells(ROW(e.id, e.stream, e.logged_at, e.started_at, e.operation, e.actor_type, e.actor_id, e.tenant_id, e.resource_type, e.resource_id, e.request_id, e.request_uri, e.source_ip, e.user_agent, e.auth_method, e.credential_id, e.result, e.http_status, e.error_code, e.error_message, e.details, e.writer_xid)::auditlog.entry) END
                         || ',' || auditlog.csv_cell(e.details_text)$$
      END,
      CASE WHEN format = 'csv' THEN ', auditlog_internal.csv_plain(e) AS plain, (e::auditlog.entry).details::text AS details_text' ELSE '' END),
    max_bytes::bigint - coalesce(octet_length(head), 0)));
