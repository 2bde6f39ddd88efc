/* spikeloop/yinyang.h -- the Yin-Yang data set (lib/data/yinyang.c). */
#ifndef SPIKELOOP_YINYANG_H
#define SPIKELOOP_YINYANG_H

#include <stddef.h>
#include <stdint.h>
#include "spikeloop/dataset.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Yin-Yang (Kriener et al. 2021): r_small 0.1, r_big 0.5, centre (0.5,0.5);
 * rejection sampling with a uniformly drawn goal class; features
 * [x, y, 1-x, 1-y] (dim 4, no bias: encoders add it), 3 classes. */
int sl_yinyang_label(double x, double y); /* 0 yin, 1 yang, 2 dot */
int sl_yinyang_generate(sl_dataset *d, size_t n, uint64_t seed);

#ifdef __cplusplus
}
#endif
#endif
