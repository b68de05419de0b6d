/*
 * immutability.c
 *	  What keeps auditlog.entry append-only.
 *
 * A trigger on the log and on every partition refuses UPDATE, DELETE and
 * TRUNCATE for every role, the owner included. Retention does not need them:
 * purge() drops whole partitions. The one exception is moving stray rows out
 * of the DEFAULT partition into the day partition made for them, which
 * ensure_partitions() does through move_default_rows() below; the exception
 * is a flag only C code can set, so no setting a session can change opens
 * the log.
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/regproc.h"
#include "utils/rel.h"
#include "utils/timestamp.h"

#include "auditlog.h"

PG_FUNCTION_INFO_V1(auditlog_forbid_change);
PG_FUNCTION_INFO_V1(auditlog_move_default_rows);

static bool moving_default_rows = false;

Datum
auditlog_forbid_change(PG_FUNCTION_ARGS)
{
	TriggerData *trigger = (TriggerData *) fcinfo->context;
	const char *command;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("auditlog.forbid_change() must be called as a trigger")));

	if (TRIGGER_FIRED_BY_DELETE(trigger->tg_event) && moving_default_rows)
		return PointerGetDatum(trigger->tg_trigtuple);

	if (TRIGGER_FIRED_BY_UPDATE(trigger->tg_event))
		command = "UPDATE";
	else if (TRIGGER_FIRED_BY_DELETE(trigger->tg_event))
		command = "DELETE";
	else
		command = "TRUNCATE";

	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("auditlog.entry is append-only: %s is not allowed", command),
			 errdetail("The statement would have changed entries in %s.",
					   RelationGetRelationName(trigger->tg_relation)),
			 errhint("Entries never change. Expired days are dropped whole by auditlog.purge().")));
	PG_RETURN_NULL();			/* not reached */
}

/*
 * move_default_rows(range_start, range_end, target): move the rows of
 * auditlog.entry_default with logged_at in [range_start, range_end) into
 * target, a standalone table about to be attached as the partition for that
 * range, every column preserved. Returns how many rows moved.
 */
Datum
auditlog_move_default_rows(PG_FUNCTION_ARGS)
{
	TimestampTz range_start = PG_GETARG_TIMESTAMPTZ(0);
	TimestampTz range_end = PG_GETARG_TIMESTAMPTZ(1);
	Oid			target = PG_GETARG_OID(2);
	char	   *target_name;
	char	   *sql;
	Oid			types[2] = {TIMESTAMPTZOID, TIMESTAMPTZOID};
	Datum		values[2];
	uint64		moved;

	if (get_rel_relkind(target) != RELKIND_RELATION ||
		get_rel_namespace(target) != get_namespace_oid("auditlog", false))
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("rows of the DEFAULT partition can only move into a table of schema auditlog")));

	target_name = quote_qualified_identifier(get_namespace_name(get_rel_namespace(target)),
											 get_rel_name(target));
	sql = psprintf("WITH moved AS (DELETE FROM ONLY auditlog.entry_default"
				   " WHERE logged_at >= $1 AND logged_at < $2 RETURNING *)"
				   " INSERT INTO %s SELECT * FROM moved", target_name);
	values[0] = TimestampTzGetDatum(range_start);
	values[1] = TimestampTzGetDatum(range_end);

	SPI_connect();
	moving_default_rows = true;
	PG_TRY();
	{
		int			rc = SPI_execute_with_args(sql, 2, types, values, NULL, false, 0);

		if (rc != SPI_OK_INSERT)
			elog(ERROR, "auditlog: moving rows out of the DEFAULT partition failed: %s",
				 SPI_result_code_string(rc));
		moved = SPI_processed;
	}
	PG_FINALLY();
	{
		moving_default_rows = false;
	}
	PG_END_TRY();
	SPI_finish();

	PG_RETURN_INT64((int64) moved);
}
