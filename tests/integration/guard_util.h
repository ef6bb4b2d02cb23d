/*
 * guard_util.h - what the guard and safety integration tests share:
 * reading a JSON reply, a string member, and the audit log through
 * `ajar audit export`. Include after check.h, http_harness.h and
 * spawn_util.h (everything is static).
 */
#ifndef AJAR_TESTS_GUARD_UTIL_H
#define AJAR_TESTS_GUARD_UTIL_H

/* The reply's body as JSON, failing the check (and giving {}) if it is not. */
static inline json_t *body_json(const struct http_resp *r)
{
	json_t *j = resp_json(r);
	CHECK_MSG(j != NULL, "not JSON (status %ld): %s", r->status, r->body);
	return j ? j : json_object();
}

/* Member k of o as a string, "" if absent or not a string. */
static inline const char *jstr(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "";
}

/* The store's whole audit log as JSON lines (caller frees). */
static inline char *audit_export(const char *store)
{
	const char *args[] = { "audit", "export", "--since", "0", "--store", store, NULL };
	struct run_result rr = ajar_spawn(args, NULL, 0);
	CHECK_MSG(rr.status == 0, "audit export: %d %s", rr.status, rr.err);
	return rr.out;
}

/* The exported row of request id (parsed; caller decrefs), or NULL. */
static inline json_t *export_row_of(const char *out, const char *id)
{
	const char *line = strstr(out, id);
	while (line && line > out && line[-1] != '\n')
		line--;
	return line ? json_loadb(line, strcspn(line, "\n"), 0, NULL) : NULL;
}

#endif
