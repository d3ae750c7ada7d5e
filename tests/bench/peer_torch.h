/*
 * peer_torch: PyTorch as a peer of bench_core, run as a child process
 * (tests/bench/bench_torch.py) that trains the same shape of net on one
 * thread, a slice at a time when asked over a pipe. The child times each
 * slice itself, so the pipe's latency (a wake-up of the child on a busy
 * machine) is not counted against PyTorch.
 */
#ifndef MLPD_PEER_TORCH_H
#define MLPD_PEER_TORCH_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

typedef struct peer_torch {
	pid_t pid;     /* 0 when not running */
	FILE *to;      /* its stdin */
	FILE *from;    /* its stdout */
	char what[128]; /* "torch 1.13.1" once ready, else why it is not */
} peer_torch;

/* Starts python on script with the net's layers ("784,128,10"), batch, rate,
 * seed and rows of data; with default_blas, OPENBLAS_CORETYPE is removed
 * from the child's environment (OpenBLAS picks its kernels itself), else
 * the child inherits it. 0 when it is ready; -1 with p->what saying why
 * not (no python, no torch). */
int peer_torch_start(peer_torch *p, const char *python, const char *script,
		     const char *layers, size_t batch, float lr, uint64_t seed,
		     size_t rows, int default_blas);

/* Runs minibatches for secs seconds of the child's own clock (at least
 * one); *steps gets how many, *wall the seconds they took and *cpu the
 * child's CPU seconds over them (all its threads). 0, or -1 when the child
 * went away or answered nonsense. */
int peer_torch_slice(peer_torch *p, double secs, uint64_t *steps,
		     double *wall, double *cpu);

/* The child's MSE on its first rows, or a negative number on failure. */
double peer_torch_loss(peer_torch *p);

/* Closes its input and reaps it; a stopped peer is a no-op. */
void peer_torch_stop(peer_torch *p);

#endif
