/*
 * json-set: adding a member to a json-c object, for the tool's output and
 * the service's answers alike.  A helper both programs link (src/common,
 * below them, beside the library: it includes nothing of the project).
 */
#ifndef IMSS_JSON_SET_H
#define IMSS_JSON_SET_H

#include <json-c/json.h>

/* Add value (taken, freed on failure) as key; a NULL value (a failed
 * json_object_new_*()) fails.  0 or -1. */
int json_set(json_object *obj, const char *key, json_object *value);

/* Add a string, or JSON null for a NULL value.  0 or -1. */
int json_set_str(json_object *obj, const char *key, const char *value);

#endif
