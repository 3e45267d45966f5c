/* awsmfa-creds --role and --print-config; see role_creds.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>
#include <openssl/crypto.h>

#include "audit_json.h"
#include "aws/sts.h"
#include "creds.h"
#include "creds_print.h"
#include "creds_store.h"
#include "role_creds.h"
#include "roles_file.h"
#include "secure_file.h"

#define CACHE_MAX (64 * 1024)

/* STORE_DIR/UID.roles: in root's directory, this uid's and readable by
 * it alone (one left by an earlier version, root's and readable by the
 * user's group, is refused until the next login replaces it). */
static int
load_roles(const char *store_dir, const char *prog, struct amfa_roles_file *f)
{
	struct amfa_file_policy policy = { getuid(), 077, 256 * 1024 };
	char name[48], shown[4200], *buf;
	const char *why;
	size_t len;
	int top, r;

	if ((top = amfa_dir_open(store_dir, 0, 022)) < 0)
		return 1;
	snprintf(name, sizeof(name), "%u" AMFA_ROLES_SUFFIX,
	    (unsigned)getuid());
	snprintf(shown, sizeof(shown), "%s/%s", store_dir, name);
	r = amfa_file_read(top, name, shown, &policy, &buf, &len);
	close(top);
	if (r == -ENOENT) {
		fprintf(stderr,
		    "%s: no roles for you on this host (%s: none listed in "
		    "your enrolment, or no session with AWS credentials is "
		    "open); ask the administrator, or log in with MFA\n",
		    prog, shown);
		return 1;
	}
	if (r != 0) {
		fprintf(stderr,
		    "%s: %s: refused: it must be yours and readable by you "
		    "alone; log in again (with MFA) to have it written anew\n",
		    prog, shown);
		return 1;
	}
	r = amfa_roles_from_json(buf, f, &why);
	free(buf);
	if (r != 0) {
		fprintf(stderr, "%s: %s: %s\n", prog, shown, why);
		return 1;
	}
	if (f->uid != (unsigned)getuid()) {
		fprintf(stderr, "%s: %s is not for uid %u; refusing\n", prog,
		    shown, (unsigned)getuid());
		amfa_roles_file_free(f);
		return 1;
	}
	return 0;
}

static long
renew_margin(long duration)
{
	return duration / 3 < AMFA_ROLE_RENEW_MARGIN ?
	    duration / 3 :
	    AMFA_ROLE_RENEW_MARGIN;
}

static const char *
json_str(json_object *o, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/*
 * The cache of `role', if it checks out: 0 with *c filled and *duration the
 * DurationSeconds it was asked for; -ENOENT; or -1 with *why.
 */
static int
cache_read(int dir, const char *file, const char *shown,
    const struct amfa_role *role, const char *source, struct amfa_creds *c,
    long *duration, const char **why)
{
	struct amfa_file_policy policy = { getuid(), 077, CACHE_MAX };
	const char *name, *arn, *sink_why;
	json_object *o = NULL, *v;
	char *buf;
	size_t len, n;
	int r;

	memset(c, 0, sizeof(*c));
	r = amfa_file_read(dir, file, shown, &policy, &buf, &len);
	if (r == -ENOENT)
		return r;
	*why = "not a regular private file of yours with one link";
	if (r != 0)
		return -1;
	r = -1;
	*why = "not JSON";
	if ((o = json_tokener_parse(buf)) == NULL ||
	    !json_object_is_type(o, json_type_object))
		goto out;
	name = json_str(o, "Role");
	arn = json_str(o, "RoleArn");
	*why = "written for another role";
	if (name == NULL || arn == NULL || strcmp(name, role->name) != 0 ||
	    strcmp(arn, role->arn) != 0)
		goto out;
	/* Made with another MFA session (renewed since, or a new login):
	 * role credentials end with the session that signed for them. */
	*why = "made with another MFA session";
	if (json_str(o, "SourceAccessKeyId") == NULL ||
	    strcmp(json_str(o, "SourceAccessKeyId"), source) != 0)
		goto out;
	*why = "bad Duration";
	if (!json_object_object_get_ex(o, "Duration", &v) ||
	    !json_object_is_type(v, json_type_int) ||
	    (*duration = (long)json_object_get_int64(v)) < 900 ||
	    *duration > 43200)
		goto out;
	if (amfa_creds_from_json(buf, c, &sink_why) != 0) {
		*why = sink_why;
		goto out;
	}
	*why = "a malformed access key id, secret or token";
	n = strlen(c->access_key_id);
	if (n < 16 || n > 128 ||
	    strspn(c->access_key_id, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") !=
		n ||
	    !amfa_sts_field_ok(c->secret_access_key) ||
	    !amfa_sts_field_ok(c->session_token) ||
	    !amfa_sts_field_ok(c->expiration)) {
		amfa_creds_free(c);
		goto out;
	}
	r = 0;
out:
	/* json-c's copies of the secret and token, then the file's. */
	if (o != NULL) {
		const char *k[] = { "SecretAccessKey", "SessionToken" };

		for (size_t i = 0; i < 2; i++)
			if ((name = json_str(o, k[i])) != NULL)
				OPENSSL_cleanse((char *)name, strlen(name));
	}
	json_object_put(o);
	amfa_wipe_free(buf, len + 1);
	return r;
}

/* The cache document: credential_process JSON plus what it is for. */
static char *
cache_json(const struct amfa_role *role, long duration,
    const struct amfa_sts_credentials *rc, const char *source, size_t *len)
{
	json_object *o;
	const char *text;
	char *copy = NULL;
	size_t n;
	int bad = 0;

	if ((o = json_object_new_object()) == NULL)
		return NULL;
	bad |= json_object_object_add(o, "Version", json_object_new_int(1));
	bad |= amfa_json_add_str(o, "AccessKeyId", rc->access_key_id);
	bad |= amfa_json_add_str(o, "SecretAccessKey", rc->secret_access_key);
	bad |= amfa_json_add_str(o, "SessionToken", rc->session_token);
	bad |= amfa_json_add_str(o, "Expiration", rc->expiration);
	bad |= amfa_json_add_str(o, "Role", role->name);
	bad |= amfa_json_add_str(o, "RoleArn", role->arn);
	bad |= amfa_json_add_int(o, "Duration", duration);
	bad |= amfa_json_add_str(o, "AssumedRoleArn", rc->assumed_role_arn);
	bad |= amfa_json_add_str(o, "SourceAccessKeyId", source);
	bad |= amfa_json_add_str(o, "RequestId", rc->request_id);
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
		if (text != NULL)
			OPENSSL_cleanse((char *)text, strlen(text));
	}
	json_object_put(o);
	return copy;
}

/* One record per AssumeRole: syslog and standard error. */
static void
audit(const struct amfa_roles_file *f, const struct amfa_role *role,
    const char *source, const char *result, const char *reason,
    const struct amfa_sts_credentials *rc, const struct amfa_sts_error *err)
{
	char when[AMFA_AUDIT_TIME_LEN], *line = NULL;
	struct timespec now;
	json_object *o;
	int bad = 0;

	clock_gettime(CLOCK_REALTIME, &now);
	if (amfa_audit_time(&now, when) != 0 ||
	    (o = json_object_new_object()) == NULL)
		return;
	bad |= amfa_json_add_str(o, "time", when);
	bad |= amfa_json_add_str(o, "event", "assume_role");
	bad |= amfa_json_add_str(o, "result", result);
	bad |= amfa_json_add_str(o, "user", f->user);
	bad |= amfa_json_add_int(o, "uid", (int64_t)getuid());
	bad |= amfa_json_add_str(o, "iam_user", f->iam_user);
	bad |= amfa_json_add_str(o, "role", role->name);
	bad |= amfa_json_add_str(o, "role_arn", role->arn);
	bad |= amfa_json_add_str(o, "source_identity", f->iam_user);
	/* The MFA session that signed, and the role session it got. */
	bad |= amfa_json_add_str(o, "session_access_key_id", source);
	if (rc != NULL) {
		bad |= amfa_json_add_str(o, "access_key_id", rc->access_key_id);
		bad |= amfa_json_add_str(o, "assumed_role_arn",
		    rc->assumed_role_arn);
		bad |= amfa_json_add_str(o, "expiration", rc->expiration);
		bad |= amfa_json_add_str(o, "request_id", rc->request_id);
	}
	if (err != NULL) {
		bad |= amfa_json_add_str(o, "aws_code",
		    err->code[0] ? err->code : NULL);
		bad |= amfa_json_add_str(o, "request_id",
		    err->request_id[0] ? err->request_id : NULL);
	}
	bad |= amfa_json_add_str(o, "reason", reason);
	if (!bad)
		line = amfa_json_line(o);
	json_object_put(o);
	if (line == NULL)
		return;
	openlog("awsmfa-creds", LOG_PID, LOG_AUTHPRIV);
	syslog(LOG_NOTICE, "audit %s", line);
	closelog();
	fprintf(stderr, "awsmfa-creds: audit %s\n", line);
	free(line);
}

/* What to tell the user when AssumeRole did not give credentials. */
static void
explain(const char *prog, const struct amfa_roles_file *f,
    const struct amfa_role *role, enum amfa_sts_result r,
    const struct amfa_sts_error *err)
{
	switch (r) {
	case AMFA_STS_EXPIRED:
	case AMFA_STS_BAD_KEY:
		fprintf(stderr,
		    "%s: role %s: AWS no longer accepts the MFA session "
		    "(%s: %s); log in again with MFA\n",
		    prog, role->name, err->code, err->message);
		break;
	case AMFA_STS_DENIED:
		fprintf(stderr,
		    "%s: role %s (%s): AWS refused: %s: %s (the role's trust "
		    "policy must let IAM user %s in with MFA and allow "
		    "sts:SetSourceIdentity)\n",
		    prog, role->name, role->arn, err->code, err->message,
		    f->iam_user);
		break;
	case AMFA_STS_REFUSED:
		fprintf(stderr, "%s: role %s (%s): AWS refused: %s: %s\n", prog,
		    role->name, role->arn, err->code, err->message);
		break;
	default:
		fprintf(stderr, "%s: role %s (%s): %s\n", prog, role->name,
		    role->arn, amfa_sts_result_str(r));
		break;
	}
}

/* Call AssumeRole; on success cache and print.  The lock is held. */
static int
assume(int dir, const char *file, const char *shown,
    const struct amfa_roles_file *f, const struct amfa_role *role,
    const struct amfa_creds *mfa, const char *prog, FILE *out)
{
	struct amfa_aws_key key = { mfa->access_key_id, mfa->secret_access_key,
		mfa->session_token };
	struct amfa_sts_role_request req;
	struct amfa_sts_credentials rc;
	struct amfa_sts_config sc;
	struct amfa_sts_error err;
	struct amfa_creds c;
	enum amfa_sts_result r;
	const char *why;
	char *json;
	size_t len;
	long left = (long)(mfa->expires - time(NULL));
	int w;

	memset(&sc, 0, sizeof(sc));
	sc.endpoint = f->sts_endpoint;
	sc.region = f->region;
	sc.ca_file = f->ca_file;
	sc.timeout_ms = f->sts_timeout * 1000;
	memset(&req, 0, sizeof(req));
	req.role_arn = role->arn;
	req.session_name = f->iam_user;
	req.source_identity = f->iam_user;
	req.external_id = role->external_id;
	/* No longer than the MFA session, where AWS allows (900 s at least). */
	req.duration = role->duration;
	if (left < req.duration)
		req.duration = left < 900 ? 900 : left;
	r = amfa_sts_assume_role(&sc, &key, &req, &rc, &err);
	if (r != AMFA_STS_OK) {
		audit(f, role, mfa->access_key_id,
		    r == AMFA_STS_UNREACHABLE || r == AMFA_STS_TLS ||
			    r == AMFA_STS_MALFORMED || r == AMFA_STS_INTERNAL ?
			"error" :
			"denied",
		    amfa_sts_result_str(r), NULL, &err);
		explain(prog, f, role, r, &err);
		return 1;
	}
	audit(f, role, mfa->access_key_id, "ok", NULL, &rc, NULL);
	json = cache_json(role, req.duration, &rc, mfa->access_key_id, &len);
	if (json == NULL ||
	    (w = amfa_file_write_atomic(dir, file, json, len, 0600)) != 0) {
		fprintf(stderr,
		    "%s: %s: cannot cache the role credentials; serving "
		    "them uncached\n",
		    prog, shown);
	}
	if (amfa_creds_set(&c, rc.access_key_id, rc.secret_access_key,
		rc.session_token, rc.expiration, &why) != 0) {
		fprintf(stderr, "%s: role %s: %s\n", prog, role->name, why);
		w = 1;
	} else {
		w = amfa_creds_write(&c, prog, out);
		amfa_creds_free(&c);
	}
	if (json != NULL)
		amfa_wipe_free(json, len + 1);
	amfa_sts_credentials_free(&rc);
	return w;
}

/*
 * Serve the cache if it is fresh: 0 served, 1 not usable (said why when
 * `loud'), -1 could not print.
 */
static int
serve_cached(int dir, const char *file, const char *shown,
    const struct amfa_role *role, const char *source, int loud,
    const char *prog, FILE *out)
{
	struct amfa_creds c;
	const char *why = NULL;
	long duration = 0;
	int r;

	r = cache_read(dir, file, shown, role, source, &c, &duration, &why);
	if (r != 0) {
		if (r != -ENOENT && loud)
			fprintf(stderr,
			    "%s: %s: not used: %s; getting new "
			    "role credentials\n",
			    prog, shown, why);
		return 1;
	}
	if (c.expires - time(NULL) <= renew_margin(duration)) {
		amfa_creds_free(&c);
		return 1;
	}
	r = amfa_creds_write(&c, prog, out);
	amfa_creds_free(&c);
	return r == 0 ? 0 : -1;
}

int
amfa_creds_role(const char *store_dir, const char *name, const char *prog,
    FILE *out)
{
	struct amfa_roles_file f;
	const struct amfa_role *role = NULL;
	struct amfa_creds mfa;
	char path[4096], file[96], lock[96], shown[4300];
	int dir, lfd, r = 1;

	if (load_roles(store_dir, prog, &f) != 0)
		return 1;
	for (size_t i = 0; i < f.nroles && role == NULL; i++)
		if (strcmp(f.roles[i].name, name) == 0)
			role = &f.roles[i];
	if (role == NULL) {
		fprintf(stderr,
		    "%s: %s is not one of your roles on this host "
		    "(awsmfa-creds --print-config lists them)\n",
		    prog, name);
		goto out;
	}
	if ((dir = amfa_creds_open_store(store_dir, prog, path, sizeof(path))) <
	    0)
		goto out;
	/* No MFA session, no role credentials, cached or new: they end
	 * with it. */
	if (amfa_creds_read_session(dir, path, prog, &mfa) != 0) {
		fprintf(stderr,
		    "%s: role %s: nothing served without a valid MFA "
		    "session\n",
		    prog, role->name);
		close(dir);
		goto out;
	}
	snprintf(file, sizeof(file), AMFA_ROLE_CACHE_PREFIX "%s.json",
	    role->name);
	snprintf(lock, sizeof(lock), AMFA_ROLE_CACHE_PREFIX "%s.lock",
	    role->name);
	snprintf(shown, sizeof(shown), "%s/%s", path, file);
	if ((r = serve_cached(dir, file, shown, role, mfa.access_key_id, 0,
		 prog, out)) <= 0) {
		r = -r;
		goto done;
	}
	/* Renew under the lock; whoever waited finds the new cache. */
	lfd = amfa_lock_take(dir, lock, (int)f.sts_timeout * 1000 + 10000);
	if (lfd < 0) {
		fprintf(stderr, "%s: %s/%s: cannot lock: %s\n", prog, path,
		    lock, strerror(-lfd));
		r = 1;
		goto done;
	}
	if ((r = serve_cached(dir, file, shown, role, mfa.access_key_id, 1,
		 prog, out)) > 0)
		r = assume(dir, file, shown, &f, role, &mfa, prog, out);
	else
		r = -r;
	close(lfd);
done:
	amfa_creds_free(&mfa);
	close(dir);
out:
	amfa_roles_file_free(&f);
	return r;
}

/* This program's path, if it can stand unquoted in a profile. */
static void
self_path(char *buf, size_t n)
{
	ssize_t len = readlink("/proc/self/exe", buf, n - 1);

	/* readlink does not end the string: end it before looking at it. */
	if (len > 0 && (size_t)len < n - 1)
		buf[len] = '\0';
	if (len <= 0 || (size_t)len >= n - 1 ||
	    strspn(buf,
		"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		"0123456789/._+-") != (size_t)len)
		snprintf(buf, n, "awsmfa-creds");
}

int
amfa_creds_print_config(const char *store_dir, const char *extra,
    const char *prog, FILE *out)
{
	struct amfa_roles_file f;
	char self[4096];

	if (load_roles(store_dir, prog, &f) != 0)
		return 1;
	self_path(self, sizeof(self));
	fprintf(out,
	    "# Roles of IAM user %s on this host, assumed with the MFA "
	    "session\n# (paste into ~/.aws/config; awsmfa-creds --print-config)"
	    "\n",
	    f.iam_user);
	for (size_t i = 0; i < f.nroles; i++) {
		const struct amfa_role *r = &f.roles[i];

		fprintf(out,
		    "\n[profile %s]\n# %s\ncredential_process = %s%s%s "
		    "--role %s\nregion = %s\n",
		    r->name, r->arn, self, extra ? " " : "", extra ? extra : "",
		    r->name, r->region ? r->region : f.region);
	}
	amfa_roles_file_free(&f);
	return fflush(out) == 0 ? 0 : 1;
}
