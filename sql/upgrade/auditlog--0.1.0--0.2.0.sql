-- auditlog 0.1.0 to 0.2.0.
\echo Use "ALTER EXTENSION auditlog UPDATE TO '0.2.0'" to load this file. \quit

-- auditlog_reader may read auditlog.sink_status: the functions the view
-- calls run with its owner's rights and are granted to readers.
ALTER FUNCTION auditlog.sink_exported_before() SECURITY DEFINER;
ALTER FUNCTION auditlog.sink_lag_rows(text, int) SECURITY DEFINER;
GRANT EXECUTE ON FUNCTION auditlog.sink_exported_before, auditlog.sink_lag_rows TO auditlog_reader;
