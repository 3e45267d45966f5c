/* The audit log's hash chain: see audit_chain.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "audit_chain.h"
#include "log.h"
#include "secure_file.h"

#define ZERO_DIGEST \
	"0000000000000000000000000000000000000000000000000000000000000000"

int
amfa_chain_open(const char *log_path)
{
	char *path;
	struct stat st;
	int fd;

	if (asprintf(&path, "%s%s", log_path, AMFA_CHAIN_SUFFIX) < 0)
		return -2;
	fd = open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
	if (fd < 0 && errno == ENOENT) {
		free(path);
		return -1;
	}
	if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    st.st_uid != 0 || st.st_nlink != 1 || (st.st_mode & 0117) != 0) {
		amfa_log(LOG_ERR,
		    "audit chain head %s: %s; not a root-owned regular file "
		    "of mode 0660 or tighter",
		    path, fd < 0 ? strerror(errno) : "unusable");
		if (fd >= 0)
			close(fd);
		free(path);
		return -2;
	}
	free(path);
	return fd;
}

/*
 * A POSIX record lock on the whole head: it belongs to the process, so
 * processes that share the head's descriptor (a fork) still exclude each
 * other, which flock(2), per open file description, would not.
 */
static int
lock_op(int head_fd, short type, int cmd)
{
	struct flock l;

	memset(&l, 0, sizeof(l));
	l.l_type = type;
	l.l_whence = SEEK_SET;
	return fcntl(head_fd, cmd, &l);
}

int
amfa_chain_lock(int head_fd)
{
	struct timespec pause = { 0, 10 * 1000 * 1000 };

	for (int waited = 0; waited < AMFA_CHAIN_LOCK_MS; waited += 10) {
		if (lock_op(head_fd, F_WRLCK, F_SETLK) == 0)
			return 0;
		if (errno != EACCES && errno != EAGAIN && errno != EINTR)
			return -1;
		nanosleep(&pause, NULL);
	}
	return -1;
}

void
amfa_chain_unlock(int head_fd)
{
	lock_op(head_fd, F_UNLCK, F_SETLK);
}

int
amfa_chain_read(int head_fd, unsigned long long *seq, char hex[AMFA_CHAIN_HEX])
{
	char buf[128];
	ssize_t n;
	size_t len;

	n = pread(head_fd, buf, sizeof(buf) - 1, 0);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	if (n == 0) {
		*seq = 0;
		memcpy(hex, ZERO_DIGEST, AMFA_CHAIN_HEX);
		return 0;
	}
	/* "SEQ HEX\n" exactly. */
	len = strspn(buf, "0123456789");
	if (len == 0 || len > 19 || buf[len] != ' ' ||
	    strspn(buf + len + 1, "0123456789abcdef") != 64 ||
	    strcmp(buf + len + 65, "\n") != 0)
		return -1;
	*seq = strtoull(buf, NULL, 10);
	memcpy(hex, buf + len + 1, 64);
	hex[64] = '\0';
	return 0;
}

int
amfa_chain_digest(const char *line, size_t len, char hex[AMFA_CHAIN_HEX])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	if (EVP_Digest(line, len, md, &mdlen, EVP_sha256(), NULL) != 1 ||
	    mdlen != 32)
		return -1;
	for (unsigned i = 0; i < mdlen; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	return 0;
}

char *
amfa_chain_line(const char *json, unsigned long long seq, const char *prev)
{
	char *line;

	if (json[0] != '{' || json[1] == '\0' || json[1] == '}')
		return NULL;
	if (asprintf(&line, "{\"seq\":%llu,\"prev\":\"%s\",%s\n", seq + 1, prev,
		json + 1) < 0)
		return NULL;
	return line;
}

int
amfa_chain_fields(const char *line, size_t len, unsigned long long *seq,
    char prev[AMFA_CHAIN_HEX])
{
	static const char a[] = "{\"seq\":", b[] = ",\"prev\":\"";
	size_t i = sizeof(a) - 1, d;

	if (len < i || memcmp(line, a, i) != 0)
		return -1;
	d = 0;
	while (i + d < len && line[i + d] >= '0' && line[i + d] <= '9')
		d++;
	if (d == 0 || d > 19 || (d > 1 && line[i] == '0'))
		return -1;
	*seq = strtoull(line + i, NULL, 10);
	i += d;
	if (len < i + sizeof(b) - 1 + 64 + 2 ||
	    memcmp(line + i, b, sizeof(b) - 1) != 0)
		return -1;
	i += sizeof(b) - 1;
	for (d = 0; d < 64; d++)
		if (!((line[i + d] >= '0' && line[i + d] <= '9') ||
			(line[i + d] >= 'a' && line[i + d] <= 'f')))
			return -1;
	if (line[i + 64] != '"' || line[i + 65] != ',')
		return -1;
	memcpy(prev, line + i, 64);
	prev[64] = '\0';
	return 0;
}

/* Rewrite the head: "SEQ HEX\n". */
static int
write_head(int head_fd, unsigned long long seq, const char *hex)
{
	char buf[128];
	int n = snprintf(buf, sizeof(buf), "%llu %s\n", seq, hex);

	if (n < 0 || (size_t)n >= sizeof(buf) ||
	    pwrite(head_fd, buf, (size_t)n, 0) != n ||
	    ftruncate(head_fd, n) != 0)
		return -1;
	return 0;
}

int
amfa_chain_append(int log_fd, int head_fd, const char *json)
{
	unsigned long long seq;
	char prev[AMFA_CHAIN_HEX], next[AMFA_CHAIN_HEX];
	char *line;
	size_t len;
	int r;

	if (head_fd < 0) {
		if (asprintf(&line, "%s\n", json) < 0)
			return -ENOMEM;
		r = amfa_append_whole(log_fd, line, strlen(line));
		free(line);
		return r;
	}
	if (amfa_chain_lock(head_fd) != 0)
		return -ETIMEDOUT;
	if (amfa_chain_read(head_fd, &seq, prev) != 0) {
		amfa_chain_unlock(head_fd);
		return -EBADMSG;
	}
	if ((line = amfa_chain_line(json, seq, prev)) == NULL) {
		amfa_chain_unlock(head_fd);
		return -ENOMEM;
	}
	len = strlen(line);
	r = amfa_append_whole(log_fd, line, len);
	if (r == 0 &&
	    (amfa_chain_digest(line, len - 1, next) != 0 ||
		write_head(head_fd, seq + 1, next) != 0)) {
		/* The record is in the log but the head is not: the next
		 * record repeats this one's place, which verify-audit names. */
		amfa_log(LOG_ERR,
		    "audit chain head: not updated after seq %llu", seq + 1);
		r = -EIO;
	}
	free(line);
	amfa_chain_unlock(head_fd);
	return r;
}
