/* hot_avx2.c -- the hot row kernels (hot_body.h) for AVX2 + FMA
 * (what sl_isa_best() asks for; FMA is not used: products and sums round
 * separately, as the reference's do): 8 floats per register, 16 registers; a gather sums 64
 * columns in 8 registers, the dense block is 4 rows x 16 columns (8
 * accumulators: the 4 x 64 block of AVX-512 would need 32 and spill). */
#include "config.h"
#include "core/paths.h"

#include <string.h>

#ifdef SLK_X86_PATHS
#include <immintrin.h>
/* added to the command line's target (see hot_avx512.c) */
#pragma GCC target("avx2,fma")
#define SLK_PATHS_TABLE slk_paths_avx2
#define SLK_VEC 8
#define SLK_GATHER_VECS 8
#define SLK_DENSE_VECS 2
#define SLK_ROWS_AVX2 1
#include "core/hot_body.h"
#endif
