/*
 * YubiKey OTP building blocks (ykotp.h): token specifications, OTP shapes,
 * the Dvorak form, counter order, and decoding against libyubikey's
 * published example (ykparse(1), yubico-c: key ecde18db..., uid 8792ebfe26cc).
 */
#include <stdint.h>
#include <string.h>

#include <yubikey.h>

#include "tap.h"
#include "yubikey/ykotp.h"

#define KEY_HEX "ecde18dbe76fbd0c33330f1c354871db"
#define UID_HEX "8792ebfe26cc"
#define PUBID	"dteffuje"
/* Published examples: session 19, use 17 and session 19, use 16. */
#define OTP_A PUBID "hknhfjbrjnlnldnhcujvddbikngjrtgh"
#define OTP_B PUBID "dcflcindvdbrblehecuitvjkjevvehjd"
/* OTP_A as a YubiKey types it into a Dvorak layout. */
#define OTP_A_DVORAK "ey.uugh.dtbduhxphbnbnebdjghkeexctbihpyid"

static const unsigned char key_bytes[16] = { 0xec, 0xde, 0x18, 0xdb, 0xe7, 0x6f,
	0xbd, 0x0c, 0x33, 0x33, 0x0f, 0x1c, 0x35, 0x48, 0x71, 0xdb };
static const unsigned char uid_bytes[6] = { 0x87, 0x92, 0xeb, 0xfe, 0x26,
	0xcc };

static int
all_zero(const void *p, size_t n)
{
	const unsigned char *c = p;

	for (size_t i = 0; i < n; i++) {
		if (c[i] != 0)
			return 0;
	}
	return 1;
}

static void
parse_good(void)
{
	struct amfa_yk_token t;
	const char *why = "unset";

	is_int(amfa_yk_token_parse(PUBID ":" KEY_HEX ":" UID_HEX, &t, &why), 0,
	    "a typical spec parses");
	is_str(t.public_id, PUBID, "public id kept");
	ok(memcmp(t.aes_key, key_bytes, 16) == 0, "AES key decoded");
	ok(memcmp(t.private_id, uid_bytes, 6) == 0, "private id decoded");
	is_str(why, "unset", "why untouched on success");

	is_int(amfa_yk_token_parse("DTEFFUJE:ECDE18DBE76FBD0C33330F1C354871DB:"
				   "8792EBFE26CC",
		   &t, &why),
	    0, "upper case parses");
	is_str(t.public_id, PUBID, "public id lowercased");
	ok(memcmp(t.aes_key, key_bytes, 16) == 0, "upper-case key decoded");
	ok(memcmp(t.private_id, uid_bytes, 6) == 0, "upper-case uid decoded");

	is_int(amfa_yk_token_parse("cc:" KEY_HEX ":" UID_HEX, &t, &why), 0,
	    "2-character public id");
	is_str(t.public_id, "cc", "2-character public id kept");
	is_int(amfa_yk_token_parse("cbdefghijklnrtuvcbdefghijklnrtuv:" KEY_HEX
				   ":" UID_HEX,
		   &t, &why),
	    0, "32-character public id");
	is_str(t.public_id, "cbdefghijklnrtuvcbdefghijklnrtuv",
	    "32-character public id kept");
	amfa_yk_token_wipe(&t, 1);
	ok(all_zero(&t, sizeof(t)), "amfa_yk_token_wipe clears the token");
}

static void
parse_bad(void)
{
	static const struct {
		const char *spec, *why;
	} v[] = {
		{ "", "expected PUBLICID:AESKEY:PRIVATEID" },
		{ PUBID, "expected PUBLICID:AESKEY:PRIVATEID" },
		{ PUBID ":" KEY_HEX, "expected PUBLICID:AESKEY:PRIVATEID" },
		{ PUBID ":" KEY_HEX ":" UID_HEX ":extra",
		    "expected PUBLICID:AESKEY:PRIVATEID (too many fields)" },
		{ PUBID ":" KEY_HEX ":" UID_HEX ":",
		    "expected PUBLICID:AESKEY:PRIVATEID (too many fields)" },
		{ ":" KEY_HEX ":" UID_HEX,
		    "public id must be 2 to 32 modhex characters, an even number" },
		{ "c:" KEY_HEX ":" UID_HEX,
		    "public id must be 2 to 32 modhex characters, an even number" },
		{ "ccc:" KEY_HEX ":" UID_HEX,
		    "public id must be 2 to 32 modhex characters, an even number" },
		{ "cbdefghijklnrtuvcbdefghijklnrtuvcc:" KEY_HEX ":" UID_HEX,
		    "public id must be 2 to 32 modhex characters, an even number" },
		{ "dteffuja:" KEY_HEX ":" UID_HEX,
		    "public id is not modhex (cbdefghijklnrtuv)" },
		{ "0123456789ab:" KEY_HEX ":" UID_HEX,
		    "public id is not modhex (cbdefghijklnrtuv)" },
		{ "ey.uugh.:" KEY_HEX ":" UID_HEX,
		    "public id is not modhex (cbdefghijklnrtuv)" },
		{ "dteffu e:" KEY_HEX ":" UID_HEX,
		    "public id is not modhex (cbdefghijklnrtuv)" },
		{ PUBID "::" UID_HEX, "AES key must be 32 hexadecimal digits" },
		{ PUBID ":ecde18dbe76fbd0c33330f1c354871d:" UID_HEX,
		    "AES key must be 32 hexadecimal digits" },
		{ PUBID ":ecde18dbe76fbd0c33330f1c354871dbaa:" UID_HEX,
		    "AES key must be 32 hexadecimal digits" },
		{ PUBID ":ecde18dbe76fbd0c33330f1c354871dg:" UID_HEX,
		    "AES key must be 32 hexadecimal digits" },
		{ PUBID ": ecde18dbe76fbd0c33330f1c354871d:" UID_HEX,
		    "AES key must be 32 hexadecimal digits" },
		{ PUBID ":" KEY_HEX ":",
		    "private id must be 12 hexadecimal digits" },
		{ PUBID ":" KEY_HEX ":8792ebfe26",
		    "private id must be 12 hexadecimal digits" },
		{ PUBID ":" KEY_HEX ":8792ebfe26ccdd",
		    "private id must be 12 hexadecimal digits" },
		{ PUBID ":" KEY_HEX ":8792ebfe26cx",
		    "private id must be 12 hexadecimal digits" },
		{ PUBID ":" KEY_HEX ":" UID_HEX " ",
		    "private id must be 12 hexadecimal digits" },
	};
	struct amfa_yk_token t;
	const char *why;

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		why = NULL;
		memset(&t, 0xa5, sizeof(t));
		is_int(amfa_yk_token_parse(v[i].spec, &t, &why), -1,
		    "bad spec %zu refused", i);
		is_str(why, v[i].why, "bad spec %zu: reason", i);
		ok(why == NULL || strstr(why, KEY_HEX) == NULL,
		    "bad spec %zu: reason does not quote the key", i);
		ok(all_zero(&t, sizeof(t)), "bad spec %zu: output wiped", i);
	}
}

static void
shapes(void)
{
	char buf[AMFA_YK_OTP_MAX + 1];
	static const char *const bad[] = {
		"",
		"cccccccccccc",
		/* 32 characters: no public id */
		"hknhfjbrjnlnldnhcujvddbikngjrtgh",
		/* 33, 43, 45 characters */
		"chknhfjbrjnlnldnhcujvddbikngjrtgh",
		"ccccccccccchknhfjbrjnlnldnhcujvddbikngjrtgh",
		"ccccccccccccchknhfjbrjnlnldnhcujvddbikngjrtgh",
		/* 66 characters */
		"cccccccccccccccccccccccccccccccccchknhfjbrjnlnldnhcujvddbikngjrtgh",
		/* an 'a' (not modhex, not Dvorak) */
		"ccccccccccccaknhfjbrjnlnldnhcujvddbikngjrtgh",
		/* digits: a password, or a TOTP code */
		"12345678901234567890123456789012345678901234",
		/* modhex with one Dvorak-only character ('x') */
		"ccccccccccccxknhfjbrjnlnldnhcujvddbikngjrtgh",
		/* Dvorak with one modhex-only character ('f') */
		"ey.uugh.dtbduhxphbnbnebdjghkeexctbihpyif",
		/* a space, a newline */
		"cccccccccccc knhfjbrjnlnldnhcujvddbikngjrtgh",
		"cccccccccccchknhfjbrjnlnldnhcujvddbikngjrtg\n",
	};

	ok(amfa_yk_otp_shaped(OTP_A), "published OTP (40 chars) is shaped");
	ok(amfa_yk_otp_shaped("cccccccccccchknhfjbrjnlnldnhcujvddbikngjrtgh"),
	    "44 characters");
	ok(amfa_yk_otp_shaped("cchknhfjbrjnlnldnhcujvddbikngjrtgh"),
	    "34 characters (2-character public id)");
	ok(amfa_yk_otp_shaped("cbdefghijklnrtuvcbdefghijklnrtuv"
			      "hknhfjbrjnlnldnhcujvddbikngjrtgh"),
	    "64 characters");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ok(!amfa_yk_otp_shaped(bad[i]), "not shaped: bad[%zu]", i);
		is_int(amfa_yk_otp_normalize(bad[i], buf, sizeof(buf)), -1,
		    "normalize refuses bad[%zu]", i);
	}

	is_int(amfa_yk_otp_normalize("DTEFFUJEHKNHFJBRJNLNLDNHCUJVDDBIKNGJRTGH",
		   buf, sizeof(buf)),
	    40, "upper case normalizes");
	is_str(buf, OTP_A, "upper case lowercased");
	is_int(amfa_yk_otp_normalize(OTP_A_DVORAK, buf, sizeof(buf)), 40,
	    "Dvorak form normalizes");
	is_str(buf, OTP_A, "Dvorak form translated to modhex");
	is_int(amfa_yk_otp_normalize("EY.UUGH.DTBDUHXPHBNBNEBDJGHKEEXCTBIHPYID",
		   buf, sizeof(buf)),
	    40, "upper-case Dvorak normalizes");
	is_str(buf, OTP_A, "upper-case Dvorak translated");
	is_int(amfa_yk_otp_normalize(OTP_A, buf, 40), -1,
	    "normalize refuses a short output buffer");
}

static void
decode(void)
{
	struct amfa_yk_token t[3];
	const char *why;
	size_t which = 77;
	unsigned s = 7, u = 7;

	amfa_yk_token_parse("cccccccccccc:00112233445566778899aabbccddeeff:"
			    "000000000000",
	    &t[0], &why);
	amfa_yk_token_parse(PUBID ":" KEY_HEX ":" UID_HEX, &t[1], &why);
	amfa_yk_token_parse("vvvvvvvv:" KEY_HEX ":" UID_HEX, &t[2], &why);

	is_int(amfa_yk_decode(t, 3, OTP_A, &which, &s, &u), AMFA_YK_OK,
	    "published OTP decodes");
	is_int(which, 1, "the second token matched");
	is_int(s, 19, "session counter 19");
	is_int(u, 17, "use counter 17");
	is_int(amfa_yk_decode(t, 3, OTP_B, &which, &s, &u), AMFA_YK_OK,
	    "second published OTP decodes");
	is_int(s, 19, "session counter 19");
	is_int(u, 16, "use counter 16");
	ok(amfa_yk_counter_cmp(19, 17, 19, 16) > 0, "OTP_A comes after OTP_B");

	s = u = 7;
	which = 77;
	is_int(amfa_yk_decode(t, 3, OTP_A_DVORAK, &which, &s, &u), AMFA_YK_OK,
	    "Dvorak form decodes");
	ok(which == 1 && s == 19 && u == 17, "Dvorak form: same counters");

	s = u = 7;
	which = 77;
	is_int(amfa_yk_decode(t, 1, OTP_A, &which, &s, &u),
	    AMFA_YK_UNKNOWN_TOKEN, "public id not among the tokens");
	ok(which == 77 && s == 7 && u == 7, "outputs untouched on failure");
	is_int(amfa_yk_decode(t, 0, OTP_A, &which, &s, &u),
	    AMFA_YK_UNKNOWN_TOKEN, "no tokens at all");
	is_int(amfa_yk_decode(t + 2, 1,
		   "vvvvvvvv"
		   "hknhfjbrjnlnldnhcujvddbikngjrtgh",
		   &which, &s, &u),
	    AMFA_YK_OK,
	    "same key under another public id still decodes (id is a label)");
	s = u = 7;
	which = 77;
	is_int(amfa_yk_decode(t, 3, PUBID "hknhfjbrjnlnldnhcujvddbikngjrtgc",
		   &which, &s, &u),
	    AMFA_YK_BAD_CRC, "last character changed");
	is_int(amfa_yk_decode(t, 3, "dteffuje", &which, &s, &u),
	    AMFA_YK_MALFORMED, "public id only");
	is_int(amfa_yk_decode(t, 3, "", &which, &s, &u), AMFA_YK_MALFORMED,
	    "empty");
	t[1].private_id[5] ^= 1;
	is_int(amfa_yk_decode(t, 3, OTP_A, &which, &s, &u),
	    AMFA_YK_BAD_PRIVATE_ID, "private id differs by one bit");
	t[1].private_id[5] ^= 1;
	t[1].aes_key[0] ^= 0x80;
	is_int(amfa_yk_decode(t, 3, OTP_A, &which, &s, &u), AMFA_YK_BAD_CRC,
	    "AES key differs by one bit");
	ok(which == 77 && s == 7 && u == 7, "outputs still untouched");
	amfa_yk_token_wipe(t, 3);
}

static uint32_t xs_state = 2463534242u;

static uint32_t
xorshift(void)
{
	xs_state ^= xs_state << 13;
	xs_state ^= xs_state >> 17;
	xs_state ^= xs_state << 5;
	return xs_state;
}

/*
 * An OTP whose Dvorak-typed form is valid modhex too.  Found by search: the
 * block's nibbles are limited to modhex characters whose Dvorak images are
 * also modhex, and the block must decrypt (under a fixed key) to a valid
 * CRC; its private id and counters are then whatever it decrypts to.
 */
static void
ambiguous_dvorak(void)
{
	static const unsigned char nibbles[] = { 0, 2, 4, 5, 6, 7, 8, 9, 10, 11,
		14, 15 };
	static const char modhex[] = "cbdefghijklnrtuv";
	static const char dvorak[] = "jxe.uidchtnbpygk";
	struct amfa_yk_token t[2];
	unsigned char block[16], plain[16];
	char mh[33], otp[45], typed[45], buf[65];
	unsigned s = 0, u = 0, want_s, want_u;
	size_t which = 9;
	const char *why;
	long iter;

	memset(t, 0, sizeof(t));
	amfa_yk_token_parse("cccccccccccc:" KEY_HEX ":000000000000", &t[0],
	    &why);
	for (iter = 0; iter < 4000000; iter++) {
		for (int i = 0; i < 16; i++)
			block[i] = (unsigned char)(nibbles[xorshift() % 12]
				<< 4 |
			    nibbles[xorshift() % 12]);
		memcpy(plain, block, sizeof(plain));
		yubikey_aes_decrypt(plain, t[0].aes_key);
		if (yubikey_crc16(plain, sizeof(plain)) ==
		    YUBIKEY_CRC_OK_RESIDUE)
			break;
	}
	ok(iter < 4000000, "found an ambiguous OTP after %ld blocks", iter);
	memcpy(t[0].private_id, plain, 6);
	want_s = ((unsigned)plain[6] | (unsigned)plain[7] << 8) & 0x7fff;
	want_u = plain[11];
	yubikey_modhex_encode(mh, (const char *)block, sizeof(block));
	snprintf(otp, sizeof(otp), "cccccccccccc%s", mh);
	for (int i = 0; i < 44; i++)
		typed[i] = dvorak[strchr(modhex, otp[i]) - modhex];
	typed[44] = '\0';
	ok(strspn(typed, "bcdeghijkntu") == 44,
	    "typed form %s is in both "
	    "alphabets",
	    typed);
	is_int(amfa_yk_otp_normalize(typed, buf, sizeof(buf)), 44,
	    "ambiguous form normalizes");
	is_str(buf, typed, "... as modhex (its first reading)");

	is_int(amfa_yk_decode(t, 1, otp, &which, &s, &u), AMFA_YK_OK,
	    "the modhex OTP decodes");
	ok(which == 0 && s == want_s && u == want_u, "counters %u %u", s, u);
	s = u = 0;
	is_int(amfa_yk_decode(t, 1, typed, &which, &s, &u), AMFA_YK_OK,
	    "its Dvorak form decodes (modhex reading names no token)");
	ok(which == 0 && s == want_s && u == want_u, "same counters");

	/* A token whose public id is the modhex reading, with another key. */
	amfa_yk_token_parse("jjjjjjjjjjjj:00112233445566778899aabbccddeeff:"
			    "000000000000",
	    &t[1], &why);
	is_int(amfa_yk_decode(&t[1], 1, typed, &which, &s, &u), AMFA_YK_BAD_CRC,
	    "modhex reading's token alone: BAD_CRC");
	which = 9;
	is_int(amfa_yk_decode(t, 2, typed, &which, &s, &u), AMFA_YK_OK,
	    "both tokens: the Dvorak reading decodes");
	is_int(which, 0, "... with the right token");
	amfa_yk_token_wipe(t, 2);
}

static void
counters(void)
{
	is_int(amfa_yk_counter_cmp(0, 0, 0, 0), 0, "(0,0) == (0,0)");
	is_int(amfa_yk_counter_cmp(5, 9, 5, 9), 0, "(5,9) == (5,9)");
	ok(amfa_yk_counter_cmp(5, 3, 5, 4) < 0, "(5,3) < (5,4)");
	ok(amfa_yk_counter_cmp(5, 4, 5, 3) > 0, "(5,4) > (5,3)");
	ok(amfa_yk_counter_cmp(1, 0, 0, 255) > 0, "session outranks use");
	ok(amfa_yk_counter_cmp(0, 255, 1, 0) < 0, "(0,255) < (1,0)");
	ok(amfa_yk_counter_cmp(0x7fff, 0xff, 0x7fff, 0xfe) > 0,
	    "maximum counters");
	ok(amfa_yk_counter_cmp(0, 0, 0x7fff, 0xff) < 0, "minimum < maximum");
}

static void
strings(void)
{
	const char *s[5];

	for (int r = AMFA_YK_OK; r <= AMFA_YK_BAD_PRIVATE_ID; r++) {
		s[r] = amfa_yk_result_str((enum amfa_yk_result)r);
		ok(s[r] != NULL && strcmp(s[r], "unknown") != 0,
		    "result %d has a text", r);
	}
	for (int a = 0; a < 5; a++) {
		for (int b = a + 1; b < 5; b++)
			ok(strcmp(s[a], s[b]) != 0, "texts %d and %d differ", a,
			    b);
	}
}

int
main(void)
{
	parse_good();
	parse_bad();
	shapes();
	decode();
	ambiguous_dvorak();
	counters();
	strings();
	return tap_done();
}
