-- Types.

CREATE TYPE auditlog.result AS ENUM ('success', 'error', 'timeout');
COMMENT ON TYPE auditlog.result IS
  'How an audited operation ended: success or error as its caller reported, or timeout when it was begun and never completed.';

