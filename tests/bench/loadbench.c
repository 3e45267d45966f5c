/*
 * loadbench: what libpam pays to load and unload a module, alone.
 *
 *   loadbench N SHARED_OBJECT...
 *
 * For each object: N times dlopen(RTLD_NOW) + dlclose, as pam_start and
 * pam_end do, and the mean wall time of one.  Run it under callgrind with two
 * values of N for the instructions of one load (see README.md).
 */
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "bench_clock.h"

int
main(int argc, char **argv)
{
	int n;

	if (argc < 3 || (n = atoi(argv[1])) < 1) {
		fprintf(stderr, "usage: loadbench N SHARED_OBJECT...\n");
		return 2;
	}
	for (int a = 2; a < argc; a++) {
		int64_t t0 = now_ns();

		for (int i = 0; i < n; i++) {
			void *h = dlopen(argv[a], RTLD_NOW);

			if (h == NULL) {
				fprintf(stderr, "loadbench: %s\n", dlerror());
				return 1;
			}
			dlclose(h);
		}
		printf("%s: %.1f us per dlopen + dlclose\n", argv[a],
		    (double)(now_ns() - t0) / n / 1e3);
	}
	return 0;
}
