/* gateway.conf: the grammar, its errors (file:line), and the decisions. */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "gwconf.h"
#include "logcap.h"
#include "policy.h"
#include "tap.h"

static int
parse(const char *text, struct gw_config *c)
{
	logcap_start();
	return gw_config_parse(text, strlen(text), "gw.conf", c);
}

static struct gw_addr
addr(const char *s)
{
	struct gw_addr a;

	memset(&a, 0, sizeof(a));
	if (inet_pton(AF_INET, s, a.a) == 1)
		a.family = AF_INET;
	else if (inet_pton(AF_INET6, s, a.a) == 1)
		a.family = AF_INET6;
	return a;
}

static void
settings(void)
{
	struct gw_config c;

	ok(parse("", &c) == 0, "empty file parses");
	is_int(c.connect_timeout, GW_DEFAULT_TIMEOUT, "default timeout");
	is_str(c.awsmfa_config, "/etc/awsmfa/awsmfa.conf",
	    "default awsmfa.conf");
	ok(c.audit_log == NULL && c.policy.nrules == 0, "no log, no rules");
	gw_config_free(&c);

	ok(parse("# comment\n\naudit_log = /var/log/gw.log\n"
		 "awsmfa_config = /etc/x.conf\nconnect_timeout = 3\n",
	       &c) == 0,
	    "settings parse");
	is_str(c.audit_log, "/var/log/gw.log", "audit_log");
	is_str(c.awsmfa_config, "/etc/x.conf", "awsmfa_config");
	is_int(c.connect_timeout, 3, "connect_timeout");
	gw_config_free(&c);

	ok(parse("audit_log = relative.log\n", &c) == -1 &&
		logcap_has("gw.conf:1: audit_log must be an absolute path"),
	    "relative audit_log refused with file:line");
	ok(parse("\nconnect_timeout = 0\n", &c) == -1 &&
		logcap_has("gw.conf:2: connect_timeout"),
	    "timeout 0 refused");
	ok(parse("connect_timeout = 5s\n", &c) == -1,
	    "timeout with unit refused");
	ok(parse("connect_timeout = 601\n", &c) == -1, "timeout 601 refused");
	ok(parse("colour = blue\n", &c) == -1 &&
		logcap_has("gw.conf:1: unknown key \"colour\""),
	    "unknown key");
	ok(parse("audit_log = /a\naudit_log = /b\n", &c) == -1 &&
		logcap_has("gw.conf:2: audit_log given more than once"),
	    "duplicate key");
	ok(parse("just words\n", &c) == -1 &&
		logcap_has("gw.conf:1: expected \"key = value\" or a rule"),
	    "a line that is neither");
	ok(parse("audit_log = /a\x01\n", &c) == -1 &&
		logcap_has("control character"),
	    "control character");
	ok(gw_config_parse("a\0b", 3, "gw.conf", &c) == -1, "NUL byte refused");
}

static void
grammar(void)
{
	struct gw_config c;
	const struct gw_rule *r;

	ok(parse("allow users alice,bob to *.corp.example, 10.0.0.0/8,"
		 "2001:db8::/32,192.0.2.7 ports 22,8000-8099\n"
		 "deny groups contractors to * ports *\n"
		 "allow groups ops shell\n",
	       &c) == 0,
	    "three rules parse");
	is_int(c.policy.nrules, 3, "three rules");
	r = &c.policy.rules[0];
	ok(r->allow && r->who == GW_USERS && r->nnames == 2 &&
		strcmp(r->names[1], "bob") == 0 && !r->shell,
	    "rule 1 subject");
	ok(r->nhosts == 4 && r->hosts[0].kind == GW_HOST_NAME &&
		strcmp(r->hosts[0].glob, "*.corp.example") == 0 &&
		r->hosts[1].kind == GW_HOST_CIDR && r->hosts[1].prefix == 8 &&
		r->hosts[2].net.family == AF_INET6 &&
		r->hosts[2].prefix == 32 && r->hosts[3].prefix == 32,
	    "rule 1 hosts (glob, v4, v6, bare)");
	ok(r->nports == 2 && r->ports[0].lo == 22 && r->ports[0].hi == 22 &&
		r->ports[1].lo == 8000 && r->ports[1].hi == 8099,
	    "rule 1 ports");
	is_int(r->line, 1, "rule 1 line");
	r = &c.policy.rules[1];
	ok(!r->allow && r->who == GW_GROUPS && r->ports[0].lo == 1 &&
		r->ports[0].hi == 65535,
	    "rule 2: deny, groups, all ports");
	r = &c.policy.rules[2];
	ok(r->shell && r->line == 3, "rule 3: shell");
	gw_config_free(&c);

	ok(parse("allow users A to Host.EXAMPLE ports 1\n", &c) == 0 &&
		strcmp(c.policy.rules[0].hosts[0].glob, "host.example") == 0,
	    "host patterns are folded to lower case");
	gw_config_free(&c);

	struct {
		const char *line, *msg;
	} bad[] = {
		{ "allow", "incomplete rule" },
		{ "allow users", "incomplete rule" },
		{ "permit users a shell", "expected \"key = value\"" },
		{ "allow people a shell", "expected \"users\" or \"groups\"" },
		{ "allow users a",
		    "expected \"shell\", \"shell record\" or \"to" },
		{ "allow users a shell extra",
		    "expected \"shell\", \"shell record\" or \"to" },
		{ "allow users a to h",
		    "expected \"shell\", \"shell record\" or \"to" },
		{ "allow users a to h port 22",
		    "expected \"shell\", \"shell record\" or \"to" },
		{ "allow users a from h ports 22",
		    "expected \"shell\", \"shell record\" or \"to" },
		{ "allow users a,,b shell", "empty item" },
		{ "allow users a, shell",
		    "expected \"shell\", \"shell record\" or \"to" },
		{ "allow users a;b shell", "bad character in a user" },
		{ "allow users -a shell", "must not start with '-'" },
		{ "allow users a to 10.0.0.1/8 ports 22", "no host bits set" },
		{ "allow users a to 10.0.0.0/33 ports 22",
		    "not a valid address" },
		{ "allow users a to 300.1.2.3 ports 22",
		    "not a valid address" },
		{ "allow users a to ::1/129 ports 22", "not a valid address" },
		{ "allow users a to fe80::1%eth0 ports 22",
		    "not a valid address" },
		{ "allow users a to h/x ports 22", "not a valid address" },
		{ "allow users a to ho$t ports 22", "bad character in a host" },
		{ "allow users a to h ports 0", "ports are numbers" },
		{ "allow users a to h ports 65536", "ports are numbers" },
		{ "allow users a to h ports 22-21", "ports are numbers" },
		{ "allow users a to h ports 22-", "ports are numbers" },
		{ "allow users a to h ports ssh", "ports are numbers" },
		{ "allow users a to h ports -5", "ports are numbers" },
		{ "allow users a to h ports 1,", "empty item" },
		/* Forms that could never match: errors, not dead rules. */
		{ "deny users a to ::ffff:10.9.0.0/112 ports 22",
		    "IPv4-mapped IPv6 range" },
		{ "deny users a to ::FFFF:10.9.3.4 ports 22",
		    "IPv4-mapped IPv6 range" },
		{ "deny users a to ::ffff:0:0/96 ports 22",
		    "IPv4-mapped IPv6 range" },
		{ "deny users a to h, 10.* ports 22", "looks like an address" },
		{ "deny users a to 192.168.1.? ports 22",
		    "looks like an address" },
		{ "deny users a to 10.[0-9].*.* ports 22",
		    "looks like an address" },
		{ "deny users a to *.10 ports 22", "looks like an address" },
		{ "deny users a to name.example.com. ports 22",
		    "never ends with '.'" },
		{ "deny users a to name.example.com.. ports 22",
		    "never ends with '.'" },
		{ "deny users a to .example.com ports 22",
		    "never starts with '.'" },
		{ "deny users a to a..example.com ports 22", "empty label" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char text[256];

		snprintf(text, sizeof(text), "# first\n%s\n", bad[i].line);
		ok(parse(text, &c) == -1 && logcap_has("gw.conf:2: ") &&
			logcap_has(bad[i].msg),
		    "refused: %s", bad[i].line);
		if (!logcap_has(bad[i].msg))
			printf("#   log: %s", logcap_buf);
	}
	/* Near misses that are fine: these can match a name. */
	const char *good[] = { "*", "*.example.com", "web-1*", "host1",
		"1password.com", "*1", "[0-9]*.example", "::/0", "::/80",
		"64:ff9b::/96", "::1" };
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		char text[256];

		snprintf(text, sizeof(text), "deny users a to %s ports 22\n",
		    good[i]);
		ok(parse(text, &c) == 0, "accepted: %s", good[i]);
		gw_config_free(&c);
	}
	ok(parse("allow users a to h ports 22\nbad line\nallow users shell\n"
		 "deny users b to h ports x\n",
	       &c) == -1 &&
		logcap_has("gw.conf:2:") && logcap_has("gw.conf:3:") &&
		logcap_has("gw.conf:4:"),
	    "every bad line is reported in one run");
}

static void
cidr(void)
{
	struct gw_addr net, a;
	unsigned p;

	ok(gw_cidr_parse("10.1.0.0/16", &net, &p) == 0 && p == 16, "v4 /16");
	a = addr("10.1.255.3");
	ok(gw_cidr_contains(&net, p, &a), "10.1.255.3 in 10.1.0.0/16");
	a = addr("10.2.0.1");
	ok(!gw_cidr_contains(&net, p, &a), "10.2.0.1 not in it");
	a = addr("::ffff:10.1.2.3");
	ok(gw_cidr_contains(&net, p, &a), "v4-mapped v6 counts as v4");
	ok(gw_cidr_parse("10.1.3.0/23", &net, &p) == -1,
	    "10.1.3.0/23 has a host bit set");
	ok(gw_cidr_parse("10.1.2.0/23", &net, &p) == 0, "10.1.2.0/23");
	a = addr("10.1.3.200");
	ok(gw_cidr_contains(&net, p, &a), "odd prefix: 10.1.3.200 in /23");
	a = addr("10.1.4.0");
	ok(!gw_cidr_contains(&net, p, &a), "odd prefix: 10.1.4.0 not in /23");
	ok(gw_cidr_parse("0.0.0.0/0", &net, &p) == 0, "0/0");
	a = addr("203.0.113.9");
	ok(gw_cidr_contains(&net, p, &a), "everything in 0/0");
	a = addr("2001:db8::1");
	ok(!gw_cidr_contains(&net, p, &a), "but not v6");
	ok(gw_cidr_parse("2001:db8::/33", &net, &p) == 0, "v6 /33");
	a = addr("2001:db8:7fff::1");
	ok(gw_cidr_contains(&net, p, &a), "2001:db8:7fff::1 in /33");
	a = addr("2001:db8:8000::1");
	ok(!gw_cidr_contains(&net, p, &a), "2001:db8:8000::1 not in /33");
	ok(gw_cidr_parse("::1", &net, &p) == 0 && p == 128, "bare v6 is /128");
}

static const char *alice_groups[] = { "alice", "dev" };
static const struct gw_subject alice = { "alice", alice_groups, 2 };
static const char *bob_groups[] = { "bob", "ops", "contractors" };
static const struct gw_subject bob = { "bob", bob_groups, 3 };

static int
conn(const struct gw_config *c, const struct gw_subject *s, const char *name,
    const char *a, unsigned port, unsigned *line)
{
	struct gw_verdict v;
	struct gw_addr ad = addr(a);

	gw_policy_connect(&c->policy, s, name, &ad, port, &v);
	*line = v.addr_rule ? v.addr_rule->line : v.rule ? v.rule->line : 0;
	return v.allow;
}

static void
decisions(void)
{
	struct gw_config c;
	struct gw_verdict v;
	const struct gw_rule *deny;
	unsigned line;

	ok(parse("deny users * to 169.254.0.0/16, fe80::/10 ports *\n"	 /* 1 */
		 "deny groups contractors to *.secret.corp ports *\n"	 /* 2 */
		 "allow groups dev to *.corp ports 22, 443\n"		 /* 3 */
		 "allow users bob to 10.0.0.0/8 ports 22\n"		 /* 4 */
		 "allow groups ops shell\n"				 /* 5 */
		 "deny users * to 10.9.0.0/16 ports *\n"		 /* 6 */
		 "allow users alice to 2001:db8::/32 ports 8000-8099\n", /* 7 */
	       &c) == 0,
	    "policy parses");

	ok(conn(&c, &alice, "db.corp", "10.1.1.1", 22, &line) && line == 3,
	    "alice: db.corp:22 allowed by group dev (line 3)");
	ok(!conn(&c, &alice, "db.corp", "10.1.1.1", 23, &line) && line == 0,
	    "alice: port 23 not listed: default deny");
	ok(!conn(&c, &alice, "db.corp", "10.9.0.5", 22, &line) && line == 6,
	    "alice: a glob-allowed name resolving into a later deny range "
	    "is refused (line 6)");
	ok(!conn(&c, &alice, "x.corp", "169.254.169.254", 443, &line) &&
		line == 1,
	    "metadata address denied first (line 1)");
	ok(!conn(&c, &alice, NULL, "10.1.1.1", 22, &line) && line == 0,
	    "a literal address is not matched by a name glob");
	ok(conn(&c, &alice, "DB.Corp", "10.1.1.1", 22, &line),
	    "name globs ignore case");
	ok(conn(&c, &alice, NULL, "2001:db8::5", 8050, &line) && line == 7,
	    "alice: v6 range and port range (line 7)");
	ok(!conn(&c, &alice, NULL, "2001:db9::5", 8050, &line),
	    "alice: outside the v6 range");
	ok(!conn(&c, &bob, "db.secret.corp", "10.1.1.1", 22, &line) &&
		line == 2,
	    "bob (contractors) denied a secret name (line 2)");
	ok(conn(&c, &bob, "web.corp", "10.2.3.4", 22, &line) && line == 4,
	    "bob: allowed by address range (line 4)");
	ok(conn(&c, &bob, NULL, "::ffff:10.2.3.4", 22, &line) && line == 4,
	    "bob: v4-mapped v6 literal counts as v4");
	ok(!conn(&c, &bob, NULL, "10.2.3.4", 443, &line),
	    "bob: port 443 not allowed");
	ok(conn(&c, &bob, NULL, "10.9.1.1", 22, &line) && line == 4,
	    "first match: bob's rule 4 comes before the deny on line 6");

	ok(!gw_policy_may_connect(&c.policy, &bob, "x.secret.corp", 22,
	       &deny) &&
		deny && deny->line == 2,
	    "precheck: a name deny is final");
	ok(gw_policy_may_connect(&c.policy, &alice, "x.corp", 22, &deny),
	    "precheck: glob allows");
	ok(!gw_policy_may_connect(&c.policy, &alice, "x.org", 22, &deny) &&
		deny == NULL,
	    "precheck: nothing could allow x.org:22 for alice");
	ok(gw_policy_may_connect(&c.policy, &bob, "anything.org", 22, &deny),
	    "precheck: an address rule might allow any name");

	gw_policy_shell(&c.policy, &bob, &v);
	ok(v.allow && v.rule->line == 5, "bob (ops) gets a shell");
	gw_policy_shell(&c.policy, &alice, &v);
	ok(!v.allow && v.rule == NULL, "alice: no shell (default deny)");
	gw_config_free(&c);

	ok(parse("deny users alice shell\nallow users * shell\n", &c) == 0,
	    "shell policy parses");
	gw_policy_shell(&c.policy, &alice, &v);
	ok(!v.allow && v.rule->line == 1, "first match: alice's shell denied");
	gw_policy_shell(&c.policy, &bob, &v);
	ok(v.allow && v.rule->line == 2, "everyone else gets one");
	ok(!conn(&c, &bob, "h", "10.0.0.1", 22, &line),
	    "shell rules do not allow connections");
	gw_config_free(&c);
}

int
main(void)
{
	settings();
	grammar();
	cidr();
	decisions();
	return tap_done();
}
