/*
 * export.c
 *	  What the export's SQL needs from C: a tick's time and mark, the refusal
 *	  to run inside a transaction block, page ids and NDJSON lines.
 *
 * See sql/60_ticks.sql for how ticks cut the log into batches.
 */
#include "auditlog.h"

#include "access/htup_details.h"
#include "access/transam.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "commands/sequence.h"
#include "fmgr.h"
#include "funcapi.h"
#include "catalog/pg_type.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/fmgrprotos.h"
#include "utils/json.h"
#include "utils/typcache.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"
#include "utils/xid8.h"

PG_FUNCTION_INFO_V1(auditlog_tick_time_and_mark);
PG_FUNCTION_INFO_V1(auditlog_refuse_transaction_block);

/*
 * tick_time_and_mark() → (taken_at, mark), in this order: the time t (the
 * clock, never below the floor), then the floor raised to t, then the mark x,
 * the next xid the server will assign. Every xid assigned from here on is at
 * or above x and every writer stamps logged_at after its xid, no lower than
 * the floor: so every entry of a writer w >= x has logged_at >= t. The mark
 * is read here and not taken from the ticking transaction's own xid, which
 * may have been assigned before t was read.
 */
Datum
auditlog_tick_time_and_mark(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;
	Datum		values[2];
	bool		nulls[2] = {false, false};
	TimestampTz taken_at;
	FullTransactionId mark;
	Oid			floor_sequence;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "auditlog: tick_time_and_mark() must return a record");

	taken_at = auditlog_clock();
	floor_sequence = get_relname_relid("clock_floor", get_namespace_oid("auditlog", false));
	DirectFunctionCall2(setval_oid, ObjectIdGetDatum(floor_sequence), Int64GetDatum(taken_at));
	mark = ReadNextFullTransactionId();

	values[0] = TimestampTzGetDatum(taken_at);
	values[1] = FullTransactionIdGetDatum(mark);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(tupdesc), values, nulls)));
}

/*
 * refuse_transaction_block(what): functions that hand out or acknowledge
 * pages, and disable_sink(), must commit on their own, right after their
 * statement. A page pinned by a transaction that later rolls back, after its
 * object was uploaded, would be handed out again under a new key.
 *
 * So they refuse what PreventInTransactionBlock() refuses to utility
 * commands: an explicit or implicit transaction block (BEGIN, or several
 * statements in one query string), a subtransaction (SAVEPOINT, or a
 * PL/pgSQL block with an EXCEPTION clause), and an extended-protocol
 * pipeline past its first statement. And they ask for the transaction to
 * commit as soon as the statement ends, even as the first statement of a
 * pipeline, where it would otherwise wait for the pipeline's Sync and roll
 * back with whatever fails after it.
 *
 * Within one statement (several calls in a SELECT, a DO block) nothing is
 * refused: a statement that fails hands its client no row, so no page of it
 * is uploaded. Disabling a sink, which must also commit promptly after its
 * closing tick, asks for that with commit_promptly() below.
 */
Datum
auditlog_refuse_transaction_block(PG_FUNCTION_ARGS)
{
	const char *what = text_to_cstring(PG_GETARG_TEXT_PP(0));

	/* A subtransaction is also a transaction block: say which it is. */
	if (IsSubTransaction())
		ereport(ERROR,
				(errcode(ERRCODE_ACTIVE_SQL_TRANSACTION),
				 errmsg("%s cannot run inside a subtransaction", what),
				 errhint("Call it on its own, not after SAVEPOINT nor inside a PL/pgSQL block with an EXCEPTION clause.")));
	if (IsTransactionBlock())
		ereport(ERROR,
				(errcode(ERRCODE_ACTIVE_SQL_TRANSACTION),
				 errmsg("%s cannot run inside a transaction block", what),
				 errhint("Call it on its own, outside BEGIN ... COMMIT and not with other statements in one query string, so that it commits by itself.")));
	if (MyXactFlags & XACT_FLAGS_PIPELINING)
		ereport(ERROR,
				(errcode(ERRCODE_ACTIVE_SQL_TRANSACTION),
				 errmsg("%s cannot run inside a pipeline", what),
				 errhint("Send it as the first statement after a Sync, so that it commits by itself.")));
	MyXactFlags |= XACT_FLAGS_NEEDIMMEDIATECOMMIT;
	PG_RETURN_VOID();
}

/*
 * commit_promptly(what): the current transaction must commit within
 * COMMIT_PROMPTLY_MS of this call, or fail. Disabling a sink takes a closing
 * tick: an entry committed after it, while the disabling transaction is
 * still open and the sink still looks enabled to everyone else, would be
 * missed by the sink. refuse_transaction_block() keeps that transaction to
 * one statement; this keeps the statement from going on long after the tick
 * (a DO block, or a SELECT that calls other things after disable_sink()).
 * Checked just before the commit; a transaction that took too long fails
 * there, undoing the disabling, rather than commit it late.
 */
#define COMMIT_PROMPTLY_MS 250

static TimestampTz commit_promptly_since = 0;
static char commit_promptly_what[NAMEDATALEN * 2];

static void
commit_promptly_callback(XactEvent event, void *arg)
{
	TimestampTz since = commit_promptly_since;

	if (since == 0)
		return;
	if (event == XACT_EVENT_PRE_COMMIT &&
		TimestampDifferenceExceeds(since, GetCurrentTimestamp(), COMMIT_PROMPTLY_MS))
	{
		commit_promptly_since = 0;
		ereport(ERROR,
				(errcode(ERRCODE_ACTIVE_SQL_TRANSACTION),
				 errmsg("%s: the transaction went on too long after its closing tick", commit_promptly_what),
				 errdetail("It must commit within %d ms of the tick: entries committed meanwhile would be missed by the sink. Nothing was changed.",
						   COMMIT_PROMPTLY_MS),
				 errhint("Call auditlog.disable_sink() in a statement of its own.")));
	}
	if (event == XACT_EVENT_PRE_PREPARE)
	{
		commit_promptly_since = 0;
		ereport(ERROR,
				(errcode(ERRCODE_ACTIVE_SQL_TRANSACTION),
				 errmsg("%s cannot be prepared for two-phase commit", commit_promptly_what)));
	}
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT)
		commit_promptly_since = 0;
}

PG_FUNCTION_INFO_V1(auditlog_commit_promptly);

Datum
auditlog_commit_promptly(PG_FUNCTION_ARGS)
{
	static bool registered = false;

	if (!registered)
	{
		RegisterXactCallback(commit_promptly_callback, NULL);
		registered = true;
	}
	strlcpy(commit_promptly_what, text_to_cstring(PG_GETARG_TEXT_PP(0)), sizeof(commit_promptly_what));
	commit_promptly_since = GetCurrentTimestamp();
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(auditlog_new_page_id);

/* new_page_id() → a UUIDv7 of the current time. */
Datum
auditlog_new_page_id(PG_FUNCTION_ARGS)
{
	pg_uuid_t  *id = palloc(sizeof(pg_uuid_t));

	auditlog_uuid_v7(GetCurrentTimestamp(), id);
	PG_RETURN_UUID_P(id);
}

/*
 * ndjson_line(entry) → text: one entry as a line of NDJSON. The columns of
 * auditlog.entry by name and in table order, writer_xid left out (it means
 * something only in this cluster), times in UTC with microseconds, details
 * as the JSON it is. Written in C because pages render thousands of entries
 * and a per-entry SQL expression cost most of next_page()'s time.
 */
typedef enum ColumnKind
{
	COLUMN_SKIP,
	COLUMN_STRING,				/* quoted: text, uuid, inet, enum */
	COLUMN_NUMBER,				/* bare: int */
	COLUMN_JSON,				/* as is: jsonb */
	COLUMN_TIME					/* quoted, UTC: timestamptz */
} ColumnKind;

typedef struct NdjsonColumns
{
	Oid			type;
	int			count;
	ColumnKind *kinds;
	FmgrInfo   *output;
} NdjsonColumns;

static NdjsonColumns *
ndjson_columns(FunctionCallInfo fcinfo, TupleDesc tupdesc, Oid type)
{
	NdjsonColumns *columns = fcinfo->flinfo->fn_extra;

	if (columns != NULL && columns->type == type)
		return columns;

	columns = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(NdjsonColumns));
	columns->type = type;
	columns->count = tupdesc->natts;
	columns->kinds = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(ColumnKind) * tupdesc->natts);
	columns->output = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(FmgrInfo) * tupdesc->natts);
	for (int i = 0; i < tupdesc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(tupdesc, i);
		Oid			output_function;
		bool		varlena;

		if (att->attisdropped || strcmp(NameStr(att->attname), "writer_xid") == 0)
		{
			columns->kinds[i] = COLUMN_SKIP;
			continue;
		}
		switch (att->atttypid)
		{
			case INT2OID:
			case INT4OID:
			case INT8OID:
				columns->kinds[i] = COLUMN_NUMBER;
				break;
			case JSONBOID:
				columns->kinds[i] = COLUMN_JSON;
				break;
			case TIMESTAMPTZOID:
				columns->kinds[i] = COLUMN_TIME;
				break;
			default:
				columns->kinds[i] = COLUMN_STRING;
		}
		getTypeOutputInfo(att->atttypid, &output_function, &varlena);
		fmgr_info_cxt(output_function, &columns->output[i], fcinfo->flinfo->fn_mcxt);
	}
	fcinfo->flinfo->fn_extra = columns;
	return columns;
}

/*
 * A JSON string: like the server's escape_json(), but copying runs of plain
 * characters at once rather than one call per character (most of a page's
 * rendering time went there).
 */
static void
append_json_string(StringInfo buf, const char *s)
{
	const char *run = s;

	appendStringInfoCharMacro(buf, '"');
	for (const char *p = s; *p; p++)
	{
		unsigned char c = (unsigned char) *p;

		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		appendBinaryStringInfo(buf, run, p - run);
		switch (c)
		{
			case '"':
				appendStringInfoString(buf, "\\\"");
				break;
			case '\\':
				appendStringInfoString(buf, "\\\\");
				break;
			case '\n':
				appendStringInfoString(buf, "\\n");
				break;
			case '\r':
				appendStringInfoString(buf, "\\r");
				break;
			case '\t':
				appendStringInfoString(buf, "\\t");
				break;
			case '\b':
				appendStringInfoString(buf, "\\b");
				break;
			case '\f':
				appendStringInfoString(buf, "\\f");
				break;
			default:
				appendStringInfo(buf, "\\u%04x", c);
		}
		run = p + 1;
	}
	appendStringInfoString(buf, run);
	appendStringInfoCharMacro(buf, '"');
}

static void
append_utc_time(StringInfo buf, TimestampTz time)
{
	struct pg_tm tm;
	fsec_t		fsec;

	if (TIMESTAMP_NOT_FINITE(time) || timestamp2tm(time, NULL, &tm, &fsec, NULL, NULL) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("audit entry time out of range")));
	appendStringInfo(buf, "\"%04d-%02d-%02dT%02d:%02d:%02d.%06dZ\"",
					 tm.tm_year, tm.tm_mon, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int) fsec);
}

PG_FUNCTION_INFO_V1(auditlog_ndjson_line);

Datum
auditlog_ndjson_line(PG_FUNCTION_ARGS)
{
	HeapTupleHeader record = PG_GETARG_HEAPTUPLEHEADER(0);
	Oid			type = HeapTupleHeaderGetTypeId(record);
	TupleDesc	tupdesc = lookup_rowtype_tupdesc(type, HeapTupleHeaderGetTypMod(record));
	NdjsonColumns *columns = ndjson_columns(fcinfo, tupdesc, type);
	HeapTupleData tuple;
	Datum	   *values = palloc(sizeof(Datum) * tupdesc->natts);
	bool	   *nulls = palloc(sizeof(bool) * tupdesc->natts);
	StringInfoData buf;
	bool		first = true;

	tuple.t_len = HeapTupleHeaderGetDatumLength(record);
	ItemPointerSetInvalid(&tuple.t_self);
	tuple.t_tableOid = InvalidOid;
	tuple.t_data = record;
	heap_deform_tuple(&tuple, tupdesc, values, nulls);

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '{');
	for (int i = 0; i < columns->count; i++)
	{
		if (columns->kinds[i] == COLUMN_SKIP)
			continue;
		if (!first)
			appendStringInfoChar(&buf, ',');
		first = false;
		append_json_string(&buf, NameStr(TupleDescAttr(tupdesc, i)->attname));
		appendStringInfoChar(&buf, ':');
		if (nulls[i])
		{
			appendStringInfoString(&buf, "null");
			continue;
		}
		switch (columns->kinds[i])
		{
			case COLUMN_TIME:
				append_utc_time(&buf, DatumGetTimestampTz(values[i]));
				break;
			case COLUMN_NUMBER:
			case COLUMN_JSON:
				appendStringInfoString(&buf, OutputFunctionCall(&columns->output[i], values[i]));
				break;
			default:
				append_json_string(&buf, OutputFunctionCall(&columns->output[i], values[i]));
		}
	}
	appendStringInfoChar(&buf, '}');
	ReleaseTupleDesc(tupdesc);
	PG_RETURN_TEXT_P(cstring_to_text_with_len(buf.data, buf.len));
}
