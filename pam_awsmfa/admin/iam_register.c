/* IAM virtual MFA device registration; see iam_register.h. */
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "admin.h"
#include "config.h"
#include "factors/base32.h"
#include "iam_register.h"
#include "log.h"
#include "privdrop.h"
#include "secure_file.h"

int
adm_iam_init(struct adm_iam *iam, const char *url, const char *ca_file,
    const char *profile)
{
	const char *akid, *secret, *why;
	struct amfa_target t;
	struct passwd *pw;

	memset(iam, 0, sizeof(*iam));
	iam->ep.url = url != NULL ? url : ADM_IAM_ENDPOINT;
	/* IAM is global: every request is signed for us-east-1. */
	iam->ep.region = "us-east-1";
	iam->ep.service = "iam";
	iam->ep.version = "2010-05-08";
	iam->ep.ca_file = ca_file;
	iam->ep.timeout_ms = ADM_IAM_TIMEOUT_MS;
	if ((why = amfa_check_endpoint(iam->ep.url)) != NULL) {
		adm_err("--endpoint-url %s: %s", iam->ep.url, why);
		return ADM_USAGE;
	}
	if (profile != NULL) {
		/* The administrator's own files, read as the administrator. */
		if ((pw = getpwuid(getuid())) == NULL ||
		    amfa_target_lookup(pw->pw_name, &t) != 0) {
			adm_err("cannot find the home directory of uid %u",
			    (unsigned)getuid());
			return ADM_FAIL;
		}
		if (amfa_aws_profile_read(&t, profile, &iam->profile) != 0) {
			adm_err("no credentials for profile %s", profile);
			return ADM_FAIL;
		}
		iam->key.access_key_id = iam->profile.access_key_id;
		iam->key.secret_access_key = iam->profile.secret_access_key;
		return ADM_OK;
	}
	akid = getenv("AWS_ACCESS_KEY_ID");
	secret = getenv("AWS_SECRET_ACCESS_KEY");
	if (akid == NULL || *akid == '\0' || secret == NULL ||
	    *secret == '\0') {
		adm_err("--iam needs administrator credentials: "
			"AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the "
			"environment, or --profile NAME");
		return ADM_USAGE;
	}
	iam->key.access_key_id = akid;
	iam->key.secret_access_key = secret;
	iam->key.session_token = getenv("AWS_SESSION_TOKEN");
	if (iam->key.session_token != NULL && *iam->key.session_token == '\0')
		iam->key.session_token = NULL;
	return ADM_OK;
}

void
adm_iam_free(struct adm_iam *iam)
{
	amfa_aws_profile_free(&iam->profile);
	memset(iam, 0, sizeof(*iam));
}

/* Say why a call failed; map it to an exit code. */
static int
report(const char *action, const struct amfa_aws_answer *ans)
{
	switch (ans->status) {
	case AMFA_AWS_OK:
		return ADM_OK;
	case AMFA_AWS_REFUSED:
		adm_err("IAM %s refused: %s: %s", action, ans->code,
		    ans->message);
		return ADM_FAIL;
	case AMFA_AWS_TLS:
		adm_err("IAM %s: TLS verification failed: %s", action,
		    ans->detail);
		return ADM_UNREACHABLE;
	case AMFA_AWS_UNREACHABLE:
		adm_err("IAM %s: no answer after %d tries: %s", action,
		    ans->tries, ans->detail);
		return ADM_UNREACHABLE;
	default:
		adm_err("IAM %s: internal error", action);
		return ADM_FAIL;
	}
}

/*
 * Base32StringSeed is an XML blob: base64 of the base32 text of the seed.
 * Both layers are decoded here; everything in between is wiped.
 */
static int
decode_seed(const char *b64, unsigned char *key, size_t *keylen)
{
	unsigned char text[512];
	size_t n = strlen(b64);
	int len;
	long klen;

	if (n == 0 || n % 4 != 0 || n / 4 * 3 >= sizeof(text))
		return -1;
	len = EVP_DecodeBlock(text, (const unsigned char *)b64, (int)n);
	if (len < 0)
		goto fail;
	/* EVP_DecodeBlock counts the padding as zero bytes. */
	if (b64[n - 1] == '=')
		len--;
	if (b64[n - 2] == '=')
		len--;
	text[len] = '\0';
	if (memchr(text, '\0', (size_t)len) != NULL)
		goto fail;
	klen = amfa_base32_decode((const char *)text, key, AMFA_TOTP_MAX_KEY);
	if (klen < AMFA_TOTP_MIN_KEY)
		goto fail;
	*keylen = (size_t)klen;
	OPENSSL_cleanse(text, sizeof(text));
	return 0;
fail:
	OPENSSL_cleanse(text, sizeof(text));
	OPENSSL_cleanse(key, AMFA_TOTP_MAX_KEY);
	return -1;
}

int
adm_iam_create_device(struct adm_iam *iam, const char *device, char **serial,
    unsigned char *key, size_t *keylen)
{
	struct amfa_aws_param params[] = {
		{ "VirtualMFADeviceName", device },
	};
	struct amfa_aws_answer ans;
	char *seed = NULL;
	int r;

	*serial = NULL;
	adm_progress("asking IAM at %s to create the virtual MFA device %s ...",
	    iam->ep.url, device);
	amfa_aws_query(&iam->ep, &iam->key, "CreateVirtualMFADevice", params, 1,
	    &ans);
	if ((r = report("CreateVirtualMFADevice", &ans)) != ADM_OK)
		goto out;
	r = ADM_FAIL;
	*serial = amfa_aws_xml_text(ans.doc,
	    "CreateVirtualMFADeviceResult/VirtualMFADevice/SerialNumber");
	seed = amfa_aws_xml_text(ans.doc,
	    "CreateVirtualMFADeviceResult/VirtualMFADevice/Base32StringSeed");
	if (*serial == NULL || seed == NULL) {
		adm_err("IAM CreateVirtualMFADevice: the answer has no "
			"SerialNumber or Base32StringSeed");
		goto out;
	}
	if (decode_seed(seed, key, keylen) != 0) {
		adm_err("IAM CreateVirtualMFADevice: the seed in the answer "
			"is not base64 of a base32 seed of at least %d bits",
		    AMFA_TOTP_MIN_KEY * 8);
		goto out;
	}
	r = ADM_OK;
out:
	if (seed != NULL)
		amfa_wipe_free_str(seed);
	if (r != ADM_OK) {
		free(*serial);
		*serial = NULL;
	}
	amfa_aws_answer_free(&ans);
	return r;
}

int
adm_iam_enable_device(struct adm_iam *iam, const char *user, const char *serial,
    const char *code1, const char *code2)
{
	struct amfa_aws_param params[] = {
		{ "UserName", user },
		{ "SerialNumber", serial },
		{ "AuthenticationCode1", code1 },
		{ "AuthenticationCode2", code2 },
	};
	struct amfa_aws_answer ans;
	int r;

	adm_progress("asking IAM to enable %s for the IAM user %s ...", serial,
	    user);
	amfa_aws_query(&iam->ep, &iam->key, "EnableMFADevice", params, 4, &ans);
	r = report("EnableMFADevice", &ans);
	amfa_aws_answer_free(&ans);
	return r;
}
