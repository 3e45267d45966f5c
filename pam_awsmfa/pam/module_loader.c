/*
 * pam_awsmfa.so: what libpam loads.  It loads the module's body,
 * awsmfa_pam.so, from its own directory and passes each call on
 * (module_body.h).  The body is checked, loaded from the checked
 * descriptor and kept for the life of the process; each transaction
 * takes the copy of the file that is there now (plugin_load.h).
 *
 * This loader is linked -z nodelete: after its first transaction it stays
 * mapped, and libpam's dlopen in the next pam_start finds it loaded
 * (mapping, relocating and unmapping it was a quarter of a login's cost
 * in a process that runs one transaction after another).  So a new
 * pam_awsmfa.so takes effect in a process that already ran one at its
 * next start, as a new libpam or libc does; everything the module decides
 * and parses is in the body, which still takes effect at the next
 * transaction.  For the same reason the body may be of another version
 * than this loader: the interface is AMFA_PAM_OPS_SYMBOL, whose suffix
 * changes with it.
 *
 * Nothing else happens here: no argument, environment variable or file
 * other than the body is read.  If the body cannot be had, the call fails
 * closed and says why in the system log.
 */
#include <dlfcn.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>
#include <syslog.h>

#define PAM_SM_AUTH
#define PAM_SM_SESSION
#include <security/pam_ext.h>
#include <security/pam_modules.h>

#include "hex.h"
#include "module_body.h"
#include "plugin_load.h"

/*
 * The body this transaction took, kept with its handle under a name of
 * this mapped copy of the loader.  The data of a handle is shared by every
 * module of its stack, and a stack may name two pam_awsmfa.so (a
 * package's and a local build's, or one kept mapped since before an
 * upgrade beside the new one), of one version or of two: each takes only
 * the body next to it, never the other's (whose checks are not its own:
 * its own body missing or writable by others fails its calls closed).  A
 * version in the name would not do: two copies may say the same.  The
 * same copy named on two lines takes one body for the transaction.
 */
#define KEY_PREFIX "pam_awsmfa_body "
#define KEY_LEN	   (sizeof(KEY_PREFIX) - 1 + 2 * sizeof(uintptr_t))

/* An object of this copy: its address names the copy, and its file. */
static const char here;

/* KEY_PREFIX and the address of `here' in hex. */
static void
body_key(char key[KEY_LEN + 1])
{
	uintptr_t a = (uintptr_t)&here;

	memcpy(key, KEY_PREFIX, sizeof(KEY_PREFIX) - 1);
	amfa_hex((const unsigned char *)&a, sizeof(a),
	    key + sizeof(KEY_PREFIX) - 1);
}

static const struct amfa_pam_ops *
body(pam_handle_t *pamh)
{
	const struct amfa_plugin_head *head;
	const struct amfa_pam_ops *ops;
	const void *kept = NULL;
	char dir[PATH_MAX], err[AMFA_PLUGIN_ERR_MAX], key[KEY_LEN + 1];
	uid_t owner;
	void *h;

	body_key(key);
	if (pam_get_data(pamh, key, &kept) == PAM_SUCCESS && kept != NULL)
		return kept;
	if (amfa_plugin_dir_of(&here, dir, sizeof(dir), &owner, err,
		sizeof(err)) != 0)
		goto fail;
	head = amfa_plugin_load(dir, owner, AMFA_PAM_BODY, AMFA_PAM_OPS_SYMBOL,
	    NULL, &h, err, sizeof(err));
	if (head == NULL)
		goto fail;
	ops = (const struct amfa_pam_ops *)head;
	/* Pinned: the ops stay valid after the handle is let go. */
	dlclose(h);
	if (head->size != sizeof(*ops) || ops->located == NULL ||
	    ops->authenticate == NULL || ops->setcred == NULL ||
	    ops->open_session == NULL || ops->close_session == NULL) {
		pam_syslog(pamh, LOG_ERR,
		    "%s/%s: not a body for this pam_awsmfa.so (%s of another "
		    "form)",
		    dir, AMFA_PAM_BODY, AMFA_PAM_OPS_SYMBOL);
		goto denied;
	}
	ops->located(dir, owner);
	/* The transaction's later calls take the same body.  The data is
	 * the body's own, never freed (the body stays loaded). */
	if (pam_set_data(pamh, key, (void *)(uintptr_t)ops, NULL) !=
	    PAM_SUCCESS)
		goto denied;
	return ops;
fail:
	pam_syslog(pamh, LOG_ERR, "%s", err);
denied:
	pam_syslog(pamh, LOG_ERR,
	    "denied: the module's body %s is missing or unusable",
	    AMFA_PAM_BODY);
	return NULL;
}

PAM_EXTERN int
pam_sm_authenticate(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	const struct amfa_pam_ops *ops = body(pamh);

	return ops != NULL ?
	    ops->authenticate(pamh, flags, argc, argv) :
	    PAM_AUTHINFO_UNAVAIL;
}

PAM_EXTERN int
pam_sm_setcred(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	const struct amfa_pam_ops *ops = body(pamh);

	return ops != NULL ?
	    ops->setcred(pamh, flags, argc, argv) :
	    PAM_CRED_ERR;
}

PAM_EXTERN int
pam_sm_open_session(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	const struct amfa_pam_ops *ops = body(pamh);

	return ops != NULL ?
	    ops->open_session(pamh, flags, argc, argv) :
	    PAM_SESSION_ERR;
}

PAM_EXTERN int
pam_sm_close_session(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	const struct amfa_pam_ops *ops = body(pamh);

	return ops != NULL ?
	    ops->close_session(pamh, flags, argc, argv) :
	    PAM_SESSION_ERR;
}
