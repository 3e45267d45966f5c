/* awsmfa.conf and user files: good files, bad files, file checks. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "logcap.h"
#include "tap.h"
#include "user.h"

#define SEED "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ" /* "12345678901234567890" */

static int
parse_cfg(const char *text, struct amfa_config *c)
{
	logcap_start();
	return amfa_config_parse(text, strlen(text), "test.conf", c);
}

static int
parse_user(const char *text, struct amfa_user *u)
{
	struct amfa_config cfg;
	int r;

	amfa_config_parse("", 0, "none", &cfg);
	logcap_start();
	r = amfa_user_parse(text, strlen(text), "alice.conf", "alice", &cfg, u);
	amfa_config_free(&cfg);
	return r;
}

static void
config_good(void)
{
	struct amfa_config c;

	ok(parse_cfg("", &c) == 0, "empty config parses");
	is_str(c.users_dir, "/etc/awsmfa/users.d", "default users_dir");
	is_str(c.state_dir, "/var/lib/awsmfa", "default state_dir");
	is_int(c.window, 1, "default window");
	is_int(c.lockout_attempts, 5, "default lockout_attempts");
	is_int(c.lockout_seconds, 300, "default lockout_seconds");
	amfa_config_free(&c);

	ok(parse_cfg("# comment\n\n  users_dir = /u \nstate_dir=/s\r\n"
		     "window = 3\nlockout_attempts = 2\nlockout_seconds = 9\n",
	       &c) == 0,
	    "full config parses");
	is_str(c.users_dir, "/u", "users_dir trimmed");
	is_str(c.state_dir, "/s", "CRLF line accepted");
	is_int(c.window, 3, "window");
	is_int(c.lockout_attempts, 2, "lockout_attempts");
	is_int(c.lockout_seconds, 9, "lockout_seconds");
	amfa_config_free(&c);
}

static void
config_bad(void)
{
	static const struct {
		const char *text, *msg;
	} bad[] = {
		{ "window = 1\nbogus = 2\n",
		    "test.conf:2: unknown key \"bogus\"" },
		{ "window = 1\nwindow = 2\n",
		    "test.conf:2: window given more than once" },
		{ "window =\n", "test.conf:1: window has no value" },
		{ "window 1\n", "test.conf:1: expected \"key = value\"" },
		{ "window = 11\n",
		    "test.conf:1: window must be a whole number from 0 to 10" },
		{ "window = -1\n", "test.conf:1: window must be" },
		{ "window = 1x\n", "test.conf:1: window must be" },
		{ "window = 99999999999999999999\n",
		    "test.conf:1: window must be" },
		{ "lockout_attempts = 0\n",
		    "test.conf:1: lockout_attempts must be" },
		{ "\n\nusers_dir = relative\n",
		    "test.conf:3: users_dir: must be an absolute path" },
		{ "users_dir = /etc/../tmp\n",
		    "test.conf:1: users_dir: must not contain" },
		{ "state_dir = /var/..\n",
		    "test.conf:1: state_dir: must not contain" },
		{ "Window = 1\n", "test.conf:1: bad key name" },
		{ "= 1\n", "test.conf:1: bad key name" },
		{ "window = 1\x01\n", "test.conf:1: control character" },
		{ "\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\nbogus = 1\n",
		    "test.conf:24: unknown key \"bogus\"" },
	};
	struct amfa_config c;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ok(parse_cfg(bad[i].text, &c) == -1, "bad config %zu refused",
		    i);
		ok(logcap_has(bad[i].msg), "message names file and line: %s",
		    bad[i].msg);
	}
	char nul[] = "window = 1\n\0x = 2\n";
	logcap_start();
	ok(amfa_config_parse(nul, sizeof(nul) - 1, "test.conf", &c) == -1 &&
		logcap_has("NUL"),
	    "NUL byte refused");
	char *longline = malloc(5000);
	memset(longline, 'a', 4999);
	longline[4999] = '\0';
	ok(parse_cfg(longline, &c) == -1 &&
		logcap_has("test.conf:1: line longer"),
	    "over-long line refused");
	free(longline);
	/* A file name too long for the message loses its end, not the line
	 * number. */
	char shown[700];
	memset(shown, 'f', sizeof(shown) - 1);
	shown[sizeof(shown) - 1] = '\0';
	logcap_start();
	ok(amfa_config_parse("\n\n\n\n\n\n\n\n\n\nbogus = 1\n", 20, shown,
	       &c) == -1 &&
		logcap_has("ffff:11: unknown key"),
	    "a long file name keeps the line number");
}

static void
user_good(void)
{
	struct amfa_user u;

	ok(parse_user(
	       "iam_user = alice\nmfa_serial = arn:aws:iam::123456789012:mfa/alice\n"
	       "totp_secret = " SEED "\n",
	       &u) == 0,
	    "user file parses");
	is_str(u.iam_user, "alice", "iam_user");
	is_str(u.mfa_serial, "arn:aws:iam::123456789012:mfa/alice",
	    "mfa_serial");
	ok(u.totp_keylen == 20 &&
		memcmp(u.totp_key, "12345678901234567890", 20) == 0,
	    "seed decoded");
	is_int(u.totp_digits, 6, "default digits");
	is_int(u.totp_period, 30, "default period");
	is_int(u.totp_algorithm, AMFA_TOTP_SHA1, "default algorithm");
	amfa_user_free(&u);

	ok(parse_user(
	       "iam_user = a.b+c=d,e@f-g_h\ntotp_secret = gezd gnbv gy3t qojq gezd gnbv gy3t qojq\n"
	       "totp_algorithm = sha512\ntotp_digits = 8\ntotp_period = 60\n"
	       "mfa_serial = GAHT12345678\n",
	       &u) == 0,
	    "user with options, spaced lower-case seed, hardware serial");
	is_int(u.totp_algorithm, AMFA_TOTP_SHA512, "sha512");
	is_int(u.totp_digits, 8, "8 digits");
	is_int(u.totp_period, 60, "period 60");
	amfa_user_free(&u);
}

static void
user_bad(void)
{
	static const struct {
		const char *text, *msg;
	} bad[] = {
		{ "totp_secret = " SEED "\n", "iam_user is required" },
		{ "iam_user = alice\n", "totp_secret is required" },
		{ "iam_user = alice\ntotp_secret = " SEED
		  "\ntotp_secret = " SEED "\n",
		    "alice.conf:3: totp_secret given more than once" },
		{ "iam_user = alice\ntotp_secret = GEZDGNBVGY3TQOJQ\n",
		    "alice.conf:2: totp_secret is 80 bits, at least 128" },
		{ "iam_user = alice\ntotp_secret = GEZDGNBVGY3TQOJ1GEZDGNBVGY3TQOJQ\n",
		    "alice.conf:2: totp_secret is not valid base32" },
		{ "iam_user = al ice\n",
		    "alice.conf:1: iam_user: not a valid IAM user name" },
		{ "iam_user = alice\nmfa_serial = arn:aws:iam::12345:mfa/alice\n",
		    "alice.conf:2: mfa_serial: must look like" },
		{ "iam_user = alice\nmfa_serial = arn:aws:iam::123456789012:user/alice\n",
		    "alice.conf:2: mfa_serial: must look like" },
		{ "iam_user = alice\nmfa_serial = short\n",
		    "alice.conf:2: mfa_serial: not a valid MFA serial" },
		{ "iam_user = alice\ntotp_digits = 9\n",
		    "alice.conf:2: totp_digits must be" },
		{ "iam_user = alice\ntotp_period = 5\n",
		    "alice.conf:2: totp_period must be" },
		{ "iam_user = alice\ntotp_algorithm = md5\n",
		    "alice.conf:2: totp_algorithm: unknown value" },
	};
	struct amfa_user u;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ok(parse_user(bad[i].text, &u) == -1,
		    "bad user file %zu refused", i);
		ok(logcap_has(bad[i].msg), "message: %s", bad[i].msg);
		ok(!logcap_has("GEZDGNBV") && !logcap_has("gezd"),
		    "the secret is not in the message");
	}
}

static int
parse_user_cfg(const char *cfgtext, const char *text, struct amfa_user *u)
{
	struct amfa_config cfg;
	int r;

	amfa_config_parse(cfgtext, strlen(cfgtext), "cfg", &cfg);
	logcap_start();
	r = amfa_user_parse(text, strlen(text), "alice.conf", "alice", &cfg, u);
	amfa_config_free(&cfg);
	return r;
}

#define KEYS                                     \
	"access_key_id = AKIAIOSFODNN7EXAMPLE\n" \
	"secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n"
#define SERIAL "mfa_serial = arn:aws:iam::123456789012:mfa/alice\n"

static void
sts_settings(void)
{
	struct amfa_config c;
	struct amfa_user u;

	ok(parse_cfg("", &c) == 0, "defaults");
	is_int(c.verify, AMFA_VERIFY_LOCAL, "verify defaults to local");
	is_int(c.failmode, AMFA_FAIL_SECURE, "failmode defaults to secure");
	is_int(c.session_duration, 43200, "12 hours");
	is_str(c.region, "us-east-1", "region default");
	ok(c.sts_endpoint == NULL, "endpoint derived from the region");
	is_int(c.sts_timeout, 10, "sts_timeout default");
	is_str(c.store_dir, "/run/awsmfa", "store_dir default");
	amfa_config_free(&c);

	ok(parse_cfg(
	       "verify = local+sts\nfailmode = safe\nsession_duration = 900\n"
	       "region = eu-west-1\nsts_endpoint = https://sts.eu-west-1.amazonaws.com/\n"
	       "sts_timeout = 3\nca_file = /etc/ssl/certs/ca-certificates.crt\n"
	       "store_dir = /run/x\n",
	       &c) == 0,
	    "all STS settings");
	is_int(c.verify, AMFA_VERIFY_BOTH, "local+sts");
	is_int(c.failmode, AMFA_FAIL_SAFE, "safe");
	amfa_config_free(&c);

	static const struct {
		const char *text, *msg;
	} bad[] = {
		{ "verify = maybe\n", "test.conf:1: verify: unknown value" },
		{ "session_duration = 899\n",
		    "session_duration must be a whole number from 900 to 129600" },
		{ "session_duration = 129601\n", "session_duration must be" },
		{ "sts_endpoint = http://sts.amazonaws.com/\n",
		    "plain http is only allowed" },
		{ "sts_endpoint = ftp://x/\n", "must start with https://" },
		{ "sts_endpoint = https://user@evil/\n", "not a plain URL" },
		{ "sts_endpoint = https://\n", "has no host" },
		{ "region = EU-WEST-1\n", "not a valid AWS region" },
		{ "sts_timeout = 0\n", "sts_timeout must be" },
		{ "ca_file = certs.pem\n",
		    "ca_file: must be an absolute path" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ok(parse_cfg(bad[i].text, &c) == -1 && logcap_has(bad[i].msg),
		    "refused: %s", bad[i].msg);
	}
	ok(amfa_check_endpoint("http://127.0.0.1:8080/") == NULL,
	    "http to loopback ok");
	ok(amfa_check_endpoint("http://[::1]:8080/") == NULL,
	    "http to [::1] ok");
	ok(amfa_check_endpoint("http://127.0.0.1.evil.com/") != NULL,
	    "http to a name starting with 127.0.0.1 refused");

	ok(parse_user_cfg("verify = sts\n", "iam_user = alice\n" KEYS SERIAL,
	       &u) == 0,
	    "verify = sts needs no seed");
	is_int(u.verify, AMFA_VERIFY_STS, "inherited verify");
	amfa_user_free(&u);
	ok(parse_user_cfg("",
	       "iam_user = alice\nverify = sts\naws_profile = work\n" SERIAL,
	       &u) == 0,
	    "aws_profile brings the key, the serial is here");
	amfa_user_free(&u);
	static const struct {
		const char *cfg, *text, *msg;
	} ubad[] = {
		{ "verify = sts\n", "iam_user = alice\n" SERIAL,
		    "needs access_key_id and secret_access_key, or aws_profile" },
		{ "verify = sts\n", "iam_user = alice\n" KEYS,
		    "needs mfa_serial" },
		{ "", "iam_user = alice\nverify = sts\naws_profile = work\n",
		    "needs mfa_serial (in this file, also with aws_profile)" },
		{ "verify = local+sts\n", "iam_user = alice\n" KEYS SERIAL,
		    "totp_secret is required with verify = local+sts" },
		{ "",
		    "iam_user = alice\nverify = sts\naccess_key_id = AKIAIOSFODNN7EXAMPLE\n" SERIAL,
		    "access_key_id and secret_access_key go together" },
		{ "", "iam_user = alice\nverify = sts\naws_profile = p\n" KEYS,
		    "either access_key_id or aws_profile" },
		{ "", "iam_user = alice\naccess_key_id = akia\n",
		    "not a valid access key id" },
		{ "",
		    "iam_user = alice\nsecret_access_key = abc def ghi jkl mno\n",
		    "alice.conf:2: secret_access_key: has a character" },
		{ "", "iam_user = alice\naws_profile = a/b\n",
		    "not a valid profile name" },
	};
	for (size_t i = 0; i < sizeof(ubad) / sizeof(ubad[0]); i++) {
		ok(parse_user_cfg(ubad[i].cfg, ubad[i].text, &u) == -1 &&
			logcap_has(ubad[i].msg),
		    "user refused: %s", ubad[i].msg);
		ok(!logcap_has("wJalrXUtnFEMI") && !logcap_has("jkl mno"),
		    "the secret key is not in the message");
	}
}

static void
names(void)
{
	ok(amfa_user_name_invalid("alice") == NULL, "alice is a fine name");
	ok(amfa_user_name_invalid("a.b-c_d@corp") == NULL, "a.b-c_d@corp");
	ok(amfa_user_name_invalid("") != NULL, "empty refused");
	ok(amfa_user_name_invalid("..") != NULL, ".. refused");
	ok(amfa_user_name_invalid(".hidden") != NULL, ".hidden refused");
	ok(amfa_user_name_invalid("-n") != NULL, "-n refused");
	ok(amfa_user_name_invalid("a/b") != NULL, "slash refused");
	ok(amfa_user_name_invalid("a b") != NULL, "space refused");
	ok(amfa_user_name_invalid("a\nb") != NULL, "newline refused");
	ok(amfa_user_name_invalid(
	       "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa") !=
		NULL,
	    "65 characters refused");
}

static void
files(void)
{
	char dir[] = "/tmp/amfa-cfg-XXXXXX", path[600], users[300];
	struct amfa_config c;
	struct amfa_user u;
	int fd;

	ok(mkdtemp(dir) != NULL, "temp dir");
	snprintf(path, sizeof(path), "%s/awsmfa.conf", dir);
	snprintf(users, sizeof(users), "%s/users.d", dir);
	mkdir(users, 0700);
	fd = open(path, O_WRONLY | O_CREAT, 0644);
	dprintf(fd, "users_dir = %s\n", users);
	close(fd);
	logcap_start();
	ok(amfa_config_load(path, getuid(), &c) == 0, "config loads");
	chmod(path, 0664);
	logcap_start();
	struct amfa_config c2;
	ok(amfa_config_load(path, getuid(), &c2) == -1 &&
		logcap_has("too open"),
	    "group-writable config refused");
	chmod(path, 0644);
	logcap_start();
	ok(amfa_config_load(path, getuid() + 1, &c2) == -1 &&
		logcap_has("owned by"),
	    "config with the wrong owner refused");
	logcap_start();
	ok(amfa_config_load("relative.conf", getuid(), &c2) == -1,
	    "relative config path refused");

	snprintf(path, sizeof(path), "%s/alice.conf", users);
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	dprintf(fd, "iam_user = alice\ntotp_secret = %s\n", SEED);
	close(fd);
	is_int(amfa_user_load(&c, "alice", getuid(), &u), 0, "user loads");
	amfa_user_free(&u);
	is_int(amfa_user_load(&c, "bob", getuid(), &u), AMFA_USER_NOT_ENROLLED,
	    "missing user is 'not enrolled'");
	chmod(path, 0640);
	logcap_start();
	is_int(amfa_user_load(&c, "alice", getuid(), &u), -1,
	    "group-readable user file refused");
	ok(logcap_has("too open"), "and says why");
	chmod(path, 0600);
	char lnk[600];
	snprintf(lnk, sizeof(lnk), "%s/mallory.conf", users);
	ok(symlink(path, lnk) == 0, "plant a symlink");
	logcap_start();
	is_int(amfa_user_load(&c, "mallory", getuid(), &u), -1,
	    "user file that is a symlink refused");
	ok(logcap_has("symbolic link"), "and says why");
	snprintf(lnk, sizeof(lnk), "%s/eve.conf", users);
	ok(link(path, lnk) == 0, "plant a hard link");
	logcap_start();
	is_int(amfa_user_load(&c, "eve", getuid(), &u), -1,
	    "user file with two hard links refused");
	chmod(users, 0777);
	logcap_start();
	is_int(amfa_user_load(&c, "alice", getuid(), &u), -1,
	    "world-writable users_dir refused");
	chmod(users, 0700);
	logcap_start();
	is_int(amfa_user_load(&c, "../alice", getuid(), &u), -1,
	    "user name with a slash refused before any file is opened");
	amfa_config_free(&c);
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	(void)!system(cmd);
}

/* state_backend and the table's keys. */
static void
table_settings(void)
{
	static const struct {
		const char *text, *msg;
	} bad[] = {
		{ "state_backend = dynamodb\n",
		    "test.conf: state_backend = dynamodb needs dynamodb_table" },
		{ "state_backend = sqlite\n", "test.conf:1: state_backend" },
		{ "dynamodb_table = t1x\n",
		    "test.conf: dynamodb_* and imds_endpoint need state_backend "
		    "= dynamodb" },
		{ "state_backend = dynamodb\ndynamodb_table = a b\n",
		    "test.conf:2: dynamodb_table: not a valid DynamoDB table" },
		{ "state_backend = dynamodb\ndynamodb_table = ab\n",
		    "test.conf:2: dynamodb_table: not a valid DynamoDB table" },
		{ "state_backend = dynamodb\ndynamodb_table = t1x\n"
		  "dynamodb_endpoint = http://dynamodb.example.com/\n",
		    "test.conf:3: dynamodb_endpoint: plain http is only allowed" },
		{ "state_backend = dynamodb\ndynamodb_table = t1x\n"
		  "imds_endpoint = http://10.0.0.1/\n",
		    "test.conf:3: imds_endpoint: plain http is only allowed" },
		{ "state_backend = dynamodb\ndynamodb_table = t1x\n"
		  "imds_endpoint = http://169.254.169.254@evil/\n",
		    "test.conf:3: imds_endpoint: not a plain URL" },
		{ "state_backend = dynamodb\ndynamodb_table = t1x\n"
		  "dynamodb_key_file = key\n",
		    "test.conf:3: dynamodb_key_file: must be an absolute path" },
		{ "state_backend = dynamodb\ndynamodb_table = t1x\n"
		  "dynamodb_region = US_EAST\n",
		    "test.conf:3: dynamodb_region: not a valid AWS region" },
		{ "state_backend = dynamodb\ndynamodb_table = t1x\n"
		  "dynamodb_timeout = 0\n",
		    "test.conf:3: dynamodb_timeout must be" },
	};
	struct amfa_config c;

	ok(parse_cfg("", &c) == 0 && c.state_backend == AMFA_BACKEND_FILES &&
		c.ddb_table == NULL && c.ddb_timeout == 5,
	    "the files are the default store");
	amfa_config_free(&c);
	ok(parse_cfg("state_backend = dynamodb\ndynamodb_table = amfa-state\n"
		     "dynamodb_region = eu-west-1\n"
		     "dynamodb_endpoint = http://127.0.0.1:8000/\n"
		     "dynamodb_key_file = /etc/awsmfa/table.key\n"
		     "imds_endpoint = http://169.254.169.254\n"
		     "dynamodb_timeout = 3\n",
	       &c) == 0 &&
		c.state_backend == AMFA_BACKEND_DYNAMODB &&
		strcmp(c.ddb_table, "amfa-state") == 0 &&
		strcmp(c.ddb_region, "eu-west-1") == 0 &&
		strcmp(c.ddb_endpoint, "http://127.0.0.1:8000/") == 0 &&
		strcmp(c.ddb_key_file, "/etc/awsmfa/table.key") == 0 &&
		strcmp(c.imds_endpoint, "http://169.254.169.254") == 0 &&
		c.ddb_timeout == 3,
	    "a table configuration parses");
	amfa_config_free(&c);
	ok(parse_cfg("state_backend = dynamodb\ndynamodb_table = t1x\n"
		     "imds_endpoint = http://[fd00:ec2::254]/\n",
	       &c) == 0,
	    "IMDS's IPv6 address is taken");
	amfa_config_free(&c);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ok(parse_cfg(bad[i].text, &c) == -1, "bad table config %zu", i);
		ok(logcap_has(bad[i].msg), "says: %s", bad[i].msg);
	}
}

int
main(void)
{
	table_settings();
	config_good();
	config_bad();
	user_good();
	user_bad();
	sts_settings();
	names();
	files();
	return tap_done();
}
