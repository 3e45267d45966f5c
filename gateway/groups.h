/*
 * The user's groups, by name (the policy speaks names).  A group that
 * cannot be looked up (no name for its gid, an NSS backend that fails) is
 * an error, never skipped: a `deny groups' rule must not miss the user
 * because the lookup did.
 */
#ifndef GW_GROUPS_H
#define GW_GROUPS_H

#include <grp.h>
#include <stddef.h>
#include <sys/types.h>

#define GW_MAX_GROUPS 256

/* How a gid becomes a group: getgrgid(3), or a test's stand-in. */
typedef struct group *(*gw_group_lookup)(gid_t);

/*
 * The names of `gids' (n of them) into names[] (heap copies, at most
 * GW_MAX_GROUPS), *count set.  0, or -1 (logged, naming the gid and
 * `user'; nothing left allocated) if any one cannot be looked up.
 */
int gw_groups_names(const char *user, const gid_t *gids, size_t n,
    gw_group_lookup lookup, char **names, size_t *count);

/*
 * `user''s primary group `gid' and supplementary groups (getgrouplist(3)),
 * by name, as gw_groups_names.  0 or -1 (logged).
 */
int gw_groups_load(const char *user, gid_t gid, char **names, size_t *count);

void gw_groups_free(char **names, size_t count);

#endif
