/* Module arguments (the words after pam_awsmfa.so in a pam.d file). */
#ifndef AMFA_PAM_ARGS_H
#define AMFA_PAM_ARGS_H

struct amfa_pam_args {
	const char *config; /* config=PATH */
	/* chkcode=PATH: the code checker run when the module is not root
	 * (awsmfa-chkcode(8)); default its installed path */
	const char *chkcode;
	const char *prompt; /* prompt=TEXT */
	int debug;
	int nullok; /* not enrolled: PAM_IGNORE */
	int try_first_pass;
	int use_first_pass;
	int forward_pass;
	long grace; /* grace=MINUTES, 0: off */
};

/*
 * Parse argv into `a' (strings point into argv).  Unknown or conflicting
 * arguments are logged and make it return -1: a typo must not weaken auth.
 */
int amfa_pam_args_parse(int argc, const char **argv, struct amfa_pam_args *a);

#endif
