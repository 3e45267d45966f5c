/* awsmfa-evidence's configuration: see evidence_conf.h. */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "conffile.h"
#include "evidence_conf.h"
#include "log.h"
#include "secure_file.h"

const char *const amfa_evidence_lock_modes[] = { "COMPLIANCE", "GOVERNANCE",
	NULL };
static const char *const yes_no[] = { "no", "yes", NULL };

static const char *
check_abs_path(const char *v)
{
	if (v[0] != '/')
		return "must be an absolute path";
	for (const char *c = v; (c = strstr(c, "..")) != NULL; c += 2)
		if (c[-1] == '/' && (c[2] == '/' || c[2] == '\0'))
			return "must not contain \"..\"";
	return NULL;
}

static const char *
check_url(const char *v)
{
	size_t n = strlen(v);

	if (strncmp(v, "https://", 8) != 0 && strncmp(v, "http://", 7) != 0)
		return "must be an http(s):// URL";
	if (v[n - 1] == '/')
		return "must not end with '/'";
	if (strpbrk(v, "?# \t") != NULL)
		return "must be a plain URL (no query, fragment or blank)";
	return NULL;
}

/* Names in object keys: letters, digits, '.', '-', '_' (and '/' in the
 * prefix). */
static const char *
check_name(const char *v)
{
	if (v[0] == '\0' ||
	    v[strspn(v,
		"abcdefghijklmnopqrstuvwxyz"
		"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")] != '\0')
		return "may hold only letters, digits, '.', '-' and '_'";
	return NULL;
}

static const char *
check_prefix(const char *v)
{
	if (v[strspn(v,
		"abcdefghijklmnopqrstuvwxyz"
		"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-/")] != '\0' ||
	    v[0] == '/' || strstr(v, "//") != NULL)
		return "may hold only letters, digits, '.', '-', '_' and '/' "
		       "(not first, not twice)";
	return NULL;
}

#define OFF(f) offsetof(struct amfa_evidence_conf, f)
#define STR(k, f, chk)                                               \
	{                                                            \
		k, AMFA_OPT_STRING, OFF(f), 0, 0, NULL, 0, NULL, chk \
	}
#define NUM(k, f, lo, hi)                                            \
	{                                                            \
		k, AMFA_OPT_INT, OFF(f), lo, hi, NULL, 0, NULL, NULL \
	}
static const struct amfa_opt opts[] = {
	STR("bucket_url", bucket_url, check_url),
	STR("region", region, check_name),
	STR("key_prefix", key_prefix, check_prefix),
	STR("host", host, check_name),
	{ "retention_mode", AMFA_OPT_CHOICE, OFF(retention_mode), 0, 0,
	    amfa_evidence_lock_modes, 0, NULL, NULL },
	NUM("retention_days", retention_days, 1, 36500),
	STR("audit_log", audit_log, check_abs_path),
	STR("recording_dir", recording_dir, check_abs_path),
	STR("spool_dir", spool_dir, check_abs_path),
	NUM("segment_seconds", segment_seconds, 1, 86400),
	{ "remove_after_upload", AMFA_OPT_CHOICE, OFF(remove_after_upload), 0,
	    0, yes_no, 0, NULL, NULL },
	STR("key_file", key_file, check_abs_path),
	STR("imds_endpoint", imds_endpoint, check_url),
	STR("cred_cache", cred_cache, check_abs_path),
	STR("ca_file", ca_file, check_abs_path),
	NUM("poll_seconds", poll_seconds, 1, 3600),
	NUM("backoff_max_seconds", backoff_max_seconds, 1, 86400),
	NUM("upload_timeout_seconds", upload_timeout_seconds, 1, 3600),
};
#define NOPTS (sizeof(opts) / sizeof(opts[0]))

int
amfa_evidence_conf_load(const char *path, uid_t owner,
    struct amfa_evidence_conf *c)
{
	struct amfa_file_policy policy = { owner, 022, AMFA_CONF_MAX_SIZE };
	char *buf, host[256];
	size_t len;
	int r;

	memset(c, 0, sizeof(*c));
	c->retention_days = 365;
	c->segment_seconds = 300;
	c->poll_seconds = 10;
	c->backoff_max_seconds = 300;
	c->upload_timeout_seconds = 120;
	if (path[0] != '/') {
		amfa_log(LOG_ERR, "%s: config path must be absolute", path);
		return -1;
	}
	r = amfa_file_read(AT_FDCWD, path, path, &policy, &buf, &len);
	if (r == -ENOENT)
		amfa_log(LOG_ERR, "%s: no such file", path);
	if (r != 0)
		return -1;
	r = amfa_conf_parse(buf, len, path, opts, NOPTS, c);
	amfa_wipe_free(buf, len);
	if (r != 0) {
		amfa_evidence_conf_free(c);
		return -1;
	}
	if (c->bucket_url == NULL || c->region == NULL ||
	    c->spool_dir == NULL) {
		amfa_log(LOG_ERR,
		    "%s: bucket_url, region and spool_dir are "
		    "required",
		    path);
		amfa_evidence_conf_free(c);
		return -1;
	}
	if (c->audit_log == NULL && c->recording_dir == NULL) {
		amfa_log(LOG_ERR,
		    "%s: neither audit_log nor recording_dir: "
		    "nothing to upload",
		    path);
		amfa_evidence_conf_free(c);
		return -1;
	}
	if (c->key_prefix == NULL && (c->key_prefix = strdup("")) == NULL)
		r = -1;
	if (c->host == NULL) {
		if (gethostname(host, sizeof(host)) != 0 ||
		    check_name(host) != NULL) {
			amfa_log(LOG_ERR,
			    "%s: the host name cannot go in a "
			    "key: set host",
			    path);
			r = -1;
		} else if ((c->host = strdup(host)) == NULL)
			r = -1;
	}
	if (r != 0)
		amfa_evidence_conf_free(c);
	return r;
}

void
amfa_evidence_conf_free(struct amfa_evidence_conf *c)
{
	amfa_conf_free(opts, NOPTS, c);
}
