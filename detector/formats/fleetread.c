// SPDX-License-Identifier: GPL-2.0-or-later
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "formats/dumpfmt.h"
#include "formats/fleetread.h"

struct job {
	struct fleet *f;
	char *const *paths;
	size_t base, n;
	pthread_mutex_t lock;
	size_t next; /* the next index to take */
	size_t failed; /* lowest index that failed; n: none */
	int err;
	struct errbuf msg;
};

static void *worker(void *arg)
{
	struct job *j = arg;

	for (;;) {
		struct errbuf err = { "" };
		struct snapshot *s = NULL;
		size_t i;
		int r;

		pthread_mutex_lock(&j->lock);
		i = j->next++;
		/* Past a failure nothing more is needed: the first failure in order is reported. */
		if (i >= j->n || i > j->failed) {
			pthread_mutex_unlock(&j->lock);
			return NULL;
		}
		pthread_mutex_unlock(&j->lock);

		r = dump_import_file(j->paths[i], &s, &err);
		if (!r) {
			r = fleet_set(j->f, j->base + i, j->paths[i], s);
			if (r)
				errbuf_set(&err, "%s: out of memory", j->paths[i]);
		}
		snapshot__free(s);
		if (r) {
			pthread_mutex_lock(&j->lock);
			if (i < j->failed) {
				j->failed = i;
				j->err = r;
				j->msg = err;
			}
			pthread_mutex_unlock(&j->lock);
		}
	}
}

int fleet_read_files(struct fleet *f, char *const *paths, size_t n, int threads, struct errbuf *err)
{
	pthread_t tid[FLEETREAD_MAX_THREADS];
	struct job j = { .f = f, .paths = paths, .n = n, .failed = n };
	int started = 0, r;

	if (threads <= 0) {
		long cpus = sysconf(_SC_NPROCESSORS_ONLN);

		threads = cpus > 0 ? (int)cpus : 1;
	}
	if (threads > FLEETREAD_MAX_THREADS)
		threads = FLEETREAD_MAX_THREADS;
	if ((size_t)threads > n)
		threads = (int)(n ? n : 1);
	j.base = fleet_count(f);
	r = fleet_reserve(f, n);
	if (r) {
		errbuf_set(err, "out of memory for %zu inputs", n);
		return r;
	}
	pthread_mutex_init(&j.lock, NULL);
	/* The calling thread works too: one thread needs no other. */
	for (int t = 1; t < threads; t++)
		if (!pthread_create(&tid[started], NULL, worker, &j))
			started++;
	worker(&j);
	for (int t = 0; t < started; t++)
		pthread_join(tid[t], NULL);
	pthread_mutex_destroy(&j.lock);
	if (j.failed < n) {
		/* The file name is the user's: printers escape it (core/log, core/escape). */
		*err = j.msg;
		return j.err;
	}
	return 0;
}
