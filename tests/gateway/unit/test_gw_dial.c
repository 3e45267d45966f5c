/*
 * gw_dial: the policy holds for every address it connects to, and the
 * unspecified addresses (0.0.0.0/8, ::), which the kernel connects to this
 * very host, are refused whatever the policy says.  A listener on
 * 127.0.0.1 shows that an allowed address is reached.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "command.h"
#include "dial.h"
#include "gwconf.h"
#include "logcap.h"
#include "tap.h"

static unsigned
listen_loopback(int *fd)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);

	*fd = socket(AF_INET, SOCK_STREAM, 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (*fd < 0 || bind(*fd, (struct sockaddr *)&sin, sizeof(sin)) != 0 ||
	    listen(*fd, 4) != 0 ||
	    getsockname(*fd, (struct sockaddr *)&sin, &len) != 0)
		return 0;
	return ntohs(sin.sin_port);
}

static int ready_answer;
static unsigned ready_calls;

static int
ready_fn(void *ctx, const char *addr, const struct gw_rule *rule)
{
	(void)ctx;
	(void)addr;
	(void)rule;
	ready_calls++;
	return ready_answer;
}

static int
dial(const struct gw_config *c, const char *host, unsigned port,
    struct gw_dial *d)
{
	static const char *const groups[] = { "users" };
	struct gw_subject s = { "alice", groups, 1 };
	struct gw_command cmd;
	char line[128];

	snprintf(line, sizeof(line), "connect %s %u", host, port);
	gw_command_parse(line, &cmd);
	if (cmd.kind != GW_CMD_CONNECT)
		return -2;
	return gw_dial(&c->policy, &s, &cmd, 2, ready_fn, NULL, d);
}

int
main(void)
{
	static const char conf[] = "allow users * to 0.0.0.0/0, ::/0 ports *\n";
	struct gw_config c;
	struct gw_dial d;
	unsigned port;
	int lfd;

	memset(&d, 0, sizeof(d));
	d.fd = -1;
	logcap_start();
	ok(gw_config_parse(conf, strlen(conf), "gw.conf", &c) == 0,
	    "a policy that allows every address parses");
	ok((port = listen_loopback(&lfd)) != 0, "a listener on 127.0.0.1");

	ok(dial(&c, "127.0.0.1", port, &d) == 0 && d.fd >= 0,
	    "an allowed address is reached");
	if (d.fd >= 0)
		close(d.fd);

	/*
	 * Told that the decision cannot be audited, gw_dial makes no
	 * connection at all: the listener has nothing to accept.
	 */
	struct pollfd pfd = { .fd = lfd, .events = POLLIN };
	int afd;

	/* The connection made above, out of the way. */
	while (poll(&pfd, 1, 0) == 1 && (afd = accept(lfd, NULL, NULL)) >= 0)
		close(afd);
	ready_answer = -1;
	ready_calls = 0;
	memset(&d, 0, sizeof(d));
	ok(dial(&c, "127.0.0.1", port, &d) == -1 && d.unready && d.fd < 0 &&
		ready_calls == 1,
	    "ready says no: no connection, d.unready");
	ok(poll(&pfd, 1, 200) == 0, "and the listener saw none");
	ready_answer = 0;

	const char *unspec[] = { "0.0.0.0", "0.1.2.3", "::", "::ffff:0.0.0.0" };
	for (size_t i = 0; i < sizeof(unspec) / sizeof(unspec[0]); i++) {
		memset(&d, 0, sizeof(d));
		int r = dial(&c, unspec[i], port, &d);

		ok(r == -1 && d.denied && d.fd < 0,
		    "%s refused although the "
		    "policy allows every address",
		    unspec[i]);
		ok(d.why != NULL && strstr(d.why, "unspecified") != NULL,
		    "%s: the reason says why", unspec[i]);
	}
	gw_config_free(&c);

	/*
	 * A deny by name holds however many trailing dots the user adds
	 * (the resolver takes "localhost.." for localhost): the allow rule
	 * below would otherwise admit the address it resolves to.
	 */
	char deny[160];

	snprintf(deny, sizeof(deny),
	    "deny users * to localhost ports %u\n"
	    "allow users * to 127.0.0.0/8 ports *\n",
	    port);
	ok(gw_config_parse(deny, strlen(deny), "gw.conf", &c) == 0,
	    "a deny-by-name policy parses");
	const char *dotted[] = { "localhost", "localhost.", "localhost..",
		"LocalHost...", "localhost...." };
	for (size_t i = 0; i < sizeof(dotted) / sizeof(dotted[0]); i++) {
		memset(&d, 0, sizeof(d));
		int r = dial(&c, dotted[i], port, &d);

		ok(r == -1 && d.denied && d.fd < 0 && d.rule != NULL &&
			d.rule->line == 1,
		    "\"%s\" refused by the deny rule "
		    "(line 1)",
		    dotted[i]);
		if (d.fd >= 0)
			close(d.fd);
	}
	ok(dial(&c, "127.0.0.1", port, &d) == 0 && d.fd >= 0,
	    "the address itself is allowed (the deny is by name)");
	if (d.fd >= 0)
		close(d.fd);
	close(lfd);
	gw_config_free(&c);
	return tap_done();
}
