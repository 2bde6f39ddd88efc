/* commands.h -- the commands of the spikeloop command-line tool, one file
 * each (cmd_NAME.c), dispatched by main.c. Each takes the arguments after
 * its name and returns the exit status (see cli.h). */
#ifndef SL_COMMANDS_H
#define SL_COMMANDS_H

int cmd_train(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_dataset(int argc, char **argv);
int cmd_chip(int argc, char **argv);
int cmd_experiment(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_characterise(int argc, char **argv);
int cmd_fit(int argc, char **argv);
int cmd_calibrate(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_import(int argc, char **argv);
int cmd_twin(int argc, char **argv);

#endif
