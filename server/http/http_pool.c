/*
 * http_pool: worker threads for requests that may wait (see http_pool.h
 * for the DESIGN).
 */
#include "http_pool.h"

#include <pthread.h>
#include <stdlib.h>

typedef struct pool_job {
	void (*fn)(void *arg);
	void *arg;
	struct pool_job *next;
} pool_job;

struct http_pool {
	pthread_mutex_t mu;     /* guards everything below */
	pthread_cond_t work;    /* a job was queued, or the pool ends */
	pool_job *head, *tail;  /* FIFO of jobs not yet started */
	size_t queued;          /* jobs in the FIFO */
	size_t running;         /* jobs a worker is running */
	int closing;            /* no new jobs */
	int exiting;            /* workers leave once the FIFO is empty */
	unsigned nthreads;      /* threads started */
	pthread_t *threads;
};

static void *
worker(void *arg)
{
	http_pool *p = arg;

	pthread_mutex_lock(&p->mu);
	for (;;) {
		pool_job *j;

		while (p->head == NULL && !p->exiting)
			pthread_cond_wait(&p->work, &p->mu);
		if (p->head == NULL)
			break;
		j = p->head;
		p->head = j->next;
		if (p->head == NULL)
			p->tail = NULL;
		p->queued--;
		p->running++;
		pthread_mutex_unlock(&p->mu);
		j->fn(j->arg);
		free(j);
		pthread_mutex_lock(&p->mu);
		p->running--;
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

http_pool *
http_pool_create(unsigned threads, fault *f)
{
	http_pool *p = calloc(1, sizeof *p);

	if (p == NULL || threads == 0 ||
	    (p->threads = calloc(threads, sizeof *p->threads)) == NULL) {
		free(p);
		fault_set(f, threads == 0 ? FAULT_INVALID : FAULT_NOMEM,
		    threads == 0 ? "the request worker pool needs a thread" :
		    "out of memory");
		return NULL;
	}
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->work, NULL);
	for (unsigned i = 0; i < threads; i++) {
		if (pthread_create(&p->threads[i], NULL, worker, p) != 0) {
			fault_set(f, FAULT_INTERNAL, "cannot start request "
			    "worker %u of %u", i + 1, threads);
			http_pool_destroy(p);
			return NULL;
		}
		p->nthreads++;
	}
	return p;
}

int
http_pool_submit(http_pool *p, void (*fn)(void *arg), void *arg)
{
	pool_job *j = malloc(sizeof *j);

	if (j == NULL)
		return -1;
	j->fn = fn;
	j->arg = arg;
	j->next = NULL;
	pthread_mutex_lock(&p->mu);
	if (p->closing) {
		pthread_mutex_unlock(&p->mu);
		free(j);
		return -1;
	}
	if (p->tail != NULL)
		p->tail->next = j;
	else
		p->head = j;
	p->tail = j;
	p->queued++;
	pthread_cond_signal(&p->work);
	pthread_mutex_unlock(&p->mu);
	return 0;
}

void
http_pool_close(http_pool *p)
{
	pthread_mutex_lock(&p->mu);
	p->closing = 1;
	pthread_mutex_unlock(&p->mu);
}

void
http_pool_destroy(http_pool *p)
{
	if (p == NULL)
		return;
	/* the workers run what is queued, then leave */
	pthread_mutex_lock(&p->mu);
	p->closing = 1;
	p->exiting = 1;
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->mu);
	for (unsigned i = 0; i < p->nthreads; i++)
		pthread_join(p->threads[i], NULL);
	pthread_cond_destroy(&p->work);
	pthread_mutex_destroy(&p->mu);
	free(p->threads);
	free(p);
}

size_t
http_pool_pending(http_pool *p)
{
	size_t n;

	pthread_mutex_lock(&p->mu);
	n = p->queued + p->running;
	pthread_mutex_unlock(&p->mu);
	return n;
}
