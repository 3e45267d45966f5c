/* awsmfa.conf; see config.h. */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "conffile.h"
#include "config.h"
#include "factors/totp.h"
#include "log.h"
#include "secure_file.h"

static const char *
check_abs_path(const char *v)
{
	if (v[0] != '/')
		return "must be an absolute path";
	for (const char *c = v; (c = strstr(c, "..")) != NULL; c += 2) {
		if (c[-1] == '/' && (c[2] == '/' || c[2] == '\0'))
			return "must not contain \"..\"";
	}
	return NULL;
}

/* "none", or where a socket's address can name it. */
static const char *
check_netd_socket(const char *v)
{
	if (strcmp(v, "none") == 0)
		return NULL;
	if (strlen(v) >= 108)
		return "must be shorter than 108 bytes (a socket's address)";
	return check_abs_path(v);
}

const char *const amfa_verify_names[] = { "local", "sts", "local+sts", NULL };
static const char *const failmodes[] = { "secure", "safe", NULL };
static const char *const recovery_sts_names[] = { "refuse", "login", NULL };
const char *const amfa_yes_no[] = { "no", "yes", NULL };
const char *const amfa_backend_names[] = { "files", "dynamodb", NULL };

const char *
amfa_check_region(const char *v)
{
	size_t n = strlen(v);

	if (n == 0 || n > 32 ||
	    strspn(v, "abcdefghijklmnopqrstuvwxyz0123456789-") != n)
		return "not a valid AWS region name";
	return NULL;
}

static int
loopback_host(const char *h, size_t n)
{
	return (n == 9 && strncmp(h, "127.0.0.1", 9) == 0) ||
	    (n == 9 && strncmp(h, "localhost", 9) == 0) ||
	    (n == 5 && strncmp(h, "[::1]", 5) == 0);
}

const char *
amfa_check_endpoint(const char *url)
{
	const char *host, *end;

	if (strncmp(url, "https://", 8) == 0)
		host = url + 8;
	else if (strncmp(url, "http://", 7) == 0)
		host = url + 7;
	else
		return "must start with https://";
	if (strpbrk(url, " \t\"'<>\\^`{|}") != NULL ||
	    strchr(host, '@') != NULL)
		return "not a plain URL";
	end = host + strcspn(host, ":/?#");
	if (host[0] == '[')
		end = strchr(host, ']') ? strchr(host, ']') + 1 : host;
	if (end == host)
		return "has no host";
	if (url[4] == ':' && !loopback_host(host, (size_t)(end - host)))
		return "plain http is only allowed to 127.0.0.1, localhost or [::1]";
	return NULL;
}

/* DynamoDB table names: [A-Za-z0-9_.-], 3 to 255 characters. */
static const char *
check_table(const char *v)
{
	size_t n = strlen(v);

	if (n < 3 || n > 255 ||
	    strspn(v,
		"ABCDEFGHIJKLMNOPQRSTUVWXYZ"
		"abcdefghijklmnopqrstuvwxyz0123456789._-") != n)
		return "not a valid DynamoDB table name ([A-Za-z0-9._-], 3 to "
		       "255 characters)";
	return NULL;
}

/*
 * The instance metadata service: its own addresses (plain http, link-local
 * and not routed), or an endpoint as amfa_check_endpoint takes them (tests
 * on loopback).
 */
static const char *
check_imds_endpoint(const char *v)
{
	static const char *const own[] = { "http://169.254.169.254",
		"http://[fd00:ec2::254]" };

	for (size_t i = 0; i < sizeof(own) / sizeof(own[0]); i++) {
		size_t n = strlen(own[i]);
		if (strncmp(v, own[i], n) == 0 &&
		    (v[n] == '\0' || v[n] == '/' || v[n] == ':'))
			return strpbrk(v, " \t\"'<>\\^`{|}@") != NULL ?
			    "not a plain URL" :
			    NULL;
	}
	return amfa_check_endpoint(v);
}

/* Yubico client ids: [A-Za-z0-9._-], as ykval.h takes them. */
static const char *
check_client_id(const char *v)
{
	size_t n = strlen(v);

	if (n < 1 || n > 64 ||
	    strspn(v,
		"ABCDEFGHIJKLMNOPQRSTUVWXYZ"
		"abcdefghijklmnopqrstuvwxyz0123456789._-") != n)
		return "not a valid client id";
	return NULL;
}

/* yubikey_validation = URL [URL...]: each an acceptable endpoint. */
static int
parse_yk_urls(void *obj, const struct amfa_opt *opt, const char *value,
    const char *where)
{
	struct amfa_config *cfg = obj;
	char *copy, *url, *save = NULL;
	const char *why;
	int n = 0, rc = -1;

	if ((copy = strdup(value)) == NULL ||
	    (cfg->yk_urls = calloc(AMFA_YK_MAX_URLS + 1, sizeof(char *))) ==
		NULL) {
		amfa_log(LOG_ERR, "%s: out of memory", where);
		goto out;
	}
	for (url = strtok_r(copy, " \t", &save); url != NULL;
	     url = strtok_r(NULL, " \t", &save)) {
		if (n == AMFA_YK_MAX_URLS) {
			amfa_log(LOG_ERR, "%s: %s: at most %d servers", where,
			    opt->key, AMFA_YK_MAX_URLS);
			goto out;
		}
		if ((why = amfa_check_endpoint(url)) != NULL) {
			amfa_log(LOG_ERR, "%s: %s: server %d: %s", where,
			    opt->key, n + 1, why);
			goto out;
		}
		if ((cfg->yk_urls[n++] = strdup(url)) == NULL) {
			amfa_log(LOG_ERR, "%s: out of memory", where);
			goto out;
		}
	}
	rc = 0;
out:
	free(copy);
	return rc;
}

/* What the YubiKey validation keys must add up to. */
static int
check_yk(const struct amfa_config *cfg, const char *shown)
{
	if (cfg->yk_urls == NULL) {
		if (cfg->yk_client_id != NULL || cfg->yk_api_key_file != NULL) {
			amfa_log(LOG_ERR,
			    "%s: yubikey_client_id and "
			    "yubikey_api_key_file need yubikey_validation",
			    shown);
			return -1;
		}
		return 0;
	}
	if (cfg->yk_client_id == NULL) {
		amfa_log(LOG_ERR,
		    "%s: yubikey_validation needs "
		    "yubikey_client_id",
		    shown);
		return -1;
	}
	for (int i = 0; cfg->yk_urls[i] != NULL; i++) {
		/* Neither TLS nor a signature would vouch for the answer. */
		if (strncmp(cfg->yk_urls[i], "http://", 7) == 0 &&
		    cfg->yk_api_key_file == NULL) {
			amfa_log(LOG_ERR,
			    "%s: yubikey_validation: a plain "
			    "http server needs yubikey_api_key_file",
			    shown);
			return -1;
		}
	}
	return 0;
}

const char *const amfa_enrolment_names[] = { "files", "table", NULL };

/* A KMS key: its id, ARN or alias (alias/NAME, or the alias's ARN). */
static const char *
check_kms_key(const char *v)
{
	size_t n = strlen(v);

	if (n < 1 || n > 2048 ||
	    strspn(v,
		"ABCDEFGHIJKLMNOPQRSTUVWXYZ"
		"abcdefghijklmnopqrstuvwxyz0123456789:/_-.") != n)
		return "not a KMS key id, ARN or alias";
	return NULL;
}

/* What the enrolment keys must add up to. */
static int
check_enrolment_keys(const struct amfa_config *cfg, const char *shown)
{
	if (cfg->enrolment == AMFA_ENROL_TABLE) {
		if (cfg->state_backend != AMFA_BACKEND_DYNAMODB ||
		    cfg->kms_key_id == NULL) {
			amfa_log(LOG_ERR,
			    "%s: enrolment = table needs state_backend = "
			    "dynamodb and kms_key_id",
			    shown);
			return -1;
		}
		return 0;
	}
	if (cfg->kms_key_id != NULL || cfg->kms_endpoint != NULL) {
		amfa_log(LOG_ERR,
		    "%s: kms_key_id and kms_endpoint need enrolment = table",
		    shown);
		return -1;
	}
	return 0;
}

/* What the state table keys must add up to. */
static int
check_table_keys(const struct amfa_config *cfg, const char *shown)
{
	if (cfg->state_backend == AMFA_BACKEND_DYNAMODB) {
		if (cfg->ddb_table == NULL) {
			amfa_log(LOG_ERR,
			    "%s: state_backend = dynamodb needs dynamodb_table",
			    shown);
			return -1;
		}
		return 0;
	}
	if (cfg->ddb_table != NULL || cfg->ddb_endpoint != NULL ||
	    cfg->ddb_region != NULL || cfg->ddb_key_file != NULL ||
	    cfg->imds_endpoint != NULL) {
		amfa_log(LOG_ERR,
		    "%s: dynamodb_* and imds_endpoint need state_backend = "
		    "dynamodb (the state is in files here)",
		    shown);
		return -1;
	}
	return 0;
}

#define OFF(f) offsetof(struct amfa_config, f)
static const struct amfa_opt config_opts[] = {
	{ "users_dir", AMFA_OPT_STRING, OFF(users_dir), 0, 0, NULL, 0, NULL,
	    check_abs_path },
	{ "state_dir", AMFA_OPT_STRING, OFF(state_dir), 0, 0, NULL, 0, NULL,
	    check_abs_path },
	{ "window", AMFA_OPT_INT, OFF(window), 0, AMFA_TOTP_MAX_WINDOW, NULL, 0,
	    NULL, NULL },
	{ "lockout_attempts", AMFA_OPT_INT, OFF(lockout_attempts), 1, 1000,
	    NULL, 0, NULL, NULL },
	{ "lockout_seconds", AMFA_OPT_INT, OFF(lockout_seconds), 1, 7 * 86400,
	    NULL, 0, NULL, NULL },
	{ "verify", AMFA_OPT_CHOICE, OFF(verify), 0, 0, amfa_verify_names, 0,
	    NULL, NULL },
	{ "failmode", AMFA_OPT_CHOICE, OFF(failmode), 0, 0, failmodes, 0, NULL,
	    NULL },
	{ "session_duration", AMFA_OPT_INT, OFF(session_duration), 900, 129600,
	    NULL, 0, NULL, NULL },
	{ "region", AMFA_OPT_STRING, OFF(region), 0, 0, NULL, 0, NULL,
	    amfa_check_region },
	{ "sts_endpoint", AMFA_OPT_STRING, OFF(sts_endpoint), 0, 0, NULL, 0,
	    NULL, amfa_check_endpoint },
	{ "sts_timeout", AMFA_OPT_INT, OFF(sts_timeout), 1, 120, NULL, 0, NULL,
	    NULL },
	{ "ca_file", AMFA_OPT_STRING, OFF(ca_file), 0, 0, NULL, 0, NULL,
	    check_abs_path },
	{ "store_dir", AMFA_OPT_STRING, OFF(store_dir), 0, 0, NULL, 0, NULL,
	    check_abs_path },
	{ "yubikey_validation", AMFA_OPT_CUSTOM, 0, 0, 0, NULL, 0,
	    parse_yk_urls, NULL },
	{ "yubikey_client_id", AMFA_OPT_STRING, OFF(yk_client_id), 0, 0, NULL,
	    0, NULL, check_client_id },
	{ "yubikey_api_key_file", AMFA_OPT_STRING, OFF(yk_api_key_file), 0, 0,
	    NULL, 0, NULL, check_abs_path },
	{ "yubikey_timeout", AMFA_OPT_INT, OFF(yk_timeout), 1, 60, NULL, 0,
	    NULL, NULL },
	{ "audit_log", AMFA_OPT_STRING, OFF(audit_log), 0, 0, NULL, 0, NULL,
	    check_abs_path },
	{ "recovery_codes", AMFA_OPT_CHOICE, OFF(recovery_codes), 0, 0,
	    amfa_yes_no, 0, NULL, NULL },
	{ "recovery_sts", AMFA_OPT_CHOICE, OFF(recovery_sts), 0, 0,
	    recovery_sts_names, 0, NULL, NULL },
	{ "state_backend", AMFA_OPT_CHOICE, OFF(state_backend), 0, 0,
	    amfa_backend_names, 0, NULL, NULL },
	{ "dynamodb_table", AMFA_OPT_STRING, OFF(ddb_table), 0, 0, NULL, 0,
	    NULL, check_table },
	{ "dynamodb_region", AMFA_OPT_STRING, OFF(ddb_region), 0, 0, NULL, 0,
	    NULL, amfa_check_region },
	{ "dynamodb_endpoint", AMFA_OPT_STRING, OFF(ddb_endpoint), 0, 0, NULL,
	    0, NULL, amfa_check_endpoint },
	{ "dynamodb_key_file", AMFA_OPT_STRING, OFF(ddb_key_file), 0, 0, NULL,
	    0, NULL, check_abs_path },
	{ "imds_endpoint", AMFA_OPT_STRING, OFF(imds_endpoint), 0, 0, NULL, 0,
	    NULL, check_imds_endpoint },
	{ "netd_socket", AMFA_OPT_STRING, OFF(netd_socket), 0, 0, NULL, 0, NULL,
	    check_netd_socket },
	{ "dynamodb_timeout", AMFA_OPT_INT, OFF(ddb_timeout), 1, 60, NULL, 0,
	    NULL, NULL },
	{ "enrolment", AMFA_OPT_CHOICE, OFF(enrolment), 0, 0,
	    amfa_enrolment_names, 0, NULL, NULL },
	{ "kms_key_id", AMFA_OPT_STRING, OFF(kms_key_id), 0, 0, NULL, 0, NULL,
	    check_kms_key },
	{ "kms_endpoint", AMFA_OPT_STRING, OFF(kms_endpoint), 0, 0, NULL, 0,
	    NULL, amfa_check_endpoint },
};
#undef OFF
#define NOPTS (sizeof(config_opts) / sizeof(config_opts[0]))

static int
set_defaults(struct amfa_config *cfg)
{
	if (cfg->users_dir == NULL &&
	    (cfg->users_dir = strdup(AMFA_DEFAULT_USERS_DIR)) == NULL)
		return -1;
	if (cfg->state_dir == NULL &&
	    (cfg->state_dir = strdup(AMFA_DEFAULT_STATE_DIR)) == NULL)
		return -1;
	if (cfg->store_dir == NULL &&
	    (cfg->store_dir = strdup(AMFA_DEFAULT_STORE_DIR)) == NULL)
		return -1;
	if (cfg->region == NULL &&
	    (cfg->region = strdup(AMFA_DEFAULT_REGION)) == NULL)
		return -1;
	if (cfg->netd_socket == NULL &&
	    (cfg->netd_socket = strdup(AMFA_DEFAULT_NETD_SOCKET)) == NULL)
		return -1;
	if (strcmp(cfg->netd_socket, "none") == 0) {
		free(cfg->netd_socket);
		cfg->netd_socket = NULL;
	}
	return 0;
}

static void
init(struct amfa_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->window = 1;
	cfg->lockout_attempts = 5;
	cfg->lockout_seconds = 300;
	cfg->verify = AMFA_VERIFY_LOCAL;
	cfg->failmode = AMFA_FAIL_SECURE;
	cfg->recovery_codes = 1;
	cfg->recovery_sts = AMFA_RECOVERY_STS_REFUSE;
	cfg->session_duration = 43200;
	cfg->sts_timeout = 10;
	cfg->yk_timeout = 5;
	cfg->state_backend = AMFA_BACKEND_FILES;
	cfg->ddb_timeout = 5;
}

int
amfa_config_parse(const char *buf, size_t len, const char *shown,
    struct amfa_config *cfg)
{
	init(cfg);
	if (amfa_conf_parse(buf, len, shown, config_opts, NOPTS, cfg) != 0 ||
	    check_yk(cfg, shown) != 0 || check_table_keys(cfg, shown) != 0 ||
	    check_enrolment_keys(cfg, shown) != 0 || set_defaults(cfg) != 0) {
		amfa_config_free(cfg);
		return -1;
	}
	return 0;
}

int
amfa_config_load(const char *path, uid_t owner, struct amfa_config *cfg)
{
	struct amfa_file_policy policy = { owner, 022, AMFA_CONF_MAX_SIZE };
	char *buf;
	size_t len;
	int r;

	init(cfg);
	if (path[0] != '/') {
		amfa_log(LOG_ERR, "%s: config path must be absolute", path);
		return -1;
	}
	r = amfa_file_read(AT_FDCWD, path, path, &policy, &buf, &len);
	if (r == -ENOENT)
		amfa_log(LOG_ERR, "%s: no such file", path);
	if (r != 0)
		return -1;
	r = amfa_config_parse(buf, len, path, cfg);
	amfa_wipe_free(buf, len);
	return r;
}

void
amfa_config_free(struct amfa_config *cfg)
{
	amfa_conf_free(config_opts, NOPTS, cfg);
	for (int i = 0; cfg->yk_urls != NULL && cfg->yk_urls[i] != NULL; i++)
		free(cfg->yk_urls[i]);
	free(cfg->yk_urls);
	cfg->yk_urls = NULL;
}
