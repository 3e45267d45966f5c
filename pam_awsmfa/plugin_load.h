/*
 * Loading a shared object of ours that sits next to pam_awsmfa.so: the
 * module's body awsmfa_pam.so (loaded by pam_awsmfa.so) and the network
 * clients awsmfa_net.so (loaded by the body).
 *
 * Such an object is looked for only in the directory the loader itself
 * came from, never through the environment or the library search path
 * (su and sudo are set-user-ID: their environment is the caller's).  The
 * directory and the file are checked on open descriptors: no symlink as
 * the last component, a regular file, owned by root or by the loader's
 * own owner, writable by no one else.  What is loaded is the checked
 * descriptor, through /proc/self/fd, so the file cannot be swapped
 * between the check and the load.
 *
 * Once loaded, an object stays loaded until the process ends
 * (RTLD_NODELETE): a process that runs many PAM transactions (a display
 * manager, a screen locker, the gateway) does not map, relocate and
 * unmap it again for each.  It is still the file there NOW that is used:
 * each load names the file's (device, inode) to the object's claim
 * function, and a copy loaded from another file (the one a package
 * upgrade replaced) is passed over and the new file loaded beside it.
 * The name /proc/self/fd/N a descriptor is loaded under is spelt for the
 * file's (device, inode), so that the names an earlier copy or another
 * plugin took (glibc keeps one per descriptor number it met) are not
 * those the new file's load tries.
 * A security update therefore takes effect at the next transaction, as
 * it did when every transaction loaded the module anew.
 *
 * Nothing here logs: what went wrong is said in `err', for the caller's
 * log (pam_syslog in pam_awsmfa.so, amfa_log in the body).
 */
#ifndef AMFA_PLUGIN_LOAD_H
#define AMFA_PLUGIN_LOAD_H

#include <stddef.h>
#include <sys/types.h>

#define AMFA_PLUGIN_ERR_MAX 512

/* What the struct every such object exports begins with. */
struct amfa_plugin_head {
	size_t size;	     /* sizeof the whole exported struct */
	const char *version; /* AMFA_VERSION of the object's build */
	/* 1 if this copy was loaded from the file (dev, ino), 0 if not.
	 * `record': said by the load that mapped it (RTLD_NODELETE), whose
	 * call records it; a copy no such load recorded (one the program
	 * mapped itself) is never taken. */
	int (*claim)(dev_t dev, ino_t ino, int record);
};

/*
 * The directory the shared object holding `addr' was loaded from (dladdr),
 * and that object's owner.  0, or -1 with the reason in err.
 */
int amfa_plugin_dir_of(const void *addr, char *dir, size_t dirlen, uid_t *owner,
    char *err, size_t errlen);

/*
 * `symbol' of the copy of dir/name that was loaded from the file there
 * now (loading it if no copy was), after checking the directory and the
 * file as above.  `version': what its head's version must be (this
 * build's AMFA_VERSION, for an object that shares this build's structs),
 * or NULL for any (the symbol's suffix then names the whole interface).
 * *handle: for dlclose when the caller is done (the object stays).
 * NULL, with the reason in err, if anything fails.
 */
const struct amfa_plugin_head *amfa_plugin_load(const char *dir, uid_t owner,
    const char *name, const char *symbol, const char *version, void **handle,
    char *err, size_t errlen);

#endif
