/* Terminal questions; see prompt.h. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "prompt.h"

/*
 * Read up to the newline with read(2), not stdio: nothing of a secret is
 * left in a stdio buffer, and nothing beyond this line is consumed, so the
 * next question gets the next line of a script.
 */
static int
read_line(char *buf, size_t buflen)
{
	size_t n = 0;
	int toolong = 0;
	ssize_t r;
	char c;

	for (;;) {
		r = read(STDIN_FILENO, &c, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (n == 0 && !toolong)
				return -1;
			break;
		}
		if (c == '\n')
			break;
		if (n + 1 >= buflen) {
			toolong = 1;
			continue;
		}
		buf[n++] = c;
	}
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	buf[n] = '\0';
	c = 0;
	if (toolong) {
		OPENSSL_cleanse(buf, buflen);
		return -2;
	}
	return (int)n;
}

static struct termios restore_to;

/* Interrupted while typing is hidden: give the terminal its echo back. */
static void
restore_and_die(int sig)
{
	tcsetattr(STDIN_FILENO, TCSANOW, &restore_to);
	signal(sig, SIG_DFL);
	raise(sig);
}

int
adm_prompt(const char *prompt, int echo, char *buf, size_t buflen)
{
	struct sigaction sa, old_int, old_term, old_hup;
	struct termios quiet;
	int tty, guarded = 0, hidden = 0, r;

	if (buflen == 0)
		return -2;
	tty = isatty(STDIN_FILENO);
	if (!echo && tty && tcgetattr(STDIN_FILENO, &restore_to) == 0) {
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = restore_and_die;
		sigemptyset(&sa.sa_mask);
		sigaction(SIGINT, &sa, &old_int);
		sigaction(SIGTERM, &sa, &old_term);
		sigaction(SIGHUP, &sa, &old_hup);
		guarded = 1;
		quiet = restore_to;
		quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
		quiet.c_lflag |= ICANON;
		if (tcsetattr(STDIN_FILENO, TCSANOW, &quiet) == 0)
			hidden = 1;
	}
	/* Only now: input typed after the prompt must not meet a flush. */
	fputs(prompt, stderr);
	fflush(stderr);
	r = read_line(buf, buflen);
	if (guarded) {
		if (hidden) {
			tcsetattr(STDIN_FILENO, TCSANOW, &restore_to);
			fputc('\n', stderr);
		}
		sigaction(SIGINT, &old_int, NULL);
		sigaction(SIGTERM, &old_term, NULL);
		sigaction(SIGHUP, &old_hup, NULL);
	}
	return r;
}
