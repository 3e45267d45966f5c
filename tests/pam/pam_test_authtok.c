/*
 * A test fixture module standing in for a password module in a stack:
 *   ask          prompt "Token: " and store the answer as PAM_AUTHTOK
 *                (as pam_unix does), then succeed
 *   expect=TEXT  succeed only if PAM_AUTHTOK (set by an earlier module) is
 *                exactly TEXT
 */
#include <stdlib.h>
#include <string.h>

#define PAM_SM_AUTH
#include <security/pam_ext.h>
#include <security/pam_modules.h>

PAM_EXTERN int
pam_sm_authenticate(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	const void *tok = NULL;
	char *resp = NULL;
	int r;

	(void)flags;
	if (argc != 1)
		return PAM_SERVICE_ERR;
	if (strcmp(argv[0], "ask") == 0) {
		r = pam_prompt(pamh, PAM_PROMPT_ECHO_OFF, &resp, "Token: ");
		if (r != PAM_SUCCESS || resp == NULL)
			return PAM_CONV_ERR;
		r = pam_set_item(pamh, PAM_AUTHTOK, resp);
		memset(resp, 0, strlen(resp));
		free(resp);
		return r;
	}
	if (strncmp(argv[0], "expect=", 7) == 0) {
		if (pam_get_item(pamh, PAM_AUTHTOK, &tok) != PAM_SUCCESS ||
		    tok == NULL)
			return PAM_AUTH_ERR;
		return strcmp(tok, argv[0] + 7) == 0 ?
		    PAM_SUCCESS :
		    PAM_AUTH_ERR;
	}
	return PAM_SERVICE_ERR;
}

PAM_EXTERN int
pam_sm_setcred(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	(void)pamh;
	(void)flags;
	(void)argc;
	(void)argv;
	return PAM_SUCCESS;
}
