/*
 * The DynamoDB client (aws/dynamodb.h) from the command line, for
 * tests/aws/test_ddb_client.py:
 *
 *   ddb_client [-k KEY_FILE] [-i IMDS_URL] [-c CRED_CACHE] [-t TIMEOUT_MS]
 *       [-r REGION] ENDPOINT TABLE KEYATTR get USER
 *   ... update USER UPDATE_EXPR COND|- [:name=S:value|:name=N:value]...
 *   ... delete USER COND|- [values as above]
 *
 * Prints "result=R tries=N code=C sent_before=B" and, for an item, one
 * "attr NAME S|N VALUE" line per attribute.  Logs go to stderr.  Exit 0
 * when the call ran (whatever it returned), 2 on bad usage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aws/dynamodb.h"
#include "log.h"
#include "net/net.h"

#define MAX_VALUES 16

static int
usage(void)
{
	fprintf(stderr,
	    "usage: ddb_client [-k KEY_FILE] [-i IMDS] [-c CACHE] [-t MS] "
	    "[-r REGION] ENDPOINT TABLE KEYATTR get|update|delete USER "
	    "...\n");
	return 2;
}

static int
parse_value(char *arg, struct amfa_ddb_attr *a)
{
	char *eq = strchr(arg, '=');

	if (eq == NULL || eq[1] == '\0' || eq[2] != ':')
		return -1;
	*eq = '\0';
	a->name = arg;
	if (eq[1] == 'S')
		a->type = AMFA_DDB_S;
	else if (eq[1] == 'N')
		a->type = AMFA_DDB_N;
	else
		return -1;
	a->value = eq + 3;
	return 0;
}

int
main(int argc, char **argv)
{
	struct amfa_ddb_config c;
	struct amfa_ddb_attr key, values[MAX_VALUES];
	struct amfa_ddb_item item;
	struct amfa_ddb_error err;
	enum amfa_ddb_result r;
	size_t nvalues = 0;
	const char *op, *cond;
	int opt, first;

	memset(&c, 0, sizeof(c));
	memset(&item, 0, sizeof(item));
	c.region = "us-east-1";
	c.timeout_ms = 5000;
	while ((opt = getopt(argc, argv, "k:i:c:t:r:")) != -1) {
		switch (opt) {
		case 'k':
			c.key_file = optarg;
			break;
		case 'i':
			c.imds_endpoint = optarg;
			break;
		case 'c':
			c.cred_cache = optarg;
			break;
		case 't':
			c.timeout_ms = strtol(optarg, NULL, 10);
			break;
		case 'r':
			c.region = optarg;
			break;
		default:
			return usage();
		}
	}
	if (argc - optind < 5)
		return usage();
	amfa_log_set_debug(getenv("DDB_CLIENT_DEBUG") != NULL);
	c.endpoint = argv[optind];
	c.table = argv[optind + 1];
	key.name = argv[optind + 2];
	key.type = AMFA_DDB_S;
	op = argv[optind + 3];
	key.value = argv[optind + 4];
	first = optind + 5;
	if (strcmp(op, "get") == 0) {
		r = amfa_net_ddb_get_item(&c, &key, &item, &err);
	} else if (strcmp(op, "update") == 0 || strcmp(op, "delete") == 0) {
		int upd = op[0] == 'u';
		const char *update = NULL;

		if (argc - first < 1 + upd)
			return usage();
		if (upd)
			update = argv[first++];
		cond = argv[first++];
		if (strcmp(cond, "-") == 0)
			cond = NULL;
		for (; first < argc; first++) {
			if (nvalues == MAX_VALUES ||
			    parse_value(argv[first], &values[nvalues]) != 0)
				return usage();
			nvalues++;
		}
		r = upd ?
		    amfa_net_ddb_update_item(&c, &key, update, cond, values,
			nvalues, NULL, &err) :
		    amfa_net_ddb_delete_item(&c, &key, cond, values, nvalues,
			&err);
	} else {
		return usage();
	}
	printf("result=%s tries=%d code=%s sent_before=%d\n",
	    amfa_ddb_result_str(r), err.tries, err.code[0] ? err.code : "-",
	    err.sent_before);
	for (size_t i = 0; i < item.n; i++)
		printf("attr %s %s %s\n", item.attrs[i].name,
		    item.attrs[i].type == AMFA_DDB_S ? "S" : "N",
		    item.attrs[i].value);
	amfa_ddb_item_free(&item);
	return 0;
}
