/* cli.h - the one option parser of every command: a command describes its
 * options in a table (ss_cli_option) and, when it takes run parameters,
 * every parameter is an option too (--key-name VALUE: the manifest's keys
 * with dashes). ss_cli_parse then gives every command the same --help
 * layout, the same --version, and the same one-line error for an unknown
 * option (with the nearest valid one) or a malformed value. */
#ifndef SS_CLI_H
#define SS_CLI_H

#include <stdio.h>

#include "params.h"

enum {
    SS_CLI_MAX_POSITIONAL = 16,
    SS_CLI_MAX_OPTIONS = 32,
    SS_CLI_MAX_SETS = 64, /* --set KEY=VALUE given at most this often */
    SS_CLI_GO = -1        /* ss_cli_parse: the command goes on */
};

/* What an option takes and where its value goes (dest). */
typedef enum ss_cli_kind {
    SS_CLI_FLAG,   /* no value; dest: int, set to 1 */
    SS_CLI_INT,    /* an integer from lo to hi; dest: int */
    SS_CLI_NUMBER, /* a number from lo to hi; dest: double */
    SS_CLI_TEXT,   /* any non-empty text; dest: const char * */
    SS_CLI_CHOICE, /* one of choices ("a|b|c"); dest: const char * */
    SS_CLI_PARAM,  /* the value of run parameter `param`; dest: ss_params */
    SS_CLI_SET     /* KEY=VALUE, repeatable; dest: ss_cli_sets */
} ss_cli_kind;

/* One option of a command's table. */
typedef struct ss_cli_option {
    const char *name;    /* "--output" */
    const char *alias;   /* "-o", or NULL */
    ss_cli_kind kind;    /* what it takes */
    void *dest;          /* where the value goes (see ss_cli_kind) */
    const char *metavar; /* the value's name in the help ("FILE"); NULL for a flag */
    double lo, hi;       /* SS_CLI_INT, SS_CLI_NUMBER: the inclusive range */
    const char *choices; /* SS_CLI_CHOICE: "a|b|c"; SS_CLI_PARAM: the parameter's key */
    const char *help;    /* one or more lines ('\n' starts a line under the help column) */
} ss_cli_option;

/* The --set KEY=VALUE options given, in order (the texts point into argv). */
typedef struct ss_cli_sets {
    int n;
    const char *item[SS_CLI_MAX_SETS];
} ss_cli_sets;

/* A command: its name, help texts, option table and positional arguments. */
typedef struct ss_cli_command {
    const char *name;        /* "run" */
    const char *synopsis;    /* after "usage: stylesweep NAME " */
    const char *description; /* the paragraph(s) between the usage line and the options */
    const char *epilog;      /* printed after the options, or NULL */
    const ss_cli_option *options;
    int n_options;
    ss_params *params;  /* not NULL: every run parameter is an option, set here */
    int min_positional; /* fewer: "needs NEEDS" */
    int max_positional; /* more: "unexpected argument" */
    const char *needs;  /* what the command needs, for that message ("MANIFEST and -o ARCHIVE.h5") */
} ss_cli_command;

/* The positional arguments, in order (pointing into argv). */
typedef struct ss_cli_args {
    int n_positional;
    const char *positional[SS_CLI_MAX_POSITIONAL];
} ss_cli_args;

/* Parses argv[1..argc-1] (argv[0] is the command's name) by cmd's table
 * into the options' dests (which keep their values unless given) and *args.
 * -h/--help prints the help (ss_cli_print_help) to stdout and --version the
 * version; both return SS_EXIT_OK. An unknown option (with the nearest
 * valid one), a missing or malformed value, too few or too many positional
 * arguments print one line "stylesweep NAME: message" on stderr and return
 * SS_EXIT_USAGE. Otherwise returns SS_CLI_GO. --name=value and
 * --name value are both accepted; "--" ends the options. */
int ss_cli_parse(ss_cli_args *args, const ss_cli_command *cmd, int argc, char **argv);

/* Prints "stylesweep NAME: message" (printf-style) on stderr for a usage
 * error the table cannot express (an option that needs another) and returns
 * SS_EXIT_USAGE. */
int ss_cli_usage_error(const ss_cli_command *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prints cmd's help: the usage line, the description, the options (the
 * table, then -h/--help and --version, then the run parameters), the epilog. */
void ss_cli_print_help(FILE *f, const ss_cli_command *cmd);

/* ---- the options shared by the commands that run the network ---- */

typedef enum ss_cli_flag {
    SS_CLI_OUTPUT = 1 << 0,  /* -o, --output FILE */
    SS_CLI_THREADS = 1 << 1, /* --threads N */
    SS_CLI_BACKEND = 1 << 2, /* --backend cpu|cuda|auto, --device N */
    SS_CLI_FORCE = 1 << 3,   /* --force */
    SS_CLI_X = 1 << 4,       /* --x IMAGE|FILE.h5:/dataset */
    SS_CLI_REPEAT = 1 << 5,  /* --repeat N, --size N (alias of --image-size) */
    SS_CLI_QUIET = 1 << 6    /* --quiet */
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
    ss_cli_args args;
} ss_cli;

/* Sets cli to the defaults (the run parameters' defaults, backend auto,
 * repeat 5), fills opts (room for SS_CLI_MAX_OPTIONS) with the options of
 * flags pointing into cli, and returns their count. */
int ss_cli_common_options(ss_cli_option *opts, ss_cli *cli, unsigned flags);

/* The start of a command that takes CONTENT STYLE [STYLE...] -o OUT:
 * parses with the options of flags and every run parameter (cmd gives the
 * name and help texts; its table and params are filled here), then takes
 * the images into cli->params. Returns SS_CLI_GO when the command should go
 * on, else the exit code (after --help, --version or a usage error). */
int ss_cli_start_images(ss_cli *cli, ss_cli_command *cmd, unsigned flags, int argc, char **argv);

#endif
