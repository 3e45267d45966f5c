/*
 * A QR code in the terminal (libqrencode), for an authenticator app to
 * scan the otpauth:// URI of an enrolment.
 */
#ifndef AMFA_ADMIN_QR_PRINT_H
#define AMFA_ADMIN_QR_PRINT_H

#include <stdio.h>

/*
 * Print `text' as a QR code (error correction L, byte mode) with Unicode
 * half blocks, two rows of modules per line, `margin' modules of quiet zone.
 * Light modules are drawn, dark ones left blank, for the usual light-on-dark
 * terminal; the same picture as `qrencode -t UTF8 -m MARGIN'.  0 or -1.
 */
int adm_qr_print(FILE *out, const char *text, int margin);

#endif
