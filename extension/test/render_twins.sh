#!/usr/bin/env bash
# The SQL edition's renderer (extension/src/render.sql) against the C's
# (extension/src/render.c), byte for byte: in a database of the C edition,
# the twins are loaded into a schema of their own, twin (each object of
# render.sql renamed), and both render a corpus of hostile entries: every
# control character, quotes, backslashes, 4-byte UTF-8, empty strings, nulls
# in every nullable column, odd jsonb, inet with and without netmasks, times
# at microsecond edges and in far years, CSV cells a spreadsheet would take
# for formulas, and random entries built from all of those. Compared:
# ndjson_line(), entry_csv() and csv_cell() of each, errors included (SQLSTATE
# and message), and pages rendered by render_query() (rows, keys, SHA-256 of
# the body, errors) for several bounds, heads and orders of the rows. Then
# prints what a page of 10,000 ordinary entries costs with each.
#
#   extension/test/render_twins.sh [DATABASE]
#
# against the cluster in PGHOST/PGPORT/PGUSER, whose Postgres has the C
# edition installed. DATABASE (render_twins by default) is made afresh, and
# dropped when everything matched. Exits 1 at the first difference, printing
# the entry (or page) that differs and both outputs.
set -euo pipefail
source "$(dirname "$0")/../../scripts/lib.sh"

db=${1:-render_twins}
twins=${TWINS:-$ROOT/extension/src/render.sql}
psql=(psql -X -q -v ON_ERROR_STOP=1 --no-psqlrc)

"${psql[@]}" -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >/dev/null
"${psql[@]}" -d "$db" -c 'SET client_min_messages = warning' -c 'CREATE EXTENSION auditlog' >/dev/null
[ "$("${psql[@]}" -At -d "$db" -c 'SELECT edition FROM auditlog.edition()')" = c ] ||
  die "the auditlog installed in this cluster is not the C edition"

# Every function and type render.sql creates, renamed into schema twin.
rename=$(grep -oE '^CREATE (FUNCTION|TYPE) auditlog(_internal)?\.[a-z_0-9]+' "$twins" | sed -E 's/.* //' | sort -u |
         while read -r name; do printf 's/\\b%s\\b/twin.%s/g;' "${name//./\\.}" "${name#*.}"; done)
[ -n "$rename" ] || die "$twins defines nothing"
{ echo 'CREATE SCHEMA twin;'; sed -E "$rename" "$twins"; } | "${psql[@]}" -d "$db" >/dev/null
log "twins of $(basename "$twins") loaded into schema twin"
# Whatever the session's settings, the same bytes (pin_page() pins TimeZone
# alone, and the query it runs is written elsewhere).
export PGOPTIONS="${PGOPTIONS:-} -c TimeZone=America/St_Johns -c DateStyle=SQL,DMY -c IntervalStyle=sql_standard"

"${psql[@]}" -d "$db" <<'SQL'
SET client_min_messages = warning;
-- The corpus: like the log, but without its checks, so that details can be
-- any jsonb and times anything a timestamptz holds.
CREATE TABLE corpus (LIKE auditlog.entry);
DO $$
DECLARE c text;
BEGIN
  FOR c IN SELECT attname FROM pg_attribute WHERE attrelid = 'corpus'::regclass AND attnum > 0 AND attnotnull LOOP
    EXECUTE format('ALTER TABLE corpus ALTER COLUMN %I DROP NOT NULL', c);
  END LOOP;
END
$$;

-- Hostile pieces of text: control characters and DEL, quotes, backslashes,
-- JSON escapes spelled out, multibyte and 4-byte UTF-8, U+2028, a non-breaking
-- space, and what CSV and spreadsheets care about.
CREATE TABLE piece AS
SELECT row_number() OVER () AS n, p FROM unnest(
  ARRAY['', ' ', '  ', 'a', 'plain text', '"', '""', '\', '\\', '\"', '\n', '\u0000', '\ud83d', '''', ',', ';',
        E'\n', E'\r', E'\r\n', E'\t', E'\b', E'\f', E'\x01', E'\x1f', E'\x7f', '=', '+', '-', '@', '=1+1', '@SUM(A1)',
        '-1', '+1', E'\t=', ' lead', 'trail ', E'\u00e9', E'\u00a0', E'\u2028', E'\u20ac', E'\U0001F600', E'\U0010FFFF',
        E'\u4e2d\u6587', '</script>', '{"a":1}', 'null', 'true', '[1,2]', 'x,y', 'a"b', E'caf\u00e9 ',
        '=cmd|'' /C calc''!A0']) AS p;
-- The piece at i, any i.
CREATE FUNCTION pc(i int) RETURNS text LANGUAGE sql STABLE
RETURN (SELECT p FROM piece WHERE n = 1 + abs(i) % (SELECT count(*) FROM piece));

-- 1. Each control character (and DEL) alone, leading, inside and trailing,
--    in strings of the line and of details.
INSERT INTO corpus (id, stream, logged_at, started_at, operation, actor_type, actor_id, tenant_id, user_agent,
                    error_message, result, details, writer_xid)
SELECT ('018f0000-0000-7000-8000-' || lpad(to_hex(c), 12, '0'))::uuid, 'ctl', '2024-01-01 00:00:00+00'::timestamptz + c * interval '1 second',
       '2024-01-01 00:00:00+00', 'op' || chr(c) || 'x', chr(c), chr(c) || 'lead', 'trail' || chr(c), repeat(chr(c), 3),
       chr(c) || ' =x' || chr(c), 'success', jsonb_build_object('k' || chr(c), chr(c), 'n', jsonb_build_array(chr(c))), c::text::xid8
FROM (SELECT generate_series(1, 31) AS c UNION ALL SELECT 127) AS cs;

-- 2. Nulls: every nullable column null at once, and each one alone.
INSERT INTO corpus (id, stream, logged_at, started_at, operation, result, writer_xid)
VALUES ('018f0000-0000-7000-8001-000000000000', 'nulls', '2024-01-02 00:00:00+00', '2024-01-02 00:00:00+00', 'all null', 'success', '1');
INSERT INTO corpus
SELECT ('018f0000-0000-7000-8001-' || lpad(to_hex(k), 12, '0'))::uuid, 'nulls', '2024-01-02 00:00:00+00'::timestamptz + k * interval '1 ms',
       '2024-01-02 00:00:00+00', 'one null: ' || k,
       nullif('at', CASE k WHEN 1 THEN 'at' END), nullif('ai', CASE k WHEN 2 THEN 'ai' END), nullif('ti', CASE k WHEN 3 THEN 'ti' END),
       nullif('rt', CASE k WHEN 4 THEN 'rt' END), nullif('ri', CASE k WHEN 5 THEN 'ri' END), nullif('rq', CASE k WHEN 6 THEN 'rq' END),
       nullif('/u', CASE k WHEN 7 THEN '/u' END), CASE WHEN k <> 8 THEN '198.51.100.7'::inet END, nullif('ua', CASE k WHEN 9 THEN 'ua' END),
       nullif('am', CASE k WHEN 10 THEN 'am' END), nullif('ci', CASE k WHEN 11 THEN 'ci' END), 'error',
       CASE WHEN k <> 12 THEN 503 END, nullif('ec', CASE k WHEN 13 THEN 'ec' END), nullif('em', CASE k WHEN 14 THEN 'em' END),
       CASE WHEN k <> 15 THEN '{"k": 1}'::jsonb END, k::text::xid8
FROM generate_series(1, 15) AS k;
-- Every column null but the key (entry_csv() and ndjson_line() of a row of nulls).
INSERT INTO corpus (id, logged_at) VALUES ('018f0000-0000-7000-8001-0000000000ff', '2024-01-02 01:00:00+00');

-- 3. Each piece in every string column, and as the whole of details' keys and values.
INSERT INTO corpus
SELECT ('018f0000-0000-7000-8002-' || lpad(to_hex(n), 12, '0'))::uuid, p, '2024-01-03 00:00:00+00'::timestamptz + n * interval '1 second',
       '2024-01-03 00:00:00+00', p, p, p, p, p, p, p, p, NULL, p, p, p, 'timeout', NULL, p, p,
       jsonb_build_object(p, p, 'nested', jsonb_build_object(p, jsonb_build_array(p, n, NULL, true))), n::text::xid8
FROM piece;

-- 4. inet, v4 and v6, with and without netmasks.
INSERT INTO corpus (id, stream, logged_at, started_at, operation, source_ip, result, writer_xid)
SELECT ('018f0000-0000-7000-8003-' || lpad(to_hex(n::int), 12, '0'))::uuid, 'inet', '2024-01-04 00:00:00+00'::timestamptz + n * interval '1 second',
       '2024-01-04 00:00:00+00', 'inet ' || ip, ip::inet, 'success', '1'
FROM unnest(ARRAY['0.0.0.0', '192.0.2.1', '192.0.2.1/32', '192.0.2.1/24', '10.0.0.0/8', '255.255.255.255/0', '::', '::1',
                  '::1/128', '2001:db8::1', '2001:db8::/32', '2001:db8::1/64', '::ffff:192.0.2.1', 'fe80::1:2:3:4/10']) WITH ORDINALITY AS x(ip, n);

-- 5. Times: microseconds at 0 and 999999, odd offsets, years below 1000, past
--    9999, before year 1; http_status at its bounds; jsonb of every shape
--    (the log keeps objects only, the renderer takes any).
INSERT INTO corpus (id, stream, logged_at, started_at, operation, result, http_status, details, writer_xid)
SELECT ('018f0000-0000-7000-8004-' || lpad(to_hex(n::int), 12, '0'))::uuid, 'times', t::timestamptz, s::timestamptz, 'time ' || t, 'success',
       (ARRAY[NULL, 0, -1, 200, 2147483647, -2147483648, 599, -99])[1 + n % 8],
       (ARRAY['{}', '[]', '"=x"', '-1', 'null', '1e400', '12.50', '"\u00e9\u0001\\"', '{"a": {"b": {"c": ["\n", "\ud83d\ude00"]}}}',
              '{"": "", " ": " "}', 'true', '[{"k": "v,w"}]'])[1 + n % 12]::jsonb, '1'
FROM unnest(ARRAY['2024-05-01 00:00:00+00', '2024-05-01 00:00:00.999999+00', '2024-05-01 23:59:59.999999+00',
                  '2024-05-01 12:00:00.000001+05:30', '2024-05-01 12:00:00.5-09:30', '0999-12-31 23:59:59.999999+00',
                  '0001-01-01 00:00:00+00', '0042-07-04 01:02:03.000004+00', '9999-12-31 23:59:59.999999+00',
                  '10000-01-01 00:00:00+00', '12345-06-07 08:09:10.111213+00', '294276-12-31 23:59:59.999999+00',
                  '0001-12-31 23:59:59.999999+00 BC', '0002-01-01 00:00:00+00 BC', '0044-03-15 12:00:00+00 BC',
                  '0100-01-01 00:00:00+00 BC', '4713-01-01 00:00:00+00 BC', '1970-01-01 00:00:00+00', '2000-02-29 00:00:00+00'],
            ARRAY['2024-05-01 00:00:00+00', '1999-12-31 23:59:59.999999+00', '0999-01-01 00:00:00+00', '2024-05-01 00:00:00+00',
                  '0001-01-01 00:00:00+00 BC', '2024-05-01 00:00:00+00', '10000-01-01 00:00:00+00', '2024-05-01 00:00:00+00',
                  '2024-05-01 00:00:00+00', '2024-05-01 00:00:00+00', '0044-03-15 12:00:00+00 BC', '2024-05-01 00:00:00+00',
                  '2024-05-01 00:00:00+00', '2024-05-01 00:00:00+00', '0002-01-01 00:00:00+00 BC', '2024-05-01 00:00:00+00',
                  '2024-05-01 00:00:00+00', '2024-05-01 00:00:00+00', '2024-05-01 00:00:00+00']) WITH ORDINALITY AS x(t, s, n);

-- 6. CSV cells: each piece, and pairs of them, as the whole value.
INSERT INTO corpus (id, stream, logged_at, started_at, operation, actor_id, error_message, user_agent, result, writer_xid)
SELECT ('018f0000-0000-7000-8005-' || lpad(to_hex((a.n * 100 + b.n)::int), 12, '0'))::uuid, 'csv',
       '2024-01-05 00:00:00+00'::timestamptz + (a.n * 100 + b.n) * interval '1 ms', '2024-01-05 00:00:00+00',
       a.p || b.p, b.p || a.p, a.p || 'x' || b.p, 'x' || a.p || b.p || 'x', 'error', '1'
FROM piece a, piece b;

-- 7. Random entries made of pieces, with nulls anywhere, sharing times.
INSERT INTO corpus
SELECT ('018f0000-0000-7000-8006-' || lpad(to_hex(n), 12, '0'))::uuid, (ARRAY['audit', 'scim', E'x\u00e9'])[1 + n % 3],
       '2024-01-06 00:00:00+00'::timestamptz + (n / 3) * interval '1.000001 second', '2024-01-06 00:00:00+00'::timestamptz - n * interval '1 ms',
       (SELECT string_agg(pc(n * 7 + k * 13), '' ORDER BY k) FROM generate_series(1, 1 + n % 5) k),
       CASE WHEN n % 3 > 0 THEN pc(n * 11) END,
       CASE WHEN n % 4 > 0 THEN pc(n * 17) || n END,
       CASE WHEN n % 5 > 0 THEN 'tenant-' || n % 7 END, CASE WHEN n % 2 = 0 THEN 'res' END,
       CASE WHEN n % 6 > 0 THEN pc(n * 19) END, CASE WHEN n % 7 > 0 THEN gen_random_uuid()::text END,
       CASE WHEN n % 8 > 0 THEN '/v1/' || pc(n * 23) END,
       CASE WHEN n % 9 > 0 THEN (ARRAY['192.0.2.1', '10.1.0.0/16', '2001:db8::7', '::1/64'])[1 + n % 4]::inet END,
       CASE WHEN n % 10 > 0 THEN repeat(pc(n * 29), n % 40) END,
       CASE WHEN n % 11 > 0 THEN 'password' END, CASE WHEN n % 12 > 0 THEN 'cred-' || n END,
       (ARRAY['success', 'error', 'timeout'])[1 + n % 3]::auditlog.result, CASE WHEN n % 13 > 0 THEN 100 + n % 500 END,
       CASE WHEN n % 14 > 0 THEN pc(n * 31) END,
       CASE WHEN n % 15 > 0 THEN (SELECT string_agg(pc(n + k * 37), ' ' ORDER BY k) FROM generate_series(1, n % 9) k) END,
       CASE WHEN n % 16 > 0 THEN jsonb_build_object('n', n, 'p', pc(n * 41),
                                                    'deep', jsonb_build_object('a', jsonb_build_array(n * 0.5, pc(n)))) END,
       n::text::xid8
FROM generate_series(1, 2000) AS n;
-- and some large ones, for the bounds of pages
INSERT INTO corpus (id, stream, logged_at, started_at, operation, user_agent, result, details, writer_xid)
SELECT ('018f0000-0000-7000-8007-' || lpad(to_hex(n), 12, '0'))::uuid, 'big', '2024-01-06 00:00:00+00'::timestamptz + n * interval '1 minute',
       '2024-01-06 00:00:00+00', 'big ' || n, repeat(E'\u00e9"\x01' || n, 1 + n * 997 % 5000), 'success',
       jsonb_build_object('blob', repeat(E'\U0001F600\\', n * 311 % 3000)), '1'
FROM generate_series(1, 40) AS n;
-- Infinite times: NDJSON has no way to write them (an error), CSV an empty cell.
INSERT INTO corpus (id, stream, logged_at, started_at, operation, result, writer_xid)
VALUES ('018f0000-0000-7000-8008-000000000001', 'infinite', 'infinity', '2024-01-07 00:00:00+00', 'infinite', 'success', '1'),
       ('018f0000-0000-7000-8008-000000000002', 'infinite', '2024-01-07 00:00:00+00', '-infinity', 'infinite', 'success', '1'),
       ('018f0000-0000-7000-8008-000000000003', 'infinite', '-infinity', 'infinity', 'infinite', 'success', '1');
ANALYZE corpus;

-- An output, or the error it raised.
CREATE FUNCTION try(query text, e corpus) RETURNS text LANGUAGE plpgsql AS $$
DECLARE result text;
BEGIN
  EXECUTE query INTO result USING ROW(e.*)::auditlog.entry;
  RETURN result;
EXCEPTION WHEN OTHERS THEN
  RETURN format('ERROR %s: %s', SQLSTATE, SQLERRM);
END
$$;
SQL

# first_difference LABEL QUERY: QUERY yields (entry, c, twin) rows where the
# two differ; prints the first and fails.
first_difference() {
  local out
  out=$("${psql[@]}" -d "$db" -At -F $'\n' -c "$2 LIMIT 1")
  if [ -n "$out" ]; then
    printf '%s: the twin differs from the C\n%s\n' "$1" "$out" | sed -e '2s/^/entry: /' -e '3s/^/C:     /' -e '4s/^/twin:  /' >&2
    exit 1
  fi
  log "$1: the same"
}

# Each line as JSON text, so that every byte shows when one differs.
for pair in 'ndjson_line auditlog.ndjson_line twin.ndjson_line' 'entry_csv auditlog.entry_csv twin.entry_csv'; do
  read -r label c twin <<<"$pair"
  first_difference "$label of each entry" "
    SELECT to_json(e)::text, to_json(c)::text, to_json(t)::text
    FROM corpus e, LATERAL (SELECT try('SELECT $c(\$1)', e) AS c, try('SELECT $twin(\$1)', e) AS t) x
    WHERE c IS DISTINCT FROM t ORDER BY e.id"
done
first_difference "entry_csv(NULL)" "
  SELECT 'NULL', to_json(auditlog.entry_csv(NULL))::text, to_json(twin.entry_csv(NULL))::text
  WHERE auditlog.entry_csv(NULL) IS DISTINCT FROM twin.entry_csv(NULL)"
first_difference "csv_cell of each string" "
  SELECT to_json(v)::text, to_json(auditlog.csv_cell(v))::text, to_json(twin.csv_cell(v))::text
  FROM (SELECT NULL::text AS v UNION ALL SELECT p FROM piece
        UNION ALL SELECT unnest(ARRAY[operation, actor_id, user_agent, error_message, details::text]) FROM corpus) x
  WHERE auditlog.csv_cell(v) IS DISTINCT FROM twin.csv_cell(v)"
# Pages: every stream of the corpus and all of it, in both formats, with and
# without a head, under several bounds, the rows fed in key order, reversed
# and shuffled; then the bad arguments and bad rows the C refuses.
"${psql[@]}" -d "$db" <<'SQL'
CREATE FUNCTION page(query text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE r auditlog.rendered_page;
BEGIN
  EXECUTE query INTO STRICT r;
  RETURN format('rows %s, first (%s, %s), last (%s, %s), body %s', r.rows, r.first_logged_at, r.first_id, r.last_logged_at, r.last_id,
                coalesce(octet_length(r.body) || ' bytes, sha256 ' || auditlog.body_sha256(r.body), 'null'));
EXCEPTION WHEN OTHERS THEN
  RETURN format('ERROR %s: %s', SQLSTATE, SQLERRM);
END
$$;
CREATE TABLE page_case AS
SELECT row_number() OVER () AS n, q.query, f.format, b.max_bytes, h.head
FROM (SELECT format('SELECT * FROM corpus WHERE %s ORDER BY %s', w, o) AS query
      FROM unnest(ARRAY['stream <> ''infinite''', 'stream = ''infinite''', 'stream = ''ctl''', 'stream = ''big''', 'stream = ''times''', 'stream IN (''csv'', ''nulls'')', 'false']) w,
           unnest(ARRAY['logged_at, id', 'logged_at DESC, id DESC', 'md5(id::text)', 'operation DESC, id']) o) q,
     (VALUES ('ndjson'), ('csv')) f(format),
     (VALUES (NULL::int), (1), (100), (700), (5000), (65536), (300000), (2000000), (2147483647)) b(max_bytes),
     (VALUES (NULL::text), (auditlog.csv_header() || E'\n'), (E'h\u00e9ad\U0001F600\n')) h(head)
UNION ALL
-- bounds met to the byte, and missed by one either way
SELECT NULL, format('SELECT * FROM corpus WHERE stream = %L ORDER BY md5(id::text)', l.stream), f.format,
       (l.upto + coalesce(octet_length(h.head), 0) + d)::int, h.head
FROM (VALUES ('ndjson'), ('csv')) f(format),
     (VALUES (NULL::text), (E'h\u00e9ad\U0001F600\n')) h(head),
     LATERAL (SELECT stream, row_number() OVER w AS k,
                     sum(octet_length(CASE f.format WHEN 'csv' THEN auditlog.entry_csv(ROW(c.*)::auditlog.entry)
                                                    ELSE auditlog.ndjson_line(ROW(c.*)::auditlog.entry) END) + 1) OVER w AS upto
              FROM corpus c WHERE stream IN ('ctl', 'big', 'csv')
              WINDOW w AS (PARTITION BY stream ORDER BY logged_at, id)) l,
     (VALUES (-1), (0), (1)) v(d)
WHERE l.k IN (1, 2, 5, 13)
UNION ALL
SELECT NULL, q, f, b, h FROM (VALUES
  ('SELECT * FROM corpus', 'xml', NULL::int, NULL::text), ('SELECT * FROM corpus', 'NDJSON', 10, NULL), ('SELECT * FROM corpus', NULL, 10, NULL),
  ('SELECT * FROM corpus', 'ndjson', 0, NULL), ('SELECT * FROM corpus', 'csv', -5, 'h'), ('SELECT * FROM corpus', 'xml', 0, NULL),
  ('SELECT * FROM corpus WHERE false', 'xml', 0, NULL), ('SELECT * FROM corpus WHERE false', NULL, NULL, NULL),
  -- an entry twice, in the page and just past its end; without a key
  ('SELECT * FROM corpus UNION ALL SELECT * FROM corpus WHERE stream = ''ctl''', 'ndjson', NULL, NULL),
  ('SELECT * FROM (SELECT * FROM corpus WHERE stream = ''ctl'' UNION ALL (SELECT * FROM corpus WHERE stream = ''ctl'' ORDER BY logged_at LIMIT 1)) x ORDER BY logged_at, id', 'ndjson', 1, NULL),
  ('SELECT * FROM (SELECT * FROM corpus WHERE stream = ''ctl'' UNION ALL (SELECT * FROM corpus WHERE stream = ''ctl'' ORDER BY logged_at LIMIT 2)) x ORDER BY logged_at, id', 'csv', 400, NULL),
  ('SELECT id, stream, NULL::timestamptz, started_at, operation, actor_type, actor_id, tenant_id, resource_type, resource_id, request_id, request_uri, source_ip, user_agent, auth_method, credential_id, result, http_status, error_code, error_message, details, writer_xid FROM corpus WHERE stream = ''ctl''', 'csv', 100, NULL),
  ('SELECT NULL::uuid, stream, logged_at, started_at, operation, actor_type, actor_id, tenant_id, resource_type, resource_id, request_id, request_uri, source_ip, user_agent, auth_method, credential_id, result, http_status, error_code, error_message, details, writer_xid FROM corpus WHERE stream = ''ctl''', 'ndjson', NULL, NULL),
  -- the last entry twice, past the end of the page: no error
  ('SELECT * FROM corpus WHERE stream = ''ctl'' UNION ALL (SELECT * FROM corpus WHERE stream = ''ctl'' ORDER BY logged_at DESC LIMIT 1)', 'ndjson', 1, NULL),
  ('SELECT id, stream, ''infinity''::timestamptz, started_at, operation, actor_type, actor_id, tenant_id, resource_type, resource_id, request_id, request_uri, source_ip, user_agent, auth_method, credential_id, result, http_status, error_code, error_message, details, writer_xid FROM corpus WHERE stream = ''ctl''', 'ndjson', NULL, NULL)
) v(q, f, b, h);
SQL
"${psql[@]}" -d "$db" -c "
  CREATE TABLE page_result AS
  SELECT n, format('render_query(%L, %L, %s, %s)', query, format, coalesce(max_bytes::text, 'NULL'), coalesce(to_json(head)::text, 'NULL')) AS call,
         page(auditlog_internal.render_query(query, format, max_bytes, head)) AS c, page(twin.render_query(query, format, max_bytes, head)) AS t
  FROM page_case" >/dev/null
first_difference "pages" "SELECT call, c, t FROM page_result WHERE c IS DISTINCT FROM t ORDER BY n"
# (A check that checks: pages of many sizes, cut short by their bounds, and errors.)
"${psql[@]}" -d "$db" -At -F ' ' -c "
  SELECT count(*) FILTER (WHERE c LIKE 'rows %'), count(DISTINCT c), count(*) FILTER (WHERE c LIKE 'ERROR%') FROM page_result" |
  { read -r pages distinct errors; log "pages: $pages rendered ($distinct distinct results), $errors errors, all the same"; }

# What a page costs: 10,000 ordinary entries (those bench/ writes) rendered
# as next_page() renders them, by each renderer in turn, interleaved.
"${psql[@]}" -d "$db" -At <<'SQL' | while read -r line; do log "$line"; done
SET client_min_messages = warning;
DO $$
BEGIN
  PERFORM auditlog.ensure_partitions(1);
  PERFORM auditlog.record(operation => 'project.update', actor_type => 'user', actor_id => 'u-' || n,
                          tenant_id => 'tenant-' || (n % 1000), resource_type => 'project', resource_id => 'p-' || n,
                          request_uri => '/v1/projects', source_ip => '192.0.2.1', details => '{"k": 1}')
  FROM generate_series(1, 10000) AS n;
END
$$;
VACUUM ANALYZE auditlog.entry;
CREATE FUNCTION timed(format text, runs int) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  query text := 'SELECT e.* FROM auditlog.entry e WHERE true AND e.stream = ''audit'' ORDER BY e.logged_at, e.id LIMIT 10000';
  c_query text := auditlog_internal.render_query(query, format, auditlog_internal.max_page_bytes(), NULL);
  twin_query text := twin.render_query(query, format, auditlog_internal.max_page_bytes(), NULL);
  c auditlog.rendered_page; t auditlog.rendered_page; start timestamptz; c_ms float8[] := '{}'; t_ms float8[] := '{}';
BEGIN
  FOR i IN 1..runs LOOP
    start := clock_timestamp(); EXECUTE c_query INTO c; c_ms := c_ms || extract(epoch FROM clock_timestamp() - start) * 1000;
    start := clock_timestamp(); EXECUTE twin_query INTO t; t_ms := t_ms || extract(epoch FROM clock_timestamp() - start) * 1000;
  END LOOP;
  IF c IS DISTINCT FROM t THEN
    RAISE EXCEPTION 'the page of 10,000 entries differs';
  END IF;
  RETURN format('a page of %s entries as %s (%s bytes): C %s ms, SQL %s ms (medians of %s), %sx',
                c.rows, format, octet_length(c.body),
                round((SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY x) FROM unnest(c_ms) x)::numeric, 1),
                round((SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY x) FROM unnest(t_ms) x)::numeric, 1), runs,
                round(((SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY x) FROM unnest(t_ms) x)
                       / (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY x) FROM unnest(c_ms) x))::numeric, 2));
END
$$;
SELECT timed('ndjson', 15);
SELECT timed('csv', 15);
SQL

"${psql[@]}" -d postgres -c "DROP DATABASE $db" >/dev/null
log "the twins of $(basename "$twins") render as the C does"
