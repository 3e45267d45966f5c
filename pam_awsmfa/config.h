/* awsmfa.conf: the host-wide settings. */
#ifndef AMFA_CONFIG_H
#define AMFA_CONFIG_H

#include <sys/types.h>

#define AMFA_DEFAULT_CONFIG	"/etc/awsmfa/awsmfa.conf"
#define AMFA_DEFAULT_USERS_DIR	"/etc/awsmfa/users.d"
#define AMFA_DEFAULT_STATE_DIR	"/var/lib/awsmfa"

struct amfa_config {
	char	*users_dir;
	char	*state_dir;
	long	 window;		/* TOTP steps accepted each side */
	long	 lockout_attempts;	/* consecutive failures before a lock */
	long	 lockout_seconds;	/* how long a lock lasts */
};

/*
 * Read `path', which must be a regular file owned by `owner' and not
 * writable by group or others.  Missing keys get their defaults.  Returns 0,
 * or -1 with every problem logged as FILE:LINE.  The module passes owner 0.
 */
int	amfa_config_load(const char *path, uid_t owner, struct amfa_config *cfg);
/* Parse an in-memory file (`shown' names it in messages). */
int	amfa_config_parse(const char *buf, size_t len, const char *shown,
	    struct amfa_config *cfg);
void	amfa_config_free(struct amfa_config *cfg);

#endif
