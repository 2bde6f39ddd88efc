/* cli.c -- shared pieces of the spikeloop command-line tool: the messages,
 * number parsing, the --calib shortcut and cli_parse, the one option parser
 * of every command (the shared options --config/--set/--log/--calib/
 * --threads/--backend/--neurons and each command's own ones, -h/--help
 * printing the command's usage), cli_first for commands that take a
 * subcommand or name first, cli_apply_threads, and the checks of the
 * commands that drive the emulated bss2 chip. */
#include "config.h"
#include "cli.h"
#include "spikeloop/spikeloop.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cli_fail(const char *context)
{
  /* a message that already starts with the context ("mcnn_hybrid: ...")
   * is not prefixed twice */
  const char *m = sl_last_error();
  const size_t n = context ? strlen(context) : 0;
  if (!n || (strncmp(m, context, n) == 0 && m[n] == ':'))
    fprintf(stderr, "spikeloop: %s\n", m);
  else
    fprintf(stderr, "spikeloop: %s: %s\n", context, m);
  return 1;
}

int cli_usage_error(const char *command, const char *fmt, ...)
{
  va_list ap;
  fprintf(stderr, "spikeloop%s%s: ", command ? " " : "", command ? command : "");
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fprintf(stderr, "\n(run 'spikeloop%s%s --help' for usage)\n", command ? " " : "",
          command ? command : "");
  return 2;
}

int cli_is_help(const char *s) { return strcmp(s, "-h") == 0 || strcmp(s, "--help") == 0; }

int cli_parse_long(const char *text, long min, long max, long *out)
{
  char *end;
  errno = 0;
  long v = strtol(text, &end, 10);
  if (errno || end == text || *end || v < min || v > max)
    return 1;
  *out = v;
  return 0;
}

int cli_append_calib(sl_config *cfg, const char *file)
{
  char opts[2 * SL_CONFIG_TEXT];
  if (strchr(file, ','))
    return sl_error(SL_EINVAL, "'%s': a file name for calib= cannot contain a comma", file);
  snprintf(opts, sizeof opts, "%s%scalib=%s", cfg->backend_options,
           cfg->backend_options[0] ? "," : "", file);
  return sl_config_set(cfg, "backend.options", opts);
}

/* The shared options: every one takes a value. */
static const struct {
  unsigned bit;
  const char *name;
  const char *needs; /* what the message "--x needs ..." says is missing */
} shared_options[] = {
    {CLI_CONFIG, "--config", "a file name"}, {CLI_SET, "--set", "key=value"},
    {CLI_LOG, "--log", "a file name"},       {CLI_CALIB, "--calib", "a file name"},
    {CLI_THREADS, "--threads", "a positive integer"},
    {CLI_BACKEND, "--backend", "a value"},   {CLI_NEURONS, "--neurons", "a list"},
};
#define N_SHARED (sizeof shared_options / sizeof shared_options[0])

static int unknown(const cli_spec *spec, const char *arg)
{
  return cli_usage_error(spec->command, spec->terse ? "unknown or incomplete option '%s'"
                                                    : "unknown option '%s'", arg);
}

/* --config before everything else, so that --set overrides it wherever it
 * appears. */
static int load_configs(const cli_spec *spec, cli_shared *sh, int argc, char **argv)
{
  if (!(spec->shared & CLI_CONFIG) || !sh->cfg)
    return 0;
  for (int i = 0; i < argc; i++) {
    if (strcmp(argv[i], "--config") != 0)
      continue;
    if (i + 1 >= argc) /* terse: reported as incomplete in the main pass */
      return spec->terse ? 0 : cli_usage_error(spec->command, "--config needs a file name");
    if (sl_config_load(sh->cfg, argv[++i]))
      return cli_fail("config");
  }
  return 0;
}

/* Store the value v of the shared option `bit`. */
static int take_shared(const cli_spec *spec, cli_shared *sh, unsigned bit, const char *v)
{
  switch (bit) {
  case CLI_SET:
    return sh->cfg && sl_config_set_pair(sh->cfg, v) ? cli_fail("--set") : 0;
  case CLI_LOG:
    sh->log = v;
    return 0;
  case CLI_CALIB:
    sh->calib = v;
    return 0;
  case CLI_THREADS:
    return cli_parse_long(v, 1, 4096, &sh->threads)
               ? cli_usage_error(spec->command, "--threads needs a positive integer")
               : 0;
  case CLI_BACKEND:
    sh->backend = v;
    return sh->cfg && sl_config_set(sh->cfg, "backend.name", v) ? cli_fail("--backend") : 0;
  case CLI_NEURONS:
    sh->neurons = v;
    return 0;
  default: /* CLI_CONFIG: loaded by load_configs */
    return 0;
  }
}

/* Store the value v of the command's own option o. */
static int take_own(const cli_spec *spec, const cli_option *o, const char *v)
{
  switch (o->kind) {
  case CLI_TEXT:
    *(const char **)o->out = v;
    return 0;
  case CLI_LONG:
    return cli_parse_long(v, o->min, o->max, o->out)
               ? cli_usage_error(spec->command, "%s needs %s", o->name, o->needs)
               : 0;
  default: /* CLI_CALL */
    return o->call(o->out, v, spec->command);
  }
}

static const cli_option *find_own(const cli_spec *spec, const char *arg)
{
  for (const cli_option *o = spec->own; o && o->name; o++)
    if (strcmp(o->name, arg) == 0)
      return o;
  return NULL;
}

static int find_shared(const cli_spec *spec, const char *arg)
{
  for (size_t k = 0; k < N_SHARED; k++)
    if ((spec->shared & shared_options[k].bit) && strcmp(shared_options[k].name, arg) == 0)
      return (int)k;
  return -1;
}

int cli_parse(const cli_spec *spec, cli_shared *sh, int argc, char **argv)
{
  int rc = load_configs(spec, sh, argc, argv);
  if (rc)
    return rc;
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i];
    if (cli_is_help(a)) {
      spec->usage();
      return 0;
    }
    const int k = find_shared(spec, a);
    const cli_option *o = k < 0 ? find_own(spec, a) : NULL;
    if (k < 0 && !o) {
      if (spec->positional && !*spec->positional && a[0] != '-') {
        *spec->positional = a;
        continue;
      }
      return unknown(spec, a);
    }
    if (o && o->kind == CLI_FLAG) {
      *(int *)o->out = 1;
      continue;
    }
    if (i + 1 >= argc)
      return spec->terse ? unknown(spec, a)
                         : cli_usage_error(spec->command, "%s needs %s", a,
                                           o ? o->needs : shared_options[k].needs);
    const char *v = argv[++i];
    rc = o ? take_own(spec, o, v) : take_shared(spec, sh, shared_options[k].bit, v);
    if (rc)
      return rc;
  }
  /* after every --set, so that backend.options given there is kept */
  if (sh->calib && sh->cfg && cli_append_calib(sh->cfg, sh->calib))
    return cli_fail("--calib");
  return CLI_RUN;
}

int cli_first(void (*usage)(void), int argc, char **argv)
{
  if (argc >= 1 && !cli_is_help(argv[0]))
    return CLI_RUN;
  usage();
  return argc < 1 ? 2 : 0;
}

int cli_need_bss2(const char *command, const char *backend, const char *other)
{
  if (!backend)
    return cli_usage_error(command, "--backend bss2 is required");
  if (strcmp(backend, "bss2") != 0)
    return cli_usage_error(command, "backend '%s' %s", backend, other);
  return 0;
}

int cli_chip_options(const char *command, long seed, const char *extra, char *opts, size_t size)
{
  if (strstr(extra, "chip_seed"))
    return cli_usage_error(command, "give the chip as --chip-seed, not in --options");
  snprintf(opts, size, "chip_seed=%ld%s%s", seed, *extra ? "," : "", extra);
  return 0;
}

int cli_apply_threads(const cli_shared *sh)
{
  return sh->threads && sl_set_num_threads((int)sh->threads) ? cli_fail("--threads") : 0;
}

int cli_parse_seeds(const char *command, const char *text, uint32_t **seeds, size_t *n)
{
  if (sl_calib_parse_neurons(text, UINT32_MAX, seeds, n))
    return cli_usage_error(command, "--chip-seed needs seeds such as 1, 1-8 or 1,3,5-6: %s",
                           sl_last_error());
  return 0;
}

void cli_chip_path(const char *path, uint32_t seed, size_t n_chips, char *buf, size_t len)
{
  size_t k = strlen(path);
  if (n_chips <= 1) {
    snprintf(buf, len, "%s", path);
    return;
  }
  if (k > 3 && strcmp(path + k - 3, ".h5") == 0)
    snprintf(buf, len, "%.*s.chip%u.h5", (int)(k - 3), path, (unsigned)seed);
  else
    snprintf(buf, len, "%s.chip%u", path, (unsigned)seed);
}
