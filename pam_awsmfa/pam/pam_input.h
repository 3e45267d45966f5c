/* Getting the code from the user (or from an earlier module) through PAM. */
#ifndef AMFA_PAM_INPUT_H
#define AMFA_PAM_INPUT_H

#include <security/pam_modules.h>

#include "pam_args.h"
#include "user.h"

/*
 * Obtain what the user typed as the second factor, per try_first_pass /
 * use_first_pass / forward_pass.  With forward_pass the part before the code
 * becomes PAM_AUTHTOK for the next module: the code is a YubiKey OTP of one
 * of `u''s tokens if the input ends with one (its public id followed by 32
 * modhex or Dvorak characters), else the last totp_digits characters.  On
 * PAM_SUCCESS *code is a heap string: the caller wipes and frees it
 * (amfa_wipe_free_str).
 */
int amfa_pam_get_code(pam_handle_t *pamh, const struct amfa_pam_args *a,
    const struct amfa_user *u, char **code);

/* Remove spaces and tabs in place ("123 456" as apps show it). */
void amfa_strip_blanks(char *s);

#endif
