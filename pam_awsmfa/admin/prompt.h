/*
 * Questions to the administrator at the terminal: codes during enrolment,
 * a YubiKey's OTP and its AES key.  Without a terminal the answers are read
 * from standard input, one per line, so enrolment can be scripted.
 */
#ifndef AMFA_ADMIN_PROMPT_H
#define AMFA_ADMIN_PROMPT_H

#include <stddef.h>

/*
 * Show `prompt' on standard error and read one line from standard input
 * into buf (without the newline).  With echo = 0 and a terminal, typing is
 * not shown (secrets).  Returns the length, -1 at end of input or on error,
 * -2 if the line did not fit (the rest of it is discarded; buf is wiped).
 */
int adm_prompt(const char *prompt, int echo, char *buf, size_t buflen);

#endif
