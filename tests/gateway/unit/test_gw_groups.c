/*
 * The user's groups by name: a gid that cannot be looked up is an error,
 * never skipped (a skipped group would let a `deny groups' rule miss the
 * user), whether the lookup finds no such group or fails.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "groups.h"
#include "gwconf.h"
#include "logcap.h"
#include "policy.h"
#include "tap.h"

#define GID_OPS	 4100
#define GID_DOWN 4200 /* the NSS backend fails for this one */
#define GID_NONE 4300 /* no group has this gid */

static struct group *
fake_lookup(gid_t gid)
{
	static struct group gr;
	static char ops[] = "ops", staff[] = "staff";

	memset(&gr, 0, sizeof(gr));
	gr.gr_gid = gid;
	switch (gid) {
	case GID_OPS:
		gr.gr_name = ops;
		return &gr;
	case GID_DOWN:
		errno = EIO;
		return NULL;
	case GID_NONE:
		return NULL;
	default:
		gr.gr_name = staff;
		return &gr;
	}
}

int
main(void)
{
	static const char conf[] = "deny groups ops to * ports *\n"
				   "allow users alice to * ports *\n";
	char *names[GW_MAX_GROUPS];
	size_t n = 99;
	struct gw_config c;
	struct gw_verdict v;
	struct gw_addr a = { .family = AF_INET, .a = { 10, 0, 0, 1 } };

	logcap_start();
	ok(gw_config_parse(conf, strlen(conf), "gw.conf", &c) == 0,
	    "a deny-groups policy parses");

	gid_t good[] = { 1000, GID_OPS };
	ok(gw_groups_names("alice", good, 2, fake_lookup, names, &n) == 0 &&
		n == 2 && strcmp(names[0], "staff") == 0 &&
		strcmp(names[1], "ops") == 0,
	    "every group looked up: by name");
	struct gw_subject s = { "alice", (const char *const *)names, n };
	gw_policy_connect(&c.policy, &s, "db", &a, 22, &v);
	ok(!v.allow && v.rule && v.rule->line == 1,
	    "with its groups known, alice is denied by the groups rule");
	gw_groups_free(names, n);

	/* The lookup of ops's gid fails: no list, so no verdict at all. */
	gid_t down[] = { 1000, GID_DOWN, GID_OPS };
	logcap_start();
	n = 99;
	ok(gw_groups_names("alice", down, 3, fake_lookup, names, &n) == -1 &&
		n == 0,
	    "a failed group lookup is an error, not a skipped group");
	ok(logcap_has("user alice: group 4200 cannot be looked up"),
	    "the log names the user and the gid");
	ok(logcap_has("Input/output error"), "and why");

	gid_t none[] = { GID_NONE };
	logcap_start();
	ok(gw_groups_names("alice", none, 1, fake_lookup, names, &n) == -1 &&
		n == 0 && logcap_has("no such group"),
	    "a gid without a group is an error too");

	gid_t many[GW_MAX_GROUPS + 1];
	for (size_t i = 0; i <= GW_MAX_GROUPS; i++)
		many[i] = 1000;
	ok(gw_groups_names("alice", many, GW_MAX_GROUPS + 1, fake_lookup, names,
	       &n) == -1 &&
		n == 0,
	    "too many groups: an error");

	/* The real lookup, for root (group 0 exists everywhere). */
	struct passwd *pw = getpwuid(0);
	ok(pw != NULL &&
		gw_groups_load(pw->pw_name, pw->pw_gid, names, &n) == 0 &&
		n >= 1,
	    "root's groups through getgrouplist/getgrgid");
	int found = 0;
	for (size_t i = 0; i < n; i++)
		found |= strcmp(names[i], "root") == 0;
	ok(found, "root's groups include root");
	gw_groups_free(names, n);
	gw_config_free(&c);
	return tap_done();
}
