/*
 * The plugin's side of claim() (plugin_load.h): where this copy of a shared
 * object of ours was loaded from.  Linked into the objects that are
 * loaded (awsmfa_pam.so, awsmfa_net.so), not into pam_awsmfa.so, which
 * loads them and needs no lock.
 */
#ifndef AMFA_PLUGIN_ORIGIN_H
#define AMFA_PLUGIN_ORIGIN_H

#include <pthread.h>
#include <sys/types.h>

struct amfa_plugin_origin {
	pthread_mutex_t lock;
	int known;
	dev_t dev;
	ino_t ino;
};
#define AMFA_PLUGIN_ORIGIN_INIT                    \
	{                                          \
		PTHREAD_MUTEX_INITIALIZER, 0, 0, 0 \
	}

int amfa_plugin_origin_claim(struct amfa_plugin_origin *o, dev_t dev, ino_t ino,
    int record);

#endif
