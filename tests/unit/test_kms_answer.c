/*
 * KMS's answer read (aws/kms.h: amfa_kms_read_answer): the data key
 * decoded, and no copy of the Plaintext left in what json-c frees.  The
 * tokener and the objects are looked into as kms.c hands them back to
 * json-c: json_tokener_free and json_object_put are taken over here
 * (the test's definitions win for kms.c, linked into this program) and
 * passed on to json-c's own.
 */
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <json-c/printbuf.h>

#include "aws/kms.h"
#include "tap.h"

/* base64 of 32 bytes 0x5a ("ZZZZ..."): easy to see. */
static const char PLAIN_B64[] = "WlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlo=";
static int seen_in_tokener, seen_in_object, tokeners, puts_;

static int
holds(const char *buf, size_t n)
{
	/* The first 16 characters are enough to be the key's. */
	return buf != NULL && memmem(buf, n, PLAIN_B64, 16) != NULL;
}

/* json-c's own function `name' (dlsym's object pointer copied into a
 * function pointer, as POSIX allows). */
static void
real_fn(const char *name, void *fnp, size_t size)
{
	void *p = dlsym(RTLD_NEXT, name);

	if (p == NULL)
		abort();
	memcpy(fnp, &p, size);
}

void
json_tokener_free(struct json_tokener *tok)
{
	void (*real)(struct json_tokener *);

	real_fn("json_tokener_free", &real, sizeof(real));
	tokeners++;
	if (tok != NULL && tok->pb != NULL &&
	    holds(tok->pb->buf, (size_t)tok->pb->size))
		seen_in_tokener++;
	real(tok);
}

int
json_object_put(struct json_object *o)
{
	int (*real)(struct json_object *);
	json_object *v;
	const char *s;

	real_fn("json_object_put", &real, sizeof(real));
	puts_++;
	if (o != NULL && json_object_is_type(o, json_type_object) &&
	    json_object_object_get_ex(o, "Plaintext", &v) &&
	    (s = json_object_get_string(v)) != NULL &&
	    holds(s, strlen(PLAIN_B64)))
		seen_in_object++;
	return real(o);
}

static void
test_answer(const char *body, int with_blob, const char *what)
{
	unsigned char key[AMFA_KMS_DATA_KEY_LEN], want[AMFA_KMS_DATA_KEY_LEN];
	struct amfa_ddb_error err;
	char *blob = NULL;

	memset(&err, 0, sizeof(err));
	memset(want, 0x5a, sizeof(want));
	seen_in_tokener = seen_in_object = tokeners = puts_ = 0;
	is_int(amfa_kms_read_answer(body, strlen(body), key,
		   with_blob ? &blob : NULL, &err),
	    AMFA_DDB_OK, "%s: read", what);
	ok(memcmp(key, want, sizeof(key)) == 0, "%s: the data key", what);
	ok(tokeners == 1 && puts_ >= 1, "%s: json-c's objects looked into",
	    what);
	is_int(seen_in_tokener, 0, "%s: the parser's buffer wiped", what);
	is_int(seen_in_object, 0, "%s: the string object wiped", what);
	if (with_blob)
		is_str(blob, "AQIDBA==", "%s: the wrapped key", what);
	free(blob);
}

int
main(void)
{
	/* The Plaintext last: the parser's buffer ends holding it. */
	test_answer(
	    "{\"KeyId\":\"arn:aws:kms:us-east-1:123456789012:key/"
	    "1234abcd-12ab-34cd-56ef-1234567890ab\","
	    "\"EncryptionAlgorithm\":\"SYMMETRIC_DEFAULT\","
	    "\"Plaintext\":\"WlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlo=\"}",
	    0, "Decrypt");
	/* Before a shorter string: its tail stays in the buffer. */
	test_answer(
	    "{\"Plaintext\":\"WlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlo=\","
	    "\"CiphertextBlob\":\"AQIDBA==\",\"KeyId\":\"k\"}",
	    1, "GenerateDataKey");
	printf("1..%d\n", tap_n);
	return tap_failed != 0;
}
