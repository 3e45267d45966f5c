/*
 * What the user asked for: SSH_ORIGINAL_COMMAND (nothing: a shell;
 * "connect HOST PORT": a relay) and where they come from (SSH_CONNECTION).
 * Both are the user's input and are checked strictly.
 */
#ifndef GW_COMMAND_H
#define GW_COMMAND_H

#include "policy.h"

enum gw_cmd_kind { GW_CMD_SHELL, GW_CMD_CONNECT, GW_CMD_BAD };

struct gw_command {
	int kind;	/* enum gw_cmd_kind */
	char host[254]; /* lower case, no trailing dot */
	int literal;	/* host is an IP address (addr) */
	struct gw_addr addr;
	unsigned port;
	const char *why; /* GW_CMD_BAD: what is wrong */
	char verb[33];	 /* first word (audit), cut short */
};

/* Parse the command (NULL or "" for none). */
void gw_command_parse(const char *s, struct gw_command *c);

/* Is `s' an acceptable host name?  NULL, or the reason it is not. */
const char *gw_host_name_invalid(const char *s);

struct gw_source {
	char addr[64];
	unsigned port;
};

/* "CLIENT_ADDR CLIENT_PORT SERVER_ADDR SERVER_PORT".  0 or -1. */
int gw_source_parse(const char *ssh_connection, struct gw_source *src);

#endif
