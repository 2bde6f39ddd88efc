/* hot_avx512.c -- the hot row kernels (hot_body.h) for AVX-512F: 16 floats
 * per register, 32 registers; a gather sums 64 columns at a time, the dense
 * block 4 rows x 64 columns. Empty off x86-64 GCC. */
#include "config.h"
#include "core/paths.h"

#include <string.h>

#ifdef SLK_X86_PATHS
#include <immintrin.h>
/* added to the command line's target: in a --enable-native build
 * (-march=native) every path also uses whatever else the CPU has */
#pragma GCC target("avx512f")
#define SLK_PATHS_TABLE slk_paths_avx512
#define SLK_VEC 16
#define SLK_GATHER_VECS 4
#define SLK_DENSE_VECS 4
#define SLK_ROWS_AVX512 1
#include "core/hot_body.h"
#endif
