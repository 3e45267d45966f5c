/*
 * The admin program's access to users' state, in either store (store.h):
 * read it for status and check-config, change it for unlock, enroll and
 * migrate-state.  See admin.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "admin.h"
#include "secure_file.h"
#include "store/state.h"
#include "store/state_table.h"
#include "store/store.h"
#include "user.h"

#define UPDATE_TRIES 20

int
adm_state_peek_files(const struct amfa_config *cfg, const char *user,
    struct amfa_state *st)
{
	struct amfa_file_policy policy = { 0, 077, 8192 };
	char name[AMFA_USER_NAME_MAX + 8], shown[4096];
	enum amfa_state_form form;
	uint64_t seq;
	const char *why;
	struct stat sb;
	char *buf;
	size_t len;
	int dirfd, r;

	if (stat(cfg->state_dir, &sb) != 0 && errno == ENOENT)
		return 0;
	if ((dirfd = amfa_dir_open(cfg->state_dir, 0, 077)) < 0)
		return -1;
	snprintf(name, sizeof(name), "%s.state", user);
	snprintf(shown, sizeof(shown), "%s/%s", cfg->state_dir, name);
	r = amfa_file_read(dirfd, name, shown, &policy, &buf, &len);
	close(dirfd);
	if (r == -ENOENT)
		return 0;
	if (r != 0)
		return -1;
	r = amfa_state_file_parse(buf, len, st, &form, &seq, &why);
	free(buf);
	if (r != 0) {
		adm_err("%s: corrupt state (%s); logins are refused until it "
			"is repaired or removed",
		    shown, why);
		return -1;
	}
	return 1;
}

int
adm_state_peek(const struct amfa_config *cfg, const char *user,
    struct amfa_state *st)
{
	struct amfa_store s;
	enum amfa_store_result r;

	if (cfg->state_backend != AMFA_BACKEND_DYNAMODB)
		return adm_state_peek_files(cfg, user, st);
	if (amfa_store_init(&s, cfg, user, 0) != 0)
		return -1;
	r = amfa_store_load(&s, st);
	amfa_store_close(&s);
	if (r != AMFA_STORE_OK) {
		adm_err("%s: the state table %s: %s", user, cfg->ddb_table,
		    amfa_store_result_str(r));
		return -1;
	}
	return s.exists ? 1 : 0;
}

void
adm_state_where(const struct amfa_config *cfg, const char *user, char *out,
    size_t outlen)
{
	struct amfa_ddb_config dc;
	char endpoint[256], cache[4096];

	if (cfg->state_backend != AMFA_BACKEND_DYNAMODB) {
		snprintf(out, outlen, "%s/%s.state", cfg->state_dir, user);
		return;
	}
	amfa_table_config(cfg, &dc, endpoint, cache);
	snprintf(out, outlen, "item %s of table %s (%s)", user, cfg->ddb_table,
	    endpoint);
}

int
adm_state_update(const struct amfa_config *cfg, const char *user,
    int (*change)(struct amfa_state *st, void *arg), void *arg)
{
	struct amfa_store s;
	struct amfa_state st;
	enum amfa_store_result r;
	int c;

	if (amfa_store_init(&s, cfg, user, 0) != 0)
		return ADM_FAIL;
	for (int tries = 0; tries < UPDATE_TRIES; tries++) {
		if ((r = amfa_store_load(&s, &st)) != AMFA_STORE_OK)
			break;
		c = change(&st, arg);
		if (c <= 0) {
			amfa_store_close(&s);
			return c == 0 ? ADM_OK : ADM_FAIL;
		}
		r = amfa_store_commit(&s, &st, (int64_t)time(NULL));
		if (r != AMFA_STORE_CONFLICT)
			break;
		/* Another host wrote meanwhile: look again. */
	}
	amfa_store_close(&s);
	if (r == AMFA_STORE_OK)
		return ADM_OK;
	adm_err("%s: state not written: %s", user, amfa_store_result_str(r));
	return r == AMFA_STORE_UNAVAILABLE ? ADM_UNREACHABLE : ADM_FAIL;
}
