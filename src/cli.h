/* cli.h - command-line parsing shared by the commands: run parameters as
 * --key-name VALUE (the manifest's keys with dashes) plus each command's own
 * options, and positional arguments. */
#ifndef SS_CLI_H
#define SS_CLI_H

#include "params.h"

enum { SS_CLI_MAX_POSITIONAL = 16 };

typedef enum ss_cli_flag {
    SS_CLI_OUTPUT = 1 << 0,  /* -o, --output FILE */
    SS_CLI_THREADS = 1 << 1, /* --threads N */
    SS_CLI_BACKEND = 1 << 2, /* --backend cpu|cuda|auto, --device N */
    SS_CLI_FORCE = 1 << 3,   /* --force */
    SS_CLI_X = 1 << 4,       /* --x IMAGE|FILE.h5:/dataset */
    SS_CLI_REPEAT = 1 << 5,  /* --repeat N, --size N (alias of --image-size) */
    SS_CLI_PARAMS = 1 << 6,  /* every run parameter */
    SS_CLI_QUIET = 1 << 7    /* --quiet */
} ss_cli_flag;

typedef struct ss_cli {
    ss_params params;
    const char *output;
    int threads;
    const char *backend;
    int device;
    int force;
    const char *x;
    int repeat;
    int quiet;
    int help;
    int n_positional;
    const char *positional[SS_CLI_MAX_POSITIONAL];
} ss_cli;

/* Parses argv[1..argc-1] (argv[0] is the command's name) accepting the
 * options in flags. Defaults are set first. --help sets cli->help and stops.
 * SS_ERR_ARG with a message naming the option on anything unknown or bad. */
ss_status ss_cli_parse(ss_cli *cli, int argc, char **argv, unsigned flags);

/* Takes the positional arguments CONTENT STYLE [STYLE...] into the
 * parameters and checks that an output was given (out_example names it in
 * the message). SS_ERR_ARG with a usage message otherwise. */
ss_status ss_cli_take_images(ss_cli *cli, const char *out_example);

/* The start of a command that takes CONTENT STYLE [STYLE...] -o OUT: parses
 * (ss_cli_parse), prints usage on --help, takes the images. Returns -1 when
 * the command should go on, else the exit code (0 after --help, 2 after a
 * usage error, printed as "stylesweep COMMAND: message"). */
int ss_cli_start_images(ss_cli *cli, int argc, char **argv, unsigned flags, const char *out_example,
                        void (*usage)(FILE *));

/* Prints the help of the options in flags. */
void ss_cli_print_options(FILE *f, unsigned flags);

#endif
