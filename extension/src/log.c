/*
 * log.c
 *	  The write path: record(), begin(), complete() and timeout_pending().
 *
 * Each function validates its input, stamps the entry (stamp.c) and runs one
 * prepared statement through SPI. An entry reaches auditlog.entry only here,
 * so writer_xid and logged_at are always set by the extension, never by the
 * caller. complete() and timeout_pending() move a row out of
 * auditlog.pending and into the log in one statement, so a pending entry is
 * logged exactly once whichever of them gets to it first.
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "access/detoast.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/xid8.h"

#include "auditlog.h"

PG_FUNCTION_INFO_V1(auditlog_record);
PG_FUNCTION_INFO_V1(auditlog_begin);
PG_FUNCTION_INFO_V1(auditlog_complete);
PG_FUNCTION_INFO_V1(auditlog_timeout_pending);
PG_FUNCTION_INFO_V1(auditlog_record_internal);
PG_FUNCTION_INFO_V1(auditlog_valid_stream);
PG_FUNCTION_INFO_V1(auditlog_check_import_entry);

/* The request context columns, shared by auditlog.entry and auditlog.pending. */
#define CONTEXT_COLUMNS 11
static const char *const context_columns[CONTEXT_COLUMNS] = {
	"actor_type", "actor_id", "tenant_id", "resource_type", "resource_id",
	"request_id", "request_uri", "source_ip", "user_agent", "auth_method",
	"credential_id"
};
static const Oid context_types[CONTEXT_COLUMNS] = {
	TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID,
	TEXTOID, TEXTOID, INETOID, TEXTOID, TEXTOID,
	TEXTOID
};

/*
 * Positions of the arguments (see sql/30_log.sql): record() and begin() take
 * operation, stream and the context columns, then record() result,
 * http_status, error_code, error_message and details, and begin() details;
 * complete() takes id, result, http_status, error_code, error_message,
 * details, resource_type and resource_id.
 */
#define ARG_OPERATION 0
#define ARG_STREAM 1
#define ARG_FIRST_CONTEXT 2
#define RECORD_ARG_RESULT (ARG_FIRST_CONTEXT + CONTEXT_COLUMNS)
#define RECORD_ARG_HTTP_STATUS (RECORD_ARG_RESULT + 1)
#define RECORD_ARG_DETAILS (RECORD_ARG_RESULT + 4)
#define BEGIN_ARG_DETAILS (ARG_FIRST_CONTEXT + CONTEXT_COLUMNS)
#define COMPLETE_ARG_RESULT 1
#define COMPLETE_ARG_HTTP_STATUS 2
#define COMPLETE_ARG_DETAILS 5

#define MAX_STREAM_LENGTH 63

/*
 * The stream of the extension's own records (a forced purge, a forced
 * import): written only through auditlog.record_internal(), never by a
 * writer, so nobody can pass an entry off as the extension's.
 */
#define RESERVED_STREAM "auditlog"
#define MAX_TIMEOUT_ROWS 100000

/*
 * The most bytes of text and JSON one call may add to an entry. Pages are
 * bounded in entries, so an unbounded entry would make a page too large to
 * render (a text value holds at most 1 GB) or to hold in memory, and stall
 * its sink for good.
 */
#define MAX_ENTRY_BYTES (64 * 1024)

static SPIPlanPtr record_plan;
static SPIPlanPtr begin_plan;
static SPIPlanPtr complete_plan;
static SPIPlanPtr timeout_plan;

/* The type auditlog.result the plans above were prepared with. */
static Oid	plans_result_type = InvalidOid;

/*
 * The type auditlog.result as it is now. Plans name it by OID: if the
 * extension was dropped and created again since they were prepared (even
 * into a schema of the same OID, which a schema made beforehand keeps),
 * that OID is gone.
 */
static Oid
result_type(void)
{
	Oid			namespace = get_namespace_oid("auditlog", false);

	return GetSysCacheOid2(TYPENAMENSP, Anum_pg_type_oid,
						   CStringGetDatum("result"),
						   ObjectIdGetDatum(namespace));
}

/* Prepare anew when auditlog.result is not the type the plans were made with. */
static void
forget_stale_plans(void)
{
	Oid			current = result_type();
	SPIPlanPtr *plans[] = {&record_plan, &begin_plan, &complete_plan, &timeout_plan};

	if (current == plans_result_type)
		return;
	for (size_t i = 0; i < lengthof(plans); i++)
	{
		if (*plans[i] != NULL)
			SPI_freeplan(*plans[i]);
		*plans[i] = NULL;
	}
	plans_result_type = current;
}

/* Append ", col1, col2, ..." or ", prefix.col1, ..." for the context columns. */
static void
append_context_columns(StringInfo sql, const char *prefix)
{
	for (int i = 0; i < CONTEXT_COLUMNS; i++)
		appendStringInfo(sql, ", %s%s", prefix, context_columns[i]);
}

/* Append ", $first, ..., $(first + 10)". */
static void
append_context_params(StringInfo sql, int first)
{
	for (int i = 0; i < CONTEXT_COLUMNS; i++)
		appendStringInfo(sql, ", $%d", first + i);
}

static SPIPlanPtr
prepare(const char *sql, int nargs, Oid *types)
{
	SPIPlanPtr	plan = SPI_prepare(sql, nargs, types);

	if (plan == NULL)
		elog(ERROR, "auditlog: could not prepare \"%s\": %s",
			 sql, SPI_result_code_string(SPI_result));
	SPI_keepplan(plan);
	return plan;
}

/*
 * Run one of the statements above: prepare it on first use, then execute it
 * with the given parameters and return how many rows it inserted.
 *
 * The search path is pinned to pg_catalog while the statement is prepared
 * and run, so a caller's search_path cannot redirect anything these
 * SECURITY DEFINER functions do. That is done here rather than with a SET
 * clause on the functions: a SET clause saves and restores the setting on
 * every call and recomputes the search path, which cost a quarter of
 * record()'s throughput (bench/record_vs_insert.sh).
 */
static uint64
run(SPIPlanPtr *plan, SPIPlanPtr (*prepare_plan) (void), Datum *values, const char *nulls)
{
#if PG_VERSION_NUM >= 170000
	/* Postgres 17 replaced the override stack with RestrictSearchPath(). */
	int			nest_level = NewGUCNestLevel();
#else
	OverrideSearchPath pinned = {.schemas = NIL, .addCatalog = true, .addTemp = false};
#endif
	uint64		inserted;
	int			rc;

#if PG_VERSION_NUM >= 170000
	RestrictSearchPath();
#else
	PushOverrideSearchPath(&pinned);
#endif
	SPI_connect();
	forget_stale_plans();
	if (*plan == NULL)
		*plan = prepare_plan();
	rc = SPI_execute_plan(*plan, values, nulls, false, 0);
	if (rc != SPI_OK_INSERT)
		elog(ERROR, "auditlog: statement failed: %s", SPI_result_code_string(rc));
	inserted = SPI_processed;
	SPI_finish();
#if PG_VERSION_NUM >= 170000
	AtEOXact_GUC(true, nest_level);
#else
	PopOverrideSearchPath();
#endif
	return inserted;
}

/* ---------- input checks: each raises a clear error before anything is written */

static text *
required_operation(FunctionCallInfo fcinfo, int argno)
{
	text	   *operation;
	char	   *s;

	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("operation must not be null"),
				 errhint("Name what was done, for example 'project.create'.")));
	operation = PG_GETARG_TEXT_PP(argno);
	s = text_to_cstring(operation);
	if (strspn(s, " \t\r\n") == strlen(s))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("operation must not be empty"),
				 errhint("Name what was done, for example 'project.create'.")));
	return operation;
}

/*
 * Streams become object key segments, so they are kept to a safe alphabet:
 * 1 to 63 characters of a-z, 0-9, '_', '.' and '-', starting with a letter
 * or digit (the pattern ^[a-z0-9][a-z0-9_.-]{0,62}$). The one definition:
 * SQL asks auditlog.valid_stream(), which calls this.
 */
static bool
stream_is_valid(const char *s)
{
	size_t		len = strlen(s);

	return len > 0 && len <= MAX_STREAM_LENGTH &&
		strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_.-") == len &&
		s[0] != '.' && s[0] != '-' && s[0] != '_';
}

static text *
required_stream(FunctionCallInfo fcinfo, int argno, bool allow_reserved)
{
	char	   *s;

	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("stream must not be null"),
				 errhint("Omit it to use the default stream 'audit'.")));
	s = text_to_cstring(PG_GETARG_TEXT_PP(argno));
	if (!stream_is_valid(s))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid stream name \"%s\"", s),
				 errdetail("A stream name is 1 to %d characters of a-z, 0-9, '_', '.' and '-', starting with a letter or digit.",
						   MAX_STREAM_LENGTH)));
	if (!allow_reserved && strcmp(s, RESERVED_STREAM) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("stream \"%s\" is reserved for the extension's own records", s),
				 errdetail("Entries of stream '%s' record what the extension itself did, such as a forced purge or import.",
						   RESERVED_STREAM),
				 errhint("Log to another stream.")));
	return PG_GETARG_TEXT_PP(argno);
}

/* auditlog.valid_stream(name): whether name is a well-formed stream name. */
Datum
auditlog_valid_stream(PG_FUNCTION_ARGS)
{
	if (PG_ARGISNULL(0))
		PG_RETURN_BOOL(false);
	PG_RETURN_BOOL(stream_is_valid(text_to_cstring(PG_GETARG_TEXT_PP(0))));
}

/* The caller supplies success or error; timeout belongs to timeout_pending(). */
static Datum
required_result(FunctionCallInfo fcinfo, int argno, bool allow_timeout)
{
	Datum		result;

	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("result must not be null"),
				 errhint("Use 'success' or 'error'.")));
	result = PG_GETARG_DATUM(argno);
	if (!allow_timeout && strcmp(DatumGetCString(DirectFunctionCall1(enum_out, result)), "timeout") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("result 'timeout' is reserved for entries timed out by auditlog.timeout_pending()"),
				 errhint("Use 'success' or 'error'.")));
	return result;
}

static void
check_http_status(FunctionCallInfo fcinfo, int argno)
{
	int32		status;

	if (PG_ARGISNULL(argno))
		return;
	status = PG_GETARG_INT32(argno);
	if (status < 100 || status > 599)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("http_status %d is out of range", status),
				 errdetail("An HTTP status code lies between 100 and 599.")));
}

static void
check_details(FunctionCallInfo fcinfo, int argno)
{
	Jsonb	   *details;

	if (PG_ARGISNULL(argno))
		return;
	details = PG_GETARG_JSONB_P(argno);
	if (!JB_ROOT_IS_OBJECT(details) || JB_ROOT_IS_SCALAR(details))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("details must be a JSON object"),
				 errdetail("Got a JSON %s.",
						   JB_ROOT_IS_SCALAR(details) ? "scalar" : "array")));
}

/* The arguments of variable size, whose sizes count against MAX_ENTRY_BYTES. */
static const int record_sized_args[] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 15, 16, 17};
static const int begin_sized_args[] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13};
static const int complete_sized_args[] = {3, 4, 5, 6, 7};

static void
check_entry_size(FunctionCallInfo fcinfo, const int *args, int count)
{
	Size		size = 0;

	for (int i = 0; i < count; i++)
		if (!PG_ARGISNULL(args[i]))
			size += toast_raw_datum_size(PG_GETARG_DATUM(args[i])) - VARHDRSZ;
	if (size > MAX_ENTRY_BYTES)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("audit entry too large: %zu bytes of text and details", size),
				 errdetail("An entry holds at most %d bytes of text and details.", MAX_ENTRY_BYTES),
				 errhint("Log a reference to a large payload (its URL or hash), not the payload itself.")));
}

/* Copy argument argno into values[slot]/nulls[slot]. */
static void
take_arg(FunctionCallInfo fcinfo, int argno, Datum *values, char *nulls, int slot)
{
	nulls[slot] = PG_ARGISNULL(argno) ? 'n' : ' ';
	values[slot] = PG_ARGISNULL(argno) ? (Datum) 0 : PG_GETARG_DATUM(argno);
}

/*
 * The parameters record() and begin() share, in slots 0 to 14: the new
 * entry's id, its stream, its time, its operation and the request context.
 */
#define SHARED_PARAMS (4 + CONTEXT_COLUMNS)

static void
shared_param_types(Oid *types)
{
	types[0] = UUIDOID;
	types[1] = TEXTOID;
	types[2] = TIMESTAMPTZOID;
	types[3] = TEXTOID;
	memcpy(types + 4, context_types, sizeof(context_types));
}

static void
take_shared_params(FunctionCallInfo fcinfo, pg_uuid_t *id, TimestampTz at,
				   Datum *values, char *nulls)
{
	values[0] = UUIDPGetDatum(id);
	nulls[0] = ' ';
	values[1] = PG_GETARG_DATUM(ARG_STREAM);
	nulls[1] = ' ';
	values[2] = TimestampTzGetDatum(at);
	nulls[2] = ' ';
	values[3] = PG_GETARG_DATUM(ARG_OPERATION);
	nulls[3] = ' ';
	for (int i = 0; i < CONTEXT_COLUMNS; i++)
		take_arg(fcinfo, ARG_FIRST_CONTEXT + i, values, nulls, 4 + i);
}

/* ---------- record(operation, stream, <context>, result, http_status, error_code, error_message, details) */

#define RECORD_PARAMS 21

static SPIPlanPtr
prepare_record(void)
{
	StringInfoData sql;
	Oid			types[RECORD_PARAMS];

	initStringInfo(&sql);
	appendStringInfoString(&sql, "INSERT INTO auditlog.entry (id, stream, logged_at, started_at, operation");
	append_context_columns(&sql, "");
	appendStringInfoString(&sql, ", result, http_status, error_code, error_message, details, writer_xid)"
						   " VALUES ($1, $2, $3, $3, $4");
	append_context_params(&sql, 5);
	appendStringInfoString(&sql, ", $16, $17, $18, $19, $20, $21)");

	shared_param_types(types);
	types[15] = plans_result_type;
	types[16] = INT4OID;
	types[17] = TEXTOID;
	types[18] = TEXTOID;
	types[19] = JSONBOID;
	types[20] = XID8OID;
	return prepare(sql.data, RECORD_PARAMS, types);
}

static Datum
record_entry(FunctionCallInfo fcinfo, bool internal)
{
	Datum		values[RECORD_PARAMS];
	char		nulls[RECORD_PARAMS];
	pg_uuid_t  *id = palloc(sizeof(pg_uuid_t));
	FullTransactionId writer;
	TimestampTz logged_at;

	required_operation(fcinfo, ARG_OPERATION);
	required_stream(fcinfo, ARG_STREAM, internal);
	required_result(fcinfo, RECORD_ARG_RESULT, false);
	check_http_status(fcinfo, RECORD_ARG_HTTP_STATUS);
	check_details(fcinfo, RECORD_ARG_DETAILS);
	check_entry_size(fcinfo, record_sized_args, lengthof(record_sized_args));

	logged_at = auditlog_stamp(&writer);
	auditlog_uuid_v7(logged_at, id);

	take_shared_params(fcinfo, id, logged_at, values, nulls);
	for (int i = 0; i < 5; i++)
		take_arg(fcinfo, RECORD_ARG_RESULT + i, values, nulls, SHARED_PARAMS + i);
	values[20] = FullTransactionIdGetDatum(writer);
	nulls[20] = ' ';

	run(&record_plan, prepare_record, values, nulls);

	PG_RETURN_UUID_P(id);
}

/* auditlog.record(): what writers call; the reserved stream is refused. */
Datum
auditlog_record(PG_FUNCTION_ARGS)
{
	return record_entry(fcinfo, false);
}

/*
 * auditlog.record_internal(): the same, for the extension's own records in
 * the reserved stream. Granted to nobody; purge() and import_begin() call it.
 */
Datum
auditlog_record_internal(PG_FUNCTION_ARGS)
{
	return record_entry(fcinfo, true);
}

/* ---------- begin(operation, stream, <context>, details) */

#define BEGIN_PARAMS 16

static SPIPlanPtr
prepare_begin(void)
{
	StringInfoData sql;
	Oid			types[BEGIN_PARAMS];

	initStringInfo(&sql);
	appendStringInfoString(&sql, "INSERT INTO auditlog.pending (id, stream, started_at, operation");
	append_context_columns(&sql, "");
	appendStringInfoString(&sql, ", details) VALUES ($1, $2, $3, $4");
	append_context_params(&sql, 5);
	appendStringInfoString(&sql, ", $16)");

	shared_param_types(types);
	types[15] = JSONBOID;
	return prepare(sql.data, BEGIN_PARAMS, types);
}

Datum
auditlog_begin(PG_FUNCTION_ARGS)
{
	Datum		values[BEGIN_PARAMS];
	char		nulls[BEGIN_PARAMS];
	pg_uuid_t  *id = palloc(sizeof(pg_uuid_t));
	TimestampTz started_at;

	required_operation(fcinfo, ARG_OPERATION);
	required_stream(fcinfo, ARG_STREAM, false);
	check_details(fcinfo, BEGIN_ARG_DETAILS);
	check_entry_size(fcinfo, begin_sized_args, lengthof(begin_sized_args));

	started_at = auditlog_clock();
	auditlog_uuid_v7(started_at, id);

	take_shared_params(fcinfo, id, started_at, values, nulls);
	take_arg(fcinfo, BEGIN_ARG_DETAILS, values, nulls, SHARED_PARAMS);

	run(&begin_plan, prepare_begin, values, nulls);

	PG_RETURN_UUID_P(id);
}

/*
 * The INSERT ... SELECT that moves rows of the CTE "moved" (rows of
 * auditlog.pending) into the log. logged_at is $logged_at, but never before
 * the entry's own started_at (a clock stepped back must not make an entry
 * end before it began).
 */
static void
append_move_into_log(StringInfo sql, const char *result, const char *http_status,
					 const char *error_code, const char *error_message,
					 const char *details, const char *resource_type,
					 const char *resource_id, int logged_at_param, int writer_param)
{
	appendStringInfoString(sql, " INSERT INTO auditlog.entry (id, stream, logged_at, started_at, operation");
	append_context_columns(sql, "");
	appendStringInfoString(sql, ", result, http_status, error_code, error_message, details, writer_xid)");
	appendStringInfo(sql, " SELECT m.id, m.stream, greatest($%d, m.started_at), m.started_at, m.operation",
					 logged_at_param);
	for (int i = 0; i < CONTEXT_COLUMNS; i++)
	{
		const char *column = context_columns[i];

		if (strcmp(column, "resource_type") == 0 && resource_type)
			appendStringInfo(sql, ", %s", resource_type);
		else if (strcmp(column, "resource_id") == 0 && resource_id)
			appendStringInfo(sql, ", %s", resource_id);
		else
			appendStringInfo(sql, ", m.%s", column);
	}
	appendStringInfo(sql, ", %s, %s, %s, %s, %s, $%d FROM moved m",
					 result, http_status, error_code, error_message, details,
					 writer_param);
}

/* ---------- complete(id, result, http_status, error_code, error_message, details, resource_type, resource_id) */

#define COMPLETE_PARAMS 10

static SPIPlanPtr
prepare_complete(void)
{
	StringInfoData sql;
	Oid			types[COMPLETE_PARAMS] = {
		UUIDOID, TIMESTAMPTZOID, plans_result_type, INT4OID, TEXTOID,
		TEXTOID, JSONBOID, TEXTOID, TEXTOID, XID8OID
	};

	initStringInfo(&sql);
	appendStringInfoString(&sql, "WITH moved AS (DELETE FROM auditlog.pending WHERE id = $1 RETURNING *)");
	append_move_into_log(&sql, "$3", "$4", "$5", "$6",
						 "CASE WHEN m.details IS NULL THEN $7 WHEN $7 IS NULL THEN m.details ELSE m.details || $7 END",
						 "coalesce($8, m.resource_type)", "coalesce($9, m.resource_id)",
						 2, 10);
	return prepare(sql.data, COMPLETE_PARAMS, types);
}

Datum
auditlog_complete(PG_FUNCTION_ARGS)
{
	Datum		values[COMPLETE_PARAMS];
	char		nulls[COMPLETE_PARAMS];
	FullTransactionId writer;
	TimestampTz logged_at;
	uint64		moved;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("id must not be null"),
				 errhint("Pass the id that auditlog.begin() returned.")));
	required_result(fcinfo, COMPLETE_ARG_RESULT, false);
	check_http_status(fcinfo, COMPLETE_ARG_HTTP_STATUS);
	check_details(fcinfo, COMPLETE_ARG_DETAILS);
	check_entry_size(fcinfo, complete_sized_args, lengthof(complete_sized_args));

	logged_at = auditlog_stamp(&writer);

	memset(nulls, ' ', sizeof(nulls));
	values[0] = PG_GETARG_DATUM(0);
	values[1] = TimestampTzGetDatum(logged_at);
	for (int i = 1; i < 8; i++)
		take_arg(fcinfo, i, values, nulls, i + 1);
	values[9] = FullTransactionIdGetDatum(writer);

	moved = run(&complete_plan, prepare_complete, values, nulls);

	PG_RETURN_BOOL(moved == 1);
}

/* ---------- timeout_pending(older_than, max_rows) */

#define TIMEOUT_PARAMS 4

static SPIPlanPtr
prepare_timeout(void)
{
	StringInfoData sql;
	Oid			types[TIMEOUT_PARAMS] = {INTERVALOID, INT4OID, TIMESTAMPTZOID, XID8OID};

	/*
	 * SKIP LOCKED: a row locked by a complete() in progress is left to it
	 * (if that complete() rolls back, the next run takes the row), and two
	 * runs at once take disjoint rows.
	 */
	initStringInfo(&sql);
	appendStringInfoString(&sql,
						   "WITH due AS (SELECT id FROM auditlog.pending"
						   " WHERE started_at < now() - $1"
						   " ORDER BY started_at, id LIMIT $2 FOR UPDATE SKIP LOCKED),"
						   " moved AS (DELETE FROM auditlog.pending p USING due"
						   " WHERE p.id = due.id RETURNING p.*)");
	append_move_into_log(&sql, "'timeout'", "NULL", "NULL", "NULL", "m.details",
						 NULL, NULL, 3, 4);
	return prepare(sql.data, TIMEOUT_PARAMS, types);
}

Datum
auditlog_timeout_pending(PG_FUNCTION_ARGS)
{
	Datum		values[TIMEOUT_PARAMS];
	FullTransactionId writer;
	TimestampTz logged_at;
	Interval   *older_than;
	int32		max_rows;
	Interval	zero = {0};
	uint64		moved;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("older_than and max_rows must not be null")));
	older_than = PG_GETARG_INTERVAL_P(0);
	max_rows = PG_GETARG_INT32(1);
	if (DatumGetBool(DirectFunctionCall2(interval_le, IntervalPGetDatum(older_than),
										 IntervalPGetDatum(&zero))))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("older_than must be a positive interval"),
				 errhint("Entries begun longer ago than older_than are timed out, for example '4 hours'.")));
	if (max_rows <= 0 || max_rows > MAX_TIMEOUT_ROWS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max_rows must be between 1 and %d", MAX_TIMEOUT_ROWS),
				 errhint("Run it again to time out more entries; each run stays short.")));

	logged_at = auditlog_stamp(&writer);

	values[0] = IntervalPGetDatum(older_than);
	values[1] = Int32GetDatum(max_rows);
	values[2] = TimestampTzGetDatum(logged_at);
	values[3] = FullTransactionIdGetDatum(writer);

	moved = run(&timeout_plan, prepare_timeout, values, NULL);

	PG_RETURN_INT32((int32) moved);
}

/* ---------- check_import_entry(<the arguments of record()>, id, logged_at, started_at, range_start, range_end, duplicate, row) */

#define IMPORT_ARG_ID (RECORD_ARG_DETAILS + 1)
#define IMPORT_ARG_LOGGED_AT (IMPORT_ARG_ID + 1)
#define IMPORT_ARG_STARTED_AT (IMPORT_ARG_ID + 2)
#define IMPORT_ARG_RANGE_START (IMPORT_ARG_ID + 3)
#define IMPORT_ARG_RANGE_END (IMPORT_ARG_ID + 4)
#define IMPORT_ARG_DUPLICATE (IMPORT_ARG_ID + 5)
#define IMPORT_ARG_ROW (IMPORT_ARG_ID + 6)

static TimestampTz
required_finite_time(FunctionCallInfo fcinfo, int argno, const char *name)
{
	TimestampTz at;

	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be null", name)));
	at = PG_GETARG_TIMESTAMPTZ(argno);
	if (TIMESTAMP_NOT_FINITE(at))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be a finite time, not %s", name,
						DatumGetCString(DirectFunctionCall1(timestamptz_out, TimestampTzGetDatum(at))))));
	return at;
}

/*
 * An imported row passes exactly the checks record() applies to its
 * arguments (the same functions, on the same argument positions), but for
 * result 'timeout', which history may hold; then what only an import can get
 * wrong: its id, its two times, which must be finite, in order and within
 * the span registered for the import, and its key (logged_at, id), which
 * must be new.
 */
static void
check_import_entry(FunctionCallInfo fcinfo)
{
	TimestampTz logged_at;
	TimestampTz started_at;

	if (PG_ARGISNULL(IMPORT_ARG_ID))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("id must not be null")));
	required_operation(fcinfo, ARG_OPERATION);
	required_stream(fcinfo, ARG_STREAM, false);
	required_result(fcinfo, RECORD_ARG_RESULT, true);
	check_http_status(fcinfo, RECORD_ARG_HTTP_STATUS);
	check_details(fcinfo, RECORD_ARG_DETAILS);
	check_entry_size(fcinfo, record_sized_args, lengthof(record_sized_args));

	logged_at = required_finite_time(fcinfo, IMPORT_ARG_LOGGED_AT, "logged_at");
	started_at = required_finite_time(fcinfo, IMPORT_ARG_STARTED_AT, "started_at");
	if (started_at > logged_at)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("started_at %s is after logged_at %s",
						DatumGetCString(DirectFunctionCall1(timestamptz_out, TimestampTzGetDatum(started_at))),
						DatumGetCString(DirectFunctionCall1(timestamptz_out, TimestampTzGetDatum(logged_at))))));
	if (PG_ARGISNULL(IMPORT_ARG_RANGE_START) || PG_ARGISNULL(IMPORT_ARG_RANGE_END) ||
		logged_at < PG_GETARG_TIMESTAMPTZ(IMPORT_ARG_RANGE_START) ||
		logged_at > PG_GETARG_TIMESTAMPTZ(IMPORT_ARG_RANGE_END))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("logged_at %s lies outside the span registered for the import",
						DatumGetCString(DirectFunctionCall1(timestamptz_out, TimestampTzGetDatum(logged_at))))));
	if (PG_ARGISNULL(IMPORT_ARG_DUPLICATE) || PG_GETARG_BOOL(IMPORT_ARG_DUPLICATE))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("an entry with the same logged_at and id is already in the log or earlier in the import")));
}

/*
 * auditlog.check_import_entry(): raises the first rule the imported row
 * breaks, naming the row (its number in the import and its id) and the rule,
 * with SQLSTATE 22023 (54000 for an entry too large). Internal to
 * import_rows(); granted to nobody.
 */
Datum
auditlog_check_import_entry(PG_FUNCTION_ARGS)
{
	MemoryContext context = CurrentMemoryContext;

	PG_TRY();
	{
		check_import_entry(fcinfo);
	}
	PG_CATCH();
	{
		ErrorData  *error;

		MemoryContextSwitchTo(context);
		error = CopyErrorData();
		FlushErrorState();
		error->message = psprintf("row %lld of the import (id %s): %s",
								  PG_ARGISNULL(IMPORT_ARG_ROW) ? 0LL : (long long) PG_GETARG_INT64(IMPORT_ARG_ROW),
								  PG_ARGISNULL(IMPORT_ARG_ID) ? "null" :
								  DatumGetCString(DirectFunctionCall1(uuid_out, PG_GETARG_DATUM(IMPORT_ARG_ID))),
								  error->message);
		if (error->sqlerrcode != ERRCODE_PROGRAM_LIMIT_EXCEEDED)
			error->sqlerrcode = ERRCODE_INVALID_PARAMETER_VALUE;
		error->hint = pstrdup("Correct that row of the source, or leave it out, and import again: nothing was imported.");
		ReThrowError(error);
	}
	PG_END_TRY();
	PG_RETURN_VOID();
}
