/* Where this copy of a shared object of ours came from; see
 * plugin_origin.h. */
#include "plugin_origin.h"

int
amfa_plugin_origin_claim(struct amfa_plugin_origin *o, dev_t dev, ino_t ino,
    int record)
{
	int r;

	pthread_mutex_lock(&o->lock);
	if (!o->known && record) {
		o->known = 1;
		o->dev = dev;
		o->ino = ino;
	}
	r = o->known && o->dev == dev && o->ino == ino;
	pthread_mutex_unlock(&o->lock);
	return r;
}
