/*
 * The audit log rotated by renaming (awsmfa-evidence(8)): the old file
 * keeps its inode under another name in the log's directory, the path
 * names a new file, and the chain goes on from one to the other (the head,
 * LOG.chain, stays with the path).  Two things must not be lost at that
 * moment:
 *
 *  - the old file's records since the uploader's last cut: the uploader
 *    finds the old file by its inode (the one its state names) and cuts it
 *    to its end, then goes on with the file that begins with the record
 *    after (the new log, or the second name of a log renamed twice between
 *    runs) (evidence_segment.c);
 *  - the old file's anchor (audit_chain.h): LOG.anchor follows the path's
 *    file, so before a root writer moves it on to the new file, what it
 *    anchored in the old one is kept as LOG.anchor.INO (root's, 0600),
 *    INO the old file's inode; the uploader moves that one on to the old
 *    file's end when it has cut it whole.  `awsmfa verify-audit' of a log
 *    looks in its directory for the anchor that names its inode, under
 *    whatever name the log has now.
 *
 * An anchor of a rotated file goes when no file of its directory has that
 * inode any more (deleted, or compressed into a new file): the uploader
 * sweeps them.  Between a deletion and the sweep, a new file given the same
 * inode number would be checked against the old anchor and named as cut (a
 * false alarm, never a silent pass).
 */
#ifndef AMFA_AUDIT_ROTATION_H
#define AMFA_AUDIT_ROTATION_H

#include <sys/types.h>

#include "audit_chain.h"

/*
 * The file of the log's directory whose inode is `ino' (the log rotated
 * away), opened for reading: a regular file on the log's file system, not
 * a link.  Its name (heap) in *name when name is not NULL.  The
 * descriptor, or -1 (none: deleted, or another file now).
 */
int amfa_rotated_open(const char *log_path, unsigned long long ino,
    char **name);

/*
 * The file of the log's directory that begins with the record after (seq,
 * hex): where the chain went on after a rotated file's end, the log itself
 * or, after two renames between cuts, the file the log was renamed to the
 * second time.  Root's, of the group `gid', one link (more where only root
 * names files beside the log: amfa_chain_names_roots_only), regular; opened for
 * reading, its name (heap) in *name.  The descriptor, or -1 (none).
 */
int amfa_rotated_successor(const char *log_path, gid_t gid,
    unsigned long long seq, const char *hex, char **name);

/* Remove the anchors of rotated files no longer in the log's directory. */
void amfa_anchor_rotated_sweep(const char *log_path);

/*
 * Is `name' the name of an anchor, LOG.anchor or LOG.anchor.INO?  1 or 0
 * (for verify-audit, which reads no records from them).
 */
int amfa_anchor_name(const char *name);

#endif
