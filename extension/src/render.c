/*
 * render.c
 *	  The one renderer of page bodies: entries as NDJSON or CSV lines, and the
 *	  aggregate that renders a page's entries once, bounded by bytes.
 *
 * Every kind of page (a sink's, a backfill's, an export job's part) is
 * rendered by render_entries(e, format, max_bytes, head), over the rows its
 * query selects, and so is a pinned page rendered again. Its result depends
 * only on the set of rows it is given, never on the order in which the
 * executor feeds them: it is the longest prefix, in (logged_at, id) order,
 * whose body (head, then each line followed by '\n') is at most max_bytes,
 * and always at least the first row. See sql/75_pages.sql.
 */
#include "postgres.h"

#include "auditlog.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/fmgrprotos.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
#include "utils/typcache.h"
#include "utils/uuid.h"

/*
 * NDJSON: the columns of auditlog.entry by name and in table order,
 * writer_xid left out (it means something only in this cluster), times in
 * UTC with microseconds, details as the JSON it is. Pages handed out before
 * an upgrade render again to the same bytes: change nothing here.
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
ndjson_columns(TupleDesc tupdesc, Oid type, MemoryContext context)
{
	NdjsonColumns *columns = MemoryContextAllocZero(context, sizeof(NdjsonColumns));

	columns->type = type;
	columns->count = tupdesc->natts;
	columns->kinds = MemoryContextAllocZero(context, sizeof(ColumnKind) * tupdesc->natts);
	columns->output = MemoryContextAllocZero(context, sizeof(FmgrInfo) * tupdesc->natts);
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
		fmgr_info_cxt(output_function, &columns->output[i], context);
	}
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
	static const char hex[] = "0123456789abcdef";
	const char *run = s;

	appendStringInfoCharMacro(buf, '"');
	for (const char *p = s; *p; p++)
	{
		unsigned char c = (unsigned char) *p;

		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		if (p > run)
			appendBinaryStringInfo(buf, run, p - run);
		/* room for the longest escape, and its terminating zero */
		if (buf->maxlen - buf->len <= 6)
			enlargeStringInfo(buf, 6);
		{
			char	   *out = buf->data + buf->len;

			out[0] = '\\';
			switch (c)
			{
				case '"':
					out[1] = '"';
					break;
				case '\\':
					out[1] = '\\';
					break;
				case '\n':
					out[1] = 'n';
					break;
				case '\r':
					out[1] = 'r';
					break;
				case '\t':
					out[1] = 't';
					break;
				case '\b':
					out[1] = 'b';
					break;
				case '\f':
					out[1] = 'f';
					break;
				default:
					/* \u00XX, lower case: what "\\u%04x" wrote */
					out[1] = 'u';
					out[2] = '0';
					out[3] = '0';
					out[4] = hex[c >> 4];
					out[5] = hex[c & 0xf];
					buf->len += 4;
			}
			buf->len += 2;
			buf->data[buf->len] = '\0';
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

/* One entry's NDJSON line (no newline), appended to buf. */
static void
append_ndjson_line(StringInfo buf, NdjsonColumns *columns, TupleDesc tupdesc, Datum *values, bool *nulls)
{
	bool		first = true;

	appendStringInfoChar(buf, '{');
	for (int i = 0; i < columns->count; i++)
	{
		if (columns->kinds[i] == COLUMN_SKIP)
			continue;
		if (!first)
			appendStringInfoChar(buf, ',');
		first = false;
		append_json_string(buf, NameStr(TupleDescAttr(tupdesc, i)->attname));
		appendStringInfoChar(buf, ':');
		if (nulls[i])
		{
			appendStringInfoString(buf, "null");
			continue;
		}
		switch (columns->kinds[i])
		{
			case COLUMN_TIME:
				append_utc_time(buf, DatumGetTimestampTz(values[i]));
				break;
			case COLUMN_NUMBER:
			case COLUMN_JSON:
				appendStringInfoString(buf, OutputFunctionCall(&columns->output[i], values[i]));
				break;
			default:
				append_json_string(buf, OutputFunctionCall(&columns->output[i], values[i]));
		}
	}
	appendStringInfoChar(buf, '}');
}

/*
 * CSV: the columns of csv_header(), each a cell quoted when needed and
 * neutralised for spreadsheets (see append_csv_cell). Byte for byte what the
 * SQL entry_csv() of 0.2.0 wrote: times as to_char(t AT TIME ZONE 'UTC',
 * 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), inet as inet::text (with its netmask),
 * every other column as its ::text.
 */
static const char *const csv_column_names[] = {
	"id", "stream", "logged_at", "started_at", "operation", "actor_type", "actor_id", "tenant_id",
	"resource_type", "resource_id", "request_id", "request_uri", "source_ip", "user_agent", "auth_method",
	"credential_id", "result", "http_status", "error_code", "error_message", "details"
};
#define CSV_COLUMNS ((int) lengthof(csv_column_names))

typedef enum CsvKind
{
	CSV_OUTPUT,					/* its output function: ::text */
	CSV_TIME,					/* UTC, as to_char() wrote it */
	CSV_INET					/* inet::text */
} CsvKind;

typedef struct CsvColumns
{
	int			attnum[CSV_COLUMNS];	/* 0-based index in the row */
	CsvKind		kinds[CSV_COLUMNS];
	FmgrInfo	output[CSV_COLUMNS];
} CsvColumns;

static int
column_index(TupleDesc tupdesc, const char *name)
{
	for (int i = 0; i < tupdesc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(tupdesc, i);

		if (!att->attisdropped && strcmp(NameStr(att->attname), name) == 0)
			return i;
	}
	ereport(ERROR,
			(errcode(ERRCODE_UNDEFINED_COLUMN),
			 errmsg("auditlog: an entry to render has no column \"%s\"", name)));
	return -1;					/* keep compiler quiet */
}

static CsvColumns *
csv_columns(TupleDesc tupdesc, MemoryContext context)
{
	CsvColumns *columns = MemoryContextAllocZero(context, sizeof(CsvColumns));

	for (int c = 0; c < CSV_COLUMNS; c++)
	{
		int			i = column_index(tupdesc, csv_column_names[c]);
		Oid			type = TupleDescAttr(tupdesc, i)->atttypid;
		Oid			output_function;
		bool		varlena;

		columns->attnum[c] = i;
		columns->kinds[c] = type == TIMESTAMPTZOID ? CSV_TIME : type == INETOID ? CSV_INET : CSV_OUTPUT;
		getTypeOutputInfo(type, &output_function, &varlena);
		fmgr_info_cxt(output_function, &columns->output[c], context);
	}
	return columns;
}

/*
 * A CSV cell, as csv_cell() wrote it: a value that starts with =, +, -, @, a
 * tab or a carriage return gets a leading apostrophe (a spreadsheet would
 * read it as a formula); the result is quoted, its quotes doubled, when it
 * holds a quote, a comma, a CR or a LF, or starts or ends with a space. NULL
 * is the empty cell.
 */
static void
append_csv_cell(StringInfo buf, const char *value, int len)
{
	bool		formula;
	bool		quote;

	if (value == NULL)
		return;
	formula = len > 0 && (value[0] == '=' || value[0] == '+' || value[0] == '-' || value[0] == '@' ||
						  value[0] == '\t' || value[0] == '\r');
	quote = len > 0 && ((!formula && value[0] == ' ') || value[len - 1] == ' ');
	for (int i = 0; i < len && !quote; i++)
		quote = value[i] == '"' || value[i] == ',' || value[i] == '\r' || value[i] == '\n';
	if (!quote)
	{
		if (formula)
			appendStringInfoCharMacro(buf, '\'');
		appendBinaryStringInfo(buf, value, len);
		return;
	}
	appendStringInfoCharMacro(buf, '"');
	if (formula)
		appendStringInfoCharMacro(buf, '\'');
	for (const char *run = value, *end = value + len, *p; run < end; run = p + 1)
	{
		p = memchr(run, '"', end - run);
		if (p == NULL)
		{
			appendBinaryStringInfo(buf, run, end - run);
			break;
		}
		appendBinaryStringInfo(buf, run, p - run + 1);
		appendStringInfoCharMacro(buf, '"');
	}
	appendStringInfoCharMacro(buf, '"');
}

static void
append_csv_time(StringInfo buf, TimestampTz time)
{
	struct pg_tm tm;
	fsec_t		fsec;
	char		chars[64];
	text	   *formatted;

	if (TIMESTAMP_NOT_FINITE(time))
		return;					/* to_char() of infinity is NULL: an empty cell */
	if (timestamp2tm(time, NULL, &tm, &fsec, NULL, NULL) == 0 && tm.tm_year >= 1 && tm.tm_year <= 9999)
	{
		int			len = snprintf(chars, sizeof(chars), "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ",
								   tm.tm_year, tm.tm_mon, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
								   (int) fsec);

		append_csv_cell(buf, chars, len);
		return;
	}
	/* Years to_char() writes its own way (BC, past 9999): let it. */
	formatted = DatumGetTextPP(DirectFunctionCall2(timestamp_to_char, TimestampGetDatum(time),
												   CStringGetTextDatum("YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"")));
	append_csv_cell(buf, VARDATA_ANY(formatted), VARSIZE_ANY_EXHDR(formatted));
}

/* One entry's CSV line (no newline), appended to buf. */
static void
append_csv_line(StringInfo buf, CsvColumns *columns, Datum *values, bool *nulls)
{
	for (int c = 0; c < CSV_COLUMNS; c++)
	{
		int			i = columns->attnum[c];

		if (c > 0)
			appendStringInfoCharMacro(buf, ',');
		if (nulls[i])
			continue;
		switch (columns->kinds[c])
		{
			case CSV_TIME:
				append_csv_time(buf, DatumGetTimestampTz(values[i]));
				break;
			case CSV_INET:
				{
					text	   *shown = DatumGetTextPP(DirectFunctionCall1(network_show, values[i]));

					append_csv_cell(buf, VARDATA_ANY(shown), VARSIZE_ANY_EXHDR(shown));
					break;
				}
			default:
				{
					char	   *shown = OutputFunctionCall(&columns->output[c], values[i]);

					append_csv_cell(buf, shown, strlen(shown));
				}
		}
	}
}

/* An entry's columns, from its row value. */
static void
deform_entry(HeapTupleHeader record, TupleDesc tupdesc, Datum *values, bool *nulls)
{
	HeapTupleData tuple;

	tuple.t_len = HeapTupleHeaderGetDatumLength(record);
	ItemPointerSetInvalid(&tuple.t_self);
	tuple.t_tableOid = InvalidOid;
	tuple.t_data = record;
	heap_deform_tuple(&tuple, tupdesc, values, nulls);
}

/*
 * ndjson_line(entry) → text: one entry as a line of NDJSON. Written in C
 * because pages render thousands of entries and a per-entry SQL expression
 * cost most of next_page()'s time.
 */
PG_FUNCTION_INFO_V1(auditlog_ndjson_line);

Datum
auditlog_ndjson_line(PG_FUNCTION_ARGS)
{
	HeapTupleHeader record = PG_GETARG_HEAPTUPLEHEADER(0);
	Oid			type = HeapTupleHeaderGetTypeId(record);
	TupleDesc	tupdesc = lookup_rowtype_tupdesc(type, HeapTupleHeaderGetTypMod(record));
	NdjsonColumns *columns = fcinfo->flinfo->fn_extra;
	Datum	   *values = palloc(sizeof(Datum) * tupdesc->natts);
	bool	   *nulls = palloc(sizeof(bool) * tupdesc->natts);
	StringInfoData buf;

	if (columns == NULL || columns->type != type)
		fcinfo->flinfo->fn_extra = columns = ndjson_columns(tupdesc, type, fcinfo->flinfo->fn_mcxt);
	deform_entry(record, tupdesc, values, nulls);
	initStringInfo(&buf);
	append_ndjson_line(&buf, columns, tupdesc, values, nulls);
	ReleaseTupleDesc(tupdesc);
	PG_RETURN_TEXT_P(cstring_to_text_with_len(buf.data, buf.len));
}

/* entry_csv(entry) → text: one entry as a line of a CSV export. */
PG_FUNCTION_INFO_V1(auditlog_entry_csv);

Datum
auditlog_entry_csv(PG_FUNCTION_ARGS)
{
	HeapTupleHeader record;
	TupleDesc	tupdesc;
	Datum	   *values;
	bool	   *nulls;
	StringInfoData buf;

	/* No entry: a line of empty cells, as the SQL function wrote. */
	if (PG_ARGISNULL(0))
	{
		initStringInfo(&buf);
		for (int c = 1; c < CSV_COLUMNS; c++)
			appendStringInfoChar(&buf, ',');
		PG_RETURN_TEXT_P(cstring_to_text_with_len(buf.data, buf.len));
	}
	record = PG_GETARG_HEAPTUPLEHEADER(0);
	tupdesc = lookup_rowtype_tupdesc(HeapTupleHeaderGetTypeId(record), HeapTupleHeaderGetTypMod(record));
	values = palloc(sizeof(Datum) * tupdesc->natts);
	nulls = palloc(sizeof(bool) * tupdesc->natts);
	deform_entry(record, tupdesc, values, nulls);
	initStringInfo(&buf);
	append_csv_line(&buf, csv_columns(tupdesc, CurrentMemoryContext), values, nulls);
	ReleaseTupleDesc(tupdesc);
	PG_RETURN_TEXT_P(cstring_to_text_with_len(buf.data, buf.len));
}

/* csv_cell(value) → text: one CSV cell; NULL is the empty cell. */
PG_FUNCTION_INFO_V1(auditlog_csv_cell);

Datum
auditlog_csv_cell(PG_FUNCTION_ARGS)
{
	StringInfoData buf;

	initStringInfo(&buf);
	if (!PG_ARGISNULL(0))
	{
		text	   *value = PG_GETARG_TEXT_PP(0);

		append_csv_cell(&buf, VARDATA_ANY(value), VARSIZE_ANY_EXHDR(value));
	}
	PG_RETURN_TEXT_P(cstring_to_text_with_len(buf.data, buf.len));
}

/*
 * render_entries(e, format, max_bytes, head): the aggregate.
 *
 * The state keeps the rows included so far in (logged_at, id) order, each
 * with its rendered line. A row arriving in order (the common case) is
 * appended; one arriving out of order is inserted in its place. Whenever the
 * body would pass max_bytes, rows are dropped from the top down (never the
 * last one), and the lowest key dropped is remembered as the cut: rows at or
 * above it can never be part of the result, whatever else arrives, so they
 * are not even rendered. Rows below the cut are all included, and the body
 * of those fits: the result is the longest prefix that fits, as promised,
 * and the same for any order of the same rows.
 *
 * As long as rows come in order, their lines are rendered straight into the
 * body, which is then the result as it stands; the first row out of order
 * moves each line to a place of its own.
 */
typedef enum RenderFormat
{
	RENDER_NDJSON,
	RENDER_CSV
} RenderFormat;

typedef struct RenderedRow
{
	TimestampTz logged_at;
	pg_uuid_t	id;
	int			len;			/* of line, without its newline */
	char	   *line;			/* NULL while the line is in the body */
} RenderedRow;

typedef struct RenderState
{
	MemoryContext context;
	RenderFormat format;
	int64		max_bytes;		/* -1: no bound */
	char	   *head;
	int			head_len;
	Oid			type;
	int			natts;
	int			logged_at_index;
	int			id_index;
	NdjsonColumns *ndjson;
	CsvColumns *csv;
	Datum	   *values;
	bool	   *nulls;
	/*
	 * In order: a text value being written (room for its varlena header,
	 * head, then each line and its newline). Out of order: unused.
	 */
	bool		in_order;
	StringInfoData body;
	StringInfoData line;		/* scratch: the row being rendered, out of order */
	RenderedRow *rows;
	int			count;
	int			capacity;
	int64		bytes;			/* of the body: head and each line with its newline */
	bool		cut;
	TimestampTz cut_logged_at;
	pg_uuid_t	cut_id;
} RenderState;

static int
key_compare(TimestampTz a_logged_at, const pg_uuid_t *a_id, TimestampTz b_logged_at, const pg_uuid_t *b_id)
{
	if (a_logged_at != b_logged_at)
		return a_logged_at < b_logged_at ? -1 : 1;
	return memcmp(a_id->data, b_id->data, UUID_LEN);
}

static RenderState *
render_state(FunctionCallInfo fcinfo, MemoryContext context)
{
	RenderState *state = MemoryContextAllocZero(context, sizeof(RenderState));
	MemoryContext old;
	char	   *format;

	if (PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("render_entries() needs a format")));
	format = text_to_cstring(PG_GETARG_TEXT_PP(2));
	if (strcmp(format, "ndjson") == 0)
		state->format = RENDER_NDJSON;
	else if (strcmp(format, "csv") == 0)
		state->format = RENDER_CSV;
	else
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unsupported page format \"%s\"", format),
				 errhint("Use ndjson or csv.")));
	state->max_bytes = -1;
	if (!PG_ARGISNULL(3))
	{
		state->max_bytes = PG_GETARG_INT32(3);
		if (state->max_bytes <= 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("max_bytes must be positive, or null for no bound")));
	}
	state->context = context;
	state->type = InvalidOid;
	state->in_order = true;
	state->capacity = 64;
	state->rows = MemoryContextAlloc(context, sizeof(RenderedRow) * state->capacity);
	old = MemoryContextSwitchTo(context);
	initStringInfo(&state->body);
	appendStringInfoSpaces(&state->body, VARHDRSZ);
	if (!PG_ARGISNULL(4))
	{
		text	   *head = PG_GETARG_TEXT_PP(4);

		state->head_len = VARSIZE_ANY_EXHDR(head);
		state->head = pnstrdup(VARDATA_ANY(head), state->head_len);
		appendBinaryStringInfo(&state->body, state->head, state->head_len);
	}
	state->bytes = state->head_len;
	MemoryContextSwitchTo(old);
	return state;
}

/* The columns of the entries' row type, the first time it is seen. */
static void
render_columns(RenderState *state, TupleDesc tupdesc, Oid type)
{
	if (state->type == type)
		return;
	if (state->type != InvalidOid)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("render_entries() got rows of two different types")));
	state->type = type;
	state->natts = tupdesc->natts;
	state->values = MemoryContextAlloc(state->context, sizeof(Datum) * tupdesc->natts);
	state->nulls = MemoryContextAlloc(state->context, sizeof(bool) * tupdesc->natts);
	state->logged_at_index = column_index(tupdesc, "logged_at");
	state->id_index = column_index(tupdesc, "id");
	if (TupleDescAttr(tupdesc, state->logged_at_index)->atttypid != TIMESTAMPTZOID ||
		TupleDescAttr(tupdesc, state->id_index)->atttypid != UUIDOID)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("render_entries() needs entries keyed by logged_at timestamptz and id uuid")));
	if (state->format == RENDER_NDJSON)
		state->ndjson = ndjson_columns(tupdesc, type, state->context);
	else
		state->csv = csv_columns(tupdesc, state->context);
}

static void
append_line(StringInfo buf, RenderState *state, TupleDesc tupdesc)
{
	if (state->format == RENDER_NDJSON)
		append_ndjson_line(buf, state->ndjson, tupdesc, state->values, state->nulls);
	else
		append_csv_line(buf, state->csv, state->values, state->nulls);
}

static void
set_cut(RenderState *state, TimestampTz logged_at, const pg_uuid_t *id)
{
	state->cut = true;
	state->cut_logged_at = logged_at;
	state->cut_id = *id;
}

static void
add_row(RenderState *state, int at, TimestampTz logged_at, const pg_uuid_t *id, int len, char *line)
{
	if (state->count == state->capacity)
	{
		state->capacity *= 2;
		state->rows = repalloc(state->rows, sizeof(RenderedRow) * state->capacity);
	}
	if (at < state->count)
		memmove(&state->rows[at + 1], &state->rows[at], sizeof(RenderedRow) * (state->count - at));
	state->rows[at].logged_at = logged_at;
	state->rows[at].id = *id;
	state->rows[at].len = len;
	state->rows[at].line = line;
	state->count++;
	state->bytes += len + 1;
}

/* The first row out of order: each line moves out of the body. */
static void
leave_order(RenderState *state)
{
	const char *p = state->body.data + VARHDRSZ + state->head_len;

	for (int i = 0; i < state->count; i++)
	{
		RenderedRow *row = &state->rows[i];

		row->line = MemoryContextAlloc(state->context, row->len);
		memcpy(row->line, p, row->len);
		p += row->len + 1;
	}
	pfree(state->body.data);
	state->body.data = NULL;
	state->in_order = false;
	{
		MemoryContext old = MemoryContextSwitchTo(state->context);

		initStringInfo(&state->line);
		MemoryContextSwitchTo(old);
	}
}

PG_FUNCTION_INFO_V1(auditlog_render_step);

Datum
auditlog_render_step(PG_FUNCTION_ARGS)
{
	MemoryContext context;
	RenderState *state;
	HeapTupleHeader record;
	Oid			type;
	TupleDesc	tupdesc;
	TimestampTz logged_at;
	pg_uuid_t	id;
	int			at;

	if (!AggCheckCallContext(fcinfo, &context))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("render_step() is the transition function of render_entries(), not to be called on its own")));
	state = PG_ARGISNULL(0) ? render_state(fcinfo, context) : (RenderState *) PG_GETARG_POINTER(0);
	if (PG_ARGISNULL(1))
		PG_RETURN_POINTER(state);

	record = PG_GETARG_HEAPTUPLEHEADER(1);
	type = HeapTupleHeaderGetTypeId(record);
	tupdesc = lookup_rowtype_tupdesc(type, HeapTupleHeaderGetTypMod(record));
	render_columns(state, tupdesc, type);
	deform_entry(record, tupdesc, state->values, state->nulls);
	if (state->nulls[state->logged_at_index] || state->nulls[state->id_index])
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("render_entries() got an entry without its logged_at or id")));
	logged_at = DatumGetTimestampTz(state->values[state->logged_at_index]);
	id = *DatumGetUUIDP(state->values[state->id_index]);

	/* At or past the cut: never part of the page. */
	if (state->cut && key_compare(logged_at, &id, state->cut_logged_at, &state->cut_id) >= 0)
	{
		ReleaseTupleDesc(tupdesc);
		PG_RETURN_POINTER(state);
	}

	/* Where it goes: mostly last, as rows come in key order. */
	at = state->count;
	if (at > 0 && key_compare(logged_at, &id, state->rows[at - 1].logged_at, &state->rows[at - 1].id) <= 0)
	{
		int			lo = 0,
					hi = state->count;

		while (lo < hi)
		{
			int			mid = lo + (hi - lo) / 2;

			if (key_compare(state->rows[mid].logged_at, &state->rows[mid].id, logged_at, &id) < 0)
				lo = mid + 1;
			else
				hi = mid;
		}
		at = lo;
		if (key_compare(logged_at, &id, state->rows[at].logged_at, &state->rows[at].id) == 0)
			ereport(ERROR,
					(errcode(ERRCODE_UNIQUE_VIOLATION),
					 errmsg("render_entries() got the entry %s twice",
							DatumGetCString(DirectFunctionCall1(uuid_out, UUIDPGetDatum(&id))))));
		if (state->in_order)
			leave_order(state);
	}

	if (state->in_order)
	{
		/* Written in place; taken back if it does not fit. */
		int			start = state->body.len;
		int			len;

		append_line(&state->body, state, tupdesc);
		ReleaseTupleDesc(tupdesc);
		len = state->body.len - start;
		if (at > 0 && state->max_bytes >= 0 && state->bytes + len + 1 > state->max_bytes)
		{
			state->body.len = start;
			state->body.data[start] = '\0';
			set_cut(state, logged_at, &id);
			PG_RETURN_POINTER(state);
		}
		appendStringInfoCharMacro(&state->body, '\n');
		add_row(state, at, logged_at, &id, len, NULL);
	}
	else
	{
		resetStringInfo(&state->line);
		append_line(&state->line, state, tupdesc);
		ReleaseTupleDesc(tupdesc);
		/* Last and too big for the page: it is the new cut, and that is all. */
		if (at == state->count && at > 0 && state->max_bytes >= 0 &&
			state->bytes + state->line.len + 1 > state->max_bytes)
		{
			set_cut(state, logged_at, &id);
			PG_RETURN_POINTER(state);
		}
		add_row(state, at, logged_at, &id, state->line.len,
				memcpy(MemoryContextAlloc(state->context, state->line.len), state->line.data, state->line.len));
		/* Too big now: drop from the top, each dropped key the new cut. */
		while (state->max_bytes >= 0 && state->bytes > state->max_bytes && state->count > 1)
		{
			RenderedRow *top = &state->rows[--state->count];

			state->bytes -= top->len + 1;
			set_cut(state, top->logged_at, &top->id);
			pfree(top->line);
		}
	}
	if (state->bytes > (int64) (MaxAllocSize - VARHDRSZ))
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("page body would exceed 1 GB"),
				 errdetail("Render pages with a bound on their bytes.")));
	PG_RETURN_POINTER(state);
}

PG_FUNCTION_INFO_V1(auditlog_render_final);

/*
 * → (rows, first_logged_at, first_id, last_logged_at, last_id, body); the
 * state is left as it was. A database still on 0.3.0's SQL (the library
 * installed, ALTER EXTENSION UPDATE not yet run) declares the result without
 * first_id: it gets that layout.
 */
Datum
auditlog_render_final(PG_FUNCTION_ARGS)
{
	RenderState *state = PG_ARGISNULL(0) ? NULL : (RenderState *) PG_GETARG_POINTER(0);
	TupleDesc	tupdesc;
	Datum		values[6];
	bool		nulls[6] = {false, false, false, false, false, false};
	bool		with_first_id;

	if (!AggCheckCallContext(fcinfo, NULL))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("render_final() is the final function of render_entries(), not to be called on its own")));
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "auditlog: render_final() must return a record");
	if (tupdesc->natts != 6 && tupdesc->natts != 5)
		elog(ERROR, "auditlog: render_final() returns %d columns, not 6", tupdesc->natts);
	with_first_id = tupdesc->natts == 6;

	if (state == NULL || state->count == 0)
	{
		values[0] = Int32GetDatum(0);
		nulls[1] = nulls[2] = nulls[3] = nulls[4] = nulls[5] = true;
	}
	else
	{
		RenderedRow *first = &state->rows[0];
		RenderedRow *last = &state->rows[state->count - 1];
		pg_uuid_t  *first_id = palloc(sizeof(pg_uuid_t));
		pg_uuid_t  *last_id = palloc(sizeof(pg_uuid_t));
		text	   *body;
		int			column = 0;

		if (state->in_order)
		{
			/* The body as written (its header set again each time: no change). */
			Assert(state->body.len == VARHDRSZ + state->bytes);
			body = (text *) state->body.data;
			SET_VARSIZE(body, VARHDRSZ + state->bytes);
		}
		else
		{
			char	   *p;

			body = palloc(VARHDRSZ + state->bytes);
			SET_VARSIZE(body, VARHDRSZ + state->bytes);
			p = VARDATA(body);
			if (state->head_len > 0)
				memcpy(p, state->head, state->head_len);
			p += state->head_len;
			for (int i = 0; i < state->count; i++)
			{
				memcpy(p, state->rows[i].line, state->rows[i].len);
				p += state->rows[i].len;
				*p++ = '\n';
			}
			Assert(p == VARDATA(body) + state->bytes);
		}
		*first_id = first->id;
		*last_id = last->id;
		values[column++] = Int32GetDatum(state->count);
		values[column++] = TimestampTzGetDatum(first->logged_at);
		if (with_first_id)
			values[column++] = UUIDPGetDatum(first_id);
		values[column++] = TimestampTzGetDatum(last->logged_at);
		values[column++] = UUIDPGetDatum(last_id);
		values[column++] = PointerGetDatum(body);
	}
	/* (heap_form_tuple copies the body into the result) */
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(tupdesc), values, nulls)));
}
