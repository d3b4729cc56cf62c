/*
 * Unit test of the context's error detail per thread
 * (imss_ctx_thread_detail): two workers failing on one shared context at
 * the same time each read back their own detail and next step, and the
 * context's own detail is untouched.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <imss-renew/imss-renew.h>

#include "imss-renew/base.h"
#include "unit.h"

static imss_ctx *shared;
static pthread_barrier_t both_failed;

struct worker {
	const char *said;
	imss_next next;
	char read_back[64];
	imss_next next_back;
};

static void *
worker_run(void *arg)
{
	struct worker *w = arg;

	imss_ctx_thread_detail(1);
	ctx_fail_next(shared, IMSS_ERR_IO, w->next, "%s", w->said);
	pthread_barrier_wait(&both_failed); /* the other has written too */
	snprintf(w->read_back, sizeof(w->read_back), "%s", imss_ctx_detail(shared));
	w->next_back = imss_ctx_get_next(shared);
	imss_ctx_thread_detail(0);
	return NULL;
}

int
main(void)
{
	struct worker a = { "worker A failed", IMSS_NEXT_WAIT, "", IMSS_NEXT_NONE };
	struct worker b = { "worker B failed", IMSS_NEXT_REPORT, "", IMSS_NEXT_NONE };
	pthread_t ta, tb;

	CHECK_INT(imss_ctx_new(NULL, &shared), IMSS_OK);
	ctx_fail(shared, IMSS_ERR_IO, "the main thread's");
	pthread_barrier_init(&both_failed, NULL, 2);
	pthread_create(&ta, NULL, worker_run, &a);
	pthread_create(&tb, NULL, worker_run, &b);
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	CHECK_STR(a.read_back, "worker A failed");
	CHECK_STR(b.read_back, "worker B failed");
	CHECK_INT(a.next_back, IMSS_NEXT_WAIT);
	CHECK_INT(b.next_back, IMSS_NEXT_REPORT);
	CHECK_STR(imss_ctx_detail(shared), "the main thread's");
	pthread_barrier_destroy(&both_failed);
	imss_ctx_free(shared);
	return unit_done("unit-context");
}
