/* yinyang.c -- the Yin-Yang data set (Kriener, Goltz, Petrovici 2021).
 *
 * Definition as in FACTS.md section 2: r_small = 0.1, r_big = 0.5, centre
 * (0.5, 0.5), dots at (0.25, 0.5) and (0.75, 0.5). Class numbering follows
 * the reference code's class_names ['yin', 'yang', 'dot'].
 *
 * Choices:
 * - Sampling: one goal class per sample drawn uniformly from 3, then (x, y)
 *   redrawn uniformly in [0,1]^2 until the point lies inside the big circle
 *   and has the goal class (the goal is kept across rejections).
 * - One xoshiro256+ stream (lib/rng.h) seeded from `seed`: the set is a pure
 *   function of (n, seed). Draw order: goal, then (x, y) pairs.
 * - Coordinates are rounded to float *before* the circle test and the label,
 *   so the stored (x, y) always has the stored label and lies in the circle.
 */
#include "config.h"

#include "spikeloop/yinyang.h"
#include "spikeloop/error.h"
#include "base/rng.h"

#include <math.h>

#define R_SMALL 0.1
#define R_BIG 0.5

int sl_yinyang_label(double x, double y)
{
  double d_r = hypot(x - 0.75, y - 0.5); /* distance to the right dot */
  double d_l = hypot(x - 0.25, y - 0.5); /* distance to the left dot */
  if (d_r < R_SMALL || d_l < R_SMALL)
    return 2;
  if (d_r <= R_SMALL || (d_l > R_SMALL && d_l <= 0.5 * R_BIG) ||
      (y > R_BIG && d_r > 0.5 * R_BIG))
    return 1;
  return 0;
}

int sl_yinyang_generate(sl_dataset *d, size_t n, uint64_t seed)
{
  if (!d)
    return sl_error(SL_EINVAL, "sl_yinyang_generate: data set pointer is NULL");
  int rc = sl_dataset_alloc(d, n, 4, 3);
  if (rc)
    return rc;

  sl_rng_state rng;
  sl_rng_seed(&rng, seed);
  for (size_t i = 0; i < n; i++) {
    int goal = (int)(sl_rng_uniform(&rng) * 3.0); /* uniform in {0,1,2} */
    double x, y;
    for (;;) {
      x = (double)(float)sl_rng_uniform(&rng);
      y = (double)(float)sl_rng_uniform(&rng);
      double dx = x - 0.5, dy = y - 0.5;
      if (dx * dx + dy * dy > R_BIG * R_BIG)
        continue; /* outside the big circle */
      if (sl_yinyang_label(x, y) == goal)
        break;
    }
    float *row = d->x + i * 4;
    row[0] = (float)x;
    row[1] = (float)y;
    row[2] = (float)(1.0 - x);
    row[3] = (float)(1.0 - y);
    d->y[i] = goal;
  }
  return SL_OK;
}
