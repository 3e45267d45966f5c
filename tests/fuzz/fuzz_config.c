/*
 * awsmfa.conf: amfa_config_parse on arbitrary bytes.  A file that parses
 * must leave every setting within its documented bounds.
 */
#include <stdio.h>

#include "config.h"
#include "fuzz_common.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_quiet();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct amfa_config cfg;
	char *buf = fuzz_cstr(data, size);

	if (amfa_config_parse(buf, size, "fuzz.conf", &cfg) == 0) {
		if (cfg.users_dir == NULL || cfg.state_dir == NULL ||
		    cfg.store_dir == NULL || cfg.region == NULL ||
		    cfg.window < 0 || cfg.lockout_attempts < 0 ||
		    cfg.lockout_seconds < 0 || cfg.sts_timeout <= 0 ||
		    cfg.verify < AMFA_VERIFY_LOCAL ||
		    cfg.verify > AMFA_VERIFY_BOTH ||
		    (cfg.sts_endpoint != NULL &&
			amfa_check_endpoint(cfg.sts_endpoint) != NULL) ||
		    amfa_check_region(cfg.region) != NULL)
			abort();
		amfa_config_free(&cfg);
	}
	/* The endpoint and region checks on their own. */
	(void)amfa_check_endpoint(buf);
	(void)amfa_check_region(buf);
	free(buf);
	return 0;
}
