/*
 * yktest: drive the YubiKey OTP code (ykotp.h, ykval.h) from the tests.
 *
 *   yktest parse SPEC                 "ok PUBLICID" or "error WHY"
 *   yktest shaped STRING              "yes CANONICAL" or "no"
 *   yktest decode SPEC... -- OTP      "OK INDEX SESSION USE" or the result
 *   yktest verify [-d] [-c CAFILE] [-t MS] -i ID URL... -- OTP
 *                                     "RESULT ELAPSED_MS"
 *   yktest cmp S1 U1 S2 U2            "-1", "0" or "1"
 *
 * verify reads the base64 API key from $AMFA_YKVAL_KEY (unset or empty:
 * unsigned).  The core's log lines go to standard error, prefixed "LOG ".
 * Exit status: 0 when it printed a result, 2 on a usage error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "yubikey/ykotp.h"
#include "yubikey/ykval.h"

#define MAX_TOKENS 16
#define MAX_URLS   8

static const char *const yk_names[] = {
	[AMFA_YK_OK] = "OK",
	[AMFA_YK_MALFORMED] = "MALFORMED",
	[AMFA_YK_UNKNOWN_TOKEN] = "UNKNOWN_TOKEN",
	[AMFA_YK_BAD_CRC] = "BAD_CRC",
	[AMFA_YK_BAD_PRIVATE_ID] = "BAD_PRIVATE_ID",
};

static const char *const ykval_names[] = {
	[AMFA_YKVAL_OK] = "OK",
	[AMFA_YKVAL_BAD_OTP] = "BAD_OTP",
	[AMFA_YKVAL_REPLAYED] = "REPLAYED",
	[AMFA_YKVAL_REJECTED] = "REJECTED",
	[AMFA_YKVAL_FORGED] = "FORGED",
	[AMFA_YKVAL_UNREACHABLE] = "UNREACHABLE",
	[AMFA_YKVAL_ERROR] = "ERROR",
};

static void
log_to_stderr(void *ctx, int prio, const char *msg)
{
	(void)ctx;
	fprintf(stderr, "LOG %d %s\n", prio, msg);
}

static int
usage(void)
{
	fprintf(stderr,
	    "usage: yktest parse SPEC | shaped STRING | "
	    "decode SPEC... -- OTP |\n"
	    "       verify [-d] [-c CAFILE] [-t MS] -i ID URL... -- OTP | "
	    "cmp S1 U1 S2 U2\n");
	return 2;
}

static int
cmd_parse(int argc, char **argv)
{
	struct amfa_yk_token t;
	const char *why = NULL;

	if (argc != 1)
		return usage();
	if (amfa_yk_token_parse(argv[0], &t, &why) != 0) {
		printf("error %s\n", why);
		return 0;
	}
	printf("ok %s\n", t.public_id);
	amfa_yk_token_wipe(&t, 1);
	return 0;
}

static int
cmd_shaped(int argc, char **argv)
{
	char buf[AMFA_YK_OTP_MAX + 1];

	if (argc != 1)
		return usage();
	if (amfa_yk_otp_normalize(argv[0], buf, sizeof(buf)) < 0) {
		if (amfa_yk_otp_shaped(argv[0]))
			return printf("inconsistent\n"), 1;
		printf("no\n");
	} else {
		if (!amfa_yk_otp_shaped(argv[0]))
			return printf("inconsistent\n"), 1;
		printf("yes %s\n", buf);
	}
	return 0;
}

static int
cmd_decode(int argc, char **argv)
{
	struct amfa_yk_token tokens[MAX_TOKENS];
	enum amfa_yk_result r;
	const char *why;
	size_t n = 0, which = 99;
	unsigned session = 99999, use = 999;
	int i;

	for (i = 0; i < argc && strcmp(argv[i], "--") != 0; i++) {
		if (n == MAX_TOKENS)
			return usage();
		if (amfa_yk_token_parse(argv[i], &tokens[n], &why) != 0) {
			fprintf(stderr, "yktest: bad token %d: %s\n", i, why);
			amfa_yk_token_wipe(tokens, n);
			return 2;
		}
		n++;
	}
	if (i + 2 != argc) {
		amfa_yk_token_wipe(tokens, n);
		return usage();
	}
	r = amfa_yk_decode(tokens, n, argv[i + 1], &which, &session, &use);
	amfa_yk_token_wipe(tokens, n);
	if (r == AMFA_YK_OK)
		printf("OK %zu %u %u\n", which, session, use);
	else if (which != 99 || session != 99999 || use != 999)
		printf("%s but outputs were written\n", yk_names[r]);
	else
		printf("%s\n", yk_names[r]);
	fprintf(stderr, "yktest: %s\n", amfa_yk_result_str(r));
	return 0;
}

static int
cmd_verify(int argc, char **argv)
{
	const char *urls[MAX_URLS + 1];
	struct amfa_ykval_config c;
	struct timespec t0, t1;
	enum amfa_ykval_result r;
	int ch, n = 0;
	long ms;

	memset(&c, 0, sizeof(c));
	c.timeout_ms = 5000;
	optind = 1;
	while ((ch = getopt(argc, argv, "+c:di:t:")) != -1) {
		switch (ch) {
		case 'c':
			c.ca_file = optarg;
			break;
		case 'd':
			amfa_log_set_debug(1);
			break;
		case 'i':
			c.client_id = optarg;
			break;
		case 't':
			c.timeout_ms = strtol(optarg, NULL, 10);
			break;
		default:
			return usage();
		}
	}
	for (; optind < argc && strcmp(argv[optind], "--") != 0; optind++) {
		if (n == MAX_URLS)
			return usage();
		urls[n++] = argv[optind];
	}
	urls[n] = NULL;
	if (optind + 2 != argc)
		return usage();
	c.urls = urls;
	c.api_key_b64 = getenv("AMFA_YKVAL_KEY");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	r = amfa_ykval_verify(&c, argv[optind + 1]);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (t1.tv_sec - t0.tv_sec) * 1000 +
	    (t1.tv_nsec - t0.tv_nsec) / 1000000;
	printf("%s %ld\n", ykval_names[r], ms);
	fprintf(stderr, "yktest: %s\n", amfa_ykval_result_str(r));
	return 0;
}

static int
cmd_cmp(int argc, char **argv)
{
	int r;

	if (argc != 4)
		return usage();
	r = amfa_yk_counter_cmp((unsigned)strtoul(argv[0], NULL, 0),
	    (unsigned)strtoul(argv[1], NULL, 0),
	    (unsigned)strtoul(argv[2], NULL, 0),
	    (unsigned)strtoul(argv[3], NULL, 0));
	printf("%d\n", r < 0 ? -1 : r > 0);
	return 0;
}

int
main(int argc, char **argv)
{
	int rc;

	if (argc < 2)
		return usage();
	amfa_log_set_sink(log_to_stderr, NULL);
	if (strcmp(argv[1], "parse") == 0)
		rc = cmd_parse(argc - 2, argv + 2);
	else if (strcmp(argv[1], "shaped") == 0)
		rc = cmd_shaped(argc - 2, argv + 2);
	else if (strcmp(argv[1], "decode") == 0)
		rc = cmd_decode(argc - 2, argv + 2);
	else if (strcmp(argv[1], "verify") == 0)
		rc = cmd_verify(argc - 1, argv + 1);
	else if (strcmp(argv[1], "cmp") == 0)
		rc = cmd_cmp(argc - 2, argv + 2);
	else
		rc = usage();
	fflush(stdout);
	return rc;
}
