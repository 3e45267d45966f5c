/* Roles and the roles file; see roles_file.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "config.h"
#include "roles_file.h"

#define ALNUM                                                  \
	"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ" \
	"0123456789"

const char *
amfa_role_check_name(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > 64 || strspn(name, ALNUM "_.-") != n ||
	    name[0] == '.' || name[0] == '-')
		return "a role name is 1 to 64 of [A-Za-z0-9_.-], not "
		       "starting with '.' or '-'";
	return NULL;
}

/*
 * arn:aws|aws-cn|aws-us-gov:iam::ACCOUNT:role/[PATH/]NAME: a path of
 * printable characters between slashes, a name of [\w+=,.@-]{1,64}, 2048
 * characters at most (IAM's limits).
 */
const char *
amfa_role_check_arn(const char *arn)
{
	static const char *const partitions[] = { "arn:aws:iam::",
		"arn:aws-cn:iam::", "arn:aws-us-gov:iam::" };
	const char *p = NULL, *name;
	size_t n = strlen(arn);

	for (size_t i = 0; i < 3 && p == NULL; i++)
		if (strncmp(arn, partitions[i], strlen(partitions[i])) == 0)
			p = arn + strlen(partitions[i]);
	if (p == NULL || n > 2048)
		goto bad;
	if (strspn(p, "0123456789") != 12 || strncmp(p + 12, ":role/", 6) != 0)
		goto bad;
	p += 18;
	for (const char *c = p; *c != '\0'; c++)
		if (*c < 0x21 || *c > 0x7e)
			goto bad;
	name = strrchr(p, '/');
	name = name ? name + 1 : p;
	n = strlen(name);
	if (n == 0 || n > 64 || strspn(name, ALNUM "_+=,.@-") != n)
		goto bad;
	return NULL;
bad:
	return "not a role ARN (arn:aws:iam::ACCOUNT:role/NAME)";
}

const char *
amfa_role_check_external_id(const char *id)
{
	size_t n = strlen(id);

	if (n < 2 || n > 1224 || strspn(id, ALNUM "_+=,.@:/-") != n)
		return "an external id is 2 to 1224 of [A-Za-z0-9_+=,.@:/-]";
	return NULL;
}

static const char *
check_duration(long d)
{
	return d < 900 || d > 43200 ?
	    "duration must be 900 to 43200 seconds" :
	    NULL;
}

void
amfa_role_free(struct amfa_role *r)
{
	free(r->name);
	free(r->arn);
	free(r->external_id);
	free(r->region);
	memset(r, 0, sizeof(*r));
}

/* One "key=value" option of a role line. */
static int
role_option(char *word, struct amfa_role *r, const char **why)
{
	char *eq = strchr(word, '='), *end;
	const char *v;

	if (eq == NULL) {
		*why = "expected NAME ARN [duration=S] [external_id=ID] "
		       "[region=R]";
		return -1;
	}
	*eq = '\0';
	v = eq + 1;
	if (strcmp(word, "duration") == 0 && r->duration == 0) {
		r->duration = strtol(v, &end, 10);
		if (*v == '\0' || *end != '\0' ||
		    (*why = check_duration(r->duration)) != NULL) {
			*why = "duration must be 900 to 43200 seconds";
			return -1;
		}
		return 0;
	}
	if (strcmp(word, "external_id") == 0 && r->external_id == NULL) {
		if ((*why = amfa_role_check_external_id(v)) != NULL)
			return -1;
		return (r->external_id = strdup(v)) ? 0 : -1;
	}
	if (strcmp(word, "region") == 0 && r->region == NULL) {
		if ((*why = amfa_check_region(v)) != NULL)
			return -1;
		return (r->region = strdup(v)) ? 0 : -1;
	}
	*why = "unknown or repeated option (duration=, external_id=, region=)";
	return -1;
}

int
amfa_role_parse(const char *value, struct amfa_role *r, const char **why)
{
	char *copy, *save = NULL, *w;
	int n = 0, rc = -1;

	memset(r, 0, sizeof(*r));
	*why = "out of memory";
	if ((copy = strdup(value)) == NULL)
		return -1;
	for (w = strtok_r(copy, " \t", &save); w != NULL;
	     w = strtok_r(NULL, " \t", &save), n++) {
		if (n == 0) {
			if ((*why = amfa_role_check_name(w)) != NULL ||
			    (r->name = strdup(w)) == NULL)
				goto out;
		} else if (n == 1) {
			if ((*why = amfa_role_check_arn(w)) != NULL ||
			    (r->arn = strdup(w)) == NULL)
				goto out;
		} else if (role_option(w, r, why) != 0)
			goto out;
	}
	if (n < 2) {
		*why = "expected NAME ARN [duration=S] [external_id=ID] "
		       "[region=R]";
		goto out;
	}
	if (r->duration == 0)
		r->duration = AMFA_ROLE_DEFAULT_DURATION;
	*why = NULL;
	rc = 0;
out:
	/* The external id is no secret, but it stays out of messages. */
	free(copy);
	if (rc != 0)
		amfa_role_free(r);
	return rc;
}

static int
add_str(json_object *o, const char *key, const char *v)
{
	if (v == NULL)
		return 0;
	return json_object_object_add(o, key, json_object_new_string(v));
}

char *
amfa_roles_to_json(const struct amfa_roles_file *f, size_t *len)
{
	json_object *o, *list, *r;
	const char *text;
	char *copy = NULL;
	size_t n;
	int bad = 0;

	if ((o = json_object_new_object()) == NULL)
		return NULL;
	if ((list = json_object_new_array()) == NULL) {
		json_object_put(o);
		return NULL;
	}
	bad |= json_object_object_add(o, "version", json_object_new_int(1));
	bad |= json_object_object_add(o, "uid",
	    json_object_new_int64((int64_t)f->uid));
	bad |= add_str(o, "user", f->user);
	bad |= add_str(o, "iam_user", f->iam_user);
	bad |= add_str(o, "sts_endpoint", f->sts_endpoint);
	bad |= add_str(o, "region", f->region);
	bad |= add_str(o, "ca_file", f->ca_file);
	bad |= json_object_object_add(o, "sts_timeout",
	    json_object_new_int64(f->sts_timeout));
	bad |= json_object_object_add(o, "roles", list);
	for (size_t i = 0; i < f->nroles && !bad; i++) {
		const struct amfa_role *x = &f->roles[i];

		if ((r = json_object_new_object()) == NULL) {
			bad = 1;
			break;
		}
		bad |= add_str(r, "name", x->name);
		bad |= add_str(r, "arn", x->arn);
		bad |= json_object_object_add(r, "duration",
		    json_object_new_int64(x->duration));
		bad |= add_str(r, "external_id", x->external_id);
		bad |= add_str(r, "region", x->region);
		bad |= json_object_array_add(list, r);
	}
	if (!bad) {
		text = json_object_to_json_string_length(o,
		    JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE,
		    &n);
		if (text != NULL && (copy = malloc(n + 2)) != NULL) {
			memcpy(copy, text, n);
			copy[n++] = '\n';
			copy[n] = '\0';
			*len = n;
		}
	}
	json_object_put(o);
	return copy;
}

static const char *
get_str(json_object *o, const char *key, int required, char **out,
    const char *why)
{
	json_object *v;

	*out = NULL;
	if (!json_object_object_get_ex(o, key, &v))
		return required ? why : NULL;
	if (!json_object_is_type(v, json_type_string))
		return why;
	if ((*out = strdup(json_object_get_string(v))) == NULL)
		return "out of memory";
	return NULL;
}

static const char *
get_long(json_object *o, const char *key, long *out)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_int))
		return "a number is missing";
	*out = (long)json_object_get_int64(v);
	return NULL;
}

static const char *
take_role(json_object *o, struct amfa_role *r)
{
	const char *why;

	if (!json_object_is_type(o, json_type_object))
		return "a role is not an object";
	if ((why = get_str(o, "name", 1, &r->name, "a role has no name")) ||
	    (why = amfa_role_check_name(r->name)) ||
	    (why = get_str(o, "arn", 1, &r->arn, "a role has no arn")) ||
	    (why = amfa_role_check_arn(r->arn)) ||
	    (why = get_long(o, "duration", &r->duration)) ||
	    (why = check_duration(r->duration)) ||
	    (why = get_str(o, "external_id", 0, &r->external_id,
		 "bad external_id")) ||
	    (r->external_id &&
		(why = amfa_role_check_external_id(r->external_id))) ||
	    (why = get_str(o, "region", 0, &r->region, "bad region")) ||
	    (r->region && (why = amfa_check_region(r->region))))
		return why;
	return NULL;
}

int
amfa_roles_from_json(const char *buf, struct amfa_roles_file *f,
    const char **why)
{
	json_object *o, *v, *list;
	long uid, version;
	size_t n;

	memset(f, 0, sizeof(*f));
	*why = "not JSON";
	if ((o = json_tokener_parse(buf)) == NULL)
		return -1;
	*why = "not a roles file";
	if (!json_object_is_type(o, json_type_object) ||
	    get_long(o, "version", &version) != NULL || version != 1 ||
	    get_long(o, "uid", &uid) != NULL || uid < 0 || uid > 0x7fffffff)
		goto fail;
	f->uid = (unsigned)uid;
	if ((*why = get_str(o, "user", 1, &f->user, "no user")) ||
	    (*why = get_str(o, "iam_user", 1, &f->iam_user, "no iam_user")) ||
	    (*why = get_str(o, "sts_endpoint", 1, &f->sts_endpoint,
		 "no sts_endpoint")) ||
	    (*why = amfa_check_endpoint(f->sts_endpoint)) ||
	    (*why = get_str(o, "region", 1, &f->region, "no region")) ||
	    (*why = amfa_check_region(f->region)) ||
	    (*why = get_str(o, "ca_file", 0, &f->ca_file, "bad ca_file")) ||
	    (*why = get_long(o, "sts_timeout", &f->sts_timeout)))
		goto fail;
	*why = "sts_timeout out of range";
	if (f->sts_timeout < 1 || f->sts_timeout > 120)
		goto fail;
	*why = "no list of roles";
	if (!json_object_object_get_ex(o, "roles", &list) ||
	    !json_object_is_type(list, json_type_array))
		goto fail;
	n = json_object_array_length(list);
	*why = "too many roles";
	if (n > AMFA_ROLES_MAX)
		goto fail;
	if (n > 0 && (f->roles = calloc(n, sizeof(*f->roles))) == NULL)
		goto fail;
	for (size_t i = 0; i < n; i++) {
		v = json_object_array_get_idx(list, i);
		f->nroles = i + 1;
		if ((*why = take_role(v, &f->roles[i])) != NULL)
			goto fail;
	}
	json_object_put(o);
	*why = NULL;
	return 0;
fail:
	json_object_put(o);
	amfa_roles_file_free(f);
	return -1;
}

void
amfa_roles_file_free(struct amfa_roles_file *f)
{
	for (size_t i = 0; i < f->nroles; i++)
		amfa_role_free(&f->roles[i]);
	free(f->roles);
	free(f->user);
	free(f->iam_user);
	free(f->sts_endpoint);
	free(f->region);
	free(f->ca_file);
	memset(f, 0, sizeof(*f));
}
