/* weights_keras.c - reads VGG weights from a Keras "notop" HDF5 file.
 *
 * Layout followed (never hard-coded dataset names): the root attribute
 * `layer_names` lists layer groups (`block1_conv1`, ...); each group's
 * attribute `weight_names` lists its datasets, kernel then bias, relative to
 * the group. Kernels are (3, 3, in, out) and are transposed to (out, in, 3, 3).
 * An optional root attribute `preprocessing` ("caffe", "torchvision") says
 * what input the weights expect; Keras files have none and mean "caffe".
 *
 * Every dataset's shape is checked before anything is allocated or read.
 * libhdf5 1.10.8 can crash or hang on a damaged file (inside H5Aexists,
 * H5HG_read), so a file is first read whole in a child process under a time
 * and memory limit; only when that succeeds does this process read it
 * (README.md, "Known limits"). */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "h5util.h"
#include "model.h"

/* Returns the index of the first NaN or infinity in v[0..n-1], or -1. */
static long long first_nonfinite(const float *v, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!isfinite(v[i])) return (long long)i;
    return -1;
}

/* Checks that dataset `name` of group g has rank `rank` and the dimensions
 * want[0..rank-1], before it is read. */
static ss_status check_shape(hid_t g, const char *name, int rank, const long long *want, const char *what,
                             const char *role, const char *model) {
    if (H5Lexists(g, name, H5P_DEFAULT) <= 0) return ss_error(SS_ERR_FORMAT, "%s: dataset '%s' is missing", what, name);
    hid_t d = H5Dopen2(g, name, H5P_DEFAULT);
    if (d < 0) return ss_error(SS_ERR_FORMAT, "%s: '%s' is not a dataset", what, name);
    hid_t sp = H5Dget_space(d);
    int r = sp < 0 ? -1 : H5Sget_simple_extent_ndims(sp);
    hsize_t dims[H5S_MAX_RANK] = {0};
    if (r >= 0 && r <= H5S_MAX_RANK && H5Sget_simple_extent_dims(sp, dims, NULL) < 0) r = -1;
    if (sp >= 0) H5Sclose(sp);
    H5Dclose(d);
    int ok = r == rank;
    for (int i = 0; ok && i < rank; i++) ok = (long long)dims[i] == want[i];
    if (ok) return SS_OK;
    char got[160] = "", need[160] = "";
    for (int i = 0; i < r && i < 8; i++)
        snprintf(got + strlen(got), sizeof got - strlen(got), "%s%llu", i ? "," : "", (unsigned long long)dims[i]);
    for (int i = 0; i < rank; i++)
        snprintf(need + strlen(need), sizeof need - strlen(need), "%s%lld", i ? "," : "", want[i]);
    if (r < 0)
        return ss_error(SS_ERR_FORMAT, "%s: %s '%s' has no readable shape, %s needs (%s)", what, role, name, model,
                        need);
    return ss_error(SS_ERR_FORMAT, "%s: %s '%s' has shape (%s), %s needs (%s)", what, role, name, got, model, need);
}

static ss_status read_conv(ss_model *m, int l, hid_t file, char **layer_names, int n_layers, const char *path) {
    const ss_conv_info *c = &m->conv[l];
    char group[32];
    snprintf(group, sizeof group, "block%d_conv%d", c->block, c->index);
    int found = 0;
    for (int i = 0; i < n_layers && !found; i++) found = strcmp(layer_names[i], group) == 0;
    if (!found || H5Lexists(file, group, H5P_DEFAULT) <= 0)
        return ss_error(SS_ERR_FORMAT, "weights %s: layer %s (%s of %s) is missing", path, group, c->name,
                        ss_model_kind_name(m->kind));
    hid_t g = H5Gopen2(file, group, H5P_DEFAULT);
    if (g < 0) return ss_error(SS_ERR_FORMAT, "weights %s: %s is not a group", path, group);
    char **wn = NULL;
    int nw = 0;
    char what[600];
    snprintf(what, sizeof what, "weights %s, layer %s", path, group);
    ss_status st = ss_h5_read_strings(&wn, &nw, g, "weight_names", what);
    float *kernel = NULL, *bias = NULL;
    if (st == SS_OK && nw != 2)
        st = ss_error(SS_ERR_FORMAT, "%s: weight_names lists %d datasets, expected kernel and bias", what, nw);
    int rk = 0, rb = 0;
    long long dk[4] = {0}, db[4] = {0};
    const long long want_k[4] = {3, 3, c->cin, c->cout}, want_b[1] = {c->cout};
    if (st == SS_OK) st = check_shape(g, wn[0], 4, want_k, what, "kernel", ss_model_kind_name(m->kind));
    if (st == SS_OK) st = check_shape(g, wn[1], 1, want_b, what, "bias", ss_model_kind_name(m->kind));
    if (st == SS_OK) st = ss_h5_read_floats(&kernel, &rk, dk, g, wn[0], what);
    if (st == SS_OK) st = ss_h5_read_floats(&bias, &rb, db, g, wn[1], what);
    if (st == SS_OK && (rk != 4 || dk[0] != 3 || dk[1] != 3 || dk[2] != c->cin || dk[3] != c->cout))
        st = ss_error(SS_ERR_FORMAT, "%s: kernel has shape (%lld,%lld,%lld,%lld), %s needs (3,3,%d,%d)", what,
                      rk > 0 ? dk[0] : 0, rk > 1 ? dk[1] : 0, rk > 2 ? dk[2] : 0, rk > 3 ? dk[3] : 0,
                      ss_model_kind_name(m->kind), c->cin, c->cout);
    if (st == SS_OK && (rb != 1 || db[0] != c->cout))
        st = ss_error(SS_ERR_FORMAT, "%s: bias has %lld values, %s needs %d", what, rb == 1 ? db[0] : -1,
                      ss_model_kind_name(m->kind), c->cout);
    long long bad = -1;
    if (st == SS_OK && (bad = first_nonfinite(kernel, (size_t)c->cout * c->cin * 9)) >= 0)
        st = ss_error(SS_ERR_FORMAT, "%s: kernel holds %g at index %lld", what, kernel[bad], bad);
    if (st == SS_OK && (bad = first_nonfinite(bias, (size_t)c->cout)) >= 0)
        st = ss_error(SS_ERR_FORMAT, "%s: bias holds %g at index %lld", what, bias[bad], bad);
    if (st == SS_OK) {
        float *w = malloc(sizeof(float) * (size_t)c->cout * c->cin * 9);
        if (!w) st = ss_error(SS_ERR_NOMEM, "out of memory for %s", what);
        else {
            /* (kh, kw, in, out) -> (out, in, kh, kw) */
            for (int kh = 0; kh < 3; kh++)
                for (int kw = 0; kw < 3; kw++)
                    for (int i = 0; i < c->cin; i++)
                        for (int o = 0; o < c->cout; o++)
                            w[(((size_t)o * c->cin + i) * 3 + kh) * 3 + kw] =
                                kernel[(((size_t)kh * 3 + kw) * c->cin + i) * c->cout + o];
            m->weight[l] = w;
            m->bias[l] = bias;
            bias = NULL;
        }
    }
    free(kernel);
    free(bias);
    ss_h5_free_strings(wn, nw);
    H5Gclose(g);
    return st;
}

static ss_status load_keras(ss_model *m, const char *path, int n_convs) {
    hid_t file;
    ss_status st = ss_h5_open_read(&file, path);
    if (st != SS_OK) return ss_error(st, "weights: %s", ss_error_message());
    char **names = NULL;
    int n = 0;
    char what[600];
    snprintf(what, sizeof what, "weights %s", path);
    st = ss_h5_read_strings(&names, &n, file, "layer_names", what);
    if (st == SS_OK) {
        m->preproc = SS_PREPROC_CAFFE;
        char **pp = NULL;
        int npp = 0;
        /* present but unreadable, not one string or unknown: an error, never
         * silently the Caffe pre-processing */
        if (H5Aexists(file, "preprocessing") > 0) {
            st = ss_h5_read_strings(&pp, &npp, file, "preprocessing", what);
            if (st == SS_OK && npp != 1)
                st = ss_error(SS_ERR_FORMAT, "%s: attribute 'preprocessing' holds %d strings, expected one", what, npp);
            else if (st == SS_OK && strcmp(pp[0], "torchvision") == 0) m->preproc = SS_PREPROC_TORCHVISION;
            else if (st == SS_OK && strcmp(pp[0], "caffe") != 0)
                st = ss_error(SS_ERR_FORMAT, "%s: unknown preprocessing '%s' (expected caffe or torchvision)", what,
                              pp[0]);
        }
        ss_h5_free_strings(pp, npp);
    }
    for (int l = 0; st == SS_OK && l < n_convs; l++) {
        st = read_conv(m, l, file, names, n, path);
        if (st == SS_OK) m->n_loaded = l + 1;
    }
    ss_h5_free_strings(names, n);
    H5Fclose(file);
    if (st == SS_OK) snprintf(m->weights_desc, sizeof m->weights_desc, "%s", path);
    return st;
}

#if defined(__SANITIZE_ADDRESS__)
#define SS_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SS_ASAN 1
#endif
#endif
#ifndef SS_ASAN
#define SS_ASAN 0
#endif

/* Limits of the trial read in a child process (the time limit can be set
 * with STYLESWEEP_WEIGHTS_TRIAL=SECONDS). */
enum { TRIAL_SECONDS = 60 };
#define TRIAL_MEMORY (4ULL << 30)

/* Reads the weights file in a child process first (no MPI, no threads used
 * there; it leaves with _exit, flushing nothing it inherited), with a time
 * limit and, unless built with AddressSanitizer, a memory limit. Returns
 * SS_OK when the child read it, the child's error when it failed cleanly,
 * or an error naming the signal or the time limit. */
static ss_status trial_read(const ss_model *m, const char *path, int n_convs, int seconds) {
    int fds[2];
    if (pipe(fds) != 0) return SS_OK; /* no trial: the read itself runs */
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return SS_OK;
    }
    if (pid == 0) {
        close(fds[0]);
        signal(SIGINT, SIG_IGN); /* the parent stops on a signal; the child just ends */
        signal(SIGTERM, SIG_IGN);
        signal(SIGUSR2, SIG_IGN);
        signal(SIGALRM, SIG_DFL);
        /* a crash ends the child as the kernel ends it, whatever handlers
         * the parent installed */
        const int crashes[] = {SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL};
        for (size_t i = 0; i < sizeof crashes / sizeof crashes[0]; i++) signal(crashes[i], SIG_DFL);
        /* all the child has to say goes through the pipe: what a crashing
         * libhdf5 prints (or a sanitizer's report of it) is not for the user */
        int devnull = open("/dev/null", O_WRONLY);
        if (devnull >= 0) dup2(devnull, STDERR_FILENO);
#if !SS_ASAN /* AddressSanitizer reserves terabytes of address space */
        /* TRIAL_MEMORY more than the process maps already (a GPU context alone maps a lot) */
        unsigned long long vm_kb = 0;
        FILE *f = fopen("/proc/self/status", "r");
        char line[256];
        while (f && fgets(line, sizeof line, f))
            if (sscanf(line, "VmSize: %llu", &vm_kb) == 1) break;
        if (f) fclose(f);
        struct rlimit lim = {vm_kb * 1024 + TRIAL_MEMORY, vm_kb * 1024 + TRIAL_MEMORY};
        if (vm_kb) setrlimit(RLIMIT_AS, &lim);
#endif
        alarm((unsigned)seconds);
        ss_model copy = *m;
        for (int l = 0; l < SS_MODEL_MAX_CONVS; l++) copy.weight[l] = copy.bias[l] = NULL;
        ss_status st = load_keras(&copy, path, n_convs);
        if (st != SS_OK) {
            const char *msg = ss_error_message();
            ssize_t wr = write(fds[1], msg, strlen(msg));
            (void)wr;
        }
        _exit(st == SS_OK ? 0 : 10 + (int)st);
    }
    close(fds[1]);
    char msg[1024];
    size_t n = 0;
    for (;;) {
        ssize_t r = read(fds[0], msg + n, sizeof msg - 1 - n);
        if (r > 0 && (n += (size_t)r) < sizeof msg - 1) continue;
        if (r < 0 && errno == EINTR) continue;
        break;
    }
    msg[n] = '\0';
    close(fds[0]);
    int ws = 0;
    while (waitpid(pid, &ws, 0) < 0 && errno == EINTR) {
    }
    if (WIFEXITED(ws) && WEXITSTATUS(ws) == 0) return SS_OK;
    if (WIFEXITED(ws) && WEXITSTATUS(ws) > 10 && n > 0) return ss_error((ss_status)(WEXITSTATUS(ws) - 10), "%s", msg);
    if (WIFSIGNALED(ws) && WTERMSIG(ws) == SIGALRM)
        return ss_error(SS_ERR_FORMAT, "weights %s: reading it did not finish in %d s (a damaged file hangs libhdf5)",
                        path, seconds);
    if (WIFSIGNALED(ws))
        return ss_error(SS_ERR_FORMAT, "weights %s: reading it crashed libhdf5 (signal %d, %s): the file is damaged",
                        path, WTERMSIG(ws), strsignal(WTERMSIG(ws)));
    return ss_error(SS_ERR_FORMAT, "weights %s: reading it failed (exit status %d; out of memory?)", path,
                    WIFEXITED(ws) ? WEXITSTATUS(ws) : -1);
}

ss_status ss_model_load_keras(ss_model *m, const char *path, int n_convs) {
    /* STYLESWEEP_WEIGHTS_TRIAL=0 skips the trial read (the fuzzing harness
     * does: it wants the library's crashes in its own process); a positive
     * number of seconds replaces the time limit (scripts/fuzz.sh: under the
     * fuzzer's own) */
    const char *trial = getenv("STYLESWEEP_WEIGHTS_TRIAL");
    int seconds = TRIAL_SECONDS;
    if (trial && *trial) {
        char *end = NULL;
        long v = strtol(trial, &end, 10);
        if (*end == '\0' && v >= 0 && v <= 3600) seconds = (int)v;
    }
    ss_status st = seconds == 0 ? SS_OK : trial_read(m, path, n_convs, seconds);
    if (st != SS_OK) return st;
    return load_keras(m, path, n_convs);
}
