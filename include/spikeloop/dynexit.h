/* spikeloop/dynexit.h -- dynamic inference with semantic exits, for any
 * network that runs in stages (the ResNet's blocks, PointNet++'s set
 * abstraction levels): after each stage but the last, the stage's pooled
 * feature is compared with that exit's class centres (spikeloop/semantic.h);
 * if the best cosine similarity exceeds the exit's threshold the sample is
 * decided there and leaves the batch; the last stage always decides with
 * the network's head (Zhang et al., Sci. Adv. 2024). Optionally an exit
 * after the first also asks that its class be the one the exit before it
 * found (sl_dyn_policy.agree): two depths agreeing is cheap evidence (one
 * comparison of CAM answers) that a confident exit is also a right one.
 *
 * Compute accounting, per sample (multiply-accumulates, MACs): the stages
 * it ran, one CAM search per exit it checked (dim x the CAM's rows, i.e.
 * n_classes x centres per class, MACs: sl_semantic_rows), and
 * the head if it got there; `compute` is the mean over samples divided by
 * the static network's MACs (every stage and the head, no search), so
 * 1 - compute is the fraction saved.
 *
 * Two ways to run it:
 *  - sl_dyn_infer: true early exit, stage by stage; samples that exit are
 *    removed from the batch, so the crossbars' counters show what was spent.
 *  - sl_dyn_record + sl_dyn_evaluate: every stage for every sample once,
 *    recording each exit's best class and similarity; any threshold set is
 *    then scored from the table without running the network again (what a
 *    threshold search needs). Both give the same decisions on noise-free
 *    hardware.
 *
 * Errors: SL_EINVAL (bad arguments; a threshold NaN), SL_ENOMEM, and those
 * of the network's stages and the CAMs.
 */
#ifndef SPIKELOOP_DYNEXIT_H
#define SPIKELOOP_DYNEXIT_H

#include <stddef.h>
#include <stdint.h>

#include "spikeloop/semantic.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SL_DYN_MAX_STAGES 8

/* A network in stages, as dynamic inference sees it. */
typedef struct {
  size_t n_stages, n_classes;
  size_t in_dim;                        /* floats per sample into stage 0 */
  size_t out_dim[SL_DYN_MAX_STAGES];    /* floats per sample out of stage s */
  size_t feat_dim[SL_DYN_MAX_STAGES];   /* pooled feature of stage s */
  double stage_macs[SL_DYN_MAX_STAGES]; /* per sample */
  double head_macs;
  void *net;
  /* stage s on B samples: in (B, in_dim or out_dim[s-1]) -> out (B,
   * out_dim[s]) and feat (B, feat_dim[s]) */
  int (*stage)(void *net, size_t s, const float *in, size_t B, float *out, float *feat);
  /* the head on the last stage's features: logits (B, n_classes) */
  int (*head)(void *net, const float *feat, size_t B, float *logits);
  /* joules the network's hardware has spent so far (its crossbars'
   * counters); NULL: no energy model */
  double (*energy)(void *net);
} sl_dyn_net;

/* MACs of the static network: every stage and the head. */
double sl_dyn_full_macs(const sl_dyn_net *net);

typedef struct {
  double accuracy;                     /* of the decisions (labels given) */
  double compute;                      /* mean MACs / sl_dyn_full_macs */
  double macs;                         /* mean MACs per sample */
  double energy_j;                     /* sl_dyn_infer: mean joules per sample spent by
                                          the network's hardware and the CAMs */
  size_t decided[SL_DYN_MAX_STAGES];   /* samples decided at stage s (last: the head) */
  size_t n;
  double changed;                      /* sl_dyn_evaluate: the fraction of samples whose
                                          exit answered other than the head would (0 from
                                          sl_dyn_infer, which never runs the head on them) */
} sl_dyn_result;

/* How the exits decide. Exit e takes a sample whose best similarity there
 * is above thresholds[e] and, with agree, for e > 0, whose class there is
 * the class exit e - 1 found. */
typedef struct {
  const double *thresholds; /* (n_stages - 1) */
  int agree;
} sl_dyn_policy;

/* Early-exit inference of n samples x (n, in_dim), at most `batch` at a
 * time, decided by policy. pred, stage (n; may be NULL) receive each
 * sample's class and the stage that decided it; y (may be NULL) the labels
 * for res->accuracy. */
int sl_dyn_infer(const sl_dyn_net *net, sl_semantic *mem, const sl_dyn_policy *policy,
                 const float *x, const int32_t *y, size_t n, size_t batch, int32_t *pred,
                 int32_t *stage, sl_dyn_result *res);

/* The exits' answers for n samples. */
typedef struct {
  size_t n, n_exits, n_classes;
  float *sim;     /* (n, n_exits): best similarity at each exit */
  int32_t *cls;   /* (n, n_exits): its class */
  int32_t *head;  /* (n): the head's class */
  int32_t *label; /* (n) */
  double stage_macs[SL_DYN_MAX_STAGES], check_macs[SL_DYN_MAX_STAGES], head_macs;
} sl_dyn_table;

int sl_dyn_record(sl_dyn_table *t, const sl_dyn_net *net, sl_semantic *mem, const float *x,
                  const int32_t *y, size_t n, size_t batch);
void sl_dyn_table_free(sl_dyn_table *t); /* zeroes it; safe on a zeroed struct */

/* Score a policy (its thresholds: n_exits) on a table. */
int sl_dyn_evaluate(const sl_dyn_table *t, const sl_dyn_policy *policy, sl_dyn_result *res);

/* The Pareto front of n (accuracy, compute) points, higher accuracy and
 * lower compute better: idx receives the indices of the non-dominated
 * points in order of increasing compute (ties: the first); returns their
 * number. */
size_t sl_dyn_pareto(const double *accuracy, const double *compute, size_t n, size_t *idx);

#ifdef __cplusplus
}
#endif
#endif
