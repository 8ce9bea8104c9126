/* archive_read.c - the archive's reading calls (see archive.h): run info,
 * the manifest, metrics, style-layer values, snapshots and the final image.
 * Every read checks the shape HDF5 reports before it allocates. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archive_int.h"

int ss_archive_run_count(const ss_archive *a) { return a ? a->n_runs : 0; }

static unsigned long id_hash(const char *s) {
    unsigned long h = 1469598103934665603ul; /* FNV-1a */
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ul;
    return h;
}

void ar_hash_drop(ss_archive *a) {
    free(a->hash);
    a->hash = NULL;
    a->hash_cap = 0;
}

void ar_hash_add(ss_archive *a, int k) {
    if (!a->hash) return;
    if (a->hash_cap < 2 * (k + 1)) { /* too full: rebuilt, twice as large, at the next find */
        ar_hash_drop(a);
        return;
    }
    unsigned long mask = (unsigned long)(a->hash_cap - 1), h = id_hash(a->ids[k]) & mask;
    while (a->hash[h]) h = (h + 1) & mask;
    a->hash[h] = k + 1;
}

/* Builds the id hash of a (NULL when out of memory: then find_run searches). */
static void hash_build(ss_archive *a) {
    int cap = 16;
    while (cap < 2 * a->n_runs && cap < (1 << 30)) cap *= 2;
    a->hash = calloc((size_t)cap, sizeof *a->hash);
    if (!a->hash) return;
    a->hash_cap = cap;
    for (int k = 0; k < a->n_runs; k++) {
        unsigned long h = id_hash(a->ids[k]) & (unsigned long)(cap - 1);
        while (a->hash[h]) h = (h + 1) & (unsigned long)(cap - 1);
        a->hash[h] = k + 1;
    }
}

ss_status ss_archive_find_run(const ss_archive *ca, const char *id, int *index) {
    *index = -1;
    ss_archive *a = (ss_archive *)ca; /* the hash is a cache: built on first use */
    if (a && id && a->n_runs > 0 && (!a->hash || a->hash_cap < 2 * a->n_runs)) {
        ar_hash_drop(a);
        hash_build(a);
    }
    if (a && id && a->hash) {
        unsigned long mask = (unsigned long)(a->hash_cap - 1);
        for (unsigned long h = id_hash(id) & mask; a->hash[h]; h = (h + 1) & mask)
            if (!strcmp(a->ids[a->hash[h] - 1], id)) {
                *index = a->hash[h] - 1;
                return SS_OK;
            }
    } else {
        for (int k = 0; a && id && k < a->n_runs; k++)
            if (!strcmp(a->ids[k], id)) {
                *index = k;
                return SS_OK;
            }
    }
    return ss_error(SS_ERR_ARG, "archive %s has no run '%s'", a ? a->path : "?", id ? id : "");
}

const char *ss_archive_run_id(const ss_archive *a, int i) { return a && i >= 0 && i < a->n_runs ? a->ids[i] : NULL; }

ss_status ss_archive_runs_to_append(ss_archive *a, long long *n) {
    *n = 0;
    if (!a || a->file < 0) return ss_error(SS_ERR_ARG, "%s: no archive", __func__);
    if (H5Aexists(a->file, "runs_to_append") <= 0) return SS_OK;
    if (ss_h5_attr_get_ll(a->file, "runs_to_append", n) != 0 || *n < 0) {
        *n = 0;
        return ss_error(SS_ERR_FORMAT, "%s: damaged archive (unreadable attribute runs_to_append)", a->path);
    }
    return SS_OK;
}

ss_status ss_archive_read_statuses(ss_run_status *out, ss_archive *a) {
    if (!a) return ss_error(SS_ERR_ARG, "%s: no archive", __func__);
    if (a->n_runs == 0) return SS_OK;
    signed char *st = malloc((size_t)a->n_runs);
    SS_ALLOC_CHECK(st);
    hid_t mt = H5Tcreate(H5T_COMPOUND, 1);
    hid_t et = H5Tenum_create(H5T_NATIVE_SCHAR);
    for (int k = 0; k < SS_RUN_STATUS_COUNT; k++) {
        signed char v = (signed char)k;
        H5Tenum_insert(et, ar_status_names[k], &v);
    }
    herr_t e = mt < 0 || et < 0 ? -1 : H5Tinsert(mt, "status", 0, et);
    hid_t d = e < 0 ? -1 : H5Dopen2(a->file, "/run_table", H5P_DEFAULT);
    hid_t fs = d < 0 ? -1 : H5Dget_space(d);
    hsize_t n = 0;
    if (fs < 0 || H5Sget_simple_extent_ndims(fs) != 1 || H5Sget_simple_extent_dims(fs, &n, NULL) < 0 ||
        n < (hsize_t)a->n_runs)
        e = -1;
    hsize_t off = 0, cnt = (hsize_t)a->n_runs;
    hid_t ms = H5Screate_simple(1, &cnt, NULL);
    if (e >= 0) e = H5Sselect_hyperslab(fs, H5S_SELECT_SET, &off, NULL, &cnt, NULL);
    if (e >= 0) e = H5Dread(d, mt, ms, fs, ss_h5_dxpl(), st);
    if (ms >= 0) H5Sclose(ms);
    if (fs >= 0) H5Sclose(fs);
    if (d >= 0) H5Dclose(d);
    if (et >= 0) H5Tclose(et);
    if (mt >= 0) H5Tclose(mt);
    for (int k = 0; e >= 0 && k < a->n_runs; k++)
        out[k] = st[k] >= 0 && st[k] < SS_RUN_STATUS_COUNT ? (ss_run_status)st[k] : SS_RUN_PENDING;
    free(st);
    if (e < 0) return ss_error(SS_ERR_FORMAT, "%s: cannot read the statuses of /run_table", a->path);
    return SS_OK;
}

const char *ss_archive_status_name(ss_run_status s) {
    return (int)s >= 0 && (int)s < SS_RUN_STATUS_COUNT ? ar_status_names[s] : "unknown";
}

ss_status ss_archive_status_parse(ss_run_status *status, const char *name) {
    for (int k = 0; name && k < SS_RUN_STATUS_COUNT; k++)
        if (!strcmp(name, ar_status_names[k])) {
            *status = (ss_run_status)k;
            return SS_OK;
        }
    return ss_error(SS_ERR_ARG, "'%s' is not a run status (pending, running, done, failed, interrupted)",
                    name ? name : "");
}

void ss_archive_run_info_free(ss_archive_run_info *r) {
    if (!r) return;
    free(r->id);
    free(r->error);
    free(r->host);
    free(r->backend);
    free(r->device);
    free(r->weights);
    free(r->params);
    memset(r, 0, sizeof *r);
}

static ss_status get_run_once(ss_archive *a, int i, ss_archive_run_info *out) {
    memset(out, 0, sizeof *out);
    SS_TRY(ar_check_run(a, i, __func__));
    table_row row;
    SS_TRY(ar_table_read(a, i, &row));
    out->index = i;
    out->id = ar_strdup(a->ids[i]);
    out->status = row.status >= 0 && row.status < SS_RUN_STATUS_COUNT ? (ss_run_status)row.status : SS_RUN_PENDING;
    out->attempts = row.attempts;
    out->iterations_done = row.iterations_done;
    out->final_loss = row.final_loss;
    out->start_time = row.start_time;
    out->end_time = row.end_time;
    out->rank = row.rank;
    out->error = ar_strdup(row.error);
    out->host = ar_strdup(row.host);
    out->backend = ar_strdup(row.backend);
    out->device = ar_strdup(row.device);
    ar_table_row_reclaim(&row);
    out->checkpoint_iteration = -1;
    if (!out->id || !out->error || !out->host || !out->backend || !out->device)
        return ss_error(SS_ERR_NOMEM, "out of memory reading run %d of %s", i, a->path);
    hid_t g;
    SS_TRY(ar_open_run(&g, a, i, __func__));
    ss_status st = ss_h5_attr_get_str(g, "params", &out->params, a->path);
    if (st == SS_OK) st = ss_h5_attr_get_str(g, "weights", &out->weights, a->path);
    long long nm = ss_h5_first_extent(g, "metrics"), ns = ss_h5_first_extent(g, "snapshot_iterations");
    long long ns_img = ss_h5_first_extent(g, "snapshots");
    if (st == SS_OK && (nm < 0 || ns < 0 || ns_img < 0))
        st = ss_error(SS_ERR_FORMAT, "%s: run '%s' has unreadable metrics or snapshots", a->path, a->ids[i]);
    out->n_metrics = (int)nm;
    out->n_snapshots = (int)(ns < ns_img ? ns : ns_img);
    out->has_final = ss_h5_exists(g, "final");
    if (ss_h5_exists(g, "checkpoint")) {
        hid_t ck = H5Gopen2(g, "checkpoint", H5P_DEFAULT);
        slot_info si[2];
        ar_read_slot_info(ck, 0, &si[0]);
        ar_read_slot_info(ck, 1, &si[1]);
        long long best = -1;
        for (int s = 0; s < 2; s++)
            if (si[s].complete && si[s].generation > best) {
                best = si[s].generation;
                out->checkpoint_iteration = (int)si[s].iteration;
            }
        if (ck >= 0) H5Gclose(ck);
    }
    H5Gclose(g);
    return st;
}

/* Reads all of dataset `name` of g (exactly `rank` dimensions, into dims)
 * as mem_type elements of elem_size bytes into a new buffer *out (NULL when
 * empty), after checking its size against what the file holds. */
static ss_status read_whole(void **out, hsize_t *dims, hid_t g, const char *name, int rank, hid_t mem_type,
                            size_t elem_size, const char *what) {
    *out = NULL;
    hid_t d = H5Dopen2(g, name, H5P_DEFAULT);
    if (d < 0) return ss_error(SS_ERR_FORMAT, "%s: cannot open %s%s", what, name, ss_h5_error_tail());
    size_t bytes = 0;
    ss_status st = ss_h5_dataset_shape(dims, &bytes, d, rank, elem_size, what, name);
    if (st == SS_OK && bytes > 0) {
        *out = malloc(bytes);
        if (!*out) st = ss_error(SS_ERR_NOMEM, "%s: out of memory reading %s (%zu bytes)", what, name, bytes);
        else if (H5Dread(d, mem_type, H5S_ALL, H5S_ALL, ss_h5_dxpl(), *out) < 0) {
            st = ss_error(SS_ERR_FORMAT, "%s: cannot read %s%s", what, name, ss_h5_error_tail());
            free(*out);
            *out = NULL;
        }
    }
    H5Dclose(d);
    return st;
}

static ss_status manifest_once(ss_archive *a, char **sweep, char **text, char **sha) {
    if (sweep) *sweep = NULL;
    if (text) *text = NULL;
    if (sha) *sha = NULL;
    if (!a) return ss_error(SS_ERR_ARG, "%s: no archive", __func__);
    if (sweep) SS_TRY(ss_h5_attr_get_str(a->file, "sweep", sweep, a->path));
    if (sha) SS_TRY(ss_h5_attr_get_str(a->file, "manifest_sha256", sha, a->path));
    if (text) {
        hid_t d = ss_h5_exists(a->file, "manifest") ? H5Dopen2(a->file, "/manifest", H5P_DEFAULT) : -1;
        if (d < 0) return ss_error(SS_ERR_FORMAT, "%s: /manifest is missing", a->path);
        hid_t t = ss_h5_vlen_str_type();
        char *v = NULL;
        /* one variable-length string: anything else would be read past v */
        hid_t fsp = H5Dget_space(d), ft = H5Dget_type(d);
        herr_t e = fsp < 0 || ft < 0 || H5Sget_simple_extent_npoints(fsp) != 1 || H5Tget_class(ft) != H5T_STRING ||
                           H5Tis_variable_str(ft) <= 0
                       ? -2
                       : H5Dread(d, t, H5S_ALL, H5S_ALL, ss_h5_dxpl(), &v);
        const char *tail = e == -1 ? ss_h5_error_tail() : "";
        if (e >= 0) *text = ar_strdup(v);
        if (e != -2 && v) { /* a failed read may have allocated it too */
            hid_t sp = H5Screate(H5S_SCALAR);
            H5Dvlen_reclaim(t, sp, H5P_DEFAULT, &v);
            H5Sclose(sp);
        }
        if (ft >= 0) H5Tclose(ft);
        if (fsp >= 0) H5Sclose(fsp);
        H5Tclose(t);
        H5Dclose(d);
        if (e == -2) return ss_error(SS_ERR_FORMAT, "%s: /manifest is not one string (damaged archive)", a->path);
        if (e < 0) return ss_error(SS_ERR_FORMAT, "%s: cannot read /manifest%s", a->path, tail);
        SS_ALLOC_CHECK(*text);
    }
    return SS_OK;
}

ss_status ss_archive_overrides(ss_archive *a, char **overrides) {
    *overrides = NULL;
    hid_t d = ss_h5_exists(a->file, "manifest") ? H5Dopen2(a->file, "/manifest", H5P_DEFAULT) : -1;
    if (d < 0) return ss_error(SS_ERR_FORMAT, "%s: /manifest is missing", a->path);
    ss_status st = H5Aexists(d, "overrides") > 0 ? ss_h5_attr_get_str(d, "overrides", overrides, a->path) : SS_OK;
    H5Dclose(d);
    if (st == SS_OK && !*overrides) *overrides = ar_strdup("");
    if (st == SS_OK && !*overrides) return ss_error(SS_ERR_NOMEM, "out of memory");
    return st;
}

static ss_status read_metrics_once(ss_archive *a, int i, ss_archive_metrics **rows, int *n) {
    *rows = NULL;
    *n = 0;
    hid_t g;
    SS_TRY(ar_open_run(&g, a, i, __func__));
    ss_status st = SS_OK;
    if (ss_h5_exists(g, "metrics")) {
        char what[AR_ID_MAX + 4200];
        snprintf(what, sizeof what, "%s: run '%s'", a->path, a->ids[i]);
        hsize_t dims[1] = {0};
        hid_t mt = ar_metrics_type(0);
        st = read_whole((void **)rows, dims, g, "metrics", 1, mt, sizeof **rows, what);
        H5Tclose(mt);
        if (st == SS_OK && dims[0] > INT32_MAX) st = ss_error(SS_ERR_FORMAT, "%s: too many metrics rows", what);
        if (st == SS_OK) *n = (int)dims[0];
        else {
            free(*rows);
            *rows = NULL;
        }
    }
    H5Gclose(g);
    return st;
}

void ss_archive_strings_free(char **s, int n) { ss_h5_free_strings(s, n); }

static ss_status read_style_layers_once(ss_archive *a, int i, double **values, int *n_rows, int *n_layers,
                                        char ***names) {
    *values = NULL;
    *n_rows = *n_layers = 0;
    *names = NULL;
    hid_t g;
    SS_TRY(ar_open_run(&g, a, i, __func__));
    ss_status st = SS_OK;
    if (ss_h5_exists(g, "style_layers")) {
        hid_t d = H5Dopen2(g, "style_layers", H5P_DEFAULT);
        hid_t sp = d < 0 ? -1 : H5Dget_space(d);
        hsize_t dims[2] = {0, 0};
        if (sp < 0 || H5Sget_simple_extent_ndims(sp) != 2 || H5Sget_simple_extent_dims(sp, dims, NULL) < 0) {
            st = ss_error(SS_ERR_FORMAT, "%s: style_layers of run '%s' is not 2-D", a->path, a->ids[i]);
        } else {
            int nn = 0;
            st = ss_h5_read_strings(names, &nn, d, "layer_names", a->path);
            if (st == SS_OK && (hsize_t)nn != dims[1]) {
                st = ss_error(SS_ERR_FORMAT, "%s: run '%s' has %d layer names for %llu columns", a->path, a->ids[i], nn,
                              (unsigned long long)dims[1]);
            }
            size_t bytes = 0;
            if (st == SS_OK) st = ss_h5_dataset_shape(dims, &bytes, d, 2, sizeof **values, a->path, "style_layers");
            if (st == SS_OK && (dims[0] > INT32_MAX || dims[1] > INT32_MAX))
                st = ss_error(SS_ERR_FORMAT, "%s: style_layers of run '%s' is too large", a->path, a->ids[i]);
            if (st == SS_OK) {
                size_t cells = bytes / sizeof **values;
                *values = malloc((cells ? cells : 1) * sizeof **values);
                if (!*values ||
                    (cells > 0 && H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, ss_h5_dxpl(), *values) < 0))
                    st = ss_error(SS_ERR_FORMAT, "%s: cannot read style_layers of run '%s'", a->path, a->ids[i]);
            }
            if (st == SS_OK) {
                *n_rows = (int)dims[0];
                *n_layers = (int)dims[1];
            } else {
                ss_h5_free_strings(*names, nn);
                *names = NULL;
                free(*values);
                *values = NULL;
            }
        }
        if (sp >= 0) H5Sclose(sp);
        if (d >= 0) H5Dclose(d);
    }
    H5Gclose(g);
    return st;
}

/* Reads a uint8 image dataset of rank r (last dimension 3) into a new buffer with its dims. */
static ss_status read_u8(hid_t g, const char *name, int r, hsize_t *dims, unsigned char **out, const char *what) {
    ss_status st = read_whole((void **)out, dims, g, name, r, H5T_NATIVE_UCHAR, 1, what);
    if (st == SS_OK && dims[r - 1] != 3) {
        free(*out);
        *out = NULL;
        st = ss_error(SS_ERR_FORMAT, "%s: %s is not an RGB image array (last dimension %llu)", what, name,
                      (unsigned long long)dims[r - 1]);
    }
    return st;
}

static ss_status read_snapshots_once(ss_archive *a, int i, unsigned char **rgb, int **iterations, int *n, int *w,
                                     int *h) {
    *rgb = NULL;
    *iterations = NULL;
    *n = *w = *h = 0;
    hid_t g;
    SS_TRY(ar_open_run(&g, a, i, __func__));
    ss_status st = SS_OK;
    if (ss_h5_exists(g, "snapshots")) {
        char what[AR_ID_MAX + 4200];
        snprintf(what, sizeof what, "%s: run '%s'", a->path, a->ids[i]);
        hsize_t dims[4] = {0};
        st = read_u8(g, "snapshots", 4, dims, rgb, what);
        hsize_t ni = 0;
        if (st == SS_OK && ss_h5_exists(g, "snapshot_iterations"))
            st = read_whole((void **)iterations, &ni, g, "snapshot_iterations", 1, H5T_NATIVE_INT, sizeof(int), what);
        long long m = dims[0] < ni ? (long long)dims[0] : (long long)ni;
        if (st == SS_OK && (m > INT32_MAX || dims[1] > 65536 || dims[2] > 65536))
            st = ss_error(SS_ERR_FORMAT, "%s: snapshots of an impossible size", what);
        if (st == SS_OK && m > 0) {
            *n = (int)m;
            *h = (int)dims[1];
            *w = (int)dims[2];
        } else {
            free(*rgb);
            *rgb = NULL;
            free(*iterations);
            *iterations = NULL;
        }
    }
    H5Gclose(g);
    return st;
}

static ss_status read_final_once(ss_archive *a, int i, unsigned char **rgb, int *w, int *h, int *found) {
    *rgb = NULL;
    *w = *h = *found = 0;
    hid_t g;
    SS_TRY(ar_open_run(&g, a, i, __func__));
    ss_status st = SS_OK;
    if (ss_h5_exists(g, "final")) {
        char what[AR_ID_MAX + 4200];
        snprintf(what, sizeof what, "%s: run '%s'", a->path, a->ids[i]);
        hsize_t dims[3] = {0};
        st = read_u8(g, "final", 3, dims, rgb, what);
        if (st == SS_OK) {
            *h = (int)dims[0];
            *w = (int)dims[1];
            *found = 1;
        }
    }
    H5Gclose(g);
    return st;
}

/* ---- the public readers: a read that races a flush of the writer is retried (ar_reader_retry) ---- */

ss_status ss_archive_get_run(ss_archive *a, int i, ss_archive_run_info *out) {
    ss_status st;
    for (int attempt = 0;; attempt++) {
        st = get_run_once(a, i, out);
        if (st == SS_OK || !ar_reader_retry(a, st, attempt)) return st;
        ss_archive_run_info_free(out);
    }
}

ss_status ss_archive_manifest(ss_archive *a, char **sweep, char **text, char **sha) {
    ss_status st;
    for (int attempt = 0;; attempt++) {
        st = manifest_once(a, sweep, text, sha);
        if (st == SS_OK || !ar_reader_retry(a, st, attempt)) return st;
        if (sweep) free(*sweep);
        if (text) free(*text);
        if (sha) free(*sha);
    }
}

ss_status ss_archive_read_metrics(ss_archive *a, int i, ss_archive_metrics **rows, int *n) {
    ss_status st;
    for (int attempt = 0;; attempt++) {
        st = read_metrics_once(a, i, rows, n);
        if (st == SS_OK || !ar_reader_retry(a, st, attempt)) return st;
        free(*rows);
    }
}

ss_status ss_archive_read_style_layers(ss_archive *a, int i, double **values, int *n_rows, int *n_layers,
                                       char ***names) {
    ss_status st;
    for (int attempt = 0;; attempt++) {
        st = read_style_layers_once(a, i, values, n_rows, n_layers, names);
        if (st == SS_OK || !ar_reader_retry(a, st, attempt)) return st;
        free(*values);
        ss_h5_free_strings(*names, *n_layers);
    }
}

ss_status ss_archive_read_snapshots(ss_archive *a, int i, unsigned char **rgb, int **iterations, int *n, int *w,
                                    int *h) {
    ss_status st;
    for (int attempt = 0;; attempt++) {
        st = read_snapshots_once(a, i, rgb, iterations, n, w, h);
        if (st == SS_OK || !ar_reader_retry(a, st, attempt)) return st;
        free(*rgb);
        free(*iterations);
    }
}

ss_status ss_archive_read_final(ss_archive *a, int i, unsigned char **rgb, int *w, int *h, int *found) {
    ss_status st;
    for (int attempt = 0;; attempt++) {
        st = read_final_once(a, i, rgb, w, h, found);
        if (st == SS_OK || !ar_reader_retry(a, st, attempt)) return st;
        free(*rgb);
    }
}
