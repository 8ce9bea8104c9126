/* cli.c - the one option parser of every command (see cli.h). */
#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "exitcode.h"
#include "version.h"

enum { HELP_COLUMN = 24 }; /* width of the option column of the help */

/* Writes into out the run-parameter option "--key-name" of key. */
static void param_option(char *out, size_t size, const char *key) {
    int n = snprintf(out, size, "--%s", key);
    for (int i = 2; i < n && (size_t)i < size; i++)
        if (out[i] == '_') out[i] = '-';
}

/* Returns 1 when name ("--image-size", or "--image_size") is run parameter
 * key's option. */
static int is_param_option(const char *name, const char *key) {
    char opt[96], typed[96];
    param_option(opt, sizeof opt, key);
    param_option(typed, sizeof typed, name + 2);
    return !strcmp(opt, typed);
}

/* Writes into buf the accepted option nearest to name (typed with dashes or
 * underscores) and returns buf; NULL when none is close enough to be a
 * likely misspelling. */
static const char *nearest_option(char *buf, size_t size, const char *name, const ss_cli_command *cmd) {
    static const char *const builtin[] = {"--help", "--version"};
    char typed[128], cand[128];
    snprintf(typed, sizeof typed, "%s", name);
    for (char *c = typed; *c; c++)
        if (*c == '_') *c = '-';
    size_t best = (size_t)-1;
    buf[0] = '\0';
    int n_builtin = (int)(sizeof builtin / sizeof builtin[0]);
    int n_params = cmd->params ? ss_params_count() : 0;
    for (int i = 0; i < n_builtin + cmd->n_options + n_params; i++) {
        if (i < n_builtin) snprintf(cand, sizeof cand, "%s", builtin[i]);
        else if (i < n_builtin + cmd->n_options) snprintf(cand, sizeof cand, "%s", cmd->options[i - n_builtin].name);
        else {
            const char *key = ss_params_key(i - n_builtin - cmd->n_options);
            if (!strcmp(key, "content")) continue; /* positional only */
            param_option(cand, sizeof cand, key);
        }
        size_t d = ss_params_edit_distance(typed, cand);
        if (d < best) {
            best = d;
            snprintf(buf, size, "%s", cand);
        }
    }
    return best <= 2 || 3 * best <= strlen(typed) ? buf : NULL;
}

static ss_status unknown_option(const char *name, const ss_cli_command *cmd) {
    char near[128];
    if (nearest_option(near, sizeof near, name, cmd))
        return ss_error(SS_ERR_ARG, "unknown option %s (did you mean %s?)", name, near);
    return ss_error(SS_ERR_ARG, "unknown option %s (see --help)", name);
}

/* Stores value into o's dest; SS_ERR_ARG naming the option and the value. */
static ss_status set_option(const ss_cli_option *o, const char *name, const char *value) {
    switch (o->kind) {
    case SS_CLI_FLAG: *(int *)o->dest = 1; return SS_OK;
    case SS_CLI_INT: {
        char *end;
        errno = 0;
        long x = strtol(value, &end, 10);
        if (!*value || *end || errno || x < o->lo || x > o->hi)
            return ss_error(SS_ERR_ARG, "%s: '%s' is not an integer from %.0f to %.0f", name, value, o->lo, o->hi);
        *(int *)o->dest = (int)x;
        return SS_OK;
    }
    case SS_CLI_NUMBER: {
        char *end;
        errno = 0;
        double x = strtod(value, &end);
        if (!*value || *end || errno || !isfinite(x) || x < o->lo || x > o->hi)
            return ss_error(SS_ERR_ARG, "%s: '%s' is not a number from %g to %g", name, value, o->lo, o->hi);
        *(double *)o->dest = x;
        return SS_OK;
    }
    case SS_CLI_TEXT:
        if (!*value) return ss_error(SS_ERR_ARG, "%s: the value is empty", name);
        *(const char **)o->dest = value;
        return SS_OK;
    case SS_CLI_CHOICE: {
        size_t n = strlen(value);
        for (const char *c = o->choices; n && *c;) {
            size_t len = strcspn(c, "|");
            if (len == n && !strncmp(c, value, n)) {
                *(const char **)o->dest = value;
                return SS_OK;
            }
            c += len + (c[len] == '|');
        }
        return ss_error(SS_ERR_ARG, "%s: '%s' is not one of %s", name, value, o->choices);
    }
    case SS_CLI_PARAM:
        if (ss_params_set(o->dest, o->choices, value) != SS_OK)
            return ss_error(SS_ERR_ARG, "%s: %s", name, ss_error_message());
        return SS_OK;
    case SS_CLI_SET: {
        ss_cli_sets *s = o->dest;
        const char *eq = strchr(value, '=');
        if (!eq || eq == value) return ss_error(SS_ERR_ARG, "%s: '%s' is not KEY=VALUE", name, value);
        if (s->n == SS_CLI_MAX_SETS) return ss_error(SS_ERR_ARG, "%s: given more than %d times", name, SS_CLI_MAX_SETS);
        s->item[s->n++] = value;
        return SS_OK;
    }
    }
    return ss_error(SS_ERR_INTERNAL, "%s: option of no kind", name);
}

/* Parses one option argument at argv[*i] (advancing *i past its value). */
static ss_status parse_option(const ss_cli_command *cmd, int argc, char **argv, int *i) {
    const char *a = argv[*i];
    char name[128];
    const char *eq = strchr(a, '=');
    size_t len = eq ? (size_t)(eq - a) : strlen(a);
    if (len >= sizeof name) return ss_error(SS_ERR_ARG, "unknown option %.40s... (see --help)", a);
    memcpy(name, a, len);
    name[len] = '\0';
    const ss_cli_option *o = NULL;
    for (int k = 0; k < cmd->n_options && !o; k++)
        if (!strcmp(name, cmd->options[k].name) || (cmd->options[k].alias && !strcmp(name, cmd->options[k].alias)))
            o = &cmd->options[k];
    const char *key = NULL;
    if (!o && cmd->params && name[0] == '-' && name[1] == '-')
        for (int k = 0; k < ss_params_count() && !key; k++)
            if (strcmp(ss_params_key(k), "content") && is_param_option(name, ss_params_key(k))) key = ss_params_key(k);
    if (!o && !key) return unknown_option(name, cmd);
    const char *value = eq ? eq + 1 : NULL;
    if (o && o->kind == SS_CLI_FLAG) {
        if (value) return ss_error(SS_ERR_ARG, "%s takes no value (got '%s')", name, value);
        return set_option(o, name, "");
    }
    if (!value) {
        if (*i + 1 >= argc) return ss_error(SS_ERR_ARG, "%s needs a value (see --help)", name);
        value = argv[++*i];
    }
    if (o) return set_option(o, name, value);
    if (ss_params_set(cmd->params, key, value) != SS_OK) return ss_error(SS_ERR_ARG, "%s", ss_error_message());
    return SS_OK;
}

/* The parse proper: SS_OK with *action 0 (go on), 1 (help) or 2 (version). */
static ss_status parse(ss_cli_args *args, int *action, const ss_cli_command *cmd, int argc, char **argv) {
    int options_done = 0;
    memset(args, 0, sizeof *args);
    *action = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!options_done && (!strcmp(a, "-h") || !strcmp(a, "--help"))) {
            *action = 1;
            return SS_OK;
        }
        if (!options_done && !strcmp(a, "--version")) {
            *action = 2;
            return SS_OK;
        }
        if (!options_done && !strcmp(a, "--")) {
            options_done = 1;
            continue;
        }
        if (options_done || a[0] != '-' || !strcmp(a, "-")) {
            if (args->n_positional == cmd->max_positional || args->n_positional == SS_CLI_MAX_POSITIONAL)
                return ss_error(SS_ERR_ARG, "unexpected argument '%s' (see --help)", a);
            args->positional[args->n_positional++] = a;
            continue;
        }
        SS_TRY(parse_option(cmd, argc, argv, &i));
    }
    if (args->n_positional < cmd->min_positional)
        return ss_error(SS_ERR_ARG, "needs %s (see --help)", cmd->needs ? cmd->needs : "more arguments");
    return SS_OK;
}

int ss_cli_parse(ss_cli_args *args, const ss_cli_command *cmd, int argc, char **argv) {
    int action;
    if (parse(args, &action, cmd, argc, argv) != SS_OK) {
        fprintf(stderr, "stylesweep %s: %s\n", cmd->name, ss_error_message());
        return SS_EXIT_USAGE;
    }
    if (action == 1) {
        ss_cli_print_help(stdout, cmd);
        return SS_EXIT_OK;
    }
    if (action == 2) {
        printf("stylesweep %s\n", SS_VERSION_STRING);
        return SS_EXIT_OK;
    }
    return SS_CLI_GO;
}

int ss_cli_usage_error(const ss_cli_command *cmd, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "stylesweep %s: ", cmd->name);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return SS_EXIT_USAGE;
}

/* Prints one option line: left in the option column, help after it. */
static void print_option(FILE *f, const char *left, const char *help) {
    int n = fprintf(f, "  %-*s", HELP_COLUMN, left);
    if (n > HELP_COLUMN + 2) fprintf(f, "\n  %-*s", HELP_COLUMN, "");
    for (const char *h = help; *h;) {
        size_t len = strcspn(h, "\n");
        fprintf(f, " %.*s\n", (int)len, h);
        h += len;
        if (*h == '\n' && *++h) fprintf(f, "  %-*s", HELP_COLUMN, "");
    }
}

void ss_cli_print_help(FILE *f, const ss_cli_command *cmd) {
    fprintf(f, "usage: stylesweep %s %s\n\n%s\noptions:\n", cmd->name, cmd->synopsis, cmd->description);
    char left[128];
    for (int i = 0; i < cmd->n_options; i++) {
        const ss_cli_option *o = &cmd->options[i];
        snprintf(left, sizeof left, "%s%s%s%s%s", o->alias ? o->alias : "", o->alias ? ", " : "", o->name,
                 o->metavar ? " " : "", o->metavar ? o->metavar : "");
        print_option(f, left, o->help);
    }
    print_option(f, "-h, --help", "this help");
    print_option(f, "--version", "the version of stylesweep");
    if (cmd->params) {
        fprintf(f, "\nrun parameters (the manifest's keys, with dashes):\n");
        ss_params_print_help(f, HELP_COLUMN);
    }
    if (cmd->epilog) fprintf(f, "\n%s", cmd->epilog);
}

int ss_cli_common_options(ss_cli_option *opts, ss_cli *cli, unsigned flags) {
    memset(cli, 0, sizeof *cli);
    ss_params_defaults(&cli->params);
    cli->backend = "auto";
    cli->repeat = 5;
    int n = 0;
    if (flags & SS_CLI_OUTPUT)
        opts[n++] = (ss_cli_option){
            "--output", "-o", SS_CLI_TEXT, &cli->output, "FILE", 0, 0, NULL, "where to write the result (required)"};
    if (flags & SS_CLI_FORCE)
        opts[n++] = (ss_cli_option){
            "--force", NULL, SS_CLI_FLAG, &cli->force, NULL, 0, 0, NULL, "overwrite an existing output"};
    if (flags & SS_CLI_X)
        opts[n++] = (ss_cli_option){"--x",
                                    NULL,
                                    SS_CLI_TEXT,
                                    &cli->x,
                                    "IMAGE|FILE.h5:/DSET",
                                    0,
                                    0,
                                    NULL,
                                    "the image to evaluate [default: the initial image of --init]"};
    if (flags & SS_CLI_REPEAT) {
        opts[n++] = (ss_cli_option){
            "--size", NULL, SS_CLI_PARAM, &cli->params, "N", 0, 0, "image_size", "image size (alias of --image-size)"};
        opts[n++] = (ss_cli_option){"--repeat",   NULL, SS_CLI_INT,
                                    &cli->repeat, "N",  1,
                                    100000,       NULL, "timed evaluations; the median is printed [default: 5]"};
    }
    if (flags & SS_CLI_THREADS)
        opts[n++] = (ss_cli_option){"--threads",   NULL, SS_CLI_INT,
                                    &cli->threads, "N",  0,
                                    4096,          NULL, "CPU threads; 0: the cores this process may use [default: 0]"};
    if (flags & SS_CLI_BACKEND) {
        opts[n++] = (ss_cli_option){"--backend",
                                    NULL,
                                    SS_CLI_CHOICE,
                                    &cli->backend,
                                    "NAME",
                                    0,
                                    0,
                                    "cpu|cuda|auto",
                                    "cpu, cuda or auto [default: auto]"};
        opts[n++] = (ss_cli_option){"--device",   NULL, SS_CLI_INT,
                                    &cli->device, "N",  0,
                                    1024,         NULL, "GPU index for the CUDA backend [default: 0]"};
    }
    if (flags & SS_CLI_QUIET)
        opts[n++] = (ss_cli_option){"--quiet", "-q", SS_CLI_FLAG, &cli->quiet, NULL, 0, 0, NULL, "print only errors"};
    return n;
}

/* Takes the positional arguments CONTENT STYLE [STYLE...] into the
 * parameters and checks that an output was given. */
static ss_status take_images(ss_cli *cli, const char *needs) {
    ss_params *p = &cli->params;
    if (cli->args.n_positional < 2 || !cli->output) return ss_error(SS_ERR_ARG, "needs %s (see --help)", needs);
    if (cli->args.n_positional - 1 > SS_MAX_STYLES)
        return ss_error(SS_ERR_ARG, "at most %d style images", SS_MAX_STYLES);
    for (int i = 0; i < cli->args.n_positional; i++)
        if (strlen(cli->args.positional[i]) >= sizeof p->content)
            return ss_error(SS_ERR_ARG, "path %.40s... is too long (at most %d characters)", cli->args.positional[i],
                            (int)sizeof p->content - 1);
    snprintf(p->content, sizeof p->content, "%s", cli->args.positional[0]);
    p->n_styles = cli->args.n_positional - 1;
    for (int i = 1; i < cli->args.n_positional; i++)
        snprintf(p->style[i - 1], sizeof p->style[0], "%s", cli->args.positional[i]);
    return SS_OK;
}

int ss_cli_start_images(ss_cli *cli, ss_cli_command *cmd, unsigned flags, int argc, char **argv) {
    ss_cli_option opts[SS_CLI_MAX_OPTIONS];
    cmd->n_options = ss_cli_common_options(opts, cli, flags);
    cmd->options = opts;
    cmd->params = &cli->params;
    cmd->min_positional = 0;                     /* reported with the output, below */
    cmd->max_positional = SS_CLI_MAX_POSITIONAL; /* too many styles: said below */
    int rc = ss_cli_parse(&cli->args, cmd, argc, argv);
    cmd->options = NULL; /* opts ends here */
    cmd->n_options = 0;
    if (rc != SS_CLI_GO) return rc;
    if (take_images(cli, cmd->needs) != SS_OK) return ss_cli_usage_error(cmd, "%s", ss_error_message());
    return SS_CLI_GO;
}
