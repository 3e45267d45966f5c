/*
 * The gateway's policy: who may have a shell, who may reach which host and
 * port.  Rules are tried in order; the first that applies decides; nothing
 * applies, the answer is no.
 *
 *   allow|deny users|groups NAMES shell
 *   allow users|groups NAMES shell record
 *   allow|deny users|groups NAMES to HOSTS ports PORTS
 *
 * `record' after `shell': the shells the rule allows are recorded
 * (recorder.h).  NAMES are login or group names, comma-separated, or `*' for everyone.
 * HOSTS are host-name patterns (fnmatch(3) globs, compared without regard
 * to case) and address ranges (CIDR, IPv4 or IPv6; a bare address is a
 * single host), comma-separated.  PORTS are numbers and LO-HI ranges,
 * comma-separated, or `*' for all.
 *
 * A name pattern matches the host name as the user asked for it (never a
 * literal address); an address range matches the addresses the name
 * resolves to (or the literal address).  Because a name is only as good as
 * the DNS behind it, the deny rules' address ranges apply to the resolved
 * addresses whatever their place in the file: an address that a deny rule
 * for this user and port covers is refused even when an earlier allow rule
 * admitted the host by name.
 */
#ifndef GW_POLICY_H
#define GW_POLICY_H

#include <stddef.h>

enum gw_who { GW_USERS, GW_GROUPS };
enum gw_host_kind { GW_HOST_NAME, GW_HOST_CIDR };

struct gw_addr {
	int family;	     /* AF_INET or AF_INET6 */
	unsigned char a[16]; /* network order; IPv4 in a[0..3] */
};

struct gw_host_pat {
	int kind;	    /* enum gw_host_kind */
	char *glob;	    /* GW_HOST_NAME: lower-case pattern */
	struct gw_addr net; /* GW_HOST_CIDR */
	unsigned prefix;
};

struct gw_port_range {
	unsigned lo, hi;
};

struct gw_rule {
	int allow;
	int who;      /* enum gw_who */
	char **names; /* "*" means everyone */
	size_t nnames;
	int shell;  /* shell rule, else a `to' rule */
	int record; /* shell rule: the shells it allows are recorded */
	struct gw_host_pat *hosts;
	size_t nhosts;
	struct gw_port_range *ports;
	size_t nports;
	unsigned line; /* in the config file */
};

struct gw_policy {
	struct gw_rule *rules;
	size_t nrules;
};

/* The user asking, and the names of their groups. */
struct gw_subject {
	const char *user;
	const char *const *groups;
	size_t ngroups;
};

struct gw_verdict {
	int allow;
	const struct gw_rule *rule; /* NULL: nothing applied */
	/* For an address refused by a later deny rule (see above). */
	const struct gw_rule *addr_rule;
};

void gw_rule_free(struct gw_rule *r);
void gw_policy_free(struct gw_policy *p);

/* Parse "a.b.c.d", "a.b.c.d/n", "v6", "v6/n".  0 or -1. */
int gw_cidr_parse(const char *s, struct gw_addr *net, unsigned *prefix);
/* Does `net/prefix' contain `a'?  IPv4-mapped IPv6 counts as IPv4. */
int gw_cidr_contains(const struct gw_addr *net, unsigned prefix,
    const struct gw_addr *a);
/* Text of an address (inet_ntop), for messages and the audit. */
const char *gw_addr_str(const struct gw_addr *a, char *buf, size_t n);

/* May `s' have a shell? */
void gw_policy_shell(const struct gw_policy *p, const struct gw_subject *s,
    struct gw_verdict *v);

/*
 * Before resolving: could any allow rule admit host `name' at `port' for
 * `s'?  If not, there is no point asking the DNS; *deny is then the rule
 * that denies the name, or NULL when no rule applies.
 */
int gw_policy_may_connect(const struct gw_policy *p, const struct gw_subject *s,
    const char *name, unsigned port, const struct gw_rule **deny);

/*
 * May `s' connect to address `a' at `port', asked for by `name' (the
 * normalised host name, or NULL when the user gave the address itself)?
 */
void gw_policy_connect(const struct gw_policy *p, const struct gw_subject *s,
    const char *name, const struct gw_addr *a, unsigned port,
    struct gw_verdict *v);

#endif
