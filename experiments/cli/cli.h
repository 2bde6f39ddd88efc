/* cli.h -- shared pieces of the spikeloop command-line tool: messages, number
 * parsing, the one option parser every command uses and the checks that
 * several commands share (--threads, the emulated-chip options).
 *
 * Each command is a function taking (argc, argv) after the command name
 * and returning the process exit status: 0 success, 1 runtime error (the
 * library's message is printed), 2 usage error. The commands themselves are
 * declared in commands.h.
 */
#ifndef SL_CLI_H
#define SL_CLI_H

#include "spikeloop/config.h"

#include <stddef.h>
#include <stdint.h>

/* Print "spikeloop: <context>: <library message>" to stderr (the context
 * left out when the message starts with it); return 1. */
int cli_fail(const char *context);
/* Print "spikeloop: <message>" and a hint to run --help; return 2. */
int cli_usage_error(const char *command, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* 1 if s is "-h" or "--help". */
int cli_is_help(const char *s);
/* Parse a positive integer option value; returns 0 on success. */
int cli_parse_long(const char *text, long min, long max, long *out);

/* Append calib=FILE to cfg's backend.options (`--calib FILE`; cli_parse
 * calls it after every --set so that backend.options given there is kept).
 * Errors: SL_EINVAL (a comma in the name; the options would be too long). */
int cli_append_calib(sl_config *cfg, const char *file);

/* The options several commands share; a command accepts those whose bits it
 * sets in cli_spec.shared. */
enum {
  CLI_CONFIG = 1u << 0,  /* --config FILE: loaded into cfg before every other option */
  CLI_SET = 1u << 1,     /* --set key=value (repeatable): applied to cfg in order */
  CLI_LOG = 1u << 2,     /* --log FILE.h5 */
  CLI_CALIB = 1u << 3,   /* --calib FILE.h5: calib=FILE appended to cfg's backend.options */
  CLI_THREADS = 1u << 4, /* --threads N, 1..4096 */
  CLI_BACKEND = 1u << 5, /* --backend NAME: also backend.name of cfg when there is one */
  CLI_NEURONS = 1u << 6  /* --neurons LIST */
};

/* The values of the shared options: the caller fills in the defaults. */
typedef struct {
  sl_config *cfg;      /* target of --config, --set, --calib, --backend; NULL if none */
  const char *log;     /* --log */
  const char *calib;   /* --calib */
  const char *backend; /* --backend */
  const char *neurons; /* --neurons */
  long threads;        /* --threads */
} cli_shared;

/* What a command's own option stores. */
enum {
  CLI_FLAG, /* no value: *(int *)out = 1 */
  CLI_TEXT, /* *(const char **)out = the value */
  CLI_LONG, /* *(long *)out = the value, an integer in [min, max] */
  CLI_CALL  /* call(out, value, command): 0, or the exit status after a message */
};

typedef struct {
  const char *name;  /* "--chip-seed" */
  int kind;          /* CLI_FLAG, CLI_TEXT, CLI_LONG or CLI_CALL */
  void *out;
  const char *needs; /* "a non-negative integer": the message "--chip-seed needs ..." */
  long min, max;     /* CLI_LONG */
  int (*call)(void *out, const char *value, const char *command);
} cli_option;

typedef struct {
  const char *command;     /* "train": names the command in messages */
  void (*usage)(void);     /* prints the command's --help text */
  unsigned shared;         /* CLI_* bits of the shared options it accepts */
  int terse;               /* 1: an option without its value is reported as "unknown or
                              incomplete option '--x'"; 0: as "--x needs ...", and an
                              unknown one as "unknown option '--x'" */
  const cli_option *own;   /* the command's own options, ended by {NULL}; or NULL */
  const char **positional; /* takes the first argument not starting with '-'; or NULL */
} cli_spec;

/* An integer seed option ("--chip-seed", "--seed") as an entry of a
 * command's own options: a non-negative long into *dest. */
#define CLI_SEED_OPTION(option, dest)                                                     \
  {.name = (option), .kind = CLI_LONG, .out = (dest), .needs = "a non-negative integer",  \
   .min = 0, .max = 0x7fffffffffffffffL}

/* What cli_parse and cli_first return when the command should go on (any
 * other value is the exit status to return at once). */
#define CLI_RUN (-1)

/* Parse argv[0..argc) as spec says into *sh (--config first, then every
 * argument in order, then --calib). Returns CLI_RUN, or the exit status
 * after printing: 0 after -h/--help (spec->usage), 1 a library error, 2 a
 * usage error. */
int cli_parse(const cli_spec *spec, cli_shared *sh, int argc, char **argv);

/* For a command whose first argument names what it acts on (chip truth,
 * dataset yinyang, experiment NAME): without arguments, print the usage and
 * return 2; with -h/--help first, print it and return 0; else CLI_RUN. */
int cli_first(void (*usage)(void), int argc, char **argv);

/* characterise and calibrate drive the emulated bss2 chip. cli_need_bss2:
 * 0 if backend (--backend) is "bss2", else a usage error (2): "--backend
 * bss2 is required", or "backend 'NAME' <other>". cli_chip_options: write
 * the backend options "chip_seed=S[,extra]" of --chip-seed S and --options
 * extra into opts[size]; 0, or a usage error (2) if extra names chip_seed. */
int cli_need_bss2(const char *command, const char *backend, const char *other);
int cli_chip_options(const char *command, long seed, const char *extra, char *opts, size_t size);

/* Several chips in one run (characterise, fit: --chip-seed LIST).
 * cli_parse_seeds: "3", "1-8", "1,3,5-6" into a fresh array (free it); 0, or
 * a usage error (2). cli_chip_path: the file of chip `seed` in a run over
 * n_chips: path itself for one chip, else "<path without .h5>.chip<seed>.h5"
 * (rec.h5 -> rec.chip3.h5). */
int cli_parse_seeds(const char *command, const char *text, uint32_t **seeds, size_t *n);
void cli_chip_path(const char *path, uint32_t seed, size_t n_chips, char *buf, size_t len);

/* Apply --threads N when it was given (sh->threads > 0). Returns 0, or 1
 * after printing the library's message ("spikeloop: --threads: ..."). */
int cli_apply_threads(const cli_shared *sh);

#endif
