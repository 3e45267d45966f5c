/*
 * Between pam_awsmfa.so, which libpam loads for each transaction, and the
 * module's body awsmfa_pam.so (the PAM glue of this folder and the core),
 * which pam_awsmfa.so loads once per process and keeps (plugin_load.h).
 *
 * libpam maps a module in pam_start and unmaps it in pam_end.  Mapping the
 * body, with its libraries and its symbols resolved, was most of what a
 * local login cost in a process that runs one transaction after another;
 * pam_awsmfa.so is small (and stays mapped itself: module_loader.c), and
 * the body is mapped once, then taken again as long as the file next to
 * pam_awsmfa.so is the one it came from.
 *
 * The body exports AMFA_PAM_OPS_SYMBOL only; a change to this struct bumps
 * its suffix.  A loader takes a body of any version that exports it: a
 * loader kept mapped since before an upgrade takes the new body.
 */
#ifndef AMFA_MODULE_BODY_H
#define AMFA_MODULE_BODY_H

#include <sys/types.h>

#include <security/pam_modules.h>

#include "plugin_load.h"

#define AMFA_PAM_BODY	    "awsmfa_pam.so"
#define AMFA_PAM_OPS_SYMBOL "amfa_pam_ops_v1"

typedef int amfa_pam_entry(pam_handle_t *pamh, int flags, int argc,
    const char **argv);

struct amfa_pam_ops {
	/* sizeof(struct amfa_pam_ops), AMFA_VERSION, where it came from */
	struct amfa_plugin_head head;
	/* Where pam_awsmfa.so was loaded from and its owner: where
	 * awsmfa_net.so is looked for (the first call is kept). */
	void (*located)(const char *dir, uid_t owner);
	amfa_pam_entry *authenticate;
	amfa_pam_entry *setcred;
	amfa_pam_entry *open_session;
	amfa_pam_entry *close_session;
};

#endif
