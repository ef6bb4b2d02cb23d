/*
 * policy_int.h - what policy.c (the parser) and policy_public.c (the
 * public view) share: the names of the enumerated values.
 */
#ifndef AJAR_GUARD_POLICY_INT_H
#define AJAR_GUARD_POLICY_INT_H

#include "guard/policy.h"

/* Capability names by bit index; NULL-terminated. */
extern const char *const policy_cap_names[POLICY_CAP_COUNT + 1];
/* Detector actions by enum mod_action value ("off", "flag", "redact",
 * "block"); NULL-terminated. */
extern const char *const policy_action_names[];
/* PII types by bit index of pii_types ("email", ...); NULL-terminated. */
extern const char *const policy_pii_type_names[];

#endif
