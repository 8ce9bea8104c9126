/* commands.h - the stylesweep commands; each returns the process exit code
 * (SS_EXIT_*) after printing its own errors. */
#ifndef SS_COMMANDS_H
#define SS_COMMANDS_H

#include "exitcode.h"
#include "version.h"

/* Each takes argc/argv with argv[0] the command's name. */
int ss_cmd_eval(int argc, char **argv);
int ss_cmd_bench(int argc, char **argv);
int ss_cmd_transfer(int argc, char **argv);
int ss_cmd_run(int argc, char **argv);
int ss_cmd_status(int argc, char **argv);
int ss_cmd_export(int argc, char **argv);
int ss_cmd_plan(int argc, char **argv);
int ss_cmd_repair(int argc, char **argv);

#endif
