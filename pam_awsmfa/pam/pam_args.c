/* Module arguments; see pam_args.h. */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "pam_args.h"

#define DEFAULT_PROMPT "Verification code: "

#define FLAG(f)	 offsetof(struct amfa_pam_args, f), 0
#define VALUE(f) offsetof(struct amfa_pam_args, f), 1
static const struct {
	const char *name;
	size_t off;
	int takes_value;
} args_table[] = {
	{ "config", VALUE(config) },
	{ "chkcode", VALUE(chkcode) },
	{ "prompt", VALUE(prompt) },
	{ "debug", FLAG(debug) },
	{ "nullok", FLAG(nullok) },
	{ "try_first_pass", FLAG(try_first_pass) },
	{ "use_first_pass", FLAG(use_first_pass) },
	{ "forward_pass", FLAG(forward_pass) },
};
#undef FLAG
#undef VALUE

/* grace=MINUTES: 1..1440. */
static int
parse_grace(const char *v, struct amfa_pam_args *a)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(v, &end, 10);
	if (errno != 0 || end == v || *end != '\0' || n < 1 || n > 1440) {
		amfa_log(LOG_ERR, "grace=%s: must be minutes from 1 to 1440",
		    v);
		return -1;
	}
	a->grace = n;
	return 0;
}

static int
parse_one(const char *arg, struct amfa_pam_args *a)
{
	char *base = (char *)a;
	size_t n;

	if (strncmp(arg, "grace=", 6) == 0)
		return parse_grace(arg + 6, a);
	for (size_t i = 0; i < sizeof(args_table) / sizeof(args_table[0]);
	     i++) {
		n = strlen(args_table[i].name);
		if (strncmp(arg, args_table[i].name, n) != 0)
			continue;
		if (args_table[i].takes_value && arg[n] == '=' &&
		    arg[n + 1] != '\0') {
			*(const char **)(base + args_table[i].off) = arg + n +
			    1;
			return 0;
		}
		if (!args_table[i].takes_value && arg[n] == '\0') {
			*(int *)(base + args_table[i].off) = 1;
			return 0;
		}
	}
	amfa_log(LOG_ERR, "unknown or malformed module argument \"%s\"", arg);
	return -1;
}

int
amfa_pam_args_parse(int argc, const char **argv, struct amfa_pam_args *a)
{
	int rc = 0;

	memset(a, 0, sizeof(*a));
	for (int i = 0; i < argc; i++) {
		if (parse_one(argv[i], a) != 0)
			rc = -1;
	}
	if (a->try_first_pass + a->use_first_pass + a->forward_pass > 1) {
		amfa_log(LOG_ERR,
		    "try_first_pass, use_first_pass and "
		    "forward_pass exclude each other");
		rc = -1;
	}
	if (a->config == NULL)
		a->config = AMFA_DEFAULT_CONFIG;
	else if (a->config[0] != '/') {
		amfa_log(LOG_ERR, "config=%s: must be an absolute path",
		    a->config);
		rc = -1;
	}
	if (a->chkcode == NULL)
		a->chkcode = AMFA_CHKCODE_PATH;
	else if (a->chkcode[0] != '/') {
		amfa_log(LOG_ERR, "chkcode=%s: must be an absolute path",
		    a->chkcode);
		rc = -1;
	}
	if (a->prompt == NULL)
		a->prompt = a->forward_pass ?
		    "Password and verification code: " :
		    DEFAULT_PROMPT;
	return rc;
}
