/*
 * chain_append LOG COUNT [TAG]: append COUNT records to the audit log LOG
 * through amfa_chain_append_anchored, the function the module's audit
 * calls (the gateway's calls it without the anchor), chained when LOG has
 * its head and anchored when it has its anchor.  For the evidence tests.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit_chain.h"

int
main(int argc, char **argv)
{
	char json[256];
	int fd, head, anchor = -1, n;

	if (argc < 3 || argc > 4)
		return 2;
	n = atoi(argv[2]);
	if ((fd = open(argv[1], O_RDWR | O_APPEND | O_CLOEXEC)) < 0) {
		perror(argv[1]);
		return 1;
	}
	/* As the module: the anchor too, as root (audit_chain.h). */
	if ((head = amfa_chain_open(argv[1])) == -2 ||
	    (head >= 0 && (anchor = amfa_chain_anchor_open(argv[1])) == -2))
		return 1;
	for (int i = 0; i < n; i++) {
		snprintf(json, sizeof(json),
		    "{\"event\":\"test\",\"tag\":\"%s\",\"n\":%d}",
		    argc == 4 ? argv[3] : "", i);
		if (amfa_chain_append_anchored(argv[1], fd, head, anchor,
			json) != 0) {
			fprintf(stderr, "chain_append: record %d not written\n",
			    i);
			return 1;
		}
	}
	return 0;
}
