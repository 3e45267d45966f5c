/* Session credentials: JSON form, timestamps, ~/.aws INI lookups. */
#include <stdlib.h>
#include <string.h>

#include "aws/aws_profile.h"
#include "aws/aws_time.h"
#include "creds/creds.h"
#include "secure_file.h"
#include "tap.h"

static void
iso8601(void)
{
	time_t t;

	ok(amfa_parse_iso8601("2026-11-24T23:30:00Z", &t) == 0 &&
		t == 1795563000,
	    "plain UTC time");
	ok(amfa_parse_iso8601("2026-11-24T23:30:00.123Z", &t) == 0 &&
		t == 1795563000,
	    "fractional seconds");
	ok(amfa_parse_iso8601("2026-11-24T23:30:00", &t) == -1, "no Z refused");
	ok(amfa_parse_iso8601("2026-11-24T23:30:00+01:00", &t) == -1,
	    "offset refused");
	ok(amfa_parse_iso8601("2026-11-24", &t) == -1, "date only refused");
	ok(amfa_parse_iso8601("yesterday", &t) == -1, "words refused");
	ok(amfa_parse_iso8601("2026-11-24T23:30:00.Z", &t) == -1,
	    "empty fraction refused");
	ok(amfa_parse_iso8601("1960-01-01T00:00:00Z", &t) == -1,
	    "before the epoch refused");
}

static void
set(void)
{
	static const char *e = "2026-11-24T23:30:00Z";
	struct amfa_creds c;
	const char *why;

	ok(amfa_creds_set(&c, "ASIAX", "s", "t", e, &why) == 0 && why == NULL,
	    "four fields set");
	is_str(c.secret_access_key, "s", "secret copied");
	is_int(c.expires, 1795563000, "expiration parsed");
	amfa_creds_free(&c);
	ok(amfa_creds_set(&c, "ASIAX", NULL, "t", e, &why) == -1 &&
		why != NULL && c.access_key_id == NULL,
	    "missing secret refused");
	ok(amfa_creds_set(&c, "ASIAX", "s", NULL, e, &why) == -1,
	    "missing token refused");
	ok(amfa_creds_set(&c, "ASIAX", "s", "t", "later", &why) == -1 &&
		c.access_key_id == NULL && c.secret_access_key == NULL,
	    "bad expiration refused, nothing kept");
	ok(amfa_creds_set(&c, "ASIAX", "s", "t",
	       "2026-11-24T23:30:00.0000000000000000000000000000000000000Z",
	       &why) == -1,
	    "expiration too long for the record refused");
}

static void
json(void)
{
	struct amfa_creds c = { 0 }, back;
	const char *why;
	char *text;
	size_t len;

	c.access_key_id = "ASIAEXAMPLE123456789";
	c.secret_access_key = "se/cr+et\"\\key";
	c.session_token = "tok/en==";
	strcpy(c.expiration, "2026-11-24T23:30:00Z");
	text = amfa_creds_to_json(&c, &len);
	ok(text != NULL && len == strlen(text), "to JSON");
	ok(strstr(text, "\"Version\": 1") != NULL ||
		strstr(text, "\"Version\":1") != NULL,
	    "Version 1");
	ok(strstr(text, "se\\/cr") == NULL, "slashes not escaped");
	ok(amfa_creds_from_json(text, &back, &why) == 0, "parses back");
	is_str(back.access_key_id, c.access_key_id, "AccessKeyId");
	is_str(back.secret_access_key, c.secret_access_key,
	    "SecretAccessKey with quote and backslash");
	is_str(back.session_token, c.session_token, "SessionToken");
	is_int(back.expires, 1795563000, "Expiration parsed");
	amfa_creds_free(&back);
	amfa_wipe_free(text, len + 1);

	static const char *bad[] = {
		"",
		"[]",
		"{\"Version\": 2, \"AccessKeyId\": \"a\", \"SecretAccessKey\": \"b\", \"SessionToken\": \"c\", \"Expiration\": \"2026-11-24T23:30:00Z\"}",
		"{\"Version\": 1, \"SecretAccessKey\": \"b\", \"SessionToken\": \"c\", \"Expiration\": \"2026-11-24T23:30:00Z\"}",
		"{\"Version\": 1, \"AccessKeyId\": 5, \"SecretAccessKey\": \"b\", \"SessionToken\": \"c\", \"Expiration\": \"2026-11-24T23:30:00Z\"}",
		"{\"Version\": 1, \"AccessKeyId\": \"a\", \"SecretAccessKey\": \"b\", \"SessionToken\": \"c\", \"Expiration\": \"soon\"}",
		"{\"Version\": 1, \"AccessKeyId\": \"a\", \"SecretAccessKey\": \"b\", \"SessionToken\": \"c\"",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ok(amfa_creds_from_json(bad[i], &back, &why) == -1 &&
			why != NULL,
		    "bad JSON %zu refused (%s)", i, why);
}

static void
ini(void)
{
	const char *cred =
	    "# comment\n"
	    "[default]\n"
	    "aws_access_key_id = AKIADEFAULT00000000\n"
	    "aws_secret_access_key=defaultsecret\n"
	    "\n"
	    "[ work ]\n"
	    "; another comment\n"
	    "  aws_access_key_id   =   AKIAWORK0000000000  \r\n"
	    "aws_secret_access_key = work/secret+key\n"
	    "[workshop]\n"
	    "aws_access_key_id = AKIAWRONG000000000\n";
	const char *conf =
	    "[default]\nregion = us-east-1\n"
	    "[profile work]\nregion = eu-west-1\nmfa_serial = arn:aws:iam::123456789012:mfa/alice\n";
	char v[64];

	ok(amfa_aws_ini_get(cred, "default", "aws_access_key_id", v,
	       sizeof(v)) == 1,
	    "default key found");
	is_str(v, "AKIADEFAULT00000000", "default key");
	ok(amfa_aws_ini_get(cred, "default", "aws_secret_access_key", v,
	       sizeof(v)) == 1,
	    "no spaces around =");
	is_str(v, "defaultsecret", "default secret");
	ok(amfa_aws_ini_get(cred, "work", "aws_access_key_id", v, sizeof(v)) ==
		1,
	    "section header with blanks");
	is_str(v, "AKIAWORK0000000000", "blanks and CR trimmed");
	ok(amfa_aws_ini_get(cred, "work", "aws_secret_access_key", v,
	       sizeof(v)) == 1 &&
		strcmp(v, "work/secret+key") == 0,
	    "work secret");
	ok(amfa_aws_ini_get(cred, "nope", "aws_access_key_id", v, sizeof(v)) ==
		0,
	    "missing section");
	ok(amfa_aws_ini_get(cred, "work", "region", v, sizeof(v)) == 0,
	    "missing key");
	ok(amfa_aws_ini_get(conf, "profile work", "mfa_serial", v, sizeof(v)) ==
		    1 &&
		strcmp(v, "arn:aws:iam::123456789012:mfa/alice") == 0,
	    "config uses [profile NAME]");
	ok(amfa_aws_ini_get(conf, "work", "region", v, sizeof(v)) == 0,
	    "[work] is not [profile work]");
	ok(amfa_aws_ini_get(cred, "work", "aws_secret_access_key", v, 5) == -1,
	    "value too long for the buffer");
	ok(amfa_aws_ini_get("aws_access_key_id = X\n", "default",
	       "aws_access_key_id", v, sizeof(v)) == 0,
	    "key before any section");
}

int
main(void)
{
	iso8601();
	set();
	json();
	ini();
	return tap_done();
}
