/* hot_baseline.c -- the hot row kernels (hot_body.h) for the baseline
 * instruction set: on x86-64 SSE2, 4 floats per register, 16 registers (a
 * gather sums 32 columns in 8 registers, the dense block is 4 rows x 8
 * columns); elsewhere whatever the compiler targets, in plain C. */
#include "config.h"
#include "core/paths.h"

#include <string.h>

#ifdef SLK_X86_PATHS
#include <emmintrin.h>
/* the command line's target: x86-64 (SSE2) in the default build; in a
 * --enable-native build this CPU's, like every path */
#define SLK_ROWS_SSE2 1
#endif
#define SLK_PATHS_TABLE slk_paths_baseline
#define SLK_VEC 4
#define SLK_GATHER_VECS 8
#define SLK_DENSE_VECS 2
#include "core/hot_body.h"
