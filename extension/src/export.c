/*
 * export.c
 *	  What the export's SQL needs from C: a tick's time and mark, the refusal
 *	  to run inside a transaction block and page ids. Page bodies are
 *	  rendered in render.c.
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
 * pages, and disable_sink(), must commit on their own. A page pinned by a
 * transaction that later rolls back, after its object was uploaded, would be
 * handed out again under a new key; a sink disabled in a transaction still
 * open looks enabled to writers committing meanwhile.
 */
Datum
auditlog_refuse_transaction_block(PG_FUNCTION_ARGS)
{
	if (IsTransactionBlock())
		ereport(ERROR,
				(errcode(ERRCODE_ACTIVE_SQL_TRANSACTION),
				 errmsg("%s cannot run inside a transaction block",
						text_to_cstring(PG_GETARG_TEXT_PP(0))),
				 errhint("Call it on its own, outside BEGIN ... COMMIT, so that it commits by itself.")));
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
