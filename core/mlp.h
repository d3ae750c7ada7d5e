/*
 * mlp: a multilayer perceptron trained on whole minibatches.
 *
 * Shapes follow ../shared/seed-math.md: layer sizes [N0, ..., NL], weight
 * layer l (0-based here, l = 0..L-1) maps N_l inputs to N_(l+1) units with
 * W_l of shape N_(l+1) x N_l, row-major (W[i][j] joins input j to unit i),
 * and bias b_l. Data is row-major with one sample per row.
 *
 * A model owns one block holding its parameters, their gradients and the
 * optimizer state, plus a scratch block sized for the largest batch seen so
 * far (grown, never per step). Every matrix product goes through gemm.h
 * (oneDNN's dnnl_sgemm where built in, else cblas_sgemm), the bias
 * gradient through cblas_sgemv. A model is not thread-safe: one owner trains it; other
 * threads predict from immutable snapshots (mlp_snapshot_*), which are
 * reference counted and may be shared freely.
 *
 * Threads: the core never changes OpenBLAS's thread count; mlp_blas_threads
 * lets the program choose once at start (see README, "Threads").
 */
#ifndef MLPD_MLP_H
#define MLPD_MLP_H

#include <stddef.h>
#include <stdint.h>

#include "act.h"
#include "fault.h"
#include "optim.h"
#include "rng.h"

#define MLP_MAX_LAYERS 16               /* weight layers */
#define MLP_MAX_WIDTH 65536             /* units in any layer */
#define MLP_MAX_PARAMS (64u * 1024 * 1024) /* weights + biases */
#define MLP_MAX_BATCH (1u << 20)        /* rows in one call */

typedef enum mlp_loss {
	MLP_LOSS_MSE = 0,       /* the seed's: mean over outputs, then batch */
	MLP_LOSS_CROSS_ENTROPY, /* softmax output, -sum y log p, batch mean */
	MLP_LOSS_COUNT_
} mlp_loss;

typedef struct mlp_spec {
	uint32_t n_layers;                  /* weight layers L, 1..MAX */
	uint32_t sizes[MLP_MAX_LAYERS + 1]; /* N0..NL, each 1..MAX_WIDTH */
	act_kind act[MLP_MAX_LAYERS];       /* one per weight layer */
	mlp_loss loss;
	optim_params opt;
	uint64_t seed; /* initial weights and the model's RNG */
} mlp_spec;

typedef struct mlp mlp;
typedef struct mlp_snapshot mlp_snapshot;

/* The seed's defaults: no layers yet, sigmoid everywhere, mse, sgd lr 0.1,
 * seed 0. Fill n_layers and sizes before use. */
void mlp_spec_default(mlp_spec *s);

/* Checks every field; 0, or -1 with f set (FAULT_INVALID). */
int mlp_spec_validate(const mlp_spec *s, fault *f);

/* Total weights and biases of a valid spec. */
size_t mlp_spec_params(const mlp_spec *s);

const char *mlp_loss_name(mlp_loss l);
int mlp_loss_from_name(const char *name, mlp_loss *l);

/* A new model with Glorot-uniform weights drawn from spec->seed and zero
 * biases; NULL with f set on a bad spec or no memory. Caller destroys. */
mlp *mlp_create(const mlp_spec *spec, fault *f);

/* Frees m; NULL is a no-op. */
void mlp_destroy(mlp *m);

/* Frees m's scratch block when it is larger than max_bytes, so that an
 * idle model holds little beyond its parameters; the next step allocates
 * what its batch needs again. */
void mlp_trim(mlp *m, size_t max_bytes);

/* The model's spec (borrowed, valid while m lives). */
const mlp_spec *mlp_get_spec(const mlp *m);

/* Updates applied so far. */
uint64_t mlp_step(const mlp *m);
void mlp_set_step(mlp *m, uint64_t step);

/* The model's generator (borrowed): used for shuffling by the trainer so
 * that a whole job replays from the seed. */
rng *mlp_rng(mlp *m);
const rng *mlp_rng_const(const mlp *m);

/* All parameters as one block, layer by layer (W_0, b_0, W_1, b_1, ...);
 * *n gets the count. Borrowed. */
float *mlp_params(mlp *m, size_t *n);
const float *mlp_params_const(const mlp *m, size_t *n);

/* The gradients of the last mlp_gradients/mlp_train_step, same layout. */
const float *mlp_grads(const mlp *m, size_t *n);

/* Optimizer state (see optim.h); *n may be 0. Borrowed. */
float *mlp_optim_state(mlp *m, size_t *n);
const float *mlp_optim_state_const(const mlp *m, size_t *n);

/* True when every weight and bias is finite. An update can overflow a
 * weight while the loss stays finite (a saturated sigmoid), so owners
 * check after steps. The update itself notes the answer as it writes the
 * weights (optim_update), so right after mlp_apply or a train step this
 * costs nothing; otherwise (after mlp_create, mlp_params, mlp_weights or
 * mlp_biases, which hand out writable pointers) it is a vectorized scan.
 * Writes through such a pointer kept from before the last update are not
 * seen: take the pointer again to write. */
int mlp_params_finite(const mlp *m);

/* Zeroes the optimizer state (after weights are replaced from outside). */
void mlp_reset_optim(mlp *m);

/* Pointers into the parameter block for weight layer l (0-based):
 * W is sizes[l+1] x sizes[l], b has sizes[l+1] entries. Borrowed. */
float *mlp_weights(mlp *m, uint32_t l);
float *mlp_biases(mlp *m, uint32_t l);
const float *mlp_grad_weights(const mlp *m, uint32_t l);
const float *mlp_grad_biases(const mlp *m, uint32_t l);

/* Checks that x (n x N0) and, when given, y (n x NL) are finite and that
 * 1 <= n <= MLP_MAX_BATCH; FAULT_INVALID or FAULT_NONFINITE naming the
 * first bad row and column. Every entry point below calls it. */
int mlp_check_batch(const mlp_spec *s, const float *x, const float *y,
		    size_t n, fault *f);

/* The finiteness half of mlp_check_batch, for any number of rows (a
 * whole data set checked once, then trained on with
 * mlp_train_step_checked). */
int mlp_check_data(const mlp_spec *s, const float *x, const float *y,
		   size_t n, fault *f);

/* Forward pass and loss on n samples, then gradients (batch means) into the
 * gradient block; no update. *loss gets the batch loss. */
int mlp_gradients(mlp *m, const float *x, const float *y, size_t n,
		  float *loss, fault *f);

/* Applies one optimizer update from the current gradients with learning
 * rate lr (> 0 and finite) and advances the step counter. */
int mlp_apply(mlp *m, float lr, fault *f);

/* One training step: mlp_gradients then mlp_apply with lr (or the spec's
 * when lr <= 0). *loss is the batch loss before the update. When that loss
 * is not finite, nothing is updated and f says FAULT_DIVERGED. */
int mlp_train_step(mlp *m, const float *x, const float *y, size_t n,
		   float lr, float *loss, fault *f);

/* mlp_train_step for a batch the caller has already checked (the rows of
 * a data set validated when it was stored): the same step without the
 * finiteness scan of x and y. n must still be in 1..MLP_MAX_BATCH. */
int mlp_train_step_checked(mlp *m, const float *x, const float *y, size_t n,
			   float lr, float *loss, fault *f);

/* mlp_train_step_checked for the trainer's loop: with plain sgd (the
 * spec's optimizer OPTIM_SGD) the update is folded into the backward
 * products (W_l += -lr D_l^T A_(l-1) written by the BLAS into W_l, see
 * core/mlp.c), so no weight gradient is ever stored: after it, mlp_grads
 * and mlp_grad_weights hold whatever an earlier mlp_gradients left
 * (mlp_grad_biases holds this step's bias gradients). The weights move as
 * with mlp_train_step_checked, up to float rounding (the BLAS kernel may
 * round lr * g + w twice). A loss that is not finite changes nothing and
 * gives FAULT_DIVERGED, as there. With momentum or adam it is exactly
 * mlp_train_step_checked. mlp_params_finite afterwards scans the weights. */
int mlp_train_step_fused(mlp *m, const float *x, const float *y, size_t n,
			 float lr, float *loss, fault *f);

/* Batch loss without gradients or update. */
int mlp_evaluate(mlp *m, const float *x, const float *y, size_t n,
		 float *loss, fault *f);

/* Outputs (n x NL) for inputs x (n x N0) using the model's scratch. */
int mlp_predict(mlp *m, const float *x, size_t n, float *out, fault *f);

/* An immutable copy of m's spec, step and parameters, refcount 1. */
mlp_snapshot *mlp_snapshot_create(const mlp *m, fault *f);
mlp_snapshot *mlp_snapshot_ref(mlp_snapshot *s);
/* Drops one reference; frees on the last. NULL is a no-op. */
void mlp_snapshot_unref(mlp_snapshot *s);
const mlp_spec *mlp_snapshot_spec(const mlp_snapshot *s);
uint64_t mlp_snapshot_step(const mlp_snapshot *s);
const float *mlp_snapshot_params(const mlp_snapshot *s, size_t *n);

/* Outputs for inputs from a snapshot; safe from any number of threads at
 * once (scratch is allocated per call). */
int mlp_snapshot_predict(const mlp_snapshot *s, const float *x, size_t n,
			 float *out, fault *f);

/* Sets OpenBLAS's thread count (n >= 1) for the whole process, and
 * oneDNN's per product (gemm_threads). */
void mlp_blas_threads(int n);

/* Floating-point operations of one training step on n samples (forward,
 * backward and update, counting a multiply-add as 2). */
double mlp_train_flops(const mlp_spec *s, size_t n);

#endif
