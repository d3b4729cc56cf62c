/* json-set: see json-set.h. */
#include "json-set.h"

int
json_set(json_object *obj, const char *key, json_object *value)
{
	if (!value)
		return -1;
	if (json_object_object_add(obj, key, value) != 0) {
		json_object_put(value);
		return -1;
	}
	return 0;
}

int
json_set_str(json_object *obj, const char *key, const char *value)
{
	if (!value)
		return json_object_object_add(obj, key, NULL) == 0 ? 0 : -1;
	return json_set(obj, key, json_object_new_string(value));
}
