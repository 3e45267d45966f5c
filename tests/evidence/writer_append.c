/*
 * writer_append LOG COUNT [TAG|-]: have the audit writer of LOG
 * (awsmfa-audit-writer, listening at LOG.writer) append COUNT records,
 * through amfa_audit_writer_connect and amfa_audit_writer_send, the calls
 * the gateway makes, each naming its sender ("uid", as the gateway's do).  One connection for all of them, as a gateway's
 * session.  With TAG "-", each record is read from a line of standard
 * input instead (sent as it is).  Prints "sent N" and, for the first
 * refused record, "refused N: ERROR"; exit 0 all written, 1 one refused,
 * 2 no connection.  For the evidence tests.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit_writer.h"

int
main(int argc, char **argv)
{
	char json[8192];
	int fd, n, r;

	if (argc < 3 || argc > 4)
		return 2;
	n = atoi(argv[2]);
	if ((fd = amfa_audit_writer_connect(argv[1])) < 0)
		return 2;
	for (int i = 0; i < n; i++) {
		if (argc == 4 && strcmp(argv[3], "-") == 0) {
			if (fgets(json, sizeof(json), stdin) == NULL)
				break;
			json[strcspn(json, "\n")] = '\0';
		} else
			snprintf(json, sizeof(json),
			    "{\"event\":\"test\",\"uid\":%u,\"tag\":\"%s\","
			    "\"n\":%d}",
			    (unsigned)getuid(), argc == 4 ? argv[3] : "", i);
		if ((r = amfa_audit_writer_send(fd, json)) != 0) {
			printf("refused %d: %s\n", i, strerror(-r));
			return 1;
		}
		printf("sent %d\n", i);
		fflush(stdout);
	}
	return 0;
}
