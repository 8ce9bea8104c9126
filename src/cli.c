/* cli.c - command-line parsing shared by the commands (see cli.h). */
#include "cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

static ss_status parse_int(int *out, const char *opt, const char *v, long lo, long hi) {
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (!*v || *end || errno || x < lo || x > hi)
        return ss_error(SS_ERR_ARG, "%s: '%s' is not an integer from %ld to %ld", opt, v, lo, hi);
    *out = (int)x;
    return SS_OK;
}

/* Writes into buf the accepted option (of flags) nearest to name, dashed as
 * typed ("--content-weight"), and returns buf; NULL when none is close
 * enough to be a likely misspelling. */
static const char *nearest_option(char *buf, size_t size, const char *name, unsigned flags) {
    static const struct {
        unsigned flag;
        const char *name;
    } own[] = {{SS_CLI_OUTPUT, "--output"},   {SS_CLI_THREADS, "--threads"},
               {SS_CLI_BACKEND, "--backend"}, {SS_CLI_BACKEND, "--device"},
               {SS_CLI_FORCE, "--force"},     {SS_CLI_X, "--x"},
               {SS_CLI_REPEAT, "--repeat"},   {SS_CLI_REPEAT, "--size"},
               {SS_CLI_QUIET, "--quiet"},     {0, "--help"}};
    char typed[128], cand[128];
    snprintf(typed, sizeof typed, "%s", name);
    for (char *c = typed; *c; c++)
        if (*c == '_') *c = '-';
    size_t best = (size_t)-1;
    buf[0] = '\0';
    int n_params = flags & SS_CLI_PARAMS ? ss_params_count() : 0;
    for (int i = 0; i < (int)(sizeof own / sizeof own[0]) + n_params; i++) {
        if (i < (int)(sizeof own / sizeof own[0])) {
            if (own[i].flag && !(flags & own[i].flag)) continue;
            snprintf(cand, sizeof cand, "%s", own[i].name);
        } else {
            const char *key = ss_params_key(i - (int)(sizeof own / sizeof own[0]));
            if (!strcmp(key, "content")) continue; /* positional only */
            snprintf(cand, sizeof cand, "--%s", key);
            for (char *c = cand; *c; c++)
                if (*c == '_') *c = '-';
        }
        size_t d = ss_params_edit_distance(typed, cand);
        if (d < best) {
            best = d;
            snprintf(buf, size, "%s", cand);
        }
    }
    return best <= 2 || 3 * best <= strlen(typed) ? buf : NULL;
}

static ss_status unknown_option(const char *name, unsigned flags) {
    char near[128];
    if (nearest_option(near, sizeof near, name, flags))
        return ss_error(SS_ERR_ARG, "unknown option %s (did you mean %s?)", name, near);
    return ss_error(SS_ERR_ARG, "unknown option %s (see --help)", name);
}

ss_status ss_cli_parse(ss_cli *cli, int argc, char **argv, unsigned flags) {
    memset(cli, 0, sizeof *cli);
    ss_params_defaults(&cli->params);
    cli->backend = "auto";
    cli->repeat = 5;
    int styles_from_positional = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            cli->help = 1;
            return SS_OK;
        }
        if (a[0] != '-' || !strcmp(a, "-")) {
            if (cli->n_positional == SS_CLI_MAX_POSITIONAL)
                return ss_error(SS_ERR_ARG, "too many arguments (at most %d)", SS_CLI_MAX_POSITIONAL);
            cli->positional[cli->n_positional++] = a;
            continue;
        }
        /* --name=value or --name value */
        char name[128];
        const char *value = NULL;
        const char *eq = strchr(a, '=');
        size_t len = eq ? (size_t)(eq - a) : strlen(a);
        if (len >= sizeof name) return ss_error(SS_ERR_ARG, "unknown option %.40s...", a);
        memcpy(name, a, len);
        name[len] = '\0';
        int is_flag = !strcmp(name, "--force") || !strcmp(name, "--quiet") || !strcmp(name, "-q");
        if (eq) value = eq + 1;
        else if (!is_flag) {
            if (i + 1 >= argc) return ss_error(SS_ERR_ARG, "option %s needs a value", name);
            value = argv[++i];
        }
        if ((flags & SS_CLI_OUTPUT) && (!strcmp(name, "-o") || !strcmp(name, "--output"))) cli->output = value;
        else if ((flags & SS_CLI_THREADS) && !strcmp(name, "--threads"))
            SS_TRY(parse_int(&cli->threads, name, value, 0, 4096));
        else if ((flags & SS_CLI_BACKEND) && !strcmp(name, "--backend")) {
            if (strcmp(value, "cpu") && strcmp(value, "cuda") && strcmp(value, "auto"))
                return ss_error(SS_ERR_ARG, "--backend: '%s' is not cpu, cuda or auto", value);
            cli->backend = value;
        } else if ((flags & SS_CLI_BACKEND) && !strcmp(name, "--device"))
            SS_TRY(parse_int(&cli->device, name, value, 0, 1024));
        else if ((flags & SS_CLI_FORCE) && !strcmp(name, "--force")) cli->force = 1;
        else if ((flags & SS_CLI_QUIET) && (!strcmp(name, "--quiet") || !strcmp(name, "-q"))) cli->quiet = 1;
        else if ((flags & SS_CLI_X) && !strcmp(name, "--x")) cli->x = value;
        else if ((flags & SS_CLI_REPEAT) && !strcmp(name, "--repeat"))
            SS_TRY(parse_int(&cli->repeat, name, value, 1, 100000));
        else if ((flags & SS_CLI_REPEAT) && !strcmp(name, "--size"))
            SS_TRY(ss_params_set(&cli->params, "image_size", value));
        else if ((flags & SS_CLI_PARAMS) && name[0] == '-' && name[1] == '-' && ss_params_is_key(name + 2) &&
                 strcmp(name + 2, "content") != 0) {
            if (!strcmp(name + 2, "style")) styles_from_positional = -1;
            SS_TRY(ss_params_set(&cli->params, name + 2, value));
        } else return unknown_option(name, flags);
    }
    (void)styles_from_positional;
    return SS_OK;
}

void ss_cli_print_options(FILE *f, unsigned flags) {
    if (flags & SS_CLI_OUTPUT) fprintf(f, "  -o, --output FILE        where to write the result (required)\n");
    if (flags & SS_CLI_FORCE) fprintf(f, "  --force                  overwrite an existing output\n");
    if (flags & SS_CLI_X)
        fprintf(f, "  --x IMAGE|FILE.h5:/DSET  the image to evaluate [default: the initial image of --init]\n");
    if (flags & SS_CLI_REPEAT)
        fprintf(f,
                "  --size N                 image size (alias of --image-size)\n"
                "  --repeat N               timed evaluations; the median is printed [default: 5]\n");
    if (flags & SS_CLI_THREADS)
        fprintf(f, "  --threads N              CPU threads; 0: the cores this process may use [default: 0]\n");
    if (flags & SS_CLI_BACKEND)
        fprintf(f,
                "  --backend NAME           cpu, cuda or auto [default: auto]\n"
                "  --device N               GPU index for the CUDA backend [default: 0]\n");
    if (flags & SS_CLI_QUIET) fprintf(f, "  -q, --quiet              print only errors\n");
    if (flags & SS_CLI_PARAMS) {
        fprintf(f, "Run parameters (the manifest's keys, with dashes):\n");
        ss_params_print_help(f);
    }
    fprintf(f, "  -h, --help               this help\n");
}

ss_status ss_cli_take_images(ss_cli *cli, const char *out_example) {
    ss_params *p = &cli->params;
    if (cli->n_positional < 2 || !cli->output || !cli->output[0])
        return ss_error(SS_ERR_ARG, "needs CONTENT, at least one STYLE and -o %s (see --help)", out_example);
    if (cli->n_positional - 1 > SS_MAX_STYLES) return ss_error(SS_ERR_ARG, "at most %d style images", SS_MAX_STYLES);
    for (int i = 0; i < cli->n_positional; i++)
        if (strlen(cli->positional[i]) >= sizeof p->content)
            return ss_error(SS_ERR_ARG, "path %.40s... is too long (at most %d characters)", cli->positional[i],
                            (int)sizeof p->content - 1);
    snprintf(p->content, sizeof p->content, "%s", cli->positional[0]);
    p->n_styles = cli->n_positional - 1;
    for (int i = 1; i < cli->n_positional; i++) snprintf(p->style[i - 1], sizeof p->style[0], "%s", cli->positional[i]);
    return SS_OK;
}

int ss_cli_start_images(ss_cli *cli, int argc, char **argv, unsigned flags, const char *out_example,
                        void (*usage)(FILE *)) {
    ss_status st = ss_cli_parse(cli, argc, argv, flags);
    if (st == SS_OK && cli->help) {
        usage(stdout);
        return 0;
    }
    if (st == SS_OK) st = ss_cli_take_images(cli, out_example);
    if (st != SS_OK) {
        fprintf(stderr, "stylesweep %s: %s\n", argv[0], ss_error_message());
        return 2;
    }
    return -1;
}
