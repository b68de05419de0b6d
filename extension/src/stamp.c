/*
 * stamp.c
 *	  How an entry gets its writer_xid, logged_at and id.
 *
 * The order here is what makes export exact. tick() records a time t, raises
 * the clock floor to t, then reads the next xid to be assigned, x. An entry
 * whose writer has an xid w >= x therefore had its xid assigned after t was
 * read, and because logged_at is read only after the writer's top-level xid
 * is assigned, and never below the floor, logged_at >= t. Batches rely on
 * that bound to prune partitions without ever missing a row. Reading the
 * clock first, or stamping with a time chosen by the caller, would break it.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "fmgr.h"
#include "port/pg_bswap.h"
#include "utils/fmgrprotos.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"

#include "auditlog.h"

/* Microseconds from the Unix epoch to the Postgres epoch (2000-01-01). */
#define UNIX_TO_POSTGRES_USECS \
	((int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * USECS_PER_DAY)

/*
 * The monotonic clock floor: the last value of auditlog.clock_floor, which
 * tick() raises with setval (non-transactional and WAL-logged, so it is seen
 * at once and survives a failover).
 */
static TimestampTz
clock_floor(void)
{
	Oid			namespace = get_namespace_oid("auditlog", false);
	Oid			sequence = get_relname_relid("clock_floor", namespace);
	Datum		value;

	LOCAL_FCINFO(fcinfo, 1);

	if (!OidIsValid(sequence))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("sequence auditlog.clock_floor does not exist"),
				 errhint("The auditlog extension is damaged; reinstall it.")));

	InitFunctionCallInfoData(*fcinfo, NULL, 1, InvalidOid, NULL, NULL);
	fcinfo->args[0].value = ObjectIdGetDatum(sequence);
	fcinfo->args[0].isnull = false;
	value = pg_sequence_last_value(fcinfo);
	if (fcinfo->isnull)
		return DT_NOBEGIN;
	return DatumGetInt64(value);
}

/* The server clock, never below the floor. */
TimestampTz
auditlog_clock(void)
{
	TimestampTz now = GetCurrentTimestamp();
	TimestampTz floor = clock_floor();

	return Max(now, floor);
}

/*
 * Assign (or look up) the top-level xid of the current transaction, then read
 * the time. Returns logged_at; *writer receives writer_xid.
 */
TimestampTz
auditlog_stamp(FullTransactionId *writer)
{
	*writer = GetTopFullTransactionId();
	return auditlog_clock();
}

/*
 * A UUIDv7 (RFC 9562) for the given time: 48 bits of Unix milliseconds, then
 * 12 bits of sub-millisecond fraction (the RFC's method 3), so ids sort by
 * time to the microsecond, then 62 random bits.
 */
void
auditlog_uuid_v7(TimestampTz at, pg_uuid_t *out)
{
	int64		unix_usecs = at + UNIX_TO_POSTGRES_USECS;
	uint64		unix_msecs;
	uint32		fraction;
	uint64		msecs_be;

	if (unix_usecs < 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("audit entry time is before 1970-01-01"),
				 errdetail("UUIDv7 ids cannot encode times before the Unix epoch.")));

	unix_msecs = (uint64) unix_usecs / 1000;
	fraction = (uint32) (((uint64) unix_usecs % 1000) * 4096 / 1000);

	if (!pg_strong_random(out->data + 8, 8))
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not generate random bits for an audit entry id")));

	msecs_be = pg_hton64(unix_msecs << 16);
	memcpy(out->data, &msecs_be, 6);
	out->data[6] = (unsigned char) (0x70 | (fraction >> 8));
	out->data[7] = (unsigned char) (fraction & 0xff);
	out->data[8] = (unsigned char) ((out->data[8] & 0x3f) | 0x80);
}
