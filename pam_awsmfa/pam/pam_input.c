/* Getting the code through PAM; see pam_input.h. */
#include <stdlib.h>
#include <string.h>

#include <security/pam_ext.h>
#include <security/pam_modules.h>

#include <openssl/crypto.h>

#include "log.h"
#include "pam_input.h"
#include "secure_file.h"
#include "yubikey/ykotp.h"

void
amfa_strip_blanks(char *s)
{
	char *d = s;

	for (; *s != '\0'; s++) {
		if (*s != ' ' && *s != '\t')
			*d++ = *s;
	}
	/* What the shift left behind is code too: zero it, so that wiping
	 * the shorter string wipes everything. */
	OPENSSL_cleanse(d, (size_t)(s - d));
}

static int
ask(pam_handle_t *pamh, const char *prompt, char **out)
{
	char *resp = NULL;
	int r;

	r = pam_prompt(pamh, PAM_PROMPT_ECHO_OFF, &resp, "%s", prompt);
	if (r != PAM_SUCCESS || resp == NULL) {
		amfa_log(LOG_NOTICE, "conversation failed: %s",
		    pam_strerror(pamh, r));
		if (resp != NULL)
			amfa_wipe_free_str(resp);
		return r == PAM_SUCCESS ? PAM_CONV_ERR : r;
	}
	*out = resp;
	return PAM_SUCCESS;
}

static int
first_pass(pam_handle_t *pamh, char **out)
{
	const void *item = NULL;

	if (pam_get_item(pamh, PAM_AUTHTOK, &item) != PAM_SUCCESS ||
	    item == NULL || *(const char *)item == '\0')
		return PAM_AUTHTOK_RECOVERY_ERR;
	if ((*out = strdup(item)) == NULL)
		return PAM_BUF_ERR;
	return PAM_SUCCESS;
}

/* How many characters at the end of `typed' are the code. */
static size_t
code_length(const char *typed, const struct amfa_user *u)
{
	size_t n = strlen(typed), len, which;

	for (size_t i = 0; i < u->nyubikeys; i++) {
		len = strlen(u->yubikeys[i].public_id) + AMFA_YK_TOKEN_CHARS;
		if (n >= len &&
		    amfa_yk_otp_token(&u->yubikeys[i], 1, typed + n - len,
			&which))
			return len;
	}
	return (size_t)u->totp_digits;
}

/* "password123456" or "password" + OTP: the code is split off the end. */
static int
split_forward(pam_handle_t *pamh, char *typed, const struct amfa_user *u,
    char **code)
{
	size_t n = strlen(typed), digits = code_length(typed, u);
	int r;

	if (n < digits) {
		amfa_log(LOG_NOTICE, "input shorter than a code");
		return PAM_AUTH_ERR;
	}
	if ((*code = strdup(typed + n - digits)) == NULL)
		return PAM_BUF_ERR;
	typed[n - digits] = '\0';
	r = pam_set_item(pamh, PAM_AUTHTOK, typed);
	if (r != PAM_SUCCESS) {
		amfa_wipe_free_str(*code);
		*code = NULL;
	}
	return r;
}

int
amfa_pam_get_code(pam_handle_t *pamh, const struct amfa_pam_args *a,
    const struct amfa_user *u, char **code)
{
	char *typed = NULL;
	int r;

	*code = NULL;
	if (a->use_first_pass || a->try_first_pass) {
		r = first_pass(pamh, &typed);
		if (r == PAM_SUCCESS || a->use_first_pass) {
			if (r != PAM_SUCCESS)
				amfa_log(LOG_NOTICE,
				    "use_first_pass: no "
				    "token from an earlier module");
			*code = typed;
			goto strip;
		}
	}
	if ((r = ask(pamh, a->prompt, &typed)) != PAM_SUCCESS)
		return r;
	if (a->forward_pass) {
		r = split_forward(pamh, typed, u, code);
		amfa_wipe_free_str(typed);
	} else {
		*code = typed;
	}
strip:
	if (r == PAM_SUCCESS)
		amfa_strip_blanks(*code);
	return r;
}
