/*
 * The audit chain (audit_chain.h): the line's form, its fields read back,
 * the digest, a malformed head refused with nothing written, and writers
 * in eight processes at once: every record numbered once, in the log's
 * order, each carrying the digest of the line before it, and the head
 * naming the last; a head left one record behind (its writer killed
 * between the two) taken on; the anchor moved on by root's records, and
 * kept when records were cut from the log.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "audit_chain.h"
#include "tap.h"

#define WRITERS 8
#define EACH	150

static char dir[] = "/tmp/amfa-chain-XXXXXX";

static int
open_in(const char *name, int flags)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return open(path, flags | O_CLOEXEC, 0600);
}

static char *
slurp(const char *name, size_t *len)
{
	int fd = open_in(name, O_RDONLY);
	struct stat st;
	char *d;

	if (fd < 0 || fstat(fd, &st) != 0 ||
	    (d = calloc(1, (size_t)st.st_size + 1)) == NULL)
		return NULL;
	*len = (size_t)read(fd, d, (size_t)st.st_size);
	close(fd);
	return d;
}

static void
form(void)
{
	char prev[AMFA_CHAIN_HEX], hex[AMFA_CHAIN_HEX];
	unsigned long long seq;
	char *line;

	ok(amfa_chain_digest("abc", 3, hex) == 0 &&
		strcmp(hex,
		    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9c"
		    "b410ff61f20015ad") == 0,
	    "the digest is SHA-256 in hex");
	line = amfa_chain_line("{\"event\":\"x\"}", 41, hex);
	is_str(line,
	    "{\"seq\":42,\"prev\":\"ba7816bf8f01cfea414140de5dae2223b00361a3"
	    "96177a9cb410ff61f20015ad\",\"event\":\"x\"}\n",
	    "the chain's fields come first, seq one more than the head's");
	ok(line && amfa_chain_fields(line, strlen(line), &seq, prev) == 0 &&
		seq == 42 && strcmp(prev, hex) == 0,
	    "and read back");
	free(line);
	ok(amfa_chain_line("{}", 0, hex) == NULL &&
		amfa_chain_line("[1]", 0, hex) == NULL,
	    "only a JSON object with members is chained");
	ok(amfa_chain_fields("{\"seq\":01,\"prev\":\"", 19, &seq, prev) != 0 &&
		amfa_chain_fields("{\"event\":1}", 11, &seq, prev) != 0,
	    "a line without the fields, or with a leading zero, is not read");
}

static void
malformed_head(void)
{
	int log = open_in("bad.log", O_WRONLY | O_CREAT | O_APPEND);
	int head = open_in("bad.log.chain", O_RDWR | O_CREAT);
	size_t len = 0;
	char *d;

	ok(write(head, "7 nothex\n", 9) == 9, "a malformed head");
	is_int(amfa_chain_append(log, head, "{\"a\":1}"), -EBADMSG,
	    "refuses the record");
	d = slurp("bad.log", &len);
	ok(d && len == 0, "and writes nothing");
	free(d);
	is_int(amfa_chain_append(log, -1, "{\"a\":1}"), 0,
	    "without a head the record is written");
	d = slurp("bad.log", &len);
	is_str(d, "{\"a\":1}\n", "unchained");
	free(d);
	close(log);
	close(head);
}

static void
writers(void)
{
	char prev[AMFA_CHAIN_HEX], last[AMFA_CHAIN_HEX], json[64];
	unsigned long long seq, want = 1, hseq;
	int log, head, status, bad = 0, order_bad = 0;
	size_t len = 0;
	char *d, *p;

	log = open_in("a.log", O_WRONLY | O_CREAT | O_APPEND);
	head = open_in("a.log.chain", O_RDWR | O_CREAT);
	for (int w = 0; w < WRITERS; w++) {
		if (fork() == 0) {
			for (int i = 0; i < EACH; i++) {
				snprintf(json, sizeof(json),
				    "{\"writer\":%d,\"n\":%d}", w, i);
				if (amfa_chain_append(log, head, json) != 0)
					_exit(1);
			}
			_exit(0);
		}
	}
	for (int w = 0; w < WRITERS; w++) {
		wait(&status);
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			bad++;
	}
	ok(bad == 0, "%d writers at once, %d records each", WRITERS, EACH);
	memset(last, '0', 64);
	last[64] = '\0';
	d = slurp("a.log", &len);
	for (p = d; p && *p; want++) {
		char *nl = strchr(p, '\n');

		if (nl == NULL ||
		    amfa_chain_fields(p, (size_t)(nl - p), &seq, prev) != 0 ||
		    seq != want || strcmp(prev, last) != 0) {
			order_bad++;
			break;
		}
		amfa_chain_digest(p, (size_t)(nl - p), last);
		p = nl + 1;
	}
	is_int(want - 1, WRITERS * EACH, "every record is in the log");
	ok(order_bad == 0,
	    "numbered 1, 2, 3 ... in the log's order, each with the digest "
	    "of the line before");
	ok(amfa_chain_read(head, &hseq, prev) == 0 && hseq == WRITERS * EACH &&
		strcmp(prev, last) == 0,
	    "the head names the last record");
	free(d);
	close(log);
	close(head);
}

static void
behind_head(void)
{
	char h1[128], prev[AMFA_CHAIN_HEX], hex[AMFA_CHAIN_HEX];
	unsigned long long seq;
	int log = open_in("b.log", O_RDWR | O_CREAT | O_APPEND);
	int head = open_in("b.log.chain", O_RDWR | O_CREAT);
	ssize_t n1;
	size_t len = 0;
	char *d, *l3;

	amfa_chain_append(log, head, "{\"a\":1}");
	n1 = pread(head, h1, sizeof(h1), 0);
	amfa_chain_append(log, head, "{\"a\":2}");
	/* The second writer died after its record, before the head. */
	ok(n1 > 0 && pwrite(head, h1, (size_t)n1, 0) == n1 &&
		ftruncate(head, n1) == 0,
	    "a head one record behind the log");
	is_int(amfa_chain_append(log, head, "{\"a\":3}"), 0,
	    "the next record is written");
	d = slurp("b.log", &len);
	l3 = d ? strstr(d, "\n{\"seq\":3,") : NULL;
	ok(l3 != NULL &&
		amfa_chain_digest(strchr(d, '\n') + 1,
		    (size_t)(l3 - strchr(d, '\n') - 1), hex) == 0 &&
		amfa_chain_fields(l3 + 1, strlen(l3 + 1), &seq, prev) == 0 &&
		strcmp(prev, hex) == 0,
	    "as seq 3, after seq 2: the head was taken on to the log's end");
	free(d);
	close(log);
	close(head);
}

static void
anchor(void)
{
	int log = open_in("c.log", O_RDWR | O_CREAT | O_APPEND);
	int head = open_in("c.log.chain", O_RDWR | O_CREAT);
	int anc = open_in("c.log.anchor", O_RDWR | O_CREAT);
	struct amfa_anchor a, b;
	struct stat st;
	char h1[128], hex[AMFA_CHAIN_HEX];
	size_t len = 0;
	ssize_t n1;
	char *d;

	amfa_chain_append_anchored(NULL, log, head, anc, "{\"a\":1}");
	n1 = pread(head, h1, sizeof(h1), 0);
	amfa_chain_append_anchored(NULL, log, head, anc, "{\"a\":2}");
	d = slurp("c.log", &len);
	ok(d && fstat(log, &st) == 0 && amfa_anchor_read(anc, &a) == 0 &&
		a.seq == 2 && a.end == len &&
		a.ino == (unsigned long long)st.st_ino &&
		amfa_chain_digest(strchr(d, '\n') + 1,
		    len - (size_t)(strchr(d, '\n') + 1 - d) - 1, hex) == 0 &&
		strcmp(a.hex, hex) == 0,
	    "root's record moves the anchor on to it");
	is_int(amfa_anchor_holds(log, &a), 1, "the log holds it");
	/* The audit group cuts seq 2 off and chains on from seq 1. */
	ok(ftruncate(log, (off_t)(strchr(d, '\n') + 1 - d)) == 0 &&
		pwrite(head, h1, (size_t)n1, 0) == n1 &&
		ftruncate(head, n1) == 0,
	    "seq 2 cut from the log, the head set back");
	is_int(amfa_anchor_holds(log, &a), 0, "the log no longer holds it");
	is_int(amfa_chain_append_anchored(NULL, log, head, anc, "{\"a\":3}"), 0,
	    "the next record is written");
	ok(amfa_anchor_read(anc, &b) == 0 && b.seq == 2 &&
		strcmp(b.hex, a.hex) == 0 && amfa_anchor_holds(log, &b) == 0,
	    "but the anchor is kept: the cut stays seen");
	a.ino++;
	is_int(amfa_anchor_holds(log, &a), 2,
	    "an anchor of another inode is another log's (rotated)");
	free(d);
	close(log);
	close(head);
	close(anc);
}

int
main(void)
{
	char cmd[300];

	if (mkdtemp(dir) == NULL)
		return 1;
	form();
	malformed_head();
	writers();
	behind_head();
	anchor();
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		printf("# could not remove %s\n", dir);
	return tap_done();
}
