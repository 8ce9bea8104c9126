/* archive_read.c - the archive's reading calls (see archive.h): run info,
 * the manifest, metrics, style-layer values, snapshots and the final image.
 * Every read checks the shape HDF5 reports before it allocates. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archive_int.h"

int ss_archive_run_count(const ss_archive *a) { return a ? a->n_runs : 0; }

ss_status ss_archive_find_run(const ss_archive *a, const char *id, int *index) {
    *index = -1;
    for (int k = 0; a && id && k < a->n_runs; k++)
        if (!strcmp(a->ids[k], id)) {
            *index = k;
            return SS_OK;
        }
    return ss_error(SS_ERR_ARG, "archive %s has no run '%s'", a ? a->path : "?", id ? id : "");
}

const char *ss_archive_status_name(ss_run_status s) {
    return (int)s >= 0 && (int)s < SS_RUN_STATUS_COUNT ? ar_status_names[s] : "unknown";
}

ss_status ss_archive_status_parse(const char *name, ss_run_status *status) {
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

ss_status ss_archive_get_run(ss_archive *a, int i, ss_archive_run_info *out) {
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

ss_status ss_archive_manifest(ss_archive *a, char **sweep, char **text, char **sha) {
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
        herr_t e = H5Dread(d, t, H5S_ALL, H5S_ALL, ss_h5_dxpl(), &v);
        if (e >= 0) {
            *text = ar_strdup(v);
            hid_t sp = H5Screate(H5S_SCALAR);
            H5Dvlen_reclaim(t, sp, H5P_DEFAULT, &v);
            H5Sclose(sp);
        }
        H5Tclose(t);
        H5Dclose(d);
        if (e < 0) return ss_error(SS_ERR_FORMAT, "%s: cannot read /manifest", a->path);
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

ss_status ss_archive_read_metrics(ss_archive *a, int i, ss_archive_metrics **rows, int *n) {
    *rows = NULL;
    *n = 0;
    hid_t g;
    SS_TRY(ar_open_run(&g, a, i, __func__));
    ss_status st = SS_OK;
    long long m = ss_h5_first_extent(g, "metrics");
    if (m < 0) {
        st = ss_error(SS_ERR_FORMAT, "%s: metrics of run '%s' are unreadable", a->path, a->ids[i]);
    } else if (m > 0) {
        *rows = calloc((size_t)m, sizeof **rows);
        hid_t d = H5Dopen2(g, "metrics", H5P_DEFAULT);
        hid_t mt = ar_metrics_type(0);
        if (!*rows || d < 0 || H5Dread(d, mt, H5S_ALL, H5S_ALL, ss_h5_dxpl(), *rows) < 0) {
            free(*rows);
            *rows = NULL;
            st = ss_error(SS_ERR_FORMAT, "%s: cannot read the metrics of run '%s'", a->path, a->ids[i]);
        } else {
            *n = (int)m;
        }
        H5Tclose(mt);
        if (d >= 0) H5Dclose(d);
    }
    H5Gclose(g);
    return st;
}

void ss_archive_free_strings(char **s, int n) { ss_h5_free_strings(s, n); }

ss_status ss_archive_read_style_layers(ss_archive *a, int i, double **values, int *n_rows, int *n_layers,
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
            if (st == SS_OK) {
                size_t cells = (size_t)(dims[0] * dims[1]);
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

/* Reads a uint8 dataset of rank r into a new buffer with its dims. */
static ss_status read_u8(hid_t g, const char *name, int r, hsize_t *dims, unsigned char **out, const char *what) {
    *out = NULL;
    hid_t d = H5Dopen2(g, name, H5P_DEFAULT);
    hid_t sp = d < 0 ? -1 : H5Dget_space(d);
    ss_status st = SS_OK;
    if (sp < 0 || H5Sget_simple_extent_ndims(sp) != r || H5Sget_simple_extent_dims(sp, dims, NULL) < 0 ||
        dims[r - 1] != 3) {
        st = ss_error(SS_ERR_FORMAT, "%s: %s is not a uint8 image array", what, name);
    } else {
        size_t n = 1;
        for (int k = 0; k < r; k++) n *= dims[k];
        *out = malloc(n ? n : 1);
        if (!*out || (n > 0 && H5Dread(d, H5T_NATIVE_UCHAR, H5S_ALL, H5S_ALL, ss_h5_dxpl(), *out) < 0)) {
            free(*out);
            *out = NULL;
            st = ss_error(SS_ERR_FORMAT, "%s: cannot read %s", what, name);
        }
    }
    if (sp >= 0) H5Sclose(sp);
    if (d >= 0) H5Dclose(d);
    return st;
}

ss_status ss_archive_read_snapshots(ss_archive *a, int i, unsigned char **rgb, int **iterations, int *n, int *w,
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
        long long ni = st == SS_OK ? ss_h5_first_extent(g, "snapshot_iterations") : 0;
        if (st == SS_OK && ni < 0) st = ss_error(SS_ERR_FORMAT, "%s: snapshot_iterations unreadable", what);
        long long m = (long long)dims[0] < ni ? (long long)dims[0] : ni;
        if (st == SS_OK && m > 0) {
            int *its = malloc((size_t)ni * sizeof *its);
            hid_t d = H5Dopen2(g, "snapshot_iterations", H5P_DEFAULT);
            if (!its || d < 0 || H5Dread(d, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, ss_h5_dxpl(), its) < 0) {
                free(its);
                st = ss_error(SS_ERR_FORMAT, "%s: cannot read snapshot_iterations", what);
            } else {
                *iterations = its;
            }
            if (d >= 0) H5Dclose(d);
        }
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

ss_status ss_archive_read_final(ss_archive *a, int i, unsigned char **rgb, int *w, int *h, int *found) {
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
