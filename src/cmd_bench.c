/* cmd_bench.c - `stylesweep bench`: the median time of one evaluation with
 * random weights and random images, printed as ms_per_eval=<number> (the
 * line scripts/bench_vs_torch.sh reads from this and from PyTorch's script,
 * to compare in one command), then the instruction set the backend
 * dispatches to and a table of the convolutions: each one's algorithm (as
 * the backend describes it: layer_describe, the CUDA backend's algorithms
 * and workspace too) and its forward and backward-data times. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "cli.h"
#include "commands.h"
#include "net.h"
#include "rng.h"
#include "util.h"

enum { BENCH_FLAGS = SS_CLI_THREADS | SS_CLI_BACKEND | SS_CLI_REPEAT };
/* calls per convolution and direction in the table (not --repeat: the
 * difference of two --repeat values is then evaluations alone) */
enum { BENCH_LAYER_CALLS = 5 };

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

typedef struct bench_state {
    ss_model model;
    ss_backend *be;
    ss_net *net;
    ss_tensor *x, *g;
    float *host;
} bench_state;

static void bench_free(bench_state *b) {
    if (b->be) {
        ss_be_tensor_free(b->be, b->x);
        ss_be_tensor_free(b->be, b->g);
    }
    ss_net_free(b->net);
    if (b->be) ss_be_free(b->be);
    ss_model_free(&b->model);
    free(b->host);
}

static void fill_random(float *a, size_t n, ss_rng *r) {
    for (size_t i = 0; i < n; i++) a[i] = (float)(50.0 * ss_rng_normal(r));
}

/* Prints the ISA and one line per convolution, each timed `repeat` times. */
static ss_status bench_layers(bench_state *b, int repeat) {
    ss_net_conv_profile rows[SS_MODEL_MAX_CONVS];
    int n = 0;
    SS_TRY(ss_net_profile_convs(b->net, rows, &n, repeat));
    printf("isa=%s (the instruction set the %s backend dispatches to)\n", b->be->isa[0] ? b->be->isa : "unknown",
           b->be->iface->name);
    printf("%-8s %-18s %8s %8s %8s %8s %8s  %s\n", "layer", "shape", "fwd_ms", "bwd_ms", "GFLOP/s", "fwd_cpu",
           "bwd_cpu", "algorithm");
    for (int i = 0; i < n; i++) {
        const ss_net_conv_profile *r = &rows[i];
        char shape[48];
        snprintf(shape, sizeof shape, "%d->%d %dx%d", r->cin, r->cout, r->w, r->h);
        double flop = 2.0 * 2.0 * 9.0 * r->cin * r->cout * r->h * r->w; /* direct-equivalent, both directions */
        double ms = r->fwd_ms[0] + r->bwd_ms[0];
        printf("%-8s %-18s %8.2f %8.2f %8.1f %8.2f %8.2f  %s\n", r->name, shape, r->fwd_ms[0], r->bwd_ms[0],
               ms > 0 ? flop / ms / 1e6 : 0.0, r->fwd_ms[1], r->bwd_ms[1], r->algo);
    }
    return SS_OK;
}

static ss_status bench_run(bench_state *b, const ss_cli *cli, double *median_ms) {
    const ss_params *p = &cli->params;
    ss_loss_config cfg;
    SS_TRY(ss_params_resolve(p, &b->model, &cfg));
    SS_TRY(ss_model_load_weights(&b->model, "random", ss_net_deepest_layer(&cfg) + 1));
    SS_TRY(ss_backend_new(&b->be, cli->backend, cli->device, cli->threads));
    SS_TRY(ss_be_set_precision(b->be, p->precision));
    int s = p->image_size;
    size_t n = 3 * (size_t)s * s;
    b->host = malloc(n * sizeof(float));
    SS_ALLOC_CHECK(b->host);
    SS_TRY(ss_net_new(&b->net, b->be, &b->model, &cfg, s, s));
    ss_rng r;
    ss_rng_init(&r, 0, 99);
    fill_random(b->host, n, &r);
    SS_TRY(ss_net_set_content(b->net, b->host));
    fill_random(b->host, n, &r);
    SS_TRY(ss_net_set_style(b->net, 0, b->host));
    fill_random(b->host, n, &r);
    SS_TRY(ss_be_tensor_new(b->be, &b->x, 3, s, s));
    SS_TRY(ss_be_tensor_new(b->be, &b->g, 3, s, s));
    SS_TRY(ss_be_tensor_write(b->be, b->x, b->host));
    ss_terms t;
    for (int i = 0; i < 2; i++) SS_TRY(ss_net_eval(b->net, &t, b->g, b->x));
    double times[1000] = {0};
    int reps = cli->repeat < 1000 ? cli->repeat : 1000;
    for (int i = 0; i < reps; i++) {
        double t0 = ss_monotonic_seconds();
        SS_TRY(ss_net_eval(b->net, &t, b->g, b->x));
        times[i] = (ss_monotonic_seconds() - t0) * 1000.0;
    }
    qsort(times, (size_t)reps, sizeof times[0], cmp_double);
    *median_ms = reps % 2 ? times[reps / 2] : 0.5 * (times[reps / 2 - 1] + times[reps / 2]);
    printf("stylesweep=%s arch=%s size=%d threads=%d backend=%s precision=%s ms_per_eval=%.3f device=%s\n",
           SS_VERSION_STRING, p->model, s, b->be->threads, b->be->iface->name, p->precision, *median_ms, b->be->device);
    return bench_layers(b, BENCH_LAYER_CALLS);
}

int ss_cmd_bench(int argc, char **argv) {
    ss_cli cli;
    ss_cli_option opts[SS_CLI_MAX_OPTIONS];
    ss_cli_command cmd = {.name = "bench",
                          .synopsis = "[--model vgg19] [--size 224] [--threads N] [OPTIONS]",
                          .description =
                              "Times one evaluation (forward to the deepest used layer, losses, gradient to the\n"
                              "image) with random weights and random images; prints the median as ms_per_eval=,\n"
                              "the instruction set the backend dispatches to (isa=) and per convolution its\n"
                              "algorithm, forward and backward-data wall times (the shortest of 5 calls),\n"
                              "the GFLOP/s of a direct convolution in that time, and the least CPU time\n"
                              "(all threads; with OMP_WAIT_POLICY=PASSIVE the work without the spinning).\n",
                          .options = opts,
                          .n_options = ss_cli_common_options(opts, &cli, BENCH_FLAGS),
                          .params = &cli.params};
    int rc = ss_cli_parse(&cli.args, &cmd, argc, argv);
    if (rc != SS_CLI_GO) return rc;
    cli.params.n_styles = 1; /* the random style image */
    bench_state b = {0};
    double ms;
    ss_status st = bench_run(&b, &cli, &ms);
    bench_free(&b);
    if (st != SS_OK) {
        fprintf(stderr, "stylesweep bench: %s\n", ss_error_message());
        return SS_EXIT_FAILURE;
    }
    return SS_EXIT_OK;
}
