/* isa.c -- which vector instruction set the hot kernels run on.
 *
 * The kernels exist in three versions: AVX-512 (avx512f), AVX2 (avx2 + fma,
 * x86-64-v3) and the baseline (x86-64 SSE2, or whatever the target is off
 * x86-64). By default each call runs the best version the CPU has. The
 * environment variable SPIKELOOP_ISA=baseline|avx2|avx512 lowers it, so one
 * machine can measure every path a cluster might run; sl_isa_set() does the
 * same from code (the tests force each path in turn).
 *
 * The choice is one global read by every dispatching kernel; set it before
 * starting kernels, not while they run on other threads.
 */
#include "config.h"
#include "spikeloop/version.h"
#include "spikeloop/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const isa_names[] = {"baseline", "avx2", "avx512"};

/* -1: not chosen yet (the first sl_isa_active() reads the environment) */
static int isa_current = -1;

sl_isa sl_isa_best(void)
{
#if defined(__x86_64__) && defined(__GNUC__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f"))
    return SL_ISA_AVX512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
    return SL_ISA_AVX2;
#endif
  return SL_ISA_BASELINE;
}

const char *sl_isa_name(sl_isa isa)
{
  if ((int)isa < 0 || (int)isa > SL_ISA_AVX512)
    return "unknown";
  return isa_names[isa];
}

int sl_isa_parse(const char *name, sl_isa *isa)
{
  for (int i = 0; i <= SL_ISA_AVX512; i++)
    if (name && strcmp(name, isa_names[i]) == 0) {
      *isa = (sl_isa)i;
      return SL_OK;
    }
  return sl_error(SL_EINVAL, "instruction set '%s' is not one of baseline, avx2, avx512",
                  name ? name : "(null)");
}

int sl_isa_set(sl_isa isa)
{
  if ((int)isa < 0 || (int)isa > SL_ISA_AVX512)
    return sl_error(SL_EINVAL, "instruction set %d is not one of baseline, avx2, avx512", (int)isa);
  sl_isa best = sl_isa_best();
  if (isa > best)
    return sl_error(SL_EUNSUPPORTED, "this CPU (%s) cannot run the %s kernels; the best it has is %s",
                    sl_cpu_model(), sl_isa_name(isa), sl_isa_name(best));
  isa_current = (int)isa;
  return SL_OK;
}

int sl_isa_init(void)
{
  const char *env = getenv("SPIKELOOP_ISA");
  if (!env || !*env) {
    isa_current = (int)sl_isa_best();
    return SL_OK;
  }
  sl_isa want;
  int rc = sl_isa_parse(env, &want);
  if (rc)
    return sl_error(rc, "SPIKELOOP_ISA=%s: expected baseline, avx2 or avx512", env);
  rc = sl_isa_set(want);
  if (rc) {
    isa_current = (int)sl_isa_best();
    return sl_error(rc, "SPIKELOOP_ISA=%s: this CPU (%s) has only %s", env, sl_cpu_model(),
                    sl_isa_name(sl_isa_best()));
  }
  return SL_OK;
}

sl_isa sl_isa_active(void)
{
  if (isa_current < 0) {
    /* A wrong SPIKELOOP_ISA falls back to the best path here, quietly (the
     * last error message is left alone); programs that want to report it
     * call sl_isa_init() first. */
    sl_isa best = sl_isa_best(), want = best;
    const char *env = getenv("SPIKELOOP_ISA");
    for (int i = 0; env && i <= SL_ISA_AVX512; i++)
      if (strcmp(env, isa_names[i]) == 0)
        want = (sl_isa)i;
    isa_current = (int)(want < best ? want : best);
  }
  return (sl_isa)isa_current;
}

const char *sl_cpu_model(void)
{
  static char model[128];
  if (model[0])
    return model;
  snprintf(model, sizeof model, "unknown CPU");
  FILE *f = fopen("/proc/cpuinfo", "r");
  if (!f)
    return model;
  char line[256];
  while (fgets(line, sizeof line, f)) {
    if (strncmp(line, "model name", 10) != 0)
      continue;
    const char *v = strchr(line, ':');
    if (!v)
      break;
    v++;
    while (*v == ' ' || *v == '\t')
      v++;
    size_t n = strcspn(v, "\n");
    if (n >= sizeof model)
      n = sizeof model - 1;
    memcpy(model, v, n);
    model[n] = '\0';
    break;
  }
  fclose(f);
  return model;
}
