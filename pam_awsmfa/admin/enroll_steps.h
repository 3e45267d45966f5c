/*
 * Enrolment: the options of `awsmfa enroll' and the steps the TOTP path
 * (enroll.c) and the YubiKey path (enroll_yubikey.c) share, in
 * enroll_steps.c: the file's text, its check by the module's own parser,
 * writing it, noting the proof in the user's state.  The paths call these;
 * these call neither path.
 */
#ifndef AMFA_ADMIN_ENROLL_STEPS_H
#define AMFA_ADMIN_ENROLL_STEPS_H

#include <stddef.h>
#include <stdint.h>

#include "admin.h"
#include "store/state.h"

struct adm_enroll_opts {
	const char *user;	  /* the PAM user */
	const char *iam_user;	  /* default: user */
	const char *serial;	  /* mfa_serial (not with --iam) */
	const char *verify;	  /* verify = ... in the file, or NULL */
	const char *aws_profile;  /* aws_profile = ... in the file */
	const char *issuer;	  /* otpauth issuer */
	const char *device_name;  /* IAM VirtualMFADeviceName */
	const char *profile;	  /* admin's ~/.aws profile (--iam) */
	const char *endpoint_url; /* IAM endpoint (--iam) */
	const char *ca_file;	  /* CA bundle for it */
	long timeout;		  /* seconds for each IAM call */
	int force;
	int iam;
	int yubikey;
	int qr;
	int recovery; /* then issue recovery codes (awsmfa recovery) */
};

/*
 * The user file (heap; free with amfa_wipe_free_str): a header comment,
 * iam_user, mfa_serial if any, the options' lines and `factor_line' (the
 * secret: "totp_secret = ..." or "yubikey = ...").  NULL if out of memory.
 */
char *adm_enroll_text(const struct adm_enroll_opts *o, const char *serial,
    const char *factor_line);

/*
 * Parse `text' with the module's parser, as the module would read it.
 * ADM_OK, or ADM_USAGE with the problems printed.
 */
int adm_enroll_check(struct adm_ctx *ctx, const struct adm_enroll_opts *o,
    const char *text);

/* Write the file (see user_file.h).  ADM_OK, ADM_NOT_ENROLLED if it
 * exists and --force is off, ADM_FAIL. */
int adm_enroll_write(struct adm_ctx *ctx, const struct adm_enroll_opts *o,
    const char *text);

/*
 * Through the state store (adm_state_update), let `note' record what the enrolment proved
 * (the TOTP step, the YubiKey counters) so that it cannot be replayed.
 * ADM_OK or ADM_FAIL (the enrolment stands; the message says what to do).
 */
int adm_enroll_note_state(struct adm_ctx *ctx, const char *user,
    void (*note)(struct amfa_state *st, const void *arg), const void *arg);

#endif
