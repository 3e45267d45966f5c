/*
 * The module in a process that is not root (a screen locker runs PAM as
 * the user): the code is checked, and the credentials renewed, by the
 * set-user-ID checker awsmfa-chkcode(8), for the calling user only
 * (chkcode_proto.h).
 */
#ifndef AMFA_PAM_CHKCODE_H
#define AMFA_PAM_CHKCODE_H

#include <stddef.h>

/*
 * Run the checker at `path' with `args' (NULL-terminated, argv[1] on),
 * `input' (or NULL) written to its standard input, a pipe; what it says
 * for the user lands in `notice' (NUL-terminated).  Returns its exit status
 * (enum amfa_chkcode_status), or -1 when it could not be run or did not
 * exit (logged): fail closed.
 */
int amfa_chkcode_run(const char *path, const char *const *args,
    const char *input, char *notice, size_t notice_size);

#endif
