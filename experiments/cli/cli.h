/* cli.h -- shared pieces of the spikeloop command-line tool.
 *
 * Each command is a function taking (argc, argv) after the command name
 * and returning the process exit status: 0 success, 1 runtime error (the
 * library's message is printed), 2 usage error.
 */
#ifndef SL_CLI_H
#define SL_CLI_H

int cmd_train(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_dataset(int argc, char **argv);
int cmd_chip(int argc, char **argv);
int cmd_experiment(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_characterise(int argc, char **argv);
int cmd_fit(int argc, char **argv);
int cmd_calibrate(int argc, char **argv);

/* Print "spikeloop: <context>: <library message>" to stderr; return 1. */
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

#endif
