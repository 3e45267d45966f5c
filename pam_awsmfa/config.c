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
	return 0;
}

static void
init(struct amfa_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->window = 1;
	cfg->lockout_attempts = 5;
	cfg->lockout_seconds = 300;
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
