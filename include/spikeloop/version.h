/* spikeloop/version.h -- library version and build information. */
#ifndef SPIKELOOP_VERSION_H
#define SPIKELOOP_VERSION_H

#ifdef __cplusplus
extern "C" {
#endif

/* "0.1.0" */
const char *sl_version(void);
/* git revision at configure time, or "unknown" */
const char *sl_git_revision(void);

/* Threads used by the OpenMP kernels (1 if built without OpenMP). */
int sl_get_num_threads(void);
/* Set the number of threads (>= 1). Errors: SL_EINVAL. Without OpenMP only
 * 1 is accepted (SL_EUNSUPPORTED otherwise). */
int sl_set_num_threads(int n);

/* The vector instruction set of the hot kernels (lib/base/isa.c). Each
 * call runs the best one the CPU has unless lowered by the environment
 * variable SPIKELOOP_ISA=baseline|avx2|avx512 or by sl_isa_set(); every
 * path gives bit-identical results for the same inputs where the kernel's
 * header says so. */
typedef enum { SL_ISA_BASELINE = 0, SL_ISA_AVX2 = 1, SL_ISA_AVX512 = 2 } sl_isa;

/* The path the kernels use now (reads SPIKELOOP_ISA on the first call; a
 * wrong or unsupported value falls back quietly to the best path). */
sl_isa sl_isa_active(void);
/* The best path this CPU can run: avx512 needs AVX-512F, avx2 needs AVX2
 * and FMA. */
sl_isa sl_isa_best(void);
/* Read SPIKELOOP_ISA now and report what is wrong with it: SL_EINVAL for an
 * unknown name, SL_EUNSUPPORTED for a path this CPU lacks (the best path is
 * used then). Programs call it once at start to turn a typo into a message. */
int sl_isa_init(void);
/* Force a path (tests, measurements). Errors: SL_EINVAL, SL_EUNSUPPORTED if
 * the CPU cannot run it. Not to be called while kernels run on other
 * threads. */
int sl_isa_set(sl_isa isa);
/* "baseline", "avx2", "avx512" */
const char *sl_isa_name(sl_isa isa);
/* name -> path. Errors: SL_EINVAL */
int sl_isa_parse(const char *name, sl_isa *isa);
/* The CPU's model name from /proc/cpuinfo, or "unknown CPU". */
const char *sl_cpu_model(void);

#ifdef __cplusplus
}
#endif
#endif
