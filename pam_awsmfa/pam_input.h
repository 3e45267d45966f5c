/* Getting the code from the user (or from an earlier module) through PAM. */
#ifndef AMFA_PAM_INPUT_H
#define AMFA_PAM_INPUT_H

#include <security/pam_modules.h>

#include "pam_args.h"

/*
 * Obtain what the user typed as the second factor, per try_first_pass /
 * use_first_pass / forward_pass.  With forward_pass the part before the code
 * becomes PAM_AUTHTOK for the next module.  `digits' is the user's TOTP code
 * length.  On PAM_SUCCESS *code is a heap string: the caller wipes and
 * frees it (amfa_wipe_free_str).
 */
int	amfa_pam_get_code(pam_handle_t *pamh, const struct amfa_pam_args *a,
	    int digits, char **code);

/* Remove spaces and tabs in place ("123 456" as apps show it). */
void	amfa_strip_blanks(char *s);

#endif
