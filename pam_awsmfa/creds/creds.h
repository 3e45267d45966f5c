/*
 * Temporary AWS credentials of a session, and their credential_process JSON
 * form ({"Version": 1, "AccessKeyId", "SecretAccessKey", "SessionToken",
 * "Expiration"}), written and read with json-c.
 */
#ifndef AMFA_CREDS_H
#define AMFA_CREDS_H

#include <stddef.h>
#include <time.h>

struct amfa_creds {
	char *access_key_id;
	char *secret_access_key; /* wiped on free */
	char *session_token;	 /* wiped on free */
	char expiration[40];	 /* ISO 8601 UTC, as AWS wrote it */
	time_t expires;
};

/*
 * Fill *c with copies of the four fields (NULL ones are refused).  0, or -1
 * with *why set and *c empty.
 */
int amfa_creds_set(struct amfa_creds *c, const char *id, const char *secret,
    const char *token, const char *expiration, const char **why);
/* The JSON text (heap; free with amfa_wipe_free(p, *len + 1)), or NULL. */
char *amfa_creds_to_json(const struct amfa_creds *c, size_t *len);
/* Parse and check the JSON form.  0, or -1 with *why set. */
int amfa_creds_from_json(const char *buf, struct amfa_creds *c,
    const char **why);
void amfa_creds_free(struct amfa_creds *c);

#endif
