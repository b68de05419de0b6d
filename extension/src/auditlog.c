/*
 * auditlog.c
 *	  Module entry point of the auditlog extension.
 *
 * The SQL objects live in ../sql; the C sources are the write path (log.c),
 * how entries are stamped (stamp.c) and what keeps the log append-only
 * (immutability.c).
 */
#include "postgres.h"

#include "fmgr.h"

PG_MODULE_MAGIC;
