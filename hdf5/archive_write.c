/* archive_write.c - the archive's writing calls (see archive.h): runs added
 * and reset, status, run info, metrics, snapshots and the final image. Each
 * call ends with a flush (SCHEMA.md, "Crashes"). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archive_int.h"
#include "journal.h"

ss_status ss_archive_add_runs(ss_archive *a, int n, const char *const *ids, const char *const *params_yaml) {
    if (n < 0 || (n > 0 && !ids)) return ss_error(SS_ERR_ARG, "%s: bad run list", __func__);
    SS_TRY(ar_check_writing(a, __func__, (unsigned long long)n * 8192));
    ss_status st = ar_add_runs_unflushed(a, n, ids, params_yaml);
    ss_status fs = ar_flush(a);
    return st != SS_OK ? st : fs;
}

ss_status ss_archive_append_runs(ss_archive *a, int n, const char *const *ids, const char *const *params_yaml,
                                 long long to_append) {
    if (n < 0 || (n > 0 && !ids) || to_append < 0) return ss_error(SS_ERR_ARG, "%s: bad run list", __func__);
    SS_TRY(ar_check_writing(a, __func__, (unsigned long long)n * 8192));
    ss_status st = n > 0 ? ar_add_runs_unflushed(a, n, ids, params_yaml) : SS_OK;
    if (st == SS_OK) st = ar_set_to_append(a, to_append);
    if (st == SS_OK) ar_test_kill_point("append");
    ss_status fs = ar_flush(a);
    return st != SS_OK ? st : fs;
}

ss_status ss_archive_set_manifest(ss_archive *a, const char *text, const char *sha) {
    SS_TRY(ar_check_writing(a, __func__, 0));
    if (ss_h5_exists(a->file, "manifest")) {
        hid_t h = ss_h5_exists(a->file, "manifest_history")
                      ? H5Gopen2(a->file, "/manifest_history", H5P_DEFAULT)
                      : H5Gcreate2(a->file, "/manifest_history", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        if (h < 0) return ss_error(SS_ERR_IO, "%s: cannot create /manifest_history", a->path);
        H5G_info_t info;
        herr_t e = H5Gget_info(h, &info);
        char name[32];
        snprintf(name, sizeof name, "%llu", (unsigned long long)(e < 0 ? 0 : info.nlinks));
        if (e >= 0) e = H5Lmove(a->file, "/manifest", h, name, H5P_DEFAULT, H5P_DEFAULT);
        if (e >= 0) {
            hid_t d = H5Dopen2(h, name, H5P_DEFAULT);
            e = d < 0 ? -1 : ss_h5_attr_set_double(d, "replaced_time", ar_now());
            if (d >= 0) H5Dclose(d);
        }
        H5Gclose(h);
        if (e < 0) return ss_error(SS_ERR_IO, "%s: cannot keep the previous manifest", a->path);
    }
    ss_status st = ar_write_manifest(a, text, sha);
    ss_status fs = ar_flush(a);
    return st != SS_OK ? st : fs;
}

ss_status ss_archive_set_overrides(ss_archive *a, const char *overrides, const char *effective_defaults) {
    SS_TRY(ar_check_writing(a, __func__, 0));
    hid_t d = ss_h5_exists(a->file, "manifest") ? H5Dopen2(a->file, "/manifest", H5P_DEFAULT) : -1;
    herr_t e = d < 0 ? -1 : ss_h5_attr_set_str(d, "overrides", overrides ? overrides : "");
    if (e >= 0) e = ss_h5_attr_set_str(d, "effective_defaults", effective_defaults ? effective_defaults : "");
    if (d >= 0) H5Dclose(d);
    if (e < 0) return ss_error(SS_ERR_IO, "%s: cannot record the overrides on /manifest", a->path);
    return ar_flush(a);
}

ss_status ss_archive_reset_run(ss_archive *a, int i, const char *params_yaml) {
    SS_TRY(ar_check_writing(a, __func__, 0));
    hid_t g;
    SS_TRY(ar_open_run(&g, a, i, __func__));
    static const char *const drop[] = {"style_layers", "snapshots", "snapshot_iterations", "final", "checkpoint"};
    herr_t e = 0;
    for (size_t k = 0; e >= 0 && k < sizeof drop / sizeof drop[0]; k++)
        if (ss_h5_exists(g, drop[k])) e = H5Ldelete(g, drop[k], H5P_DEFAULT);
    if (e >= 0) e = ss_h5_set_first_extent(g, "metrics", 0);
    double nan = NAN;
    if (e >= 0) e = ss_h5_attr_set_str(g, "params", params_yaml ? params_yaml : "");
    if (e >= 0) e = ss_h5_attr_set_str(g, "status", ar_status_names[SS_RUN_PENDING]);
    if (e >= 0) e = ss_h5_attr_set_str(g, "error", "");
    if (e >= 0) e = ss_h5_attr_set_ll(g, "attempts", 0);
    if (e >= 0) e = ss_h5_attr_set_str(g, "host", "");
    if (e >= 0) e = ss_h5_attr_set_ll(g, "rank", -1);
    if (e >= 0) e = ss_h5_attr_set_str(g, "backend", "");
    if (e >= 0) e = ss_h5_attr_set_str(g, "device", "");
    if (e >= 0) e = ss_h5_attr_set_str(g, "weights", "");
    if (e >= 0) e = ss_h5_attr_set_double(g, "start_time", nan);
    if (e >= 0) e = ss_h5_attr_set_double(g, "end_time", nan);
    H5Gclose(g);
    if (e < 0) return ss_error(SS_ERR_IO, "%s: cannot reset run '%s'", a->path, a->ids[i]);
    table_row row;
    memset(&row, 0, sizeof row);
    row.status = SS_RUN_PENDING;
    row.final_loss = row.start_time = row.end_time = NAN;
    row.rank = -1;
    row.host = row.backend = row.device = row.error = "";
    static const char *const fields[] = {"status",  "attempts", "iterations_done", "final_loss", "host",  "rank",
                                         "backend", "device",   "start_time",      "end_time",   "error", NULL};
    SS_TRY(ar_table_write(a, i, &row, fields));
    /* the space of the removed objects is free from here: flush before anything reuses it */
    return ar_flush(a);
}

ss_status ss_archive_set_status(ss_archive *a, int i, ss_run_status status, const char *error_text) {
    SS_TRY(ar_check_writing(a, __func__, 0));
    SS_TRY(ar_check_run(a, i, __func__));
    if ((int)status < 0 || (int)status >= SS_RUN_STATUS_COUNT)
        return ss_error(SS_ERR_ARG, "%s: invalid status %d", __func__, (int)status);
    table_row row;
    SS_TRY(ar_table_read(a, i, &row));
    int attempts = row.attempts;
    double start = row.start_time, end = row.end_time;
    ar_table_row_reclaim(&row);
    if (status == SS_RUN_RUNNING) {
        attempts++;
        start = ar_now();
        end = NAN;
    } else if (status != SS_RUN_PENDING) {
        end = ar_now();
    }
    memset(&row, 0, sizeof row);
    row.status = (signed char)status;
    row.attempts = attempts;
    row.start_time = start;
    row.end_time = end;
    row.error = (char *)(error_text ? error_text : "");
    static const char *const fields[] = {"status", "attempts", "start_time", "end_time", "error", NULL};
    SS_TRY(ar_table_write(a, i, &row, fields));
    hid_t g;
    SS_TRY(ar_open_run(&g, a, i, __func__));
    herr_t e = ss_h5_attr_set_str(g, "status", ar_status_names[status]);
    if (e >= 0) e = ss_h5_attr_set_str(g, "error", row.error);
    if (e >= 0) e = ss_h5_attr_set_ll(g, "attempts", attempts);
    if (e >= 0) e = ss_h5_attr_set_double(g, "start_time", start);
    if (e >= 0) e = ss_h5_attr_set_double(g, "end_time", end);
    H5Gclose(g);
    if (e < 0) return ss_error(SS_ERR_IO, "%s: cannot write the status of run '%s'", a->path, a->ids[i]);
    /* a run's end is made durable (fdatasync of the journal): a finished run survives a node's crash too */
    if (status == SS_RUN_DONE || status == SS_RUN_FAILED) ssj_sync_next(a->file);
    return ar_flush(a);
}

ss_status ss_archive_set_run_info(ss_archive *a, int i, const char *host, int rank, const char *backend,
                                  const char *device, const char *weights) {
    SS_TRY(ar_check_writing(a, __func__, 0));
    SS_TRY(ar_check_run(a, i, __func__));
    table_row row;
    memset(&row, 0, sizeof row);
    row.host = (char *)(host ? host : "");
    row.rank = rank;
    row.backend = (char *)(backend ? backend : "");
    row.device = (char *)(device ? device : "");
    static const char *const fields[] = {"host", "rank", "backend", "device", NULL};
    SS_TRY(ar_table_write(a, i, &row, fields));
    hid_t g;
    SS_TRY(ar_open_run(&g, a, i, __func__));
    herr_t e = ss_h5_attr_set_str(g, "host", row.host);
    if (e >= 0) e = ss_h5_attr_set_ll(g, "rank", rank);
    if (e >= 0) e = ss_h5_attr_set_str(g, "backend", row.backend);
    if (e >= 0) e = ss_h5_attr_set_str(g, "device", row.device);
    if (e >= 0) e = ss_h5_attr_set_str(g, "weights", weights);
    H5Gclose(g);
    if (e < 0) return ss_error(SS_ERR_IO, "%s: cannot write the run info of run '%s'", a->path, a->ids[i]);
    return ar_flush(a);
}

/* Updates iterations_done and final_loss of row i. */
static ss_status table_progress(ss_archive *a, int i, int iterations_done, double final_loss) {
    table_row row;
    memset(&row, 0, sizeof row);
    row.iterations_done = iterations_done;
    row.final_loss = final_loss;
    static const char *const fields[] = {"iterations_done", "final_loss", NULL};
    return ar_table_write(a, i, &row, fields);
}

ss_status ss_archive_append_metrics(ss_archive *a, int i, const ss_archive_metrics *row, int n_layers,
                                    const double *layer_values, const char *const *layer_names) {
    SS_TRY(ar_check_writing(a, __func__, 0));
    SS_TRY(ar_check_run(a, i, __func__));
    if (!row || n_layers < 0 || (n_layers > 0 && !layer_values))
        return ss_error(SS_ERR_ARG, "%s: bad arguments", __func__);
    hid_t g;
    SS_TRY(ar_open_run(&g, a, i, __func__));
    ss_status st = SS_OK;
    hid_t md = H5Dopen2(g, "metrics", H5P_DEFAULT);
    long long n = ss_h5_first_extent(g, "metrics");
    if (md < 0 || n < 0) {
        st = ss_error(SS_ERR_FORMAT, "%s: metrics of run '%s' are missing", a->path, a->ids[i]);
        goto done;
    }
    if (n_layers > 0) {
        hid_t sd;
        if (!ss_h5_exists(g, "style_layers")) {
            hsize_t dims[2] = {0, (hsize_t)n_layers}, chunk[2] = {AR_METRICS_CHUNK, (hsize_t)n_layers};
            double nan = NAN;
            sd = ss_h5_create_extendible(g, "style_layers", H5T_IEEE_F64LE, 2, dims, chunk, 0, &nan);
            char **names = calloc((size_t)n_layers, sizeof *names);
            char(*buf)[16] = calloc((size_t)n_layers, sizeof *buf);
            herr_t e = (sd < 0 || !names || !buf) ? -1 : 0;
            for (int k = 0; e >= 0 && k < n_layers; k++) {
                snprintf(buf[k], sizeof buf[k], "layer%d", k);
                names[k] = layer_names && layer_names[k] ? (char *)layer_names[k] : buf[k];
            }
            if (e >= 0) e = ss_h5_write_strings(sd, "layer_names", (const char *const *)names, n_layers, 0);
            free(names);
            free(buf);
            if (e < 0) {
                if (sd >= 0) H5Dclose(sd);
                st = ss_error(SS_ERR_IO, "%s: cannot create style_layers of run '%s'", a->path, a->ids[i]);
                goto done;
            }
        } else {
            sd = H5Dopen2(g, "style_layers", H5P_DEFAULT);
        }
        hid_t sp = sd < 0 ? -1 : H5Dget_space(sd);
        hsize_t dims[2] = {0, 0};
        if (sp >= 0) {
            if (H5Sget_simple_extent_ndims(sp) == 2) H5Sget_simple_extent_dims(sp, dims, NULL);
            H5Sclose(sp);
        }
        if (sd < 0 || dims[1] != (hsize_t)n_layers) {
            if (sd >= 0) H5Dclose(sd);
            st = ss_error(SS_ERR_ARG, "%s: run '%s' records %llu style layers, not %d", a->path, a->ids[i],
                          (unsigned long long)dims[1], n_layers);
            goto done;
        }
        /* row k of style_layers is row k of metrics (earlier rows without values stay NaN) */
        dims[0] = (hsize_t)n + 1;
        herr_t e = H5Dset_extent(sd, dims);
        if (e >= 0) e = ss_h5_write_rows(sd, H5T_NATIVE_DOUBLE, (hsize_t)n, 1, layer_values);
        H5Dclose(sd);
        if (e < 0) {
            st = ss_error(SS_ERR_IO, "%s: cannot append to style_layers of run '%s'", a->path, a->ids[i]);
            goto done;
        }
    }
    hid_t mt = ar_metrics_type(0);
    herr_t e = ss_h5_append_row(md, mt, row);
    H5Tclose(mt);
    ar_test_kill_point("metrics");
    if (e < 0) {
        st = ss_error(SS_ERR_IO, "%s: cannot append to the metrics of run '%s'", a->path, a->ids[i]);
        goto done;
    }
    st = table_progress(a, i, row->iteration, row->loss);
done:
    if (md >= 0) H5Dclose(md);
    H5Gclose(g);
    if (st != SS_OK) return st;
    return ar_flush(a);
}

ss_status ss_archive_truncate_metrics(ss_archive *a, int i, int n) {
    SS_TRY(ar_check_writing(a, __func__, 0));
    hid_t g;
    SS_TRY(ar_open_run(&g, a, i, __func__));
    ss_status st = SS_OK;
    long long have = ss_h5_first_extent(g, "metrics");
    long long have_layers = ss_h5_first_extent(g, "style_layers");
    if (have < 0 || have_layers < 0) {
        st = ss_error(SS_ERR_FORMAT, "%s: metrics of run '%s' are unreadable", a->path, a->ids[i]);
    } else if (n < 0 || n > have) {
        st = ss_error(SS_ERR_ARG, "%s: run '%s' has %lld metrics rows, cannot keep %d", __func__, a->ids[i], have, n);
    } else {
        ss_archive_metrics last = {0};
        herr_t e = 0;
        if (n > 0) {
            hid_t d = H5Dopen2(g, "metrics", H5P_DEFAULT);
            hid_t mt = ar_metrics_type(0);
            hid_t fs = H5Dget_space(d);
            hsize_t off = (hsize_t)n - 1, cnt = 1;
            e = d < 0 ? -1 : H5Sselect_hyperslab(fs, H5S_SELECT_SET, &off, NULL, &cnt, NULL);
            hid_t ms = H5Screate_simple(1, &cnt, NULL);
            if (e >= 0) e = H5Dread(d, mt, ms, fs, ss_h5_dxpl(), &last);
            H5Sclose(ms);
            H5Sclose(fs);
            H5Tclose(mt);
            if (d >= 0) H5Dclose(d);
        }
        if (e >= 0) e = ss_h5_set_first_extent(g, "metrics", (hsize_t)n);
        if (e >= 0 && have_layers > n) e = ss_h5_set_first_extent(g, "style_layers", (hsize_t)n);
        if (e < 0) st = ss_error(SS_ERR_IO, "%s: cannot truncate the metrics of run '%s'", a->path, a->ids[i]);
        else st = table_progress(a, i, n > 0 ? last.iteration : 0, n > 0 ? last.loss : NAN);
    }
    H5Gclose(g);
    if (st != SS_OK) return st;
    return ar_flush(a);
}

/* Checks an image argument. */
static ss_status check_image(const unsigned char *rgb, int w, int h, const char *what) {
    if (!rgb || w < 1 || h < 1 || w > 65536 || h > 65536)
        return ss_error(SS_ERR_ARG, "%s: bad image (%d x %d)", what, w, h);
    return SS_OK;
}

ss_status ss_archive_add_snapshot(ss_archive *a, int i, int iteration, const unsigned char *rgb, int w, int h) {
    SS_TRY(ar_check_run(a, i, __func__));
    SS_TRY(check_image(rgb, w, h, __func__));
    SS_TRY(ar_check_writing(a, __func__, 3ull * (unsigned)w * (unsigned)h));
    hid_t g;
    SS_TRY(ar_open_run(&g, a, i, __func__));
    ss_status st = SS_OK;
    hid_t d = -1, di = -1;
    if (!ss_h5_exists(g, "snapshots")) {
        hsize_t dims[4] = {0, (hsize_t)h, (hsize_t)w, 3}, chunk[4] = {1, (hsize_t)h, (hsize_t)w, 3};
        hsize_t zero = 0, ichunk = 64;
        d = ss_h5_create_extendible(g, "snapshots", H5T_STD_U8LE, 4, dims, chunk, AR_SNAPSHOT_DEFLATE, NULL);
        di = ss_h5_create_extendible(g, "snapshot_iterations", H5T_STD_I32LE, 1, &zero, &ichunk, 0, NULL);
    } else {
        d = H5Dopen2(g, "snapshots", H5P_DEFAULT);
        di = H5Dopen2(g, "snapshot_iterations", H5P_DEFAULT);
    }
    if (d < 0 || di < 0) {
        st = ss_error(SS_ERR_IO, "%s: cannot create the snapshots of run '%s'", a->path, a->ids[i]);
        goto done;
    }
    hid_t sp = H5Dget_space(d);
    hsize_t dims[4] = {0};
    H5Sget_simple_extent_dims(sp, dims, NULL);
    H5Sclose(sp);
    if (dims[1] != (hsize_t)h || dims[2] != (hsize_t)w) {
        st = ss_error(SS_ERR_ARG, "%s: run '%s' has %llu x %llu snapshots, not %d x %d", a->path, a->ids[i],
                      (unsigned long long)dims[2], (unsigned long long)dims[1], w, h);
        goto done;
    }
    /* the image first: its chunk lands in new space; the iteration makes it count */
    if (ss_h5_append_row(d, H5T_NATIVE_UCHAR, rgb) < 0 || ss_h5_append_row(di, H5T_NATIVE_INT, &iteration) < 0)
        st = ss_error(SS_ERR_IO, "%s: cannot append a snapshot to run '%s'", a->path, a->ids[i]);
done:
    if (d >= 0) H5Dclose(d);
    if (di >= 0) H5Dclose(di);
    H5Gclose(g);
    if (st != SS_OK) return st;
    return ar_flush(a);
}

ss_status ss_archive_truncate_snapshots(ss_archive *a, int i, int max_iteration) {
    SS_TRY(ar_check_writing(a, __func__, 0));
    hid_t g;
    SS_TRY(ar_open_run(&g, a, i, __func__));
    ss_status st = SS_OK;
    int *its = NULL;
    long long ni = ss_h5_first_extent(g, "snapshot_iterations"), keep = 0;
    if (ni < 0) st = ss_error(SS_ERR_FORMAT, "%s: snapshots of run '%s' are unreadable", a->path, a->ids[i]);
    if (st == SS_OK && ni > 0) {
        hid_t d = H5Dopen2(g, "snapshot_iterations", H5P_DEFAULT);
        hsize_t dims[1] = {0};
        size_t bytes = 0;
        if (d < 0) st = ss_error(SS_ERR_FORMAT, "%s: snapshots of run '%s' are unreadable", a->path, a->ids[i]);
        else st = ss_h5_dataset_shape(dims, &bytes, d, 1, sizeof *its, a->path, "snapshot_iterations");
        if (st == SS_OK && !(its = malloc(bytes ? bytes : 1))) st = ss_error(SS_ERR_NOMEM, "out of memory");
        if (st == SS_OK && H5Dread(d, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, ss_h5_dxpl(), its) < 0)
            st = ss_error(SS_ERR_FORMAT, "%s: cannot read the snapshot iterations of run '%s'%s", a->path, a->ids[i],
                          ss_h5_error_tail());
        if (d >= 0) H5Dclose(d);
        while (st == SS_OK && keep < ni && its[keep] <= max_iteration) keep++;
        if (st == SS_OK && keep < ni &&
            (ss_h5_set_first_extent(g, "snapshots", (hsize_t)keep) < 0 ||
             ss_h5_set_first_extent(g, "snapshot_iterations", (hsize_t)keep) < 0))
            st = ss_error(SS_ERR_IO, "%s: cannot truncate the snapshots of run '%s'", a->path, a->ids[i]);
    }
    free(its);
    H5Gclose(g);
    if (st != SS_OK) return st;
    return ar_flush(a);
}

ss_status ss_archive_set_final(ss_archive *a, int i, const unsigned char *rgb, int w, int h) {
    SS_TRY(ar_check_run(a, i, __func__));
    SS_TRY(check_image(rgb, w, h, __func__));
    SS_TRY(ar_check_writing(a, __func__, 3ull * (unsigned)w * (unsigned)h));
    hid_t g;
    SS_TRY(ar_open_run(&g, a, i, __func__));
    ss_status st = SS_OK;
    if (ss_h5_exists(g, "final")) {
        /* free the old image and flush before its space could be reused */
        if (H5Ldelete(g, "final", H5P_DEFAULT) < 0)
            st = ss_error(SS_ERR_IO, "%s: cannot replace the final image of run '%s'", a->path, a->ids[i]);
        else st = ar_flush(a);
    }
    if (st == SS_OK) {
        hsize_t dims[3] = {(hsize_t)h, (hsize_t)w, 3};
        hid_t sp = H5Screate_simple(3, dims, NULL);
        hid_t pl = H5Pcreate(H5P_DATASET_CREATE);
        H5Pset_chunk(pl, 3, dims);
        H5Pset_deflate(pl, AR_SNAPSHOT_DEFLATE);
        hid_t d = H5Dcreate2(g, "final", H5T_STD_U8LE, sp, H5P_DEFAULT, pl, H5P_DEFAULT);
        herr_t e = d < 0 ? -1 : H5Dwrite(d, H5T_NATIVE_UCHAR, H5S_ALL, H5S_ALL, ss_h5_dxpl(), rgb);
        if (d >= 0) H5Dclose(d);
        H5Pclose(pl);
        H5Sclose(sp);
        if (e < 0) st = ss_error(SS_ERR_IO, "%s: cannot write the final image of run '%s'", a->path, a->ids[i]);
        ar_test_kill_point("final");
    }
    H5Gclose(g);
    if (st != SS_OK) return st;
    return ar_flush(a);
}
