/*
 * (Not named yubikey.h: that would hide libyubikey's <yubikey.h>, since this
 * directory is on the include path.)
 *
 * YubiKey OTP, offline: the token's AES key is known here, so an OTP is
 * decrypted and checked locally with libyubikey (no network).
 *
 * An OTP is the token's public id (modhex, 2..32 characters, an even number;
 * 12 on factory YubiKeys) followed by 32 modhex characters: one AES-128
 * block holding the private id, the counters, a timestamp and a CRC.
 *
 * Input forms accepted for an OTP:
 *  - modhex ("cbdefghijklnrtuv"), either case (caps lock makes a YubiKey
 *    type capitals);
 *  - the Dvorak-scrambled form: a YubiKey types key positions, so on a
 *    Dvorak layout modhex comes out as "jxe.uidchtnbpygk".  A string that
 *    is not modhex but is entirely of that alphabet is translated back.  A
 *    string valid in both alphabets (all its characters among
 *    "bcdeghijkntu") has two readings; amfa_yk_read chooses one, once:
 *    the modhex one, unless the Dvorak one fits the user's tokens better
 *    (decodes with a key where the modhex one does not, or names a token
 *    where the modhex one names none).  Everything after works on that
 *    reading alone: the local decryption, the token whose counters are
 *    checked, and the OTP the validation server is asked about (sent in
 *    canonical modhex, which the server reads the same way), so that no
 *    server can vouch for a token other than the one matched here.
 *    Nothing is weakened: the decrypted block must still pass the CRC and
 *    carry the token's private id, and the counters still order every
 *    accepted OTP, whichever form it was typed in.
 * Token specifications (written by an administrator) are modhex only.
 *
 * Replay protection is the caller's: an OTP is accepted only if its
 * (session, use) pair is greater than the last accepted one for that token
 * (amfa_yk_counter_cmp), and that pair is committed before answering.
 */
#ifndef AMFA_YKOTP_H
#define AMFA_YKOTP_H

#include <stddef.h>

#define AMFA_YK_KEY_LEN	       16 /* AES-128 */
#define AMFA_YK_PRIVATE_ID_LEN 6
#define AMFA_YK_PUBLIC_ID_MAX  32 /* modhex characters */
#define AMFA_YK_TOKEN_CHARS    32 /* the encrypted block, in modhex */
#define AMFA_YK_OTP_MIN	       (2 + AMFA_YK_TOKEN_CHARS)
#define AMFA_YK_OTP_MAX	       (AMFA_YK_PUBLIC_ID_MAX + AMFA_YK_TOKEN_CHARS)
#define AMFA_YK_SESSION_MAX    0x7fff /* 15-bit session counter */
#define AMFA_YK_USE_MAX	       0xff   /* 8-bit use counter */

struct amfa_yk_token {
	char public_id[AMFA_YK_PUBLIC_ID_MAX + 1];	  /* lowercase modhex */
	unsigned char aes_key[AMFA_YK_KEY_LEN];		  /* secret */
	unsigned char private_id[AMFA_YK_PRIVATE_ID_LEN]; /* secret */
	/* Only the public id is known (the key is at a validation server):
	 * amfa_yk_decode passes over such a token. */
	unsigned char id_only;
};

/*
 * Parse "PUBLICID:AESKEY:PRIVATEID": a modhex public id (2..32 characters,
 * even, either case), 32 hex digits of AES key, 12 hex digits of private id
 * (hex in either case).  No spaces.  Returns 0, or -1 with *why set to a
 * static reason (it never quotes the key).  On failure *out is wiped.
 */
int amfa_yk_token_parse(const char *spec, struct amfa_yk_token *out,
    const char **why);
/*
 * Like amfa_yk_token_parse, but a spec without ':' is a public id alone
 * (id_only set): a token whose OTPs only a validation server can check.
 */
int amfa_yk_token_parse_any(const char *spec, struct amfa_yk_token *out,
    const char **why);
/* Wipe the secrets of `n' tokens. */
void amfa_yk_token_wipe(struct amfa_yk_token *tokens, size_t n);

/*
 * Write the canonical form of the OTP `s' (lowercase modhex; Dvorak
 * translated as described above) into `out' (AMFA_YK_OTP_MAX + 1 bytes).
 * Returns its length, or -1 if `s' is not OTP-shaped: 34..64 characters, an
 * even number, all of one alphabet.  The public id is the first
 * length - 32 characters.
 */
int amfa_yk_otp_normalize(const char *s, char *out, size_t outlen);
/* Is `s' OTP-shaped (amfa_yk_otp_normalize would succeed)? */
int amfa_yk_otp_shaped(const char *s);

enum amfa_yk_result {
	AMFA_YK_OK,
	AMFA_YK_MALFORMED,     /* not OTP-shaped */
	AMFA_YK_UNKNOWN_TOKEN, /* no token has this public id */
	AMFA_YK_BAD_CRC,       /* wrong key, or a mistyped/altered OTP */
	AMFA_YK_BAD_PRIVATE_ID /* decrypts, but not this token's */
};

/*
 * Decode `otp' against the `n' tokens, in its one reading (amfa_yk_read):
 * find the token by public id, decrypt
 * the block with its key, check the CRC and the private id (constant time).
 * On AMFA_YK_OK, *which is the token's index, *session the 15-bit session
 * counter (caps-lock bit removed) and *use the use counter.  The output
 * arguments are untouched otherwise.  Decrypted data is wiped.  Nothing is
 * logged: the caller names the user and the result.
 */
enum amfa_yk_result amfa_yk_decode(const struct amfa_yk_token *tokens, size_t n,
    const char *otp, size_t *which, unsigned *session, unsigned *use);

/*
 * Which of the `n' tokens does the OTP-shaped `otp' name by its public id,
 * in its one reading (keyed and id_only tokens alike)?  Returns 1 with
 * *which set, or 0.  This only says whose OTP it claims to be.
 */
int amfa_yk_otp_token(const struct amfa_yk_token *tokens, size_t n,
    const char *otp, size_t *which);

/*
 * The one reading of the input `otp' for these tokens (see above), in
 * canonical form into `out' (AMFA_YK_OTP_MAX + 1 bytes).  Returns its
 * length, or -1 if `otp' is not OTP-shaped.  A caller that goes on to
 * decode, look up the token and ask a server uses this reading for all of
 * it, through the two functions below (which take it as it is, without
 * reading it again).
 */
int amfa_yk_read(const struct amfa_yk_token *tokens, size_t n, const char *otp,
    char *out, size_t outlen);
/* amfa_yk_decode and amfa_yk_otp_token of a reading from amfa_yk_read. */
enum amfa_yk_result amfa_yk_decode_read(const struct amfa_yk_token *tokens,
    size_t n, const char *otp, size_t *which, unsigned *session, unsigned *use);
int amfa_yk_token_read(const struct amfa_yk_token *tokens, size_t n,
    const char *otp, size_t *which);

/* Compare (s1, u1) with (s2, u2), session first: <0, 0 or >0. */
int amfa_yk_counter_cmp(unsigned s1, unsigned u1, unsigned s2, unsigned u2);

const char *amfa_yk_result_str(enum amfa_yk_result r);

#endif
