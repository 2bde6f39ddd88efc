/* builtin.h (internal) -- the backends this library knows as built-in
 * (hw/builtin.c), each compiled in or left out by a configure switch, and
 * the one error every call into a left-out backend answers. The registry
 * (lib/hw/registry.c) registers the compiled-in ones on first use.
 */
#ifndef SL_HW_BUILTIN_H
#define SL_HW_BUILTIN_H

#include <stddef.h>

#include "spikeloop/backend.h"

typedef struct {
  const char *name;                 /* the registry name, also the configure switch */
  const sl_backend *(*table)(void); /* NULL: left out (configure --disable-<name>) */
} slb_builtin;

/* The i-th built-in (0, 1, ...), compiled in or not; NULL past the end. */
const slb_builtin *slb_builtin_at(size_t i);
/* The built-in called name, or NULL if there is none. */
const slb_builtin *slb_builtin_named(const char *name);
/* SL_EUNSUPPORTED: "backend '<name>' not built in this build (configure
 * --enable-<name>)". */
int slb_not_built(const char *name);

#endif
