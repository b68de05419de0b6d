\set ECHO none
-- Every test file starts from a freshly created extension, whatever ran
-- before it in this database (the lines up to "\set ECHO all" are not echoed).
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS auditlog CASCADE;
CREATE EXTENSION auditlog;
RESET client_min_messages;
\set ECHO all
-- list(): a stable, keyset-paged listing capped at the settled horizon.
CREATE TEMP TABLE listed AS SELECT clock_timestamp() AS since;
SELECT count(auditlog.record(operation => 'list.entry', tenant_id => CASE WHEN n % 2 = 0 THEN 'even' END))
FROM generate_series(1, 7) AS n;
SELECT count(auditlog.record(operation => 'list.scim', stream => 'scim')) FROM generate_series(1, 2);

-- Nothing is listed before a tick settles it.
SELECT count(*) AS before_tick FROM auditlog.list('audit', (SELECT since FROM listed), now() + interval '1 hour');
SELECT auditlog.tick() IS NOT NULL AS ticked;
SELECT count(*) AS after_tick FROM auditlog.list('audit', (SELECT since FROM listed), now() + interval '1 hour');

-- Keyset pages of 3: 3, 3, 1, then nothing; in (logged_at, id) order.
SELECT e.logged_at AS l1, e.id AS i1 FROM auditlog.list('audit', (SELECT since FROM listed), now() + interval '1 hour', max_rows => 3) e
ORDER BY e.logged_at DESC, e.id DESC LIMIT 1 \gset
SELECT count(*) AS second_page FROM auditlog.list('audit', (SELECT since FROM listed), now() + interval '1 hour', :'l1', :'i1', 3);
SELECT count(*) AS all_pages, bool_and(ordered) AS in_order FROM (
  SELECT (logged_at, id) >= (lag(logged_at) OVER w, lag(id) OVER w) IS NOT FALSE AS ordered
  FROM auditlog.list('audit', (SELECT since FROM listed), now() + interval '1 hour', max_rows => 100)
  WINDOW w AS (ORDER BY logged_at, id)) AS pairs;

-- Filters: all streams, one tenant.
SELECT count(*) AS all_streams FROM auditlog.list(NULL, (SELECT since FROM listed), now() + interval '1 hour');
SELECT count(*) AS tenant_even FROM auditlog.list('audit', (SELECT since FROM listed), now() + interval '1 hour', tenant_id => 'even');

\set VERBOSITY terse
SELECT * FROM auditlog.list('audit', now(), now() - interval '1 day');
SELECT * FROM auditlog.list('audit', NULL, now());
SELECT * FROM auditlog.list('audit', now() - interval '1 day', now(), max_rows => 0);
SELECT * FROM auditlog.list('audit', now() - interval '1 day', now(), after_logged_at => now());
