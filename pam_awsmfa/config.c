/* awsmfa.conf; see config.h. */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "conffile.h"
#include "config.h"
#include "log.h"
#include "secure_file.h"
#include "totp.h"

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

const char *const amfa_verify_names[] = { "local", "sts", "local+sts",
    NULL };
static const char *const failmodes[] = { "secure", "safe", NULL };

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
	if (strpbrk(url, " \t\"'<>\\^`{|}") != NULL || strchr(host, '@') != NULL)
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

#define OFF(f) offsetof(struct amfa_config, f)
static const struct amfa_opt config_opts[] = {
	{ "users_dir", AMFA_OPT_STRING, OFF(users_dir), 0, 0, NULL, 0, NULL,
	    check_abs_path },
	{ "state_dir", AMFA_OPT_STRING, OFF(state_dir), 0, 0, NULL, 0, NULL,
	    check_abs_path },
	{ "window", AMFA_OPT_INT, OFF(window), 0, AMFA_TOTP_MAX_WINDOW, NULL,
	    0, NULL, NULL },
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
	cfg->session_duration = 43200;
	cfg->sts_timeout = 10;
}

int
amfa_config_parse(const char *buf, size_t len, const char *shown,
    struct amfa_config *cfg)
{
	init(cfg);
	if (amfa_conf_parse(buf, len, shown, config_opts, NOPTS, cfg) != 0 ||
	    set_defaults(cfg) != 0) {
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
}
