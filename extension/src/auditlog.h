/*
 * auditlog.h
 *	  Declarations shared by the C sources of the auditlog extension.
 */
#ifndef AUDITLOG_H
#define AUDITLOG_H

/* (every C file includes postgres.h first, before this) */
#include "access/transam.h"
#include "datatype/timestamp.h"
#include "utils/uuid.h"

/* stamp.c: when and by whom an entry enters the log, and its id */
extern TimestampTz auditlog_stamp(FullTransactionId *writer);
extern TimestampTz auditlog_clock(void);
extern void auditlog_uuid_v7(TimestampTz at, pg_uuid_t *out);

#endif							/* AUDITLOG_H */
