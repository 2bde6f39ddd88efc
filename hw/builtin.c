/* builtin.c -- the one list of built-in backends. Each is compiled in under
 * its configure switch (SL_WITH_<NAME> from --enable/--disable-<name>, in
 * config.h); "ideal" always is: it is the default backend. A left-out
 * backend keeps its entry, without a table, so that naming it gives a clear
 * error instead of "unknown backend". Adding a backend: its sources in hw/,
 * a switch in configure.ac and Makefile.am, and a line here.
 */
#include "config.h"
#include "builtin.h"
#include "spikeloop/error.h"
#include "ideal/ideal.h"
#if SL_WITH_BSS2
#include "spikeloop/bss2.h"
#endif
#if SL_WITH_MEMRISTOR
#include "spikeloop/memristor.h"
#endif
#if SL_WITH_REPLAY
#include "spikeloop/replay.h"
#endif

#include <string.h>

static const slb_builtin builtins[] = {
    {"ideal", slb_ideal_backend},
#if SL_WITH_BSS2
    {"bss2", sl_bss2_backend},
#else
    {"bss2", NULL},
#endif
#if SL_WITH_REPLAY
    {"replay", sl_replay_backend},
#else
    {"replay", NULL},
#endif
#if SL_WITH_MEMRISTOR
    {"memristor", sl_memristor_backend},
#else
    {"memristor", NULL},
#endif
};

enum { N_BUILTINS = sizeof builtins / sizeof builtins[0] };

const slb_builtin *slb_builtin_at(size_t i)
{
  return i < N_BUILTINS ? &builtins[i] : NULL;
}

const slb_builtin *slb_builtin_named(const char *name)
{
  for (size_t i = 0; name && i < N_BUILTINS; i++)
    if (strcmp(builtins[i].name, name) == 0)
      return &builtins[i];
  return NULL;
}

int slb_not_built(const char *name)
{
  return sl_error(SL_EUNSUPPORTED, "backend '%s' not built in this build (configure --enable-%s)",
                  name, name);
}
