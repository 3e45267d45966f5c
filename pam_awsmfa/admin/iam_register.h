/*
 * Registering a TOTP seed with IAM as a user's virtual MFA device:
 * CreateVirtualMFADevice (IAM makes the seed and returns it), then
 * EnableMFADevice with two consecutive codes of that seed.  Signed with the
 * administrator's credentials: the standard environment variables
 * (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN) or a profile
 * of the administrator's ~/.aws/credentials.
 */
#ifndef AMFA_ADMIN_IAM_REGISTER_H
#define AMFA_ADMIN_IAM_REGISTER_H

#include <stddef.h>

#include "aws/aws_profile.h"
#include "aws/aws_query.h"
#include "factors/totp.h"

#define ADM_IAM_ENDPOINT   "https://iam.amazonaws.com/"
#define ADM_IAM_TIMEOUT_MS 30000

struct adm_iam {
	struct amfa_aws_endpoint ep;
	struct amfa_aws_key key;
	struct amfa_aws_profile profile; /* when --profile */
};

/*
 * Find the credentials and set up the endpoint (NULL url: IAM's own).
 * Returns an ADM_* exit code.
 */
int adm_iam_init(struct adm_iam *iam, const char *url, const char *ca_file,
    const char *profile);
void adm_iam_free(struct adm_iam *iam);

/*
 * CreateVirtualMFADevice `device' (at path "/"): the device's ARN in
 * *serial (heap) and IAM's seed, decoded, in key (AMFA_TOTP_MAX_KEY
 * bytes), its length in *keylen.  Returns an ADM_* exit code.
 */
int adm_iam_create_device(struct adm_iam *iam, const char *device,
    char **serial, unsigned char *key, size_t *keylen);

/* EnableMFADevice: assign `serial' to `user', proven by two consecutive
 * codes.  Returns an ADM_* exit code. */
int adm_iam_enable_device(struct adm_iam *iam, const char *user,
    const char *serial, const char *code1, const char *code2);

#endif
