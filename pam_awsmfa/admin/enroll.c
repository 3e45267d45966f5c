/*
 * awsmfa enroll USER: a new TOTP seed (from RAND_bytes, or from IAM with
 * --iam), shown as an otpauth:// URI and a QR code, proven by two
 * consecutive codes from the app before anything is saved.
 */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "admin.h"
#include "enroll_steps.h"
#include "enroll_yubikey.h"
#include "factors/base32.h"
#include "factors/recovery.h"
#include "factors/totp.h"
#include "iam_register.h"
#include "log.h"
#include "prompt.h"
#include "qr_print.h"
#include "secure_file.h"
#include "store/state.h"
#include "user.h"
#include "user_file.h"

#define SEED_BYTES  20 /* 160 bits, as RFC 4226 recommends */
#define CODE_ROUNDS 3  /* tries at the two codes */
#define B32_MAX	    (AMFA_TOTP_MAX_KEY * 8 / 5 + 2)
#define TEXT_MAX    4096 /* an otpauth:// URI, a user file */

static void
usage(void)
{
	fprintf(stderr,
	    "usage: awsmfa enroll USER [--force] [--iam-user NAME] "
	    "[--serial ARN]\n"
	    "           [--verify MODE] [--aws-profile NAME] [--issuer TEXT] "
	    "[--no-qr] [--recovery]\n"
	    "       awsmfa enroll USER --iam [--device-name NAME] "
	    "[--profile NAME]\n"
	    "           [--endpoint-url URL] [--ca-file FILE] [--timeout S] "
	    "[options above]\n"
	    "       awsmfa enroll USER --yubikey [--force] [--iam-user NAME] "
	    "[--serial ARN] ...\n");
}

/* The codes used to enrol are spent: a login cannot reuse them. */
static void
note_step(struct amfa_state *st, const void *arg)
{
	int64_t step = *(const int64_t *)arg;

	if (st->last_step < step)
		st->last_step = step;
}

/* Percent-encode for an otpauth:// URI (RFC 3986 unreserved kept). */
static int
encode(const char *s, char *out, size_t outlen)
{
	size_t n = 0;

	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (n + 4 > outlen)
			return -1;
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') ||
		    (c != '\0' && strchr("-._~@", c) != NULL))
			out[n++] = (char)c;
		else
			n += (size_t)snprintf(out + n, outlen - n, "%%%02X", c);
	}
	out[n] = '\0';
	return 0;
}

static const char *
alg_name(int alg)
{
	return alg == AMFA_TOTP_SHA512 ? "SHA512" :
	    alg == AMFA_TOTP_SHA256    ? "SHA256" :
					 "SHA1";
}

/* Show the seed: URI, QR code and the text for typing it in.  0 or -1. */
static int
show_seed(const struct adm_enroll_opts *o, const char *b32,
    const struct amfa_totp_params *p)
{
	char host[256], label[512], issuer[3 * 256], elabel[3 * 512];
	char uri[TEXT_MAX];

	if (gethostname(host, sizeof(host)) != 0)
		snprintf(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = '\0';
	snprintf(label, sizeof(label), "%s@%s", o->user, host);
	if (encode(o->issuer, issuer, sizeof(issuer)) != 0 ||
	    encode(label, elabel, sizeof(elabel)) != 0 ||
	    snprintf(uri, sizeof(uri),
		"otpauth://totp/%s:%s?secret=%s"
		"&issuer=%s&algorithm=%s&digits=%d&period=%u",
		issuer, elabel, b32, issuer, alg_name(p->alg), p->digits,
		p->period) >= (int)sizeof(uri)) {
		adm_err("--issuer or the host name is too long for a URI");
		return -1;
	}
	printf("Add this account to the authenticator app of %s.\n", o->user);
	if (o->qr) {
		printf("Scan the QR code:\n\n");
		fflush(stdout);
		if (adm_qr_print(stdout, uri, 2) != 0)
			adm_warn("cannot draw the QR code; use the URI");
		printf("\n");
	}
	printf("or open this URI on the device:\n  %s\n", uri);
	printf("or type the key by hand (time-based, %s, %d digits, %u s):\n  ",
	    alg_name(p->alg), p->digits, p->period);
	for (size_t i = 0; b32[i] != '\0'; i++)
		printf("%s%c", i > 0 && i % 4 == 0 ? " " : "", b32[i]);
	printf("\n\n");
	fflush(stdout);
	OPENSSL_cleanse(uri, sizeof(uri));
	return 0;
}

/*
 * Ask for two consecutive codes; *step2 is the step of the second.  The
 * first may be from any step of the window; the second must be the next
 * step.  ADM_OK or ADM_FAIL.
 */
static int
ask_codes(const struct amfa_totp_params *p, long window, char *code1,
    char *code2, size_t codelen, int64_t *step2)
{
	int64_t s1, s2;
	int n;

	for (int round = 0; round < CODE_ROUNDS; round++) {
		n = adm_prompt("First code shown by the app: ", 1, code1,
		    codelen);
		if (n == -1)
			break;
		if (n < 0 || !amfa_totp_code_shaped(code1, p->digits)) {
			adm_err("a code is %d digits", p->digits);
			continue;
		}
		n = adm_prompt("Wait for the next code and type it: ", 1, code2,
		    codelen);
		if (n == -1)
			break;
		if (n < 0 || !amfa_totp_code_shaped(code2, p->digits)) {
			adm_err("a code is %d digits", p->digits);
			continue;
		}
		if (amfa_totp_verify(p, code1, time(NULL), (int)window, -1, &s1,
			NULL) != 1) {
			adm_err("the first code does not match (is the "
				"device's clock right?)");
			continue;
		}
		if (amfa_totp_verify(p, code2, time(NULL), (int)window, s1, &s2,
			NULL) != 1 ||
		    s2 != s1 + 1) {
			adm_err("the second code is not the one after the "
				"first; wait until the app shows a new code");
			continue;
		}
		*step2 = s2;
		return ADM_OK;
	}
	adm_err("no pair of consecutive codes; nothing was saved");
	return ADM_FAIL;
}

static int
parse_args(int argc, char **argv, struct adm_enroll_opts *o)
{
	static const struct option opts[] = {
		{ "force", no_argument, NULL, 'f' },
		{ "iam", no_argument, NULL, 'I' },
		{ "yubikey", no_argument, NULL, 'Y' },
		{ "iam-user", required_argument, NULL, 'u' },
		{ "serial", required_argument, NULL, 's' },
		{ "verify", required_argument, NULL, 'v' },
		{ "aws-profile", required_argument, NULL, 'a' },
		{ "issuer", required_argument, NULL, 'i' },
		{ "device-name", required_argument, NULL, 'd' },
		{ "profile", required_argument, NULL, 'p' },
		{ "endpoint-url", required_argument, NULL, 'e' },
		{ "ca-file", required_argument, NULL, 'c' },
		{ "timeout", required_argument, NULL, 't' },
		{ "no-qr", no_argument, NULL, 'Q' },
		{ "recovery", no_argument, NULL, 'R' },
		{ "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 }
	};
	char *end;
	int c;

	memset(o, 0, sizeof(*o));
	o->issuer = "AWS";
	o->qr = 1;
	o->timeout = ADM_IAM_TIMEOUT_MS / 1000;
	optind = 0; /* 0: glibc starts afresh (main used "+") */
	while ((c = getopt_long(argc, argv, "fh", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			o->force = 1;
			break;
		case 'I':
			o->iam = 1;
			break;
		case 'Y':
			o->yubikey = 1;
			break;
		case 'R':
			o->recovery = 1;
			break;
		case 'u':
			o->iam_user = optarg;
			break;
		case 's':
			o->serial = optarg;
			break;
		case 'v':
			o->verify = optarg;
			break;
		case 'a':
			o->aws_profile = optarg;
			break;
		case 'i':
			o->issuer = optarg;
			break;
		case 'd':
			o->device_name = optarg;
			break;
		case 'p':
			o->profile = optarg;
			break;
		case 'e':
			o->endpoint_url = optarg;
			break;
		case 'c':
			o->ca_file = optarg;
			break;
		case 'Q':
			o->qr = 0;
			break;
		case 't':
			o->timeout = strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || o->timeout < 1 ||
			    o->timeout > 600) {
				adm_err("--timeout: 1 to 600 seconds");
				return ADM_USAGE;
			}
			break;
		case 'h':
			usage();
			exit(ADM_OK);
		default:
			usage();
			return ADM_USAGE;
		}
	}
	if (optind + 1 != argc) {
		usage();
		return ADM_USAGE;
	}
	o->user = argv[optind];
	if (o->iam_user == NULL)
		o->iam_user = o->user;
	if (o->device_name == NULL)
		o->device_name = o->iam_user;
	if (o->iam && o->yubikey) {
		adm_err("--iam registers a TOTP device; a YubiKey OTP token "
			"cannot be an IAM MFA device");
		return ADM_USAGE;
	}
	if (o->iam && o->serial != NULL) {
		adm_err("--serial and --iam: with --iam the serial is the one "
			"IAM assigns");
		return ADM_USAGE;
	}
	if (!o->iam &&
	    (o->profile != NULL || o->endpoint_url != NULL ||
		o->ca_file != NULL ||
		o->timeout != ADM_IAM_TIMEOUT_MS / 1000)) {
		adm_err("--profile, --endpoint-url, --ca-file and --timeout go "
			"with --iam");
		return ADM_USAGE;
	}
	if (strpbrk(o->issuer, "\n\r") != NULL) {
		adm_err("--issuer: one line of text");
		return ADM_USAGE;
	}
	return ADM_OK;
}

/*
 * The options, checked by parsing the file they would make, with a
 * throwaway seed, before anything is shown or registered.
 */
static int
precheck(struct adm_ctx *ctx, const struct adm_enroll_opts *o)
{
	unsigned char key[SEED_BYTES];
	char b32[B32_MAX], line[B32_MAX + 32], *text;
	const char *serial = o->serial;
	int r;

	if (o->iam)
		serial = "arn:aws:iam::123456789012:mfa/precheck";
	if (RAND_bytes(key, sizeof(key)) != 1 ||
	    amfa_base32_encode(key, sizeof(key), b32, sizeof(b32)) < 0)
		return ADM_FAIL;
	snprintf(line, sizeof(line), "totp_secret = %s", b32);
	text = adm_enroll_text(o, serial, line);
	OPENSSL_cleanse(key, sizeof(key));
	OPENSSL_cleanse(b32, sizeof(b32));
	OPENSSL_cleanse(line, sizeof(line));
	if (text == NULL)
		return ADM_FAIL;
	r = adm_enroll_check(ctx, o, text);
	amfa_wipe_free_str(text);
	return r;
}

static int
enroll_totp(struct adm_ctx *ctx, const struct adm_enroll_opts *o)
{
	unsigned char key[AMFA_TOTP_MAX_KEY];
	char b32[B32_MAX], line[B32_MAX + 32], code1[16], code2[16];
	char *serial = NULL, *text = NULL;
	struct amfa_totp_params p;
	struct adm_iam iam;
	size_t keylen = SEED_BYTES;
	int64_t step2;
	int r, have_iam = 0;

	if ((r = precheck(ctx, o)) != ADM_OK)
		return r;
	if (o->iam) {
		if ((r = adm_iam_init(&iam, o->endpoint_url, o->ca_file,
			 o->profile)) != ADM_OK)
			return r;
		iam.ep.timeout_ms = o->timeout * 1000;
		have_iam = 1;
		/* IAM makes the seed: the one it keeps is the one saved. */
		r = adm_iam_create_device(&iam, o->device_name, &serial, key,
		    &keylen);
		if (r != ADM_OK)
			goto out;
	} else {
		if (RAND_bytes(key, SEED_BYTES) != 1) {
			adm_err("no random numbers");
			r = ADM_FAIL;
			goto out;
		}
		if (o->serial != NULL && (serial = strdup(o->serial)) == NULL) {
			r = ADM_FAIL;
			goto out;
		}
	}
	r = ADM_FAIL;
	if (amfa_base32_encode(key, keylen, b32, sizeof(b32)) < 0)
		goto out;
	/* AWS virtual devices: SHA-1, 6 digits, 30 s (the user file's
	 * defaults). */
	p.alg = AMFA_TOTP_SHA1;
	p.digits = 6;
	p.period = 30;
	p.key = key;
	p.keylen = keylen;
	if (show_seed(o, b32, &p) != 0)
		goto out;
	/* At least one step back: the first code has aged by the time the
	 * second is typed. */
	r = ask_codes(&p, ctx->cfg.window < 1 ? 1 : ctx->cfg.window, code1,
	    code2, sizeof(code1), &step2);
	if (r == ADM_OK && o->iam)
		r = adm_iam_enable_device(&iam, o->iam_user, serial, code1,
		    code2);
	if (r != ADM_OK) {
		if (o->iam)
			adm_err("IAM keeps the unassigned device %s; remove it "
				"with: aws iam delete-virtual-mfa-device "
				"--serial-number %s",
			    serial, serial);
		goto out;
	}
	r = ADM_FAIL;
	snprintf(line, sizeof(line), "totp_secret = %s", b32);
	if ((text = adm_enroll_text(o, serial, line)) == NULL)
		goto out;
	if ((r = adm_enroll_check(ctx, o, text)) != ADM_OK ||
	    (r = adm_enroll_write(ctx, o, text)) != ADM_OK) {
		if (o->iam)
			adm_err("IAM has %s enabled for %s, but no user file "
				"was written",
			    serial, o->iam_user);
		goto out;
	}
	printf("Enrolled %s: %s/%s.conf%s%s\n", o->user, ctx->cfg.users_dir,
	    o->user, o->iam ? "; IAM MFA device " : "", o->iam ? serial : "");
	r = adm_enroll_note_state(ctx, o->user, note_step, &step2);
out:
	if (text != NULL)
		amfa_wipe_free_str(text);
	free(serial);
	if (have_iam)
		adm_iam_free(&iam);
	OPENSSL_cleanse(key, sizeof(key));
	OPENSSL_cleanse(b32, sizeof(b32));
	OPENSSL_cleanse(line, sizeof(line));
	OPENSSL_cleanse(code1, sizeof(code1));
	OPENSSL_cleanse(code2, sizeof(code2));
	return r;
}

int
adm_enroll(struct adm_ctx *ctx, int argc, char **argv)
{
	struct adm_enroll_opts o;
	const char *why;
	int r;

	if ((r = parse_args(argc, argv, &o)) != ADM_OK)
		return r;
	if ((why = amfa_user_name_invalid(o.user)) != NULL) {
		adm_err("%s: %s", o.user, why);
		return ADM_USAGE;
	}
	if ((r = adm_load_config(ctx)) != ADM_OK)
		return r;
	r = adm_user_file_exists(&ctx->cfg, o.user);
	if (r < 0)
		return ADM_CONFIG;
	if (r == 1 && !o.force) {
		char where[4096];

		adm_user_file_where(&ctx->cfg, o.user, where, sizeof(where));
		adm_err("%s is already enrolled (%s); --force replaces the "
			"enrolment",
		    o.user, where);
		return ADM_NOT_ENROLLED;
	}
	if (o.yubikey)
		r = adm_enroll_yubikey(ctx, &o);
	else
		r = enroll_totp(ctx, &o);
	if (r == ADM_OK && o.recovery)
		r = adm_recovery_issue(ctx, o.user, AMFA_RECOVERY_DEFAULT);
	return r;
}
