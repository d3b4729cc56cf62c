/*
 * imss-renew-service: GET and PATCH /company.  Only the e-mail can be
 * changed; any other field of the company is refused (FIELD_READ_ONLY).
 */
#include <string.h>

#include "api.h"
#include "employers.h"

static const char *const read_only[] = {
	"registro_patronal", "razon_social", "rfc", "address", "editable", NULL,
};

/* The fields a client may change: ["email"]. */
static json_object *
editable_fields(void)
{
	json_object *a = json_object_new_array();

	if (a && json_object_array_add(a, json_object_new_string("email")) != 0) {
		json_object_put(a);
		a = NULL;
	}
	return a;
}

static json_object *
company_json(const struct employer *e)
{
	json_object *o = json_object_new_object();

	if (!o || api_set_str(o, "registro_patronal", e->registro_patronal) ||
	    api_set_str(o, "razon_social", e->razon_social) || api_set_str(o, "rfc", e->rfc) ||
	    api_set_str(o, "address", e->address) || api_set_str(o, "email", e->email) ||
	    api_set(o, "editable", editable_fields())) {
		json_object_put(o);
		o = NULL;
	}
	return o;
}

static enum api_code
company_answer(struct api_call *c)
{
	struct employer e = { 0 };
	enum api_code code = API_INTERNAL;

	if (employer_get(c->api->db, c->sess.employer_id, &e) == 0)
		code = api_reply_json(c, 200, company_json(&e));
	employer_clear(&e);
	return code;
}

enum api_code
api_get_company(struct api_call *c)
{
	return company_answer(c);
}

/* Every member must be "email"; company fields are read-only, others unknown. */
static enum api_code
check_members(struct api_call *c)
{
	const char *const *r;

	json_object_object_foreach(c->body, key, val)
	{
		(void)val;
		if (strcmp(key, "email") == 0)
			continue;
		c->field = key;
		for (r = read_only; *r; r++)
			if (strcmp(*r, key) == 0)
				return API_FIELD_READ_ONLY;
		return API_FIELD_UNKNOWN;
	}
	return API_OK;
}

enum api_code
api_patch_company(struct api_call *c)
{
	const char *email;
	enum api_code code;

	code = check_members(c);
	if (code == API_OK)
		code = api_json_string(c, "email", 128, &email, NULL);
	if (code != API_OK)
		return code;
	if (!employer_valid_email(email)) {
		c->field = "email";
		return API_FIELD_INVALID;
	}
	if (employer_set_email(c->api->db, c->sess.employer_id, email) != 0)
		return API_INTERNAL;
	return company_answer(c);
}
