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

static enum api_code
company_answer(struct api_call *c)
{
	struct employer e = { 0 };
	json_object *o = NULL, *editable = NULL;
	enum api_code code = API_INTERNAL;

	if (employer_get(c->api->db, c->sess.employer_id, &e) != 0)
		goto out;
	o = json_object_new_object();
	editable = json_object_new_array();
	if (!o || !editable || json_object_array_add(editable, json_object_new_string("email")) ||
	    api_set_str(o, "registro_patronal", e.registro_patronal) ||
	    api_set_str(o, "razon_social", e.razon_social) || api_set_str(o, "rfc", e.rfc) ||
	    api_set_str(o, "address", e.address) || api_set_str(o, "email", e.email))
		goto out;
	code = api_set(o, "editable", editable) == 0 ? API_OK : API_INTERNAL;
	editable = NULL;
	if (code == API_OK)
		code = api_reply_json(c, 200, o);
	o = NULL;
out:
	json_object_put(o);
	json_object_put(editable);
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
