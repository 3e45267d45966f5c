/*
 * awsmfa verify-audit PATH...: check the hash chain of audit records
 * (audit_chain.h) in a log, its segments, or a directory of them (a set
 * downloaded from the evidence bucket).  The files are read in the order of
 * their first record's sequence number; every record must follow the one
 * before it: seq one more, prev the SHA-256 of its line.  The first break
 * is named (FILE:LINE, and what is wrong), exit 1; otherwise a summary and
 * exit 0.  Records before the chain began (no seq) are allowed only at the
 * start of the first file.  The set must start at seq 1, unless --partial
 * (a day's segments, say): then where it starts is printed, to be checked
 * against the segment before.
 *
 * The set's end: a seal (seal-*, evidence_segment.h) among the files names
 * a record its cut reached; the set must hold it, with that digest, or it
 * is short of its last segments.  A log given by name must still hold
 * the record that an anchor beside it anchors in it (LOG.anchor, or
 * LOG.anchor.INO once it was rotated away: audit_chain.h,
 * audit_rotation.h, matched by inode), or records were cut from its end.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "admin.h"
#include "audit_chain.h"
#include "audit_rotation.h"

/* A file bigger than this is refused (a segment is far smaller). */
#define VERIFY_MAX_FILE (1024L * 1024 * 1024)

struct vfile {
	char *path;
	unsigned long long first; /* the first chained record's seq, 0: none */
	char *data;
	size_t len;
	int seal; /* a seal: its record's seq and digest */
	unsigned long long seal_seq;
	char seal_hex[AMFA_CHAIN_HEX];
};

static int
load(struct vfile *f)
{
	struct stat st;
	ssize_t n;
	size_t got = 0;
	int fd;

	if ((fd = open(f->path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0 ||
	    fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    st.st_size > VERIFY_MAX_FILE) {
		fprintf(stderr, "awsmfa: verify-audit: %s: %s\n", f->path,
		    fd < 0 ? strerror(errno) :
			     "not a regular file (or too big)");
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if ((f->data = malloc((size_t)st.st_size + 1)) == NULL) {
		close(fd);
		return -1;
	}
	while (got < (size_t)st.st_size &&
	    (n = read(fd, f->data + got, (size_t)st.st_size - got)) > 0)
		got += (size_t)n;
	close(fd);
	f->data[got] = '\0';
	f->len = got;
	/* A seal: exactly {"seal_seq":N,"seal_digest":"HEX"} and a newline. */
	{
		int end = 0;

		if (sscanf(f->data,
			"{\"seal_seq\":%llu,\"seal_digest\":\"%64[0-9a-f]\"}\n%n",
			&f->seal_seq, f->seal_hex, &end) == 2 &&
		    end > 0 && (size_t)end == f->len &&
		    strlen(f->seal_hex) == 64 && f->seal_seq > 0) {
			f->seal = 1;
			return 0;
		}
	}
	/* The first chained record orders the files. */
	for (size_t i = 0; i < f->len;) {
		char *nl = memchr(f->data + i, '\n', f->len - i);
		size_t l = nl ? (size_t)(nl - (f->data + i)) : f->len - i;
		char prev[AMFA_CHAIN_HEX];

		if (amfa_chain_fields(f->data + i, l, &f->first, prev) == 0)
			break;
		f->first = 0;
		i += l + 1;
	}
	return 0;
}

static int
by_first(const void *a, const void *b)
{
	const struct vfile *x = a, *y = b;

	if (x->first != y->first)
		return x->first < y->first ? -1 : 1;
	return strcmp(x->path, y->path);
}

static int
add_path(struct vfile **files, size_t *n, const char *path)
{
	struct vfile *g = realloc(*files, (*n + 1) * sizeof(**files));

	if (g == NULL)
		return -1;
	*files = g;
	memset(&g[*n], 0, sizeof(g[*n]));
	if ((g[*n].path = strdup(path)) == NULL)
		return -1;
	(*n)++;
	return 0;
}

/* Whether `name' ends with `suffix'. */
static int
ends_with(const char *name, const char *suffix)
{
	size_t n = strlen(name), k = strlen(suffix);

	return n > k && strcmp(name + n - k, suffix) == 0;
}

/*
 * A directory's regular files (not those starting with '.'), but for a
 * log's head and anchor beside it (LOG.chain, LOG.anchor: no records).
 */
static int
add_dir(struct vfile **files, size_t *n, const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char *p;
	struct stat st;
	int r = 0;

	if (d == NULL)
		return -1;
	while (r == 0 && (e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.' ||
		    ends_with(e->d_name, AMFA_CHAIN_SUFFIX) ||
		    amfa_anchor_name(e->d_name))
			continue;
		if (asprintf(&p, "%s/%s", dir, e->d_name) < 0) {
			r = -1;
			break;
		}
		if (lstat(p, &st) == 0 && S_ISREG(st.st_mode))
			r = add_path(files, n, p);
		free(p);
	}
	closedir(d);
	return r;
}

/* A record (seq s, digest hex) against the seals that name it: 0, or 1 a
 * break (printed). */
static int
check_seals(struct vfile *seals, size_t ns, unsigned long long s,
    const char *hex, const char *where, unsigned long line)
{
	for (size_t j = 0; j < ns; j++) {
		if (seals[j].seal_seq != s)
			continue;
		if (strcmp(seals[j].seal_hex, hex) != 0) {
			printf("%s:%lu: break: seq %llu is not the record "
			       "sealed by %s (another digest)\n",
			    where, line, s, seals[j].path);
			return 1;
		}
	}
	return 0;
}

/* Walk the records of all files in order; 0 whole, 1 a break (printed). */
static int
walk(struct vfile *files, size_t n, struct vfile *seals, size_t ns, int partial)
{
	unsigned long long seq = 0, s, records = 0;
	char last[AMFA_CHAIN_HEX] = "", prev[AMFA_CHAIN_HEX];
	int started = 0;

	for (size_t k = 0; k < n; k++) {
		struct vfile *f = &files[k];
		unsigned long line = 0;

		for (size_t i = 0; i < f->len;) {
			char *nl = memchr(f->data + i, '\n', f->len - i);
			size_t l = nl ? (size_t)(nl - (f->data + i)) :
					f->len - i;
			const char *rec = f->data + i;

			line++;
			i += l + 1;
			if (nl == NULL) {
				printf("%s:%lu: break: a record without its "
				       "newline (cut short)\n",
				    f->path, line);
				return 1;
			}
			if (amfa_chain_fields(rec, l, &s, prev) != 0) {
				if (!started && k == 0)
					continue; /* before the chain */
				printf(
				    "%s:%lu: break: a record without the "
				    "chain's seq and prev (after seq %llu)\n",
				    f->path, line, seq);
				return 1;
			}
			if (started && s != seq + 1) {
				printf("%s:%lu: break: seq %llu follows seq "
				       "%llu: %s\n",
				    f->path, line, s, seq,
				    s > seq + 1 ? "records missing before it" :
						  "a record repeated or "
						  "out of order");
				return 1;
			}
			if (started && strcmp(prev, last) != 0) {
				printf("%s:%lu: break: seq %llu does not carry "
				       "the digest of seq %llu before it: that "
				       "record was edited or replaced\n",
				    f->path, line, s, seq);
				return 1;
			}
			if (!started && s != 1 && !partial) {
				printf("%s:%lu: break: the set starts at seq "
				       "%llu: records 1 to %llu are not in it "
				       "(--partial checks a set that starts "
				       "later)\n",
				    f->path, line, s, s - 1);
				return 1;
			}
			if (!started && s != 1)
				printf("starts at seq %llu, whose prev is %s: "
				       "the last digest of the segment before "
				       "must be that\n",
				    s, prev);
			if (!started && s == 1 && strspn(prev, "0") != 64) {
				printf(
				    "%s:%lu: break: seq 1 with a prev digest "
				    "that is not the chain's start\n",
				    f->path, line);
				return 1;
			}
			if (amfa_chain_digest(rec, l, last) != 0 ||
			    check_seals(seals, ns, s, last, f->path, line) != 0)
				return 1;
			seq = s;
			started = 1;
			records++;
		}
	}
	if (!started) {
		printf("no chained record\n");
		return 1;
	}
	for (size_t j = 0; j < ns; j++)
		if (seals[j].seal_seq > seq) {
			printf("%s: break: the set ends at seq %llu, but this "
			       "seal names seq %llu: the segments after seq "
			       "%llu are missing\n",
			    seals[j].path, seq, seals[j].seal_seq, seq);
			return 1;
		}
	printf("ok: %llu records (through seq %llu) in %zu file%s; last "
	       "digest %s\n",
	    records, seq, n, n == 1 ? "" : "s", last);
	return 0;
}

/* One anchor against the log `path' of stat `st'; as check_anchor. */
static int
check_one(const char *path, const struct stat *st, const char *ap,
    const struct amfa_anchor *a)
{
	int lfd, h;

	if (a->ino != (unsigned long long)st->st_ino)
		return 0;
	if ((lfd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0)
		return -1;
	h = amfa_anchor_holds(lfd, a);
	close(lfd);
	if (h == 0) {
		printf(
		    "%s: break: the log no longer holds seq %llu (digest "
		    "%s) ending at byte %llu, which %s anchors: records were "
		    "cut from its end\n",
		    path, a->seq, a->hex, a->end, ap);
		return 1;
	}
	return h < 0 ? -1 : 0;
}

/*
 * A log given by name: the anchors beside it (LOG.anchor, LOG.anchor.INO
 * of a log rotated by renaming: audit_chain.h, audit_rotation.h) that name
 * its inode, whatever its name is now: does it still hold the anchored
 * record?  0 yes (or none names it), 1 a break (printed), -1 an anchor is
 * unreadable (printed).
 */
static int
check_anchor(const char *path)
{
	struct amfa_anchor a;
	struct stat st, ast;
	struct dirent *e;
	char *copy, *dir, *ap;
	DIR *d;
	int afd, r = 0, c;

	if (stat(path, &st) != 0 || (copy = strdup(path)) == NULL)
		return -1;
	dir = dirname(copy);
	if ((d = opendir(dir)) == NULL) {
		free(copy);
		return -1;
	}
	while (r == 0 && (e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.' || !amfa_anchor_name(e->d_name))
			continue;
		if (asprintf(&ap, "%s/%s", dir, e->d_name) < 0) {
			r = -1;
			break;
		}
		afd = open(ap, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (afd < 0 || fstat(afd, &ast) != 0 || !S_ISREG(ast.st_mode) ||
		    ast.st_dev != st.st_dev) {
			if (afd < 0 && errno != ENOENT) {
				fprintf(stderr,
				    "awsmfa: verify-audit: %s: %s\n", ap,
				    strerror(errno));
				r = -1;
			}
		} else if (amfa_anchor_read(afd, &a) != 0) {
			printf("%s: break: the anchor is malformed\n", ap);
			r = 1;
		} else if ((c = check_one(path, &st, ap, &a)) != 0)
			r = c;
		if (afd >= 0)
			close(afd);
		free(ap);
	}
	closedir(d);
	free(copy);
	return r;
}

int
adm_verify_audit(struct adm_ctx *ctx, int argc, char **argv)
{
	struct vfile *files = NULL, *seals = NULL;
	size_t n = 0, nrec = 0, ns = 0;
	struct stat st;
	int r = ADM_FAIL, partial = 0;

	(void)ctx;
	if (argc > 1 && strcmp(argv[1], "--partial") == 0) {
		partial = 1;
		argc--;
		argv++;
	}
	if (argc < 2 || argv[1][0] == '-') {
		fprintf(stderr,
		    "usage: awsmfa verify-audit [--partial] PATH...\n");
		return ADM_USAGE;
	}
	for (int i = 1; i < argc; i++) {
		if (stat(argv[i], &st) != 0) {
			fprintf(stderr, "awsmfa: verify-audit: %s: %s\n",
			    argv[i], strerror(errno));
			goto out;
		}
		if ((S_ISDIR(st.st_mode) ? add_dir(&files, &n, argv[i]) :
					   add_path(&files, &n, argv[i])) != 0)
			goto out;
	}
	for (size_t i = 0; i < n; i++)
		if (load(&files[i]) != 0)
			goto out;
	if (n > 0 && (seals = calloc(n, sizeof(*seals))) == NULL)
		goto out;
	/* The seals apart, at the end. */
	for (size_t i = 0; i < n; i++)
		if (!files[i].seal)
			files[nrec++] = files[i];
		else
			seals[ns++] = files[i];
	memcpy(files + nrec, seals, ns * sizeof(*files));
	qsort(files, nrec, sizeof(*files), by_first);
	r = walk(files, nrec, files + nrec, ns, partial) == 0 ?
	    ADM_OK :
	    ADM_FAIL;
	/* Each log, named or found in a directory, against its anchor. */
	for (size_t i = 0; i < nrec && r == ADM_OK; i++)
		if (check_anchor(files[i].path) != 0)
			r = ADM_FAIL;
out:
	for (size_t i = 0; i < n; i++) {
		free(files[i].path);
		free(files[i].data);
	}
	free(files);
	free(seals);
	return r;
}
