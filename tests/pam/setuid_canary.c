/*
 * setuid_canary.so: a library that must never be loaded by the set-user-ID
 * programs of tests/pam/test_setuid_caller.py.  The caller names it in
 * variables that libraries consult (an OpenSSL configuration's provider
 * module, LD_PRELOAD, ...); if any process loads it, its constructor
 * writes "euid ruid pid" to the file named by AMFA_CANARY_MARK, and the
 * test fails on that file.  It is no real provider: OpenSSL's load of it
 * then fails, which is fine.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

__attribute__((constructor)) static void
canary_loaded(void)
{
	const char *mark = getenv("AMFA_CANARY_MARK");
	char line[96];
	int fd, n;

	if (mark == NULL || *mark == '\0')
		return;
	fd = open(mark, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0)
		return;
	n = snprintf(line, sizeof(line), "%ld %ld %ld\n", (long)geteuid(),
	    (long)getuid(), (long)getpid());
	if (n > 0 && write(fd, line, (size_t)n) < 0)
		n = 0;
	close(fd);
}

/* OpenSSL looks this up after the load; failing is what we want. */
int OSSL_provider_init(const void *handle, const void *in, const void **out,
    void **provctx);

int
OSSL_provider_init(const void *handle, const void *in, const void **out,
    void **provctx)
{
	(void)handle;
	(void)in;
	(void)out;
	(void)provctx;
	return 0;
}
