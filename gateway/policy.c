/* Matching requests against the gateway's rules; see policy.h. */
#include <arpa/inet.h>
#include <fnmatch.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "policy.h"

void
gw_rule_free(struct gw_rule *r)
{
	for (size_t i = 0; i < r->nnames; i++)
		free(r->names[i]);
	free(r->names);
	for (size_t i = 0; i < r->nhosts; i++)
		free(r->hosts[i].glob);
	free(r->hosts);
	free(r->ports);
	memset(r, 0, sizeof(*r));
}

void
gw_policy_free(struct gw_policy *p)
{
	for (size_t i = 0; i < p->nrules; i++)
		gw_rule_free(&p->rules[i]);
	free(p->rules);
	p->rules = NULL;
	p->nrules = 0;
}

int
gw_cidr_parse(const char *s, struct gw_addr *net, unsigned *prefix)
{
	char buf[INET6_ADDRSTRLEN + 8], *slash, *end;
	unsigned max;
	long v;

	if (strlen(s) >= sizeof(buf))
		return -1;
	strcpy(buf, s);
	if ((slash = strchr(buf, '/')) != NULL)
		*slash++ = '\0';
	memset(net, 0, sizeof(*net));
	if (inet_pton(AF_INET, buf, net->a) == 1) {
		net->family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, buf, net->a) == 1) {
		net->family = AF_INET6;
		max = 128;
	} else
		return -1;
	if (slash == NULL) {
		*prefix = max;
		return 0;
	}
	if (*slash < '0' || *slash > '9')
		return -1;
	v = strtol(slash, &end, 10);
	if (*end != '\0' || v < 0 || v > (long)max)
		return -1;
	*prefix = (unsigned)v;
	/* Host bits set (10.0.0.1/8) are almost always a typing mistake. */
	for (unsigned bit = *prefix; bit < max; bit++)
		if (net->a[bit / 8] & (0x80 >> (bit % 8)))
			return -1;
	return 0;
}

/* An IPv4-mapped IPv6 address is the IPv4 address it carries. */
static void
unmap(const struct gw_addr *in, struct gw_addr *out)
{
	static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
		0xff, 0xff };

	*out = *in;
	if (in->family == AF_INET6 && memcmp(in->a, mapped, 12) == 0) {
		memset(out, 0, sizeof(*out));
		out->family = AF_INET;
		memcpy(out->a, in->a + 12, 4);
	}
}

int
gw_cidr_contains(const struct gw_addr *net, unsigned prefix,
    const struct gw_addr *addr)
{
	struct gw_addr a;
	unsigned full = prefix / 8, rest = prefix % 8;

	unmap(addr, &a);
	if (a.family != net->family)
		return 0;
	if (memcmp(a.a, net->a, full) != 0)
		return 0;
	if (rest == 0)
		return 1;
	return ((a.a[full] ^ net->a[full]) & (0xff00 >> rest) & 0xff) == 0;
}

const char *
gw_addr_str(const struct gw_addr *addr, char *buf, size_t n)
{
	struct gw_addr a;

	unmap(addr, &a);
	if (inet_ntop(a.family, a.a, buf, (socklen_t)n) == NULL)
		snprintf(buf, n, "?");
	return buf;
}

static int
name_listed(const struct gw_rule *r, const char *name)
{
	for (size_t i = 0; i < r->nnames; i++)
		if (strcmp(r->names[i], "*") == 0 ||
		    strcmp(r->names[i], name) == 0)
			return 1;
	return 0;
}

static int
subject_matches(const struct gw_rule *r, const struct gw_subject *s)
{
	if (r->who == GW_USERS)
		return name_listed(r, s->user);
	for (size_t i = 0; i < s->ngroups; i++)
		if (name_listed(r, s->groups[i]))
			return 1;
	return 0;
}

static int
port_matches(const struct gw_rule *r, unsigned port)
{
	for (size_t i = 0; i < r->nports; i++)
		if (port >= r->ports[i].lo && port <= r->ports[i].hi)
			return 1;
	return 0;
}

static int
host_name_matches(const struct gw_rule *r, const char *name)
{
	if (name == NULL)
		return 0;
	for (size_t i = 0; i < r->nhosts; i++)
		if (r->hosts[i].kind == GW_HOST_NAME &&
		    fnmatch(r->hosts[i].glob, name, FNM_CASEFOLD) == 0)
			return 1;
	return 0;
}

static int
host_addr_matches(const struct gw_rule *r, const struct gw_addr *a)
{
	if (a == NULL)
		return 0;
	for (size_t i = 0; i < r->nhosts; i++)
		if (r->hosts[i].kind == GW_HOST_CIDR &&
		    gw_cidr_contains(&r->hosts[i].net, r->hosts[i].prefix, a))
			return 1;
	return 0;
}

static int
has_cidr(const struct gw_rule *r)
{
	for (size_t i = 0; i < r->nhosts; i++)
		if (r->hosts[i].kind == GW_HOST_CIDR)
			return 1;
	return 0;
}

void
gw_policy_shell(const struct gw_policy *p, const struct gw_subject *s,
    struct gw_verdict *v)
{
	memset(v, 0, sizeof(*v));
	for (size_t i = 0; i < p->nrules; i++) {
		const struct gw_rule *r = &p->rules[i];

		if (r->shell && subject_matches(r, s)) {
			v->allow = r->allow;
			v->rule = r;
			return;
		}
	}
}

int
gw_policy_may_connect(const struct gw_policy *p, const struct gw_subject *s,
    const char *name, unsigned port, const struct gw_rule **deny)
{
	*deny = NULL;
	for (size_t i = 0; i < p->nrules; i++) {
		const struct gw_rule *r = &p->rules[i];

		if (r->shell || !subject_matches(r, s) ||
		    !port_matches(r, port))
			continue;
		/* A deny by name is final: no address can change it. */
		if (!r->allow && host_name_matches(r, name)) {
			*deny = r;
			return 0;
		}
		if (r->allow && (host_name_matches(r, name) || has_cidr(r)))
			return 1;
	}
	return 0;
}

void
gw_policy_connect(const struct gw_policy *p, const struct gw_subject *s,
    const char *name, const struct gw_addr *a, unsigned port,
    struct gw_verdict *v)
{
	int by_addr;

	memset(v, 0, sizeof(*v));
	for (size_t i = 0; i < p->nrules; i++) {
		const struct gw_rule *r = &p->rules[i];

		if (r->shell || !subject_matches(r, s) ||
		    !port_matches(r, port))
			continue;
		by_addr = host_addr_matches(r, a);
		if (!by_addr && !host_name_matches(r, name))
			continue;
		v->allow = r->allow;
		v->rule = r;
		if (!r->allow || by_addr)
			return;
		/* Allowed by name only: the address must not be denied. */
		for (size_t j = 0; j < p->nrules; j++) {
			const struct gw_rule *d = &p->rules[j];

			if (!d->allow && !d->shell && subject_matches(d, s) &&
			    port_matches(d, port) && host_addr_matches(d, a)) {
				v->allow = 0;
				v->addr_rule = d;
				return;
			}
		}
		return;
	}
}
