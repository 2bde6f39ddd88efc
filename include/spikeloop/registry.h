/* spikeloop/registry.h -- backends by name (lib/hw/registry.c).
 *
 * The registry holds the built-in backends this build compiled in ("ideal"
 * always; "bss2", "replay", "memristor" unless configure left them out with
 * --disable-<name>), and plugins loaded from shared objects in the
 * directories of SPIKELOOP_BACKEND_PATH (each exports `sl_backend_plugin`
 * returning its table). SPIKELOOP_BACKEND names the default backend.
 */
#ifndef SPIKELOOP_REGISTRY_H
#define SPIKELOOP_REGISTRY_H

#include <stddef.h>

#include "spikeloop/backend.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Register a backend table (plugins call this through sl_backend_plugin's
 * caller). Tables of every version 1..SL_BACKEND_VERSION stay valid: the
 * core never calls a slot newer than a table's version. Errors: SL_EINVAL
 * (NULL, no name, version < 1 or newer than this library), SL_ERANGE
 * (registry full). Re-registering a name replaces it. */
int sl_backend_register(const sl_backend *b);
/* Find by name (loads plugins first). NULL if unknown or not built in;
 * then sl_backend_lookup says which, and sl_backend_names lists what is
 * available. */
const sl_backend *sl_backend_find(const char *name);
/* Find by name as sl_backend_find, with an error that says why not:
 * SL_EUNSUPPORTED for a built-in this build left out ("backend 'bss2' not
 * built in this build (configure --enable-bss2)"), SL_ENOTFOUND for an
 * unknown name (the message lists the available backends, the left-out
 * built-ins and the last plugin problem). *out is NULL on error. */
int sl_backend_lookup(const char *name, const sl_backend **out);
/* Comma-separated names of all registered backends into buf. */
void sl_backend_names(char *buf, size_t len);
/* The i-th backend this library knows as built-in (i = 0, 1, ...; NULL past
 * the end), whether this build compiled it in or not: *built (if not NULL)
 * is 1 if it did (sl_backend_find finds it), 0 if configure left it out. */
const char *sl_backend_builtin(size_t i, int *built);
/* SPIKELOOP_BACKEND if set, else "ideal". */
const char *sl_backend_default_name(void);
/* Load every *.so in the colon-separated directories of
 * SPIKELOOP_BACKEND_PATH (once; later calls do nothing). A plugin exports
 *   const sl_backend *sl_backend_plugin(void);
 * Files that fail to load or are not plugins are skipped (other libraries
 * may share a directory); the last such problem is appended to the
 * "unknown backend" message of sl_backend_lookup and sl_hw_open. */
int sl_backend_load_plugins(void);
/* Load one plugin file. Errors: SL_EIO, SL_EINVAL (bad table). */
int sl_backend_load_plugin(const char *path);

#ifdef __cplusplus
}
#endif
#endif
