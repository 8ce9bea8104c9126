/* archive_repair.c - `stylesweep repair`: checks an archive after a crash
 * and brings it back to a state --resume continues (see archive.h,
 * ss_archive_repair, and SCHEMA.md, "Crashes"):
 *  1. its journal is rolled forward (opening it for writing does that);
 *  2. every run is read back (row, attributes, metrics, snapshots, final
 *     image of a done run, checkpoint) and groups without a table row
 *     (the leftovers of an append cut short) are removed;
 *  3. when a run cannot be read, a leftover cannot be removed or HDF5
 *     cannot open the file at all, a new archive is built beside it from
 *     what survives: the manifest (and its history, the overrides) and
 *     every run that reads back whole, copied object by object; the runs
 *     lost are named, and --resume appends and runs them again from the
 *     manifest. The damaged file is kept as ARCHIVE.damaged-TIME (with its
 *     journal), never deleted. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "archive_int.h"
#include "journal.h"

void ss_archive_repair_report_free(ss_archive_repair_report *r) {
    free(r->lost);
    free(r->kept_as);
    memset(r, 0, sizeof *r);
}

/* Notes run id as lost in r (the first ids, comma-separated). */
static void note_lost(ss_archive_repair_report *r, const char *id) {
    r->n_lost++;
    size_t have = r->lost ? strlen(r->lost) : 0, add = strlen(id) + 2;
    if (have > 2000) return;
    char *p = realloc(r->lost, have + add + 1);
    if (!p) return;
    snprintf(p + have, add + 1, "%s%s", have ? ", " : "", id);
    r->lost = p;
}

/* Reads everything of run i back: SS_OK when it all reads (a checkpoint
 * that fails its validity rule is fine: --resume restarts the run). */
static ss_status verify_run(ss_archive *a, int i) {
    ss_archive_run_info info = {0};
    ss_status st = ss_archive_get_run(a, i, &info);
    ss_run_status status = info.status;
    ss_archive_run_info_free(&info);
    ss_archive_metrics *rows = NULL;
    int n = 0, w = 0, h = 0, found = 0;
    if (st == SS_OK) st = ss_archive_read_metrics(a, i, &rows, &n);
    free(rows);
    unsigned char *rgb = NULL;
    int *its = NULL;
    if (st == SS_OK) st = ss_archive_read_snapshots(a, i, &rgb, &its, &n, &w, &h);
    free(rgb);
    free(its);
    rgb = NULL;
    if (st == SS_OK) st = ss_archive_read_final(a, i, &rgb, &w, &h, &found);
    free(rgb);
    if (st == SS_OK && status == SS_RUN_DONE && !found)
        st = ss_error(SS_ERR_FORMAT, "%s: run '%s' is done without its final image", a->path, a->ids[i]);
    ss_archive_checkpoint cp;
    ss_archive_checkpoint_found cf = SS_CHECKPOINT_NONE;
    if (st == SS_OK) st = ss_archive_read_checkpoint(a, i, &cp, &cf);
    if (cf == SS_CHECKPOINT_VALID) ss_archive_checkpoint_free(&cp);
    return st;
}

/* Removes the groups under /runs that have no table row (1 when all went;
 * 0 when one could not be removed: the file needs rebuilding). */
static int remove_leftovers(ss_archive *a, ss_archive_repair_report *r) {
    hid_t runs = H5Gopen2(a->file, "/runs", H5P_DEFAULT);
    H5G_info_t gi;
    if (runs < 0 || H5Gget_info(runs, &gi) < 0) {
        if (runs >= 0) H5Gclose(runs);
        return 0;
    }
    int ok = 1;
    for (hsize_t k = gi.nlinks; k-- > 0 && ok;) { /* from the end: removing keeps the earlier positions */
        char name[AR_ID_MAX + 2];
        int j;
        ssize_t len = H5Lget_name_by_idx(runs, ".", H5_INDEX_NAME, H5_ITER_INC, k, name, sizeof name, H5P_DEFAULT);
        if (len < 0 || len > AR_ID_MAX) ok = 0;
        else if (ss_archive_find_run(a, name, &j) != SS_OK) {
            if (H5Ldelete(runs, name, H5P_DEFAULT) < 0) ok = 0;
            else r->n_leftover++;
        }
    }
    H5Gclose(runs);
    return ok && ar_flush(a) == SS_OK;
}

/* Step 2 on an archive open for writing: 1 when it is whole (leftovers
 * removed), 0 when it needs rebuilding. */
static int check_in_place(ss_archive *a, ss_archive_repair_report *r) {
    r->n_runs = a->n_runs;
    int whole = 1;
    for (int i = 0; i < a->n_runs; i++)
        if (verify_run(a, i) != SS_OK) whole = 0;
    return whole && remove_leftovers(a, r);
}

/* The readable rows of the old archive `old` (file open, path set): ids,
 * and for each whether its row read; fills old->ids / n_runs. */
static ss_status read_old_rows(ss_archive *old, table_row **rows, int **row_ok) {
    *rows = NULL;
    *row_ok = NULL;
    hid_t d = H5Dopen2(old->file, "/run_table", H5P_DEFAULT);
    hid_t sp = d < 0 ? -1 : H5Dget_space(d);
    hsize_t n = 0;
    if (sp >= 0 && H5Sget_simple_extent_ndims(sp) == 1) H5Sget_simple_extent_dims(sp, &n, NULL);
    if (sp >= 0) H5Sclose(sp);
    if (d >= 0) H5Dclose(d);
    if (n > 10000000) n = 0;
    *rows = calloc(n + 1, sizeof **rows);
    *row_ok = calloc(n + 1, sizeof **row_ok);
    old->ids = calloc(n + 1, sizeof *old->ids);
    if (!*rows || !*row_ok || !old->ids) return ss_error(SS_ERR_NOMEM, "out of memory");
    old->n_runs = (int)n;
    for (int k = 0; k < (int)n; k++) {
        (*row_ok)[k] = ar_table_read(old, k, &(*rows)[k]) == SS_OK && (*rows)[k].id && (*rows)[k].id[0] &&
                       strlen((*rows)[k].id) <= AR_ID_MAX && !strchr((*rows)[k].id, '/');
        old->ids[k] = strdup((*row_ok)[k] ? (*rows)[k].id : "");
        if (!old->ids[k]) return ss_error(SS_ERR_NOMEM, "out of memory");
    }
    return SS_OK;
}

/* ---- copying objects between files (H5Ocopy crashes on variable-length
 * string attributes in dense storage in HDF5 1.10, so attribute by
 * attribute and dataset by dataset) ---- */

static herr_t copy_attr(hid_t src, const char *name, const H5A_info_t *info, void *dst_p) {
    (void)info;
    hid_t dst = *(hid_t *)dst_p;
    hid_t a = H5Aopen(src, name, H5P_DEFAULT);
    hid_t t = a < 0 ? -1 : H5Aget_type(a), sp = a < 0 ? -1 : H5Aget_space(a);
    hssize_t n = sp < 0 ? -1 : H5Sget_simple_extent_npoints(sp);
    size_t size = t < 0 ? 0 : H5Tget_size(t);
    void *buf = n < 0 || !size ? NULL : calloc((size_t)(n ? n : 1), size);
    herr_t e = buf ? H5Aread(a, t, buf) : -1;
    hid_t b = e < 0 ? -1 : H5Acreate2(dst, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
    if (b >= 0) e = H5Awrite(b, t, buf);
    else e = -1;
    if (buf && e >= 0 && H5Tdetect_class(t, H5T_VLEN) > 0) H5Dvlen_reclaim(t, sp, H5P_DEFAULT, buf);
    else if (buf && H5Tget_class(t) == H5T_STRING && H5Tis_variable_str(t) > 0)
        H5Dvlen_reclaim(t, sp, H5P_DEFAULT, buf);
    free(buf);
    if (b >= 0) H5Aclose(b);
    if (sp >= 0) H5Sclose(sp);
    if (t >= 0) H5Tclose(t);
    if (a >= 0) H5Aclose(a);
    return e < 0 ? -1 : 0;
}

static herr_t copy_attrs(hid_t src, hid_t dst) {
    hsize_t at = 0;
    return H5Aiterate2(src, H5_INDEX_NAME, H5_ITER_INC, &at, copy_attr, &dst);
}

/* Copies dataset `name` of src into dst (same type, shape, layout and
 * filters; data read whole and written back), with its attributes. */
static herr_t copy_dataset(hid_t src, const char *name, hid_t dst) {
    hid_t d = H5Dopen2(src, name, H5P_DEFAULT);
    hid_t t = d < 0 ? -1 : H5Dget_type(d), sp = d < 0 ? -1 : H5Dget_space(d);
    hid_t pl = d < 0 ? -1 : H5Dget_create_plist(d);
    hssize_t n = sp < 0 ? -1 : H5Sget_simple_extent_npoints(sp);
    size_t size = t < 0 ? 0 : H5Tget_size(t);
    int vlen = t >= 0 && (H5Tdetect_class(t, H5T_VLEN) > 0 || H5Tis_variable_str(t) > 0);
    void *buf = n < 0 || !size || vlen ? NULL : malloc((size_t)(n ? n : 1) * size);
    herr_t e = !buf ? -1 : n ? H5Dread(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) : 0;
    hid_t c = e < 0 ? -1 : H5Dcreate2(dst, name, t, sp, H5P_DEFAULT, pl, H5P_DEFAULT);
    if (c < 0) e = -1;
    if (e >= 0 && n) e = H5Dwrite(c, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
    if (e >= 0) e = copy_attrs(d, c);
    free(buf);
    if (c >= 0) H5Dclose(c);
    if (pl >= 0) H5Pclose(pl);
    if (sp >= 0) H5Sclose(sp);
    if (t >= 0) H5Tclose(t);
    if (d >= 0) H5Dclose(d);
    return e;
}

static herr_t copy_group(hid_t src, const char *name, hid_t dst);

static herr_t copy_member(hid_t g, const char *name, const H5L_info_t *info, void *dst_p) {
    hid_t dst = *(hid_t *)dst_p;
    H5O_info_t oi;
    if (info->type != H5L_TYPE_HARD || H5Oget_info_by_name(g, name, &oi, H5P_DEFAULT) < 0) return -1;
    if (oi.type == H5O_TYPE_GROUP) return copy_group(g, name, dst);
    if (oi.type == H5O_TYPE_DATASET) return copy_dataset(g, name, dst);
    return -1;
}

/* Copies group `name` of src, with everything in it, into dst. */
static herr_t copy_group(hid_t src, const char *name, hid_t dst) {
    hid_t g = H5Gopen2(src, name, H5P_DEFAULT);
    hid_t c = g < 0 ? -1 : H5Gcreate2(dst, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    herr_t e = c < 0 ? -1 : copy_attrs(g, c);
    hsize_t at = 0;
    if (e >= 0) e = H5Literate(g, H5_INDEX_NAME, H5_ITER_INC, &at, copy_member, &c);
    if (c >= 0) H5Gclose(c);
    if (g >= 0) H5Gclose(g);
    return e < 0 ? -1 : 0;
}

/* Copies run k of old (verified) into the new archive b as its next run:
 * its group is copied into /repair-scratch first, then replaces the fresh
 * group that adding the run made. */
static ss_status copy_run(ss_archive *b, ss_archive *old, int k, table_row *row) {
    const char *id = old->ids[k];
    hid_t scratch = ss_h5_exists(b->file, "repair-scratch")
                        ? H5Gopen2(b->file, "/repair-scratch", H5P_DEFAULT)
                        : H5Gcreate2(b->file, "/repair-scratch", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    hid_t runs = H5Gopen2(old->file, "/runs", H5P_DEFAULT);
    herr_t e = runs < 0 || scratch < 0 ? -1 : copy_group(runs, id, scratch);
    if (runs >= 0) H5Gclose(runs);
    hid_t g = e < 0 ? -1 : H5Gopen2(scratch, id, H5P_DEFAULT);
    char *params = NULL;
    ss_status st = g < 0 ? ss_error(SS_ERR_FORMAT, "cannot copy run '%s'%s", id, ss_h5_error_tail())
                         : ss_h5_attr_get_str(g, "params", &params, old->path);
    if (st == SS_OK) st = ar_add_runs_unflushed(b, 1, &id, (const char *const *)&params);
    free(params);
    int idx = b->n_runs - 1;
    char dst[AR_ID_MAX + 8];
    snprintf(dst, sizeof dst, "/runs/%s", id);
    if (st == SS_OK) e = ss_h5_attr_set_ll(g, "index", idx);
    if (g >= 0) H5Gclose(g);
    if (st == SS_OK && e >= 0) e = H5Ldelete(b->file, dst, H5P_DEFAULT);
    if (st == SS_OK && e >= 0) e = H5Lmove(scratch, id, b->file, dst, H5P_DEFAULT, H5P_DEFAULT);
    if (st == SS_OK && e < 0) st = ss_error(SS_ERR_IO, "%s: cannot place run '%s'", b->path, id);
    if (st == SS_OK) st = ar_table_write(b, idx, row, NULL);
    if (st != SS_OK && scratch >= 0 && ss_h5_exists(scratch, id)) H5Ldelete(scratch, id, H5P_DEFAULT);
    if (scratch >= 0) H5Gclose(scratch);
    return st;
}

/* The manifest's text, hash and sweep name of old (each "" when unreadable). */
static void old_manifest(hid_t file, char **sweep, char **text, char **sha) {
    *sweep = *text = *sha = NULL;
    ss_h5_attr_get_str(file, "sweep", sweep, "");
    ss_h5_attr_get_str(file, "manifest_sha256", sha, "");
    hid_t d = ss_h5_exists(file, "manifest") ? H5Dopen2(file, "/manifest", H5P_DEFAULT) : -1;
    hid_t t = ss_h5_vlen_str_type();
    char *v = NULL;
    if (d >= 0 && H5Dread(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, &v) >= 0 && v) {
        *text = strdup(v);
        H5free_memory(v);
    }
    if (d >= 0) H5Dclose(d);
    H5Tclose(t);
    if (!*sweep) *sweep = strdup("");
    if (!*text) *text = strdup("");
    if (!*sha) *sha = strdup("");
}

/* Copies the manifest's history and overrides of old into b (what fails is left out). */
static void copy_manifest_extras(ss_archive *b, hid_t old) {
    if (ss_h5_exists(old, "manifest_history") && copy_group(old, "manifest_history", b->file) < 0 &&
        ss_h5_exists(b->file, "manifest_history"))
        H5Ldelete(b->file, "/manifest_history", H5P_DEFAULT);
    hid_t d = ss_h5_exists(old, "manifest") ? H5Dopen2(old, "/manifest", H5P_DEFAULT) : -1;
    char *ov = NULL, *eff = NULL;
    if (d >= 0 && H5Aexists(d, "overrides") > 0 && ss_h5_attr_get_str(d, "overrides", &ov, "") == SS_OK &&
        ss_h5_attr_get_str(d, "effective_defaults", &eff, "") == SS_OK)
        ss_archive_set_overrides(b, ov, eff);
    free(ov);
    free(eff);
    if (d >= 0) H5Dclose(d);
}

/* Step 3: builds tmp from what old (path) holds. */
static ss_status rebuild(const char *path, const char *tmp, ss_archive_repair_report *r) {
    ss_archive old;
    memset(&old, 0, sizeof old);
    old.lock_fd = -1;
    old.path = (char *)path;
    hid_t fapl = ar_fapl(0);
    old.file = H5Fopen(path, H5F_ACC_RDONLY, fapl);
    H5Pclose(fapl);
    r->opened = old.file >= 0;
    char *sweep = NULL, *text = NULL, *sha = NULL;
    if (old.file >= 0) old_manifest(old.file, &sweep, &text, &sha);
    ss_archive *b = NULL;
    ss_status st = ss_archive_create(&b, tmp, sweep ? sweep : "", text ? text : "", sha ? sha : "", 0, NULL, NULL);
    free(sweep);
    free(text);
    free(sha);
    table_row *rows = NULL;
    int *row_ok = NULL;
    long long to_append = 0;
    if (st == SS_OK && old.file >= 0) {
        copy_manifest_extras(b, old.file);
        ss_h5_attr_get_ll(old.file, "runs_to_append", &to_append);
        st = read_old_rows(&old, &rows, &row_ok);
        r->n_runs = old.n_runs;
    }
    for (int k = 0; st == SS_OK && k < old.n_runs; k++) {
        if (!row_ok[k] || verify_run(&old, k) != SS_OK || copy_run(b, &old, k, &rows[k]) != SS_OK) {
            note_lost(r, row_ok[k] ? old.ids[k] : "(a row that cannot be read)");
            continue;
        }
        if (k % 256 == 255) st = ar_flush(b);
    }
    if (st == SS_OK && ss_h5_exists(b->file, "repair-scratch") &&
        H5Ldelete(b->file, "/repair-scratch", H5P_DEFAULT) < 0)
        st = ss_error(SS_ERR_IO, "%s: cannot remove /repair-scratch", tmp);
    if (st == SS_OK) st = ar_set_to_append(b, to_append + r->n_lost);
    ss_status cs = b ? ss_archive_close(b) : SS_OK;
    if (st == SS_OK) st = cs;
    for (int k = 0; rows && k < old.n_runs; k++)
        if (row_ok[k]) ar_table_row_reclaim(&rows[k]);
    free(rows);
    free(row_ok);
    for (int k = 0; old.ids && k < old.n_runs; k++) free(old.ids[k]);
    free(old.ids);
    if (old.file >= 0) H5Fclose(old.file);
    return st;
}

/* Moves the damaged archive (and its journal) aside and the rebuilt one into place. */
static ss_status swap_in(const char *path, const char *tmp, ss_archive_repair_report *r) {
    char aside[4096], stamp[32];
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
    snprintf(aside, sizeof aside, "%s.damaged-%s", path, stamp);
    if (rename(path, aside) != 0)
        return ss_error(SS_ERR_IO, "cannot move %s aside to %s: %s", path, aside, strerror(errno));
    r->kept_as = strdup(aside);
    char *j = ssj_journal_path(path), *ja = ssj_journal_path(aside);
    if (j && ja && access(j, F_OK) == 0) rename(j, ja);
    free(j);
    free(ja);
    if (rename(tmp, path) != 0) return ss_error(SS_ERR_IO, "cannot move %s to %s: %s", tmp, path, strerror(errno));
    return SS_OK;
}

ss_status ss_archive_repair(const char *path, ss_archive_repair_report *r) {
    memset(r, 0, sizeof *r);
    struct stat sb;
    if (!path || stat(path, &sb) != 0) return ss_error(SS_ERR_IO, "cannot open archive %s: %s", path, strerror(errno));
    if (ssj_inspect(path, &r->journal_batches, &r->journal_pages, &r->journal_torn) != 0)
        return ss_error(SS_ERR_IO, "cannot read the journal of %s: %s", path, strerror(errno));
    ss_archive *a = NULL;
    ss_status st = ss_archive_open(&a, path, 1); /* rolls the journal forward */
    if (st == SS_OK) {
        r->opened = 1;
        int whole = check_in_place(a, r);
        ss_status cs = ss_archive_close(a);
        if (whole && cs == SS_OK) return SS_OK;
        r->n_leftover = 0;
    } else {
        const char *m = ss_error_message();
        int no_journal = r->journal_batches == 0;
        if (strstr(m, "being written by another") || strstr(m, "read-only") || strstr(m, "disk holding") ||
            strstr(m, "newer than this stylesweep") || strstr(m, "but not a stylesweep archive") ||
            (no_journal && strstr(m, "is not an HDF5 file")))
            return st; /* not ours to rebuild, or not now: say why */
    }
    /* the file needs rebuilding from what survives */
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.repair-%ld", path, (long)getpid());
    r->rebuilt = 1;
    r->n_runs = 0;
    st = rebuild(path, tmp, r);
    if (st != SS_OK) {
        unlink(tmp);
        return st;
    }
    return swap_in(path, tmp, r);
}
