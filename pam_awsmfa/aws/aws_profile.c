/* The user's ~/.aws files; see aws_profile.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "aws_profile.h"
#include "log.h"
#include "secure_file.h"

#define AWS_FILE_MAX (256 * 1024)
#define VALUE_MAX    256

static const char *
skip_blank(const char *s, const char *end)
{
	while (s < end && (*s == ' ' || *s == '\t'))
		s++;
	return s;
}

static const char *
trim_end(const char *s, const char *end)
{
	while (
	    end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
		end--;
	return end;
}

/* Is [s, end) the header of `section'? */
static int
is_section(const char *s, const char *end, const char *section)
{
	size_t n;

	if (s >= end || *s != '[')
		return -1; /* not a header at all */
	end = trim_end(s, end);
	if (end[-1] != ']')
		return -1;
	s = skip_blank(s + 1, end - 1);
	end = trim_end(s, end - 1);
	n = strlen(section);
	return (size_t)(end - s) == n && strncmp(s, section, n) == 0;
}

int
amfa_aws_ini_get(const char *buf, const char *section, const char *key,
    char *out, size_t outlen)
{
	const char *line = buf, *nl, *end, *p, *eq, *v, *ve;
	size_t klen = strlen(key);
	int in = 0, h;

	for (; *line != '\0'; line = nl ? nl + 1 : line + strlen(line)) {
		nl = strchr(line, '\n');
		end = nl ? nl : line + strlen(line);
		p = skip_blank(line, end);
		if (p == end || *p == '#' || *p == ';')
			continue;
		if ((h = is_section(p, end, section)) >= 0) {
			in = h;
			continue;
		}
		if (!in || (eq = memchr(p, '=', (size_t)(end - p))) == NULL)
			continue;
		if ((size_t)(trim_end(p, eq) - p) != klen ||
		    strncmp(p, key, klen) != 0)
			continue;
		v = skip_blank(eq + 1, end);
		ve = trim_end(v, end);
		if ((size_t)(ve - v) >= outlen)
			return -1;
		memcpy(out, v, (size_t)(ve - v));
		out[ve - v] = '\0';
		return 1;
	}
	return 0;
}

/* As the user: open HOME/.aws/NAME without following links. */
static int
read_aws_file(int awsfd, const char *name, uid_t uid, char **buf, size_t *len)
{
	struct amfa_file_policy policy = { uid, 022, AWS_FILE_MAX };

	return amfa_file_read(awsfd, name, name, &policy, buf, len);
}

struct job {
	const struct amfa_target *t;
	const char *profile;
};

static void
emit(int fd, const char *key, const char *buf, const char *section,
    const char *ini_key)
{
	char v[VALUE_MAX];

	if (buf != NULL &&
	    amfa_aws_ini_get(buf, section, ini_key, v, sizeof(v)) == 1 &&
	    strchr(v, '\n') == NULL)
		dprintf(fd, "%s=%s\n", key, v);
	OPENSSL_cleanse(v, sizeof(v));
}

/* Runs in the child, as the user. */
static int
read_profile(void *arg, int fd)
{
	const struct job *j = arg;
	char section[96], *cred = NULL, *conf = NULL;
	size_t clen = 0, flen = 0;
	int home, aws, r;

	amfa_log_set_sink(NULL, NULL);
	if ((home = open(j->t->home, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return -1;
	aws = openat(home, ".aws",
	    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	close(home);
	if (aws < 0)
		return -1;
	r = read_aws_file(aws, "credentials", j->t->uid, &cred, &clen);
	if (r == 0)
		r = read_aws_file(aws, "config", j->t->uid, &conf, &flen);
	if (r == -ENOENT)
		r = 0; /* no config file: the key alone will do */
	close(aws);
	if (r == 0 && cred != NULL) {
		emit(fd, "key", cred, j->profile, "aws_access_key_id");
		emit(fd, "secret", cred, j->profile, "aws_secret_access_key");
		if (strcmp(j->profile, "default") == 0)
			snprintf(section, sizeof(section), "default");
		else
			snprintf(section, sizeof(section), "profile %s",
			    j->profile);
		emit(fd, "serial", conf, section, "mfa_serial");
		emit(fd, "region", conf, section, "region");
		dprintf(fd, "end\n");
	}
	if (cred != NULL)
		amfa_wipe_free(cred, clen + 1);
	if (conf != NULL)
		amfa_wipe_free(conf, flen + 1);
	return r == 0 && cred != NULL ? 0 : -1;
}

static int
take(char **dst, const char *line, const char *key)
{
	size_t n = strlen(key);

	if (strncmp(line, key, n) != 0 || line[n] != '=')
		return 0;
	free(*dst);
	*dst = strdup(line + n + 1);
	return 1;
}

int
amfa_aws_profile_read(const struct amfa_target *t, const char *profile,
    struct amfa_aws_profile *p)
{
	struct job j = { t, profile };
	char *out, *line, *save = NULL;
	size_t len;
	int ended = 0;

	memset(p, 0, sizeof(p[0]));
	if (amfa_run_as(t, read_profile, &j, 4096, &out, &len) != 0) {
		amfa_log(LOG_ERR,
		    "uid %u: cannot read ~/.aws/credentials "
		    "(missing, a link, or not owned by the user)",
		    (unsigned)t->uid);
		return -1;
	}
	for (line = strtok_r(out, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		if (strcmp(line, "end") == 0)
			ended = 1;
		else if (!take(&p->access_key_id, line, "key") &&
		    !take(&p->secret_access_key, line, "secret") &&
		    !take(&p->mfa_serial, line, "serial"))
			take(&p->region, line, "region");
	}
	amfa_wipe_free(out, len + 1);
	if (!ended || p->access_key_id == NULL ||
	    p->secret_access_key == NULL) {
		amfa_log(LOG_ERR,
		    "uid %u: profile %s has no aws_access_key_id "
		    "and aws_secret_access_key in ~/.aws/credentials",
		    (unsigned)t->uid, profile);
		amfa_aws_profile_free(p);
		return -1;
	}
	return 0;
}

void
amfa_aws_profile_free(struct amfa_aws_profile *p)
{
	free(p->access_key_id);
	amfa_wipe_free_str(p->secret_access_key);
	free(p->mfa_serial);
	free(p->region);
	memset(p, 0, sizeof(*p));
}
