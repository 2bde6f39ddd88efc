/* testutil.h -- shared helpers for the CUnit test programs.
 *
 * Each test program registers one suite (one module) and ends with
 * sl_test_run(), which returns 1 if any assertion failed (never the raw
 * count: 77 and 99 mean "skip" and "hard error" to automake).
 */
#ifndef SL_TESTUTIL_H
#define SL_TESTUTIL_H

#include <CUnit/Basic.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "spikeloop/version.h"

typedef struct {
  const char *name;
  void (*fn)(void);
} sl_test_case;

/* Run one suite of NULL-terminated cases; returns the process exit code. */
static inline int sl_test_run(const char *suite_name, const sl_test_case *cases)
{
  if (CU_initialize_registry() != CUE_SUCCESS)
    return 99;
  CU_pSuite suite = CU_add_suite(suite_name, NULL, NULL);
  if (!suite)
    return 99;
  for (const sl_test_case *c = cases; c->name; c++)
    if (!CU_add_test(suite, c->name, c->fn))
      return 99;
  CU_basic_set_mode(CU_BRM_VERBOSE);
  CU_basic_run_tests();
  unsigned failures = CU_get_number_of_failures();
  unsigned run = CU_get_number_of_tests_run();
  CU_cleanup_registry();
  if (run == 0)
    return 99;
  return failures ? 1 : 0;
}

/* The kernel suites: the same cases once per vector path the CPU has
 * (sl_isa_set() in each suite's set-up), as suites "name [avx512]",
 * "name [avx2]", "name [baseline]", so that every path is checked against
 * the reference kernels on any machine that can run it. */
static inline int sl_test_isa_baseline(void) { return sl_isa_set(SL_ISA_BASELINE) != 0; }
static inline int sl_test_isa_avx2(void) { return sl_isa_set(SL_ISA_AVX2) != 0; }
static inline int sl_test_isa_avx512(void) { return sl_isa_set(SL_ISA_AVX512) != 0; }

static inline int sl_test_run_paths(const char *suite_name, const sl_test_case *cases)
{
  static int (*const set[])(void) = {sl_test_isa_baseline, sl_test_isa_avx2, sl_test_isa_avx512};
  if (CU_initialize_registry() != CUE_SUCCESS)
    return 99;
  int paths = 0;
  for (int isa = (int)sl_isa_best(); isa >= 0; isa--, paths++) {
    char name[128];
    snprintf(name, sizeof name, "%s [%s]", suite_name, sl_isa_name((sl_isa)isa));
    CU_pSuite suite = CU_add_suite(name, set[isa], NULL);
    if (!suite)
      return 99;
    for (const sl_test_case *c = cases; c->name; c++)
      if (!CU_add_test(suite, c->name, c->fn))
        return 99;
  }
  printf("%s: %d vector path(s) on %s (best: %s)\n", suite_name, paths, sl_cpu_model(),
         sl_isa_name(sl_isa_best()));
  CU_basic_set_mode(CU_BRM_VERBOSE);
  CU_basic_run_tests();
  unsigned failures = CU_get_number_of_failures();
  unsigned run = CU_get_number_of_tests_run();
  unsigned suite_failures = CU_get_number_of_suites_failed();
  CU_cleanup_registry();
  if (run == 0)
    return 99;
  return failures || suite_failures ? 1 : 0;
}

/* Max |a-b| / max(|b|, floor) over n elements. */
static inline double sl_test_max_rel_diff(const float *a, const float *b, size_t n, double floor)
{
  double m = 0.0;
  for (size_t i = 0; i < n; i++) {
    double d = fabs((double)a[i] - (double)b[i]);
    double s = fabs((double)b[i]);
    double r = d / (s > floor ? s : floor);
    if (!(r <= m)) /* also catches NaN */
      m = isnan(r) ? INFINITY : r;
  }
  return m;
}

/* A temporary file path under $TMPDIR (or /tmp), unique per process. */
static inline const char *sl_test_tmpfile(const char *stem, char *buf, size_t len)
{
  const char *dir = getenv("TMPDIR");
  snprintf(buf, len, "%s/sl_test_%s_%ld.h5", dir && *dir ? dir : "/tmp", stem, (long)getpid());
  return buf;
}

#endif
