/*
 * stsbench: the client side of the STS path, piece by piece, with the
 * core's own functions (linked from the core library, as the module is).
 *
 *   stsbench sign N		SigV4 Authorization of a GetSessionToken POST
 *   stsbench parse N		libxml2 parse of a GetSessionToken answer and
 *				the four credential fields taken out
 *   stsbench call URL CA FILE	one GetSessionToken per line of FILE against
 *				URL (CA "-" for none): sign, send, receive,
 *				parse
 *
 * FILE for "call" is written by tests/bench/bench.py:
 *	STEP0 PERIOD
 *	ACCESS_KEY_ID SECRET SERIAL CODE(STEP0) CODE(STEP0+1) ...
 *
 * Output, one line of KEY=VALUE: n, wall_ns (the loop), cpu_ns (user +
 * system time of this process in the loop), first_ns (the first call alone:
 * for "call" it includes libcurl's and OpenSSL's one-time set-up).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "aws/aws_query.h"
#include "aws/sigv4.h"
#include "aws/sts.h"
#include "bench_clock.h"

/* The shape the fixture (and AWS) sends, with credentials of real size. */
static const char answer_head[] =
    "<GetSessionTokenResponse xmlns=\"https://sts.amazonaws.com/doc/"
    "2011-06-15/\">\n"
    "  <GetSessionTokenResult>\n"
    "    <Credentials>\n"
    "      <AccessKeyId>ASIAEXAMPLE7Q2WZ4N5R</AccessKeyId>\n"
    "      <SecretAccessKey>wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY"
    "</SecretAccessKey>\n"
    "      <SessionToken>";
static const char answer_tail[] =
    "</SessionToken>\n"
    "      <Expiration>2026-11-25T23:30:00Z</Expiration>\n"
    "    </Credentials>\n"
    "  </GetSessionTokenResult>\n"
    "  <ResponseMetadata>\n"
    "    <RequestId>58c5dbae-abef-11e0-8cfe-09039844ac7d</RequestId>\n"
    "  </ResponseMetadata>\n"
    "</GetSessionTokenResponse>\n";

static int64_t
cpu_ns(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ((int64_t)ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000 +
	    ((int64_t)ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000;
}

static void
report(int n, int64_t wall, int64_t cpu, int64_t first)
{
	printf("n=%d wall_ns=%lld cpu_ns=%lld first_ns=%lld\n", n,
	    (long long)wall, (long long)cpu, (long long)first);
}

static int
bench_sign(int n)
{
	static const char body[] =
	    "Action=GetSessionToken&Version=2011-06-15"
	    "&DurationSeconds=43200&SerialNumber=arn%3Aaws%3Aiam%3A%3A"
	    "123456789012%3Amfa%2Falice&TokenCode=123456";
	struct amfa_aws_key key = { "AKIAIOSFODNN7EXAMPLE",
		"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", NULL };
	struct amfa_sigv4_header h[3];
	struct amfa_sigv4_request r;
	int64_t t0, c0, first = 0;
	char date[17];

	amfa_sigv4_date((long long)time(NULL), date);
	h[0] = (struct amfa_sigv4_header){ "Content-Type",
		"application/x-www-form-urlencoded; charset=utf-8" };
	h[1] = (struct amfa_sigv4_header){ "Host",
		"sts.us-east-1.amazonaws.com" };
	h[2] = (struct amfa_sigv4_header){ "X-Amz-Date", date };
	memset(&r, 0, sizeof(r));
	r.method = "POST";
	r.path = "/";
	r.headers = h;
	r.nheaders = 3;
	r.payload = body;
	r.payload_len = sizeof(body) - 1;
	r.normalize_path = 1;
	t0 = now_ns();
	c0 = cpu_ns();
	for (int i = 0; i < n; i++) {
		char *auth = amfa_sigv4_authorization(&r, &key, date,
		    "us-east-1", "sts");

		if (auth == NULL) {
			fprintf(stderr, "stsbench: signing failed\n");
			return 1;
		}
		free(auth);
		if (i == 0)
			first = now_ns() - t0;
	}
	report(n, now_ns() - t0, cpu_ns() - c0, first);
	return 0;
}

static int
bench_parse(int n)
{
	static const char *const fields[] = {
		"GetSessionTokenResult/Credentials/AccessKeyId",
		"GetSessionTokenResult/Credentials/SecretAccessKey",
		"GetSessionTokenResult/Credentials/SessionToken",
		"GetSessionTokenResult/Credentials/Expiration",
	};
	char token[461], *answer;
	size_t len;
	int64_t t0, c0, first = 0;

	/* A token of the size STS issues: base64-ish, ~460 characters. */
	for (size_t i = 0; i < sizeof(token) - 1; i++)
		token[i] =
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		    "0123456789+/"[(i * 7 + 3) % 64];
	token[sizeof(token) - 1] = '\0';
	len = strlen(answer_head) + strlen(token) + strlen(answer_tail);
	if ((answer = malloc(len + 1)) == NULL)
		return 1;
	snprintf(answer, len + 1, "%s%s%s", answer_head, token, answer_tail);
	t0 = now_ns();
	c0 = cpu_ns();
	for (int i = 0; i < n; i++) {
		xmlDocPtr doc = amfa_aws_xml_parse(answer, len);

		if (doc == NULL) {
			fprintf(stderr, "stsbench: parse failed\n");
			return 1;
		}
		for (size_t f = 0; f < sizeof(fields) / sizeof(fields[0]);
		     f++) {
			char *v = amfa_aws_xml_text(doc, fields[f]);

			if (v == NULL) {
				fprintf(stderr, "stsbench: no %s\n", fields[f]);
				return 1;
			}
			free(v);
		}
		amfa_aws_xml_free(doc);
		if (i == 0)
			first = now_ns() - t0;
	}
	report(n, now_ns() - t0, cpu_ns() - c0, first);
	free(answer);
	return 0;
}

static int
bench_call(const char *url, const char *ca, const char *path)
{
	struct amfa_sts_config c = { url, "us-east-1",
		strcmp(ca, "-") == 0 ? NULL : ca, 10000, 900 };
	FILE *f = fopen(path, "r");
	long long step0, period;
	char key_id[130], secret[130], serial[300], *line = NULL;
	size_t cap = 0;
	int64_t t0, c0, first = 0;
	int n = 0;

	if (f == NULL || fscanf(f, "%lld %lld\n", &step0, &period) != 2 ||
	    period <= 0) {
		fprintf(stderr, "stsbench: %s: cannot read header\n", path);
		return 2;
	}
	t0 = now_ns();
	c0 = cpu_ns();
	while (getline(&line, &cap, f) > 0) {
		struct amfa_sts_credentials cr;
		struct amfa_aws_key key = { key_id, secret, NULL };
		char code[8], *p;
		long long i = (long long)time(NULL) / period - step0;
		enum amfa_sts_result r;
		int off;

		if (sscanf(line, "%129s %129s %299s %n", key_id, secret, serial,
			&off) != 3 ||
		    i < 0) {
			fprintf(stderr, "stsbench: bad line\n");
			return 2;
		}
		/* Skip to the code of the current step. */
		for (p = line + off; i > 0 && p != NULL; i--)
			if ((p = strchr(p, ' ')) != NULL)
				p++;
		if (p == NULL || sscanf(p, "%7s", code) != 1) {
			fprintf(stderr, "stsbench: no code for this step\n");
			return 2;
		}
		r = amfa_sts_get_session_token(&c, &key, serial, code, &cr);
		if (r != AMFA_STS_OK) {
			fprintf(stderr, "stsbench: call %d: %s\n", n,
			    amfa_sts_result_str(r));
			return 1;
		}
		amfa_sts_credentials_free(&cr);
		if (n++ == 0)
			first = now_ns() - t0;
	}
	report(n, now_ns() - t0, cpu_ns() - c0, first);
	free(line);
	fclose(f);
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "sign") == 0)
		return bench_sign(atoi(argv[2]));
	if (argc == 3 && strcmp(argv[1], "parse") == 0)
		return bench_parse(atoi(argv[2]));
	if (argc == 5 && strcmp(argv[1], "call") == 0)
		return bench_call(argv[2], argv[3], argv[4]);
	fprintf(stderr,
	    "usage: stsbench sign N | parse N | call URL CA FILE\n");
	return 2;
}
