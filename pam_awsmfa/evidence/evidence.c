/*
 * awsmfa-evidence: uploads this host's evidence to an S3 bucket under
 * Object Lock (awsmfa-evidence(8)): each closed audit-log segment
 * (evidence_segment.h) and each finished session recording, signed with
 * SigV4 (s3_put.h), with the root-only credentials of the module's table
 * client (a key file, or the instance role through IMDSv2).  Runs as root
 * from systemd (awsmfa-evidence.service): no user can signal, trace or set
 * limits on it.  Nothing is removed before S3 confirmed it, and only with
 * remove_after_upload = yes; what cannot be uploaded waits in the spool
 * and is retried with a backoff that doubles to backoff_max_seconds.
 *
 * A recording is finished when its recorder let go of it: the recorder
 * holds an exclusive flock(2) on it while it records (recording_dir.c), so
 * the uploader's shared, non-blocking one succeeds only after.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "aws/ddb_credentials.h"
#include "aws/s3_put.h"
#include "evidence_conf.h"
#include "evidence_segment.h"
#include "log.h"
#include "root_service.h"
#include "secure_file.h"

/* The biggest object sent in one PutObject (recordings are capped far
 * lower by recording_max_size). */
#define OBJECT_MAX (1024L * 1024 * 1024)

struct run {
	const struct amfa_evidence_conf *c;
	int spool_fd, queue_fd, sent_fd, mark_fd, rec_fd;
	int failures;
	/* The credentials, kept while they are good (have_creds). */
	struct amfa_ddb_creds cr;
	int have_creds;
};

/* A subdirectory of the spool, root's, 0700. */
static int
subdir(int spool_fd, const char *name)
{
	struct stat st;
	int fd;

	if (mkdirat(spool_fd, name, 0700) != 0 && errno != EEXIST)
		return -1;
	fd = openat(spool_fd, name,
	    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) != 0 || st.st_uid != 0 ||
	    (st.st_mode & 077) != 0) {
		amfa_log(LOG_ERR, "spool %s: not a root-owned 0700 directory",
		    name);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* Open `name' below `dir' for upload: a regular file with one link, not
 * a link, not a device or FIFO (O_NONBLOCK), at most OBJECT_MAX.  The
 * descriptor, -1. */
static int
open_item(int dir, const char *name, struct stat *st)
{
	int fd = openat(dir, name,
	    O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);

	if (fd < 0) {
		if (errno == ELOOP)
			amfa_log(LOG_ERR, "%s: a link: left alone", name);
		return -1;
	}
	if (fstat(fd, st) != 0 || !S_ISREG(st->st_mode) || st->st_nlink != 1 ||
	    st->st_size > OBJECT_MAX) {
		amfa_log(LOG_ERR,
		    "%s: not a regular file with one link (or too big): "
		    "left alone",
		    name);
		close(fd);
		return -1;
	}
	return fd;
}

static char *
slurp(int fd, size_t size)
{
	char *d = malloc(size ? size : 1);
	size_t got = 0;
	ssize_t n;

	if (d == NULL)
		return NULL;
	while (
	    got < size && (n = pread(fd, d + got, size - got, (off_t)got)) > 0)
		got += (size_t)n;
	if (got != size) {
		free(d);
		return NULL;
	}
	return d;
}

/* Put one object.  0 confirmed (stored, or there already), -1 not. */
static int
put(struct run *r, const char *key, const void *body, size_t len,
    const char *ctype, const char *prev)
{
	const struct amfa_evidence_conf *c = r->c;
	struct amfa_ddb_config dc;
	struct amfa_ddb_error err;
	struct amfa_aws_key k;
	struct amfa_s3_put p;
	enum amfa_ddb_result cres;
	enum amfa_s3_result res;
	char until[32], detail[300];
	time_t t = time(NULL) + c->retention_days * 86400L;
	struct tm tm;

	memset(&dc, 0, sizeof(dc));
	dc.region = c->region;
	dc.ca_file = c->ca_file;
	dc.timeout_ms = 10000;
	dc.key_file = c->key_file;
	dc.imds_endpoint = c->imds_endpoint;
	dc.cred_cache = c->cred_cache;
	memset(&err, 0, sizeof(err));
	/* Fetched again only when they near their end (the instance role's),
	 * or after S3 refused them. */
	if (r->have_creds && r->cr.expires != 0 &&
	    r->cr.expires - time(NULL) < AMFA_DDB_CRED_MARGIN_S) {
		amfa_ddb_creds_free(&r->cr);
		r->have_creds = 0;
	}
	if (!r->have_creds) {
		cres = amfa_ddb_creds_get(&dc, 10000, &r->cr, &err);
		if (cres != AMFA_DDB_OK) {
			amfa_log(LOG_ERR, "credentials: %s %s",
			    amfa_ddb_result_str(cres), err.detail);
			return -1;
		}
		r->have_creds = 1;
	}
	gmtime_r(&t, &tm);
	strftime(until, sizeof(until), "%Y-%m-%dT%H:%M:%SZ", &tm);
	memset(&p, 0, sizeof(p));
	p.bucket_url = c->bucket_url;
	p.region = c->region;
	p.key = key;
	p.ca_file = c->ca_file;
	p.body = body;
	p.body_len = len;
	p.content_type = ctype;
	p.lock_mode = amfa_evidence_lock_modes[c->retention_mode];
	p.retain_until = until;
	if (prev != NULL) {
		p.meta_name = "chain-prev";
		p.meta_value = prev;
	}
	p.timeout_ms = c->upload_timeout_seconds * 1000;
	k.access_key_id = r->cr.access_key_id;
	k.secret_access_key = r->cr.secret_access_key;
	k.session_token = r->cr.session_token;
	res = amfa_s3_put(&p, &k, detail, sizeof(detail));
	if (res == AMFA_S3_REFUSED) {
		if (r->cr.from_cache)
			amfa_ddb_creds_forget(&dc);
		amfa_ddb_creds_free(&r->cr);
		r->have_creds = 0;
	}
	if (res == AMFA_S3_STORED || res == AMFA_S3_THERE) {
		amfa_log(LOG_INFO, "s3://%s: %s", key, detail);
		return 0;
	}
	amfa_log(res == AMFA_S3_RETRY ? LOG_WARNING : LOG_ERR,
	    "s3://%s: not uploaded (%s): it waits and is tried again", key,
	    detail);
	return -1;
}

/* Done with `name' in `dir' (uploaded): removed with remove_after_upload;
 * otherwise a segment moves to sent/, a recording stays where it is and
 * uploaded/ gets a mark of its name. */
static void
done(struct run *r, int dir, const char *name, int is_recording)
{
	int fd;

	if (r->c->remove_after_upload) {
		if (unlinkat(dir, name, 0) != 0)
			amfa_log(LOG_ERR, "%s: uploaded, not removed: %s", name,
			    strerror(errno));
		return;
	}
	if (!is_recording) {
		if (renameat(dir, name, r->sent_fd, name) != 0)
			amfa_log(LOG_ERR,
			    "%s: uploaded, not moved to sent/: %s", name,
			    strerror(errno));
		return;
	}
	/* A recording stays where it is; uploaded/ remembers it. */
	fd = openat(r->mark_fd, name,
	    O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		amfa_log(LOG_ERR, "%s: uploaded, not marked: %s", name,
		    strerror(errno));
	else
		close(fd);
}

/* audit-WHEN-FIRST-LAST-PREV -> KEY_PREFIXaudit/HOST/WHEN-FIRST-LAST.jsonl */
static int
segment_key(const struct amfa_evidence_conf *c, const char *name, char *key,
    size_t klen, const char **prev)
{
	const char *dash = strrchr(name, '-');
	int n;

	if (strncmp(name, "audit-", 6) != 0 || dash == NULL ||
	    strlen(dash + 1) != 64)
		return -1;
	*prev = dash + 1;
	n = snprintf(key, klen, "%saudit/%s/%.*s.jsonl", c->key_prefix, c->host,
	    (int)(dash - (name + 6)), name + 6);
	return n < 0 || (size_t)n >= klen ? -1 : 0;
}

/* seal-WHEN-FIRST-LAST-DIGEST -> KEY_PREFIXaudit/HOST/WHEN-FIRST-LAST.seal
 * (evidence_segment.h) */
static int
seal_key(const struct amfa_evidence_conf *c, const char *name, char *key,
    size_t klen)
{
	const char *dash = strrchr(name, '-');
	int n;

	if (strncmp(name, "seal-", 5) != 0 || dash == NULL ||
	    strlen(dash + 1) != 64)
		return -1;
	n = snprintf(key, klen, "%saudit/%s/%.*s.seal", c->key_prefix, c->host,
	    (int)(dash - (name + 5)), name + 5);
	return n < 0 || (size_t)n >= klen ? -1 : 0;
}

/* USER-YYYYmmddTHHMMSSZ-SESSION.cast ->
 * KEY_PREFIXrecordings/HOST/YYYYmmddTHHMMSSZ-USER-SESSION.cast; a name in
 * another form keeps its name after the file's time. */
static int
recording_key(const struct amfa_evidence_conf *c, const char *name,
    const struct stat *st, char *key, size_t klen)
{
	size_t len = strlen(name);
	char when[32];
	struct tm tm;
	int n = -1;

	for (size_t i = 1; i + 18 < len; i++) {
		const char *w = name + i;

		if (w[-1] == '-' && strspn(w, "0123456789") == 8 &&
		    w[8] == 'T' && strspn(w + 9, "0123456789") == 6 &&
		    w[15] == 'Z' && w[16] == '-') {
			n = snprintf(key, klen, "%srecordings/%s/%.16s-%.*s-%s",
			    c->key_prefix, c->host, w, (int)(i - 1), name,
			    w + 17);
			break;
		}
	}
	if (n < 0) {
		gmtime_r(&st->st_mtime, &tm);
		strftime(when, sizeof(when), "%Y%m%dT%H%M%SZ", &tm);
		n = snprintf(key, klen, "%srecordings/%s/%s-%s", c->key_prefix,
		    c->host, when, name);
	}
	return n < 0 || (size_t)n >= klen ? -1 : 0;
}

static int
by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static int
plain_name(const struct dirent *e)
{
	return e->d_name[0] != '.';
}

/* Upload what the queue holds, oldest first.  0 all, -1 some wait. */
static int
pass_queue(struct run *r)
{
	struct dirent **list;
	struct stat st;
	char key[512], *body;
	const char *prev;
	int n, fd, rc = 0;

	if ((n = scandirat(r->queue_fd, ".", &list, plain_name, by_name)) < 0)
		return -1;
	for (int i = 0; i < n; i++) {
		const char *name = list[i]->d_name;

		int seal = 0;

		prev = NULL;
		if (rc == 0 && !amfa_service_stopping &&
		    (segment_key(r->c, name, key, sizeof(key), &prev) == 0 ||
			(seal = seal_key(r->c, name, key, sizeof(key)) == 0)) &&
		    (fd = open_item(r->queue_fd, name, &st)) >= 0) {
			body = slurp(fd, (size_t)st.st_size);
			close(fd);
			if (body != NULL &&
			    put(r, key, body, (size_t)st.st_size,
				seal ? "application/json" :
				       "application/x-ndjson",
				prev) == 0)
				done(r, r->queue_fd, name, 0);
			else
				rc = -1;
			free(body);
		}
		free(list[i]);
	}
	free(list);
	return rc;
}

/* Upload the finished recordings not uploaded yet.  0 all, -1 some wait. */
static int
pass_recordings(struct run *r)
{
	struct dirent **list;
	struct stat st, sst;
	char key[512], *body;
	size_t nl;
	int n, fd, rc = 0;

	if ((n = scandirat(r->rec_fd, ".", &list, plain_name, by_name)) < 0) {
		amfa_log(LOG_ERR, "%s: %s", r->c->recording_dir,
		    strerror(errno));
		return -1;
	}
	for (int i = 0; i < n; i++) {
		const char *name = list[i]->d_name;

		nl = strlen(name);
		if (rc != 0 || amfa_service_stopping || nl < 6 ||
		    strcmp(name + nl - 5, ".cast") != 0 ||
		    fstatat(r->mark_fd, name, &sst, AT_SYMLINK_NOFOLLOW) == 0 ||
		    (fd = open_item(r->rec_fd, name, &st)) < 0) {
			free(list[i]);
			continue;
		}
		/* Still being recorded: its recorder holds the lock. */
		if (flock(fd, LOCK_SH | LOCK_NB) != 0) {
			close(fd);
			free(list[i]);
			continue;
		}
		body = slurp(fd, (size_t)st.st_size);
		close(fd);
		if (body != NULL &&
		    recording_key(r->c, name, &st, key, sizeof(key)) == 0 &&
		    put(r, key, body, (size_t)st.st_size,
			"application/x-asciicast", NULL) == 0)
			done(r, r->rec_fd, name, 1);
		else
			rc = -1;
		free(body);
		free(list[i]);
	}
	free(list);
	return rc;
}

/* Sleep `s' seconds, or until asked to stop. */
static void
nap(long s)
{
	struct timespec t = { 1, 0 };

	for (long i = 0; i < s && !amfa_service_stopping; i++)
		nanosleep(&t, NULL);
}

/* The passes, until stopped (or one with `once').  0, or 1: something
 * waits or the spool is unusable. */
static int
run(const struct amfa_evidence_conf *cp, int once)
{
	const struct amfa_evidence_conf c = *cp;
	struct run r;
	time_t last_cut;
	int left = 0;

	memset(&r, 0, sizeof(r));
	r.c = &c;
	r.rec_fd = -1;
	if ((r.spool_fd = amfa_dir_create_open(c.spool_dir, 0, 0700)) < 0 ||
	    (r.queue_fd = subdir(r.spool_fd, "queue")) < 0 ||
	    (r.sent_fd = subdir(r.spool_fd, "sent")) < 0 ||
	    (r.mark_fd = subdir(r.spool_fd, "uploaded")) < 0)
		return 1;
	if (c.audit_log != NULL && amfa_evidence_head_make(c.audit_log) != 0)
		return 1;
	if (c.recording_dir != NULL &&
	    (r.rec_fd = open(c.recording_dir,
		 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		amfa_log(LOG_ERR, "recording_dir %s: %s", c.recording_dir,
		    strerror(errno));
		return 1;
	}
	last_cut = time(NULL);
	while (!amfa_service_stopping) {
		left = 0;
		if (c.audit_log != NULL &&
		    amfa_evidence_cut(c.audit_log, r.spool_fd, r.queue_fd, once,
			c.segment_seconds, &last_cut) < 0)
			left = 1;
		if (pass_queue(&r) != 0)
			left = 1;
		if (r.rec_fd >= 0 && pass_recordings(&r) != 0)
			left = 1;
		if (once)
			break;
		if (left) {
			/* 1, 2, 4 ... seconds, up to the configured most. */
			long wait = r.failures < 20 ?
			    1L << r.failures :
			    1L << 20;

			if (wait > c.backoff_max_seconds)
				wait = c.backoff_max_seconds;
			r.failures++;
			nap(wait);
		} else {
			r.failures = 0;
			nap(c.poll_seconds);
		}
	}
	if (r.have_creds)
		amfa_ddb_creds_free(&r.cr);
	return once ? left : 0;
}

static void
usage(FILE *f)
{
	fprintf(f, "usage: awsmfa-evidence [--config PATH] [--once]\n");
}

int
main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "once", no_argument, NULL, '1' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config = AMFA_EVIDENCE_DEFAULT_CONFIG;
	struct amfa_evidence_conf c;
	int once = 0, opt, rc;

	while ((opt = getopt_long(argc, argv, "", lopts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			config = optarg;
			break;
		case '1':
			once = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	if (amfa_root_service_start("awsmfa-evidence") != 0)
		return 1;
	if (amfa_evidence_conf_load(config, 0, &c) != 0)
		return 3;
	rc = run(&c, once);
	amfa_evidence_conf_free(&c);
	return rc;
}
