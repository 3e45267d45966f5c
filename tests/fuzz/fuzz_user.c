/*
 * Enrolment files: amfa_user_parse on arbitrary bytes, and the user-name
 * check.  A record that parses must have a usable TOTP key or an STS-only
 * setup, and a name that passes the check must be safe as a file name.
 */
#include "config.h"
#include "fuzz_common.h"
#include "user.h"

static struct amfa_config cfg;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char conf[] = "verify = local\n";

	fuzz_quiet();
	if (amfa_config_parse(conf, sizeof(conf) - 1, "fuzz.conf", &cfg) != 0)
		abort();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct amfa_user u;
	char *buf = fuzz_cstr(data, size);
	const char *why;

	if (amfa_user_parse(buf, size, "fuzz.conf", "alice", &cfg, &u) == 0) {
		if (u.totp_keylen > AMFA_TOTP_MAX_KEY ||
		    (u.totp_key != NULL && u.totp_keylen < AMFA_TOTP_MIN_KEY) ||
		    u.verify < AMFA_VERIFY_LOCAL || u.verify > AMFA_VERIFY_BOTH)
			abort();
		if (u.totp_key != NULL) {
			struct amfa_totp_params p;
			int64_t m;

			amfa_user_totp(&u, &p);
			(void)amfa_totp_verify(&p, "123456", 1700000000, 1, -1,
			    &m, NULL);
		}
		amfa_user_free(&u);
	}
	if ((why = amfa_user_name_invalid(buf)) == NULL) {
		if (strlen(buf) == 0 || strlen(buf) > AMFA_USER_NAME_MAX ||
		    strchr(buf, '/') != NULL || buf[0] == '.' || buf[0] == '-')
			abort();
	}
	free(buf);
	return 0;
}
