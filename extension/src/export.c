/*
 * export.c
 *	  What the export's SQL needs from C: a tick's time and mark, the refusal
 *	  to run inside a transaction block and page ids. Page bodies are
 *	  rendered in render.c.
 *
 * See sql/60_ticks.sql for how ticks cut the log into batches.
 */
#include "postgres.h"

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

#include "auditlog.h"

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
 * COMMIT_PROMPTLY_MS of this call (of its first such call), or fail. Disabling a sink takes a closing
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
	/* Several calls in one transaction: the first one's time counts. */
	if (commit_promptly_since == 0)
	{
		strlcpy(commit_promptly_what, text_to_cstring(PG_GETARG_TEXT_PP(0)), sizeof(commit_promptly_what));
		commit_promptly_since = GetCurrentTimestamp();
	}
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
