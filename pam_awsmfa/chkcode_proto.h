/*
 * Between the PAM module in a process that is not root (a screen locker:
 * i3lock, swaylock, xscreensaver run PAM as the user) and the set-user-ID
 * code checker awsmfa-chkcode(8), which decides for the calling user only.
 *
 *   awsmfa-chkcode check USER SERVICE   the code on standard input (a
 *                                       pipe): at most AMFA_CHKCODE_MAX
 *                                       bytes, then end of file
 *   awsmfa-chkcode renew USER           apply the renewal the last check
 *                                       staged (pam_setcred)
 *
 * USER must be the name of the caller's real uid.  The answer is the exit
 * status; what the user should be told (recovery codes left, a login
 * without credentials) comes on standard output, one line each, at most
 * AMFA_CHKCODE_NOTICE_MAX bytes in all.
 */
#ifndef AMFA_CHKCODE_PROTO_H
#define AMFA_CHKCODE_PROTO_H

#define AMFA_CHKCODE_MAX	 256
#define AMFA_CHKCODE_NOTICE_MAX	 1024
#define AMFA_CHKCODE_SERVICE_MAX 64
/* A staged renewal older than this is not applied (seconds). */
#define AMFA_CHKCODE_RENEW_MAX_AGE 300

enum amfa_chkcode_status {
	AMFA_CHKCODE_OK = 0,	       /* the code checks out; renewed */
	AMFA_CHKCODE_DENIED = 1,       /* wrong code, replay */
	AMFA_CHKCODE_LOCKED = 2,       /* locked out */
	AMFA_CHKCODE_UNAVAILABLE = 3,  /* could not decide: fail closed */
	AMFA_CHKCODE_NOT_ENROLLED = 4, /* the caller is not enrolled */
	AMFA_CHKCODE_REFUSED = 5,      /* the request itself is refused */
	AMFA_CHKCODE_NOTHING = 6,      /* renew: nothing to renew */
};

#endif
