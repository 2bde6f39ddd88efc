/* absent.c -- the public calls of the built-in backends that configure left
 * out (--disable-bss2, --disable-replay, --disable-memristor). The library
 * exports the same names in every build, so programs link whatever was
 * configured; here each call of a left-out backend fails with
 * SL_EUNSUPPORTED, "backend '<name>' not built in this build (configure
 * --enable-<name>)", and pointer results are NULL. In a build with every
 * backend this file is empty.
 */
#include "config.h"
#include "builtin.h"
#include "spikeloop/error.h"

#include <math.h>
#include <string.h>

#if !SL_WITH_BSS2
#include "spikeloop/bss2.h"
#include "spikeloop/calibrate.h"

const sl_backend *sl_bss2_backend(void)
{
  slb_not_built("bss2");
  return NULL;
}

int sl_bss2_export_truth(uint64_t chip_seed, const char *path) { return slb_not_built("bss2"); }
const char *sl_bss2_word_name(int p) { return NULL; }
const char *sl_bss2_param_name(int p) { return NULL; }
const char *sl_bss2_param_unit(int p) { return NULL; }
void sl_bss2_words_default(sl_bss2_words *w)
{
  if (w)
    memset(w, 0, sizeof *w);
}

int sl_bss2_words_load(sl_bss2_words *w, const char *path, unsigned *present)
{
  return slb_not_built("bss2");
}

int sl_bss2_truth_fill(uint64_t chip_seed, const sl_bss2_words *words, sl_bss2_truth *t)
{
  return slb_not_built("bss2");
}

/* nothing to calibrate: every target NaN, no rounds */
sl_calib_targets sl_calib_targets_default(void)
{
  sl_calib_targets t = {NAN, NAN, NAN, NAN, NAN, 0, NULL, 0, NAN, NAN, NULL};
  return t;
}

int sl_calib_targets_parse(sl_calib_targets *t, const char *text) { return slb_not_built("bss2"); }

int sl_calib_targets_from_hw(sl_hw *hw, double *out) { return slb_not_built("bss2"); }

int sl_calib_run(const char *options, const sl_calib_targets *t, const char *out_path,
                 sl_calib_report *report)
{
  return slb_not_built("bss2");
}

int sl_calib_characterise_bss2(const char *options, const uint32_t *neurons, size_t n,
                               sl_charac *rec, sl_fit_result *fit)
{
  return slb_not_built("bss2");
}
#endif

#if !SL_WITH_REPLAY
#include "spikeloop/replay.h"

const sl_backend *sl_replay_backend(void)
{
  slb_not_built("replay");
  return NULL;
}
#endif

#if !SL_WITH_MEMRISTOR
#include "spikeloop/memristor.h"

const sl_backend *sl_memristor_backend(void)
{
  slb_not_built("memristor");
  return NULL;
}
#endif
