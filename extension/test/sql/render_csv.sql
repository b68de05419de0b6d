\set ECHO none
-- Every test file starts from a freshly created extension, whatever ran
-- before it in this database (the lines up to "\set ECHO all" are not echoed).
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS auditlog CASCADE;
CREATE EXTENSION auditlog;
RESET client_min_messages;
\set ECHO all
-- CSV lines rendered in C are byte for byte what the SQL entry_csv() and
-- csv_cell() of 0.2.0 wrote (the expected output was captured from them):
-- quotes, commas, CR/LF, cells a spreadsheet would read as formulas, leading
-- and trailing spaces, NULLs, unicode, JSON details, inet, http_status, and
-- times in UTC whatever TimeZone says. Pinned CSV parts handed out by 0.2.0
-- render again to the same bytes.
SET TimeZone = 'America/St_Johns';
CREATE TEMP TABLE tricky (LIKE auditlog.entry);
INSERT INTO tricky (id, stream, logged_at, started_at, operation, actor_type, actor_id, tenant_id, resource_type,
                    resource_id, request_id, request_uri, source_ip, user_agent, auth_method, credential_id, result,
                    http_status, error_code, error_message, details, writer_xid)
VALUES
  ('018f0000-0000-7000-8000-000000000001', 'audit', '2024-03-01 00:00:00+00', '2024-02-29 23:59:59.999999+00',
   'plain', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 'success', NULL, NULL, NULL, NULL, '1'),
  ('018f0000-0000-7000-8000-000000000002', 'audit', '2024-03-01 12:34:56.5+05:30', '2024-03-01 12:34:56.000001+05:30',
   'say "hi"', 'a,b', E'line1\r\nline2', E'x\ry', E'x\ny', '"', ',', '""', '192.0.2.1', 'Mozilla/5.0 (X11; Linux x86_64)',
   'password', 'cred-1', 'error', 500, 'E42', E'oops, "bad"\nthing', '{"a": "x,y", "b": "\"q\"", "n": [1, 2.50, null], "s": " lead"}', '2'),
  ('018f0000-0000-7000-8000-000000000003', 'audit', '2024-03-02 00:00:00+00', '2024-03-02 00:00:00+00',
   '=1+1', '+1', '-1', '@SUM(A1)', E'\tx', E'\rx', '-', '=', '2001:db8::1', E'\t', '+', '@', 'timeout', -1,
   '-err', '=cmd|'' /C calc''!A0', '{}', '3'),
  ('018f0000-0000-7000-8000-000000000004', 'audit', '2024-03-03 00:00:00+00', '2024-03-03 00:00:00+00',
   ' lead', 'trail ', '  both  ', ' ', '', E'a\tb', '''quoted', ' =x', '10.0.0.0/8', '=x ', E'-\n', E' \t ',
   'success', 200, 'E1', ' ', '{"k": "v", "nested": {"arr": ["a,b", "c\nd"]}}', '4'),
  ('018f0000-0000-7000-8000-000000000005', 'stream.with-dots_1', '2024-03-04 23:59:59.123456+00', '2024-03-04 23:59:59.1+00',
   E'\u00e9t\u00e9 \u20ac 100', E'\u00fcn\u00efc\u00f6d\u00e9, "q"', E'\U0001F600', E'\u4e2d\u6587', E'caf\u00e9 ', E' \u00e9',
   E'\u00e9"', 'x', '::1', E'\u00a0nbsp\u00a0', E'\x01ctl\x1f', E'back\\slash', 'error', 404, NULL, E'\u2028sep',
   '{"emoji": "\ud83d\ude00", "ctl": "\u0001", "quote": "\"", "uni": "\u00e9"}', '5'),
  ('018f0000-0000-7000-8000-000000000006', 'audit', '12345-06-07 08:09:10.111213+00', '0044-03-15 12:00:00+00 BC',
   'far years', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 'success', 0, NULL, NULL, '{"x": 1}', '6'),
  ('018f0000-0000-7000-8000-000000000007', 'audit', '2024-03-05 00:00:00+00', 'infinity',
   'infinite start', NULL, NULL, NULL, NULL, NULL, NULL, NULL, '0.0.0.0', NULL, NULL, NULL, 'success', 2147483647,
   NULL, NULL, NULL, '7');

-- Each line, as JSON text so that every byte shows.
SELECT right(id::text, 1) AS n, to_json(auditlog.entry_csv(ROW(t.*)::auditlog.entry))::text AS line
FROM tricky t ORDER BY id;
SELECT md5(string_agg(auditlog.entry_csv(ROW(t.*)::auditlog.entry), E'\n' ORDER BY id)) AS all_lines_md5 FROM tricky t;
-- No entry at all: a line of empty cells.
SELECT auditlog.entry_csv(NULL) AS no_entry;

-- Cells on their own.
SELECT to_json(v)::text AS value, to_json(auditlog.csv_cell(v))::text AS cell
FROM unnest(ARRAY[NULL, '', ' ', 'a', 'a b', ' a', 'a ', E'a\tb', E'\ta', E'\ra', E'a\r', E'a\n', '=', '==', '+x', '-x', '@x',
                  'x=', '''', '"', '""', 'a"b', 'a,b', ',', E'\u00e9', E'\u00a0', E' \u00e9 ', '=a,b', '- ', E'-\t', E'\x01']) WITH ORDINALITY AS c(v, i)
ORDER BY i;
RESET TimeZone;
