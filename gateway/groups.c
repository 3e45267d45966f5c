/* The user's groups by name; see groups.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "groups.h"
#include "log.h"

void
gw_groups_free(char **names, size_t count)
{
	for (size_t i = 0; i < count; i++)
		free(names[i]);
}

int
gw_groups_names(const char *user, const gid_t *gids, size_t n,
    gw_group_lookup lookup, char **names, size_t *count)
{
	struct group *gr;

	*count = 0;
	if (n > GW_MAX_GROUPS) {
		amfa_log(LOG_ERR, "user %s: in more than %d groups", user,
		    GW_MAX_GROUPS);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		errno = 0;
		if ((gr = lookup(gids[i])) == NULL || gr->gr_name == NULL) {
			/* Skipping it would let a deny-groups rule miss. */
			amfa_log(LOG_ERR,
			    "user %s: group %u cannot be looked "
			    "up: %s",
			    user, (unsigned)gids[i],
			    errno != 0 ? strerror(errno) : "no such group");
			goto fail;
		}
		if ((names[*count] = strdup(gr->gr_name)) == NULL) {
			amfa_log(LOG_ERR, "user %s: out of memory", user);
			goto fail;
		}
		(*count)++;
	}
	return 0;
fail:
	gw_groups_free(names, *count);
	*count = 0;
	return -1;
}

int
gw_groups_load(const char *user, gid_t gid, char **names, size_t *count)
{
	gid_t gids[GW_MAX_GROUPS];
	int ng = GW_MAX_GROUPS;

	*count = 0;
	if (getgrouplist(user, gid, gids, &ng) < 0) {
		amfa_log(LOG_ERR, "user %s: in more than %d groups", user,
		    GW_MAX_GROUPS);
		return -1;
	}
	return gw_groups_names(user, gids, (size_t)ng, getgrgid, names, count);
}
