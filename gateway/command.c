/* Parsing the user's request; see command.h. */
#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "command.h"

#define MAX_COMMAND 1024

const char *
gw_host_name_invalid(const char *s)
{
	size_t n = strlen(s), label = 0;
	int alpha = 0;

	if (n == 0)
		return "empty host name";
	if (n > 253)
		return "host name longer than 253 characters";
	if (s[0] == '-' || s[0] == '.')
		return "host name must start with a letter or digit";
	for (const char *p = s; *p != '\0'; p++) {
		if (*p == '.') {
			if (label == 0)
				return "empty label in host name";
			label = 0;
			continue;
		}
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_')
			return "bad character in host name";
		if (!isdigit((unsigned char)*p))
			alpha = 1;
		if (++label > 63)
			return "host name label longer than 63 characters";
	}
	/*
	 * Not a dotted quad, yet the resolver would read it as an address
	 * ("127.1", "2130706433", "0x7f.1"): a name glob must never admit
	 * an address in disguise.
	 */
	if (!alpha || inet_aton(s, &(struct in_addr){ 0 }) != 0)
		return "not a host name, and not an IPv4 address in dotted "
		       "quad form";
	return NULL;
}

static int
parse_literal(const char *s, struct gw_command *c)
{
	char buf[INET6_ADDRSTRLEN + 2];
	size_t n = strlen(s);

	memset(&c->addr, 0, sizeof(c->addr));
	if (inet_pton(AF_INET, s, c->addr.a) == 1) {
		c->addr.family = AF_INET;
		snprintf(c->host, sizeof(c->host), "%s", s);
		return 0;
	}
	/* "[::1]" as well as "::1". */
	if (n >= 2 && n < sizeof(buf) && s[0] == '[' && s[n - 1] == ']') {
		memcpy(buf, s + 1, n - 2);
		buf[n - 2] = '\0';
		s = buf;
	}
	if (inet_pton(AF_INET6, s, c->addr.a) == 1) {
		c->addr.family = AF_INET6;
		inet_ntop(AF_INET6, c->addr.a, c->host, sizeof(c->host));
		return 0;
	}
	return -1;
}

static int
parse_port(const char *s, unsigned *port)
{
	unsigned long v = 0;

	if (*s == '\0' || strlen(s) > 5)
		return -1;
	for (; *s != '\0'; s++) {
		if (!isdigit((unsigned char)*s))
			return -1;
		v = v * 10 + (unsigned long)(*s - '0');
	}
	if (v < 1 || v > 65535)
		return -1;
	*port = (unsigned)v;
	return 0;
}

void
gw_command_parse(const char *s, struct gw_command *c)
{
	char buf[MAX_COMMAND + 1], *w[4], *p;
	int n = 0;
	size_t len;

	memset(c, 0, sizeof(*c));
	c->kind = GW_CMD_BAD;
	if (s == NULL || *s == '\0') {
		c->kind = GW_CMD_SHELL;
		return;
	}
	len = strlen(s);
	/* The verb, for the audit: printable characters only, cut short. */
	for (size_t i = 0;
	     i < len && i < sizeof(c->verb) - 1 && isgraph((unsigned char)s[i]);
	     i++)
		c->verb[i] = s[i];
	if (len > MAX_COMMAND) {
		c->why = "command too long";
		return;
	}
	memcpy(buf, s, len + 1);
	for (p = buf; *p != '\0'; p++) {
		if (iscntrl((unsigned char)*p) && *p != '\t') {
			c->why = "control character in command";
			return;
		}
	}
	for (p = buf; *p != '\0' && n < 4;) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0')
			break;
		w[n++] = p;
		while (*p != '\0' && *p != ' ' && *p != '\t')
			p++;
		if (*p != '\0')
			*p++ = '\0';
	}
	if (n == 0) {
		c->kind = GW_CMD_SHELL;
		return;
	}
	if (strcmp(w[0], "connect") != 0) {
		c->why = "unknown command";
		return;
	}
	if (n != 3) {
		c->why = "usage: connect HOST PORT";
		return;
	}
	if (parse_port(w[2], &c->port) != 0) {
		c->why = "port must be a number from 1 to 65535";
		return;
	}
	if (parse_literal(w[1], c) == 0) {
		c->literal = 1;
		c->kind = GW_CMD_CONNECT;
		return;
	}
	/*
	 * The one canonical form every rule sees: trailing dots (fully
	 * qualified, "name.", or more of them, "name..", which the resolver
	 * takes as the same name) all stripped, lower case below.
	 */
	len = strlen(w[1]);
	while (len > 0 && w[1][len - 1] == '.')
		w[1][--len] = '\0';
	if ((c->why = gw_host_name_invalid(w[1])) != NULL)
		return;
	for (size_t i = 0; i <= len; i++)
		c->host[i] = (char)tolower((unsigned char)w[1][i]);
	c->kind = GW_CMD_CONNECT;
}

int
gw_source_parse(const char *s, struct gw_source *src)
{
	char addr[64];
	unsigned char tmp[16];
	unsigned port;
	int used = 0;

	memset(src, 0, sizeof(*src));
	if (s == NULL || strlen(s) > 200)
		return -1;
	if (sscanf(s, "%63s %u %n", addr, &port, &used) < 2 || used == 0 ||
	    port < 1 || port > 65535)
		return -1;
	if (inet_pton(AF_INET, addr, tmp) != 1 &&
	    inet_pton(AF_INET6, addr, tmp) != 1)
		return -1;
	snprintf(src->addr, sizeof(src->addr), "%s", addr);
	src->port = port;
	return 0;
}
