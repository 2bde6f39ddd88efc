/* registry.c -- backends by name: the built-ins of hw/builtin.c (those
 * configure compiled in), registered on first use, and plugins loaded with
 * dlopen from SPIKELOOP_BACKEND_PATH. The registry is process-wide and not
 * thread-safe for registration (register at start-up); lookups after that
 * are read-only.
 */
#include "config.h"
#include "builtin.h"
#include "spikeloop/error.h"
#include "spikeloop/registry.h"

#include <dirent.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_BACKENDS 32

static const sl_backend *registry[MAX_BACKENDS];
static size_t n_registered;
static int builtins_done, plugins_done;
/* why the last plugin of SPIKELOOP_BACKEND_PATH failed to load, for the
 * "unknown backend" message */
static char plugin_trouble[512];

static void register_builtins(void)
{
  if (builtins_done)
    return;
  builtins_done = 1;
  const slb_builtin *bi;
  for (size_t i = 0; (bi = slb_builtin_at(i)); i++)
    if (bi->table)
      sl_backend_register(bi->table());
}

int sl_backend_register(const sl_backend *b)
{
  register_builtins();
  if (!b || !b->name || !*b->name)
    return sl_error(SL_EINVAL, "backend table without a name");
  if (b->version < 1 || b->version > SL_BACKEND_VERSION)
    return sl_error(SL_EINVAL, "backend '%s' has table version %d; this library knows 1..%d",
                    b->name, b->version, SL_BACKEND_VERSION);
  if (!b->open || !b->close || !b->capabilities || !b->write_weights || !b->run)
    return sl_error(SL_EINVAL, "backend '%s' lacks a required slot", b->name);
  for (size_t i = 0; i < n_registered; i++)
    if (strcmp(registry[i]->name, b->name) == 0) {
      registry[i] = b;
      return SL_OK;
    }
  if (n_registered == MAX_BACKENDS)
    return sl_error(SL_ERANGE, "backend registry full (%d)", MAX_BACKENDS);
  registry[n_registered++] = b;
  return SL_OK;
}

int sl_backend_load_plugin(const char *path)
{
  void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!h)
    return sl_error(SL_EIO, "cannot load backend plugin '%s': %s", path, dlerror());
  const sl_backend *(*entry)(void);
  *(void **)&entry = dlsym(h, "sl_backend_plugin");
  if (!entry) {
    dlclose(h);
    return sl_error(SL_EIO, "'%s' is not a spikeloop backend plugin (no sl_backend_plugin)",
                    path);
  }
  int rc = sl_backend_register(entry());
  if (rc) {
    dlclose(h);
    return rc;
  }
  return SL_OK; /* the handle stays open for the life of the process */
}

int sl_backend_load_plugins(void)
{
  register_builtins();
  if (plugins_done)
    return SL_OK;
  plugins_done = 1;
  const char *env = getenv("SPIKELOOP_BACKEND_PATH");
  if (!env || !*env)
    return SL_OK;
  char *dirs = strdup(env);
  if (!dirs)
    return sl_error(SL_ENOMEM, "out of memory");
  for (char *save = NULL, *d = strtok_r(dirs, ":", &save); d;
       d = strtok_r(NULL, ":", &save)) {
    DIR *dir = opendir(d);
    if (!dir)
      continue; /* a missing directory in a search path is not an error */
    struct dirent *e;
    while ((e = readdir(dir))) {
      size_t n = strlen(e->d_name);
      if (n < 4 || strcmp(e->d_name + n - 3, ".so") != 0)
        continue;
      char path[4096];
      snprintf(path, sizeof path, "%s/%s", d, e->d_name);
      /* a library that is not a plugin may share the directory: note why
       * it was skipped and go on */
      if (sl_backend_load_plugin(path))
        snprintf(plugin_trouble, sizeof plugin_trouble, "%s", sl_last_error());
    }
    closedir(dir);
  }
  free(dirs);
  return SL_OK;
}

const sl_backend *sl_backend_find(const char *name)
{
  sl_backend_load_plugins();
  for (size_t i = 0; name && i < n_registered; i++)
    if (strcmp(registry[i]->name, name) == 0)
      return registry[i];
  return NULL;
}

void sl_backend_names(char *buf, size_t len)
{
  sl_backend_load_plugins();
  if (!buf || !len)
    return;
  buf[0] = '\0';
  for (size_t i = 0; i < n_registered; i++) {
    size_t used = strlen(buf);
    snprintf(buf + used, len - used, "%s%s", i ? ", " : "", registry[i]->name);
  }
}

/* Comma-separated names of the built-ins configure left out into buf. */
static void not_built_names(char *buf, size_t len)
{
  const slb_builtin *bi;
  size_t used = 0;
  buf[0] = '\0';
  for (size_t i = 0; (bi = slb_builtin_at(i)) && used < len; i++)
    if (!bi->table)
      used += (size_t)snprintf(buf + used, len - used, "%s%s", used ? ", " : "", bi->name);
}

int sl_backend_lookup(const char *name, const sl_backend **out)
{
  if (!out)
    return sl_error(SL_EINVAL, "sl_backend_lookup: NULL output");
  *out = sl_backend_find(name);
  if (*out)
    return SL_OK;
  const slb_builtin *bi = slb_builtin_named(name);
  if (bi && !bi->table)
    return slb_not_built(name);
  char names[512], left_out[256];
  sl_backend_names(names, sizeof names);
  not_built_names(left_out, sizeof left_out);
  return sl_error(SL_ENOTFOUND, "unknown backend '%s' (available: %s)%s%s%s%s",
                  name ? name : "(null)", names, left_out[0] ? "; not built in this build: " : "",
                  left_out, plugin_trouble[0] ? "; last plugin problem: " : "", plugin_trouble);
}

const char *sl_backend_builtin(size_t i, int *built)
{
  const slb_builtin *bi = slb_builtin_at(i);
  if (built)
    *built = bi && bi->table;
  return bi ? bi->name : NULL;
}

const char *sl_backend_default_name(void)
{
  const char *e = getenv("SPIKELOOP_BACKEND");
  return e && *e ? e : "ideal";
}
