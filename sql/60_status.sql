-- Status.

CREATE VIEW auditlog.health AS
SELECT (SELECT count(*) FROM auditlog.pending) AS pending_count,
       (SELECT min(started_at) FROM auditlog.pending) AS oldest_pending,
       (SELECT count(*)::int FROM auditlog.partitions) AS partition_count,
       (SELECT min(range_start) FROM auditlog.partitions) AS oldest_partition_start,
       (SELECT max(range_end) FROM auditlog.partitions) AS newest_partition_end,
       (SELECT count(*) FROM ONLY auditlog.entry_default) AS default_partition_rows;
COMMENT ON VIEW auditlog.health IS
  'One row: begun entries still pending and the oldest of them, the day partitions, and rows in the DEFAULT partition (should be 0).';

