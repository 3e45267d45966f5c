/* The user's request: SSH_ORIGINAL_COMMAND and SSH_CONNECTION. */
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "command.h"
#include "tap.h"

static void
shell(void)
{
	struct gw_command c;

	gw_command_parse(NULL, &c);
	ok(c.kind == GW_CMD_SHELL, "no command: shell");
	gw_command_parse("", &c);
	ok(c.kind == GW_CMD_SHELL, "empty command: shell");
	gw_command_parse("   \t ", &c);
	ok(c.kind == GW_CMD_SHELL, "blank command: shell");
}

static void
connect_ok(void)
{
	struct gw_command c;

	gw_command_parse("connect db.internal 22", &c);
	ok(c.kind == GW_CMD_CONNECT && !c.literal && c.port == 22,
	    "connect by name");
	is_str(c.host, "db.internal", "host");
	gw_command_parse("  connect\tDB.Internal.  5432 ", &c);
	ok(c.kind == GW_CMD_CONNECT && c.port == 5432,
	    "blanks, tabs, trailing dot");
	is_str(c.host, "db.internal", "lower case, no trailing dot");
	/* Every trailing dot goes: no rule ever sees "name." or "name..". */
	for (const char *const *h = (const char *const[]){ "Name.Example.COM.",
		 "name.example.com..", "NAME.example.com...", NULL };
	     *h; h++) {
		char line[64];

		snprintf(line, sizeof(line), "connect %s 22", *h);
		gw_command_parse(line, &c);
		ok(c.kind == GW_CMD_CONNECT && !c.literal &&
			strcmp(c.host, "name.example.com") == 0,
		    "\"%s\" is name.example.com (got \"%s\")", *h, c.host);
	}
	gw_command_parse("connect 10.0.0.5 65535", &c);
	ok(c.kind == GW_CMD_CONNECT && c.literal && c.addr.family == AF_INET &&
		c.port == 65535,
	    "IPv4 literal, highest port");
	gw_command_parse("connect ::1 22", &c);
	ok(c.kind == GW_CMD_CONNECT && c.literal && c.addr.family == AF_INET6,
	    "IPv6 literal");
	is_str(c.host, "::1", "IPv6 shown");
	gw_command_parse("connect [2001:DB8::1] 22", &c);
	ok(c.kind == GW_CMD_CONNECT && c.literal, "IPv6 in brackets");
	is_str(c.host, "2001:db8::1", "IPv6 normalised");
	gw_command_parse("connect host_1.my-corp 1", &c);
	ok(c.kind == GW_CMD_CONNECT, "underscore and dash in names");
}

static void
connect_bad(void)
{
	struct {
		const char *cmd, *why;
	} bad[] = {
		{ "ls -l", "unknown command" },
		{ "scp -t /tmp", "unknown command" },
		{ "connect", "usage: connect HOST PORT" },
		{ "connect h", "usage: connect HOST PORT" },
		{ "connect h 22 extra", "usage: connect HOST PORT" },
		{ "connect h 0", "port must be" },
		{ "connect h 65536", "port must be" },
		{ "connect h 22a", "port must be" },
		{ "connect h -22", "port must be" },
		{ "connect h 000022", "port must be" },
		{ "connect h ssh", "port must be" },
		{ "connect 127.1 22", "not a host name" },
		{ "connect 2130706433 22", "not a host name" },
		{ "connect 0x7f.1 22", "not a host name" },
		{ "connect 017.0.0.1 22", "not a host name" },
		{ "connect 0x7f 22", "not a host name" },
		{ "connect 1password.example 22", NULL },
		{ "connect -oProxyCommand=x 22", "must start with" },
		{ ".h 22", "unknown command" },
		{ "connect a..b 22", "empty label" },
		{ "connect . 22", "empty host name" },
		{ "connect ... 22", "empty host name" },
		{ "connect 127.0.0.1.. 22", "not a host name" },
		{ "connect fe80::1%eth0 22", "bad character" },
		{ "connect h;id 22", "bad character" },
		{ "connect h$(id) 22", "bad character" },
		{ "connect h\n 22", "control character" },
		{ "CONNECT h 22", "unknown command" },
	};
	struct gw_command c;
	char longname[300];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		gw_command_parse(bad[i].cmd, &c);
		if (bad[i].why == NULL) {
			/* Starts with a digit, but a name all the same. */
			ok(c.kind == GW_CMD_CONNECT && !c.literal,
			    "\"%s\" is a name, never an address", bad[i].cmd);
			continue;
		}
		char shown[64];

		/* No raw control characters in the TAP output. */
		snprintf(shown, sizeof(shown), "%s", bad[i].cmd);
		for (char *p = shown; *p != '\0'; p++)
			if (*p < ' ')
				*p = '?';
		ok(c.kind == GW_CMD_BAD && c.why && strstr(c.why, bad[i].why),
		    "refused: \"%s\" (%s)", shown, c.why ? c.why : "-");
	}
	memset(longname, 'a', sizeof(longname));
	memcpy(longname, "connect ", 8);
	strcpy(longname + 8 + 254, " 22");
	gw_command_parse(longname, &c);
	ok(c.kind == GW_CMD_BAD, "host name over 253 characters refused");
	memset(longname, 'a', 200);
	memcpy(longname, "connect ", 8);
	strcpy(longname + 8 + 64, " 22");
	gw_command_parse(longname, &c);
	ok(c.kind == GW_CMD_BAD && strstr(c.why, "label"),
	    "label over 63 characters refused");
	gw_command_parse("rm -rf / --no-preserve-root-and-a-long-tail-of-text",
	    &c);
	ok(c.kind == GW_CMD_BAD && strcmp(c.verb, "rm") == 0,
	    "verb kept for the audit: first word only");
	gw_command_parse(
	    "AWS_SECRET_ACCESS_KEY=abcdefghijklmnopqrstuvwxyz0123456789 x", &c);
	ok(strlen(c.verb) == 32, "verb cut at 32 characters");
}

static void
source(void)
{
	struct gw_source s;

	ok(gw_source_parse("192.0.2.9 51234 10.0.0.1 22", &s) == 0 &&
		strcmp(s.addr, "192.0.2.9") == 0 && s.port == 51234,
	    "v4 source");
	ok(gw_source_parse("2001:db8::9 40000 2001:db8::1 22", &s) == 0 &&
		strcmp(s.addr, "2001:db8::9") == 0,
	    "v6 source");
	ok(gw_source_parse(NULL, &s) == -1, "no SSH_CONNECTION");
	ok(gw_source_parse("", &s) == -1, "empty");
	ok(gw_source_parse("evil\"json 1 2 3", &s) == -1, "not an address");
	ok(gw_source_parse("192.0.2.9 0 10.0.0.1 22", &s) == -1, "port 0");
	ok(gw_source_parse("192.0.2.9 70000 10.0.0.1 22", &s) == -1,
	    "port too big");
}

int
main(void)
{
	shell();
	connect_ok();
	connect_bad();
	source();
	return tap_done();
}
