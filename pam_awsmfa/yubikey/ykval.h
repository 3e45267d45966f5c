/*
 * YubiKey OTP, online: a client of the Yubico validation protocol 2.0
 * (YubiCloud, or a yubikey-val server of one's own), over http.h.
 *
 * A request is a GET of URL?id=ID&nonce=NONCE&otp=OTP&h=SIG.  The nonce is
 * 32 hex characters from RAND_bytes, fresh for every call.  With an API key
 * the request is signed: HMAC-SHA1 keyed with the base64-decoded API key
 * over the parameters sorted by key and joined as "k=v&k=v" (the values
 * before URL encoding), base64.  Values are URL-encoded on the wire.
 *
 * The answer is "key=value" lines (CRLF or LF), at most 4 KiB and 32 lines,
 * keys of lowercase letters, values of printable ASCII, no key twice;
 * anything else is a malformed answer.  With an API key, the answer's `h'
 * must be the same HMAC over its other lines (compared in constant time)
 * before anything in it is believed: missing or wrong is AMFA_YKVAL_FORGED.
 * Then an `otp' or `nonce' present must echo ours (else FORGED), and OK
 * additionally needs both present.  Without an API key nothing is
 * authenticated but the echo; use HTTPS then (a warning is logged).
 *
 * Servers are tried in order.  A signed protocol answer ends the loop:
 * OK, BAD_OTP, REPLAYED_OTP, and the refusals BAD_SIGNATURE,
 * NO_SUCH_CLIENT, OPERATION_NOT_ALLOWED, MISSING_PARAMETER,
 * NOT_ENOUGH_ANSWERS, REPLAYED_REQUEST and unknown statuses (REJECTED), as
 * does a forged answer.  A transport failure, a non-200 HTTP status, a
 * malformed answer or BACKEND_ERROR moves on to the next server.  Each
 * server gets timeout_ms (connect and total), so a call lasts at most about
 * timeout_ms times the number of servers.
 *
 * Every outcome is logged through log.h with the server's URL (without
 * query or user info) and a reason; never the OTP or the key.  An OTP may
 * be consumed by a server that did not answer in time: the next server then
 * says REPLAYED_OTP, and the log says so.
 */
#ifndef AMFA_YKVAL_H
#define AMFA_YKVAL_H

#define AMFA_YKVAL_MAX_RESPONSE 4096
#define AMFA_YKVAL_MAX_LINES	32
#define AMFA_YKVAL_MAX_KEY	128 /* decoded API key bytes */

struct amfa_ykval_config {
	const char *const *urls; /* NULL-ended, at least one */
	const char *client_id;	 /* [A-Za-z0-9._-], 1..64 */
	const char *api_key_b64; /* secret; NULL or "": unsigned */
	const char *ca_file;	 /* NULL: the system's CAs */
	long timeout_ms;	 /* per server, > 0 */
};

enum amfa_ykval_result {
	AMFA_YKVAL_OK,		/* the server says the OTP is valid */
	AMFA_YKVAL_BAD_OTP,	/* not a valid OTP (also: not OTP-shaped) */
	AMFA_YKVAL_REPLAYED,	/* REPLAYED_OTP: already used */
	AMFA_YKVAL_REJECTED,	/* another refusal; the log says which */
	AMFA_YKVAL_FORGED,	/* signature, otp or nonce did not check out */
	AMFA_YKVAL_UNREACHABLE, /* no server gave a usable answer */
	AMFA_YKVAL_ERROR	/* bad configuration, out of memory */
};

/* Validate `otp' (modhex or Dvorak form, as ykotp.h describes). */
enum amfa_ykval_result amfa_ykval_verify(const struct amfa_ykval_config *c,
    const char *otp);

const char *amfa_ykval_result_str(enum amfa_ykval_result r);

#endif
