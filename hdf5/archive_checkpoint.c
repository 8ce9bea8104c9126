/* archive_checkpoint.c - the two checkpoint slots of a run (see archive.h
 * and SCHEMA.md, "Checkpoints"): the write order that keeps the previous
 * checkpoint valid at every moment, and the validity rule when reading. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archive_int.h"

uint32_t ar_crc32(uint32_t crc, const unsigned char *p, size_t n) {
    /* slicing by 8: eight tables, eight bytes per step (the journal checks
     * every update with it) */
    static uint32_t t[8][256];
    static int ready;
    if (!ready) {
        for (uint32_t k = 0; k < 256; k++) {
            uint32_t c = k;
            for (int j = 0; j < 8; j++) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            t[0][k] = c;
        }
        for (uint32_t k = 0; k < 256; k++)
            for (int j = 1; j < 8; j++) t[j][k] = (t[j - 1][k] >> 8) ^ t[0][t[j - 1][k] & 0xFFu];
        ready = 1;
    }
    crc = ~crc;
    for (; n >= 8; n -= 8, p += 8) {
        uint32_t lo = crc ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
        crc = t[7][lo & 0xFFu] ^ t[6][(lo >> 8) & 0xFFu] ^ t[5][(lo >> 16) & 0xFFu] ^ t[4][lo >> 24] ^ t[3][p[4]] ^
              t[2][p[5]] ^ t[1][p[6]] ^ t[0][p[7]];
    }
    for (; n > 0; n--, p++) crc = t[0][(crc ^ *p) & 0xFFu] ^ (crc >> 8);
    return ~crc;
}

/* CRC-32 of a checkpoint: the image as float32 little-endian bytes, then the state. */
static uint32_t checkpoint_crc(const float *image, size_t n_floats, const unsigned char *state, size_t state_size) {
    uint32_t crc = 0;
    const uint16_t probe = 1;
    if (*(const unsigned char *)&probe == 1) {
        crc = ar_crc32(crc, (const unsigned char *)image, n_floats * sizeof(float));
    } else {
        for (size_t i = 0; i < n_floats; i++) {
            unsigned char b[4], *src = (unsigned char *)&image[i];
            for (int j = 0; j < 4; j++) b[j] = src[3 - j];
            crc = ar_crc32(crc, b, 4);
        }
    }
    return ar_crc32(crc, state, state_size);
}

const char *const ar_slots[2] = {"a", "b"};

void ar_read_slot_info(hid_t ck, int s, slot_info *si) {
    memset(si, 0, sizeof *si);
    si->generation = -1;
    si->iteration = -1;
    if (ck < 0 || !ss_h5_exists(ck, ar_slots[s])) return;
    hid_t g = H5Gopen2(ck, ar_slots[s], H5P_DEFAULT);
    if (g < 0) return;
    si->exists = 1;
    long long c = 0;
    si->complete = ss_h5_attr_get_ll(g, "complete", &c) == 0 && c == 1;
    if (ss_h5_attr_get_ll(g, "generation", &si->generation) != 0) si->generation = -1;
    if (ss_h5_attr_get_ll(g, "iteration", &si->iteration) != 0) si->iteration = -1;
    H5Gclose(g);
}

/* Writes a 1-D or 3-D dataset of fixed shape with contiguous storage in
 * place, recreating it when the shape differs. */
static herr_t write_fixed(hid_t g, const char *name, hid_t file_type, hid_t mem_type, int rank, const hsize_t *dims,
                          const void *buf) {
    hid_t d = -1;
    if (ss_h5_exists(g, name)) {
        d = H5Dopen2(g, name, H5P_DEFAULT);
        hid_t sp = d < 0 ? -1 : H5Dget_space(d);
        hsize_t have[4] = {0};
        int same = sp >= 0 && H5Sget_simple_extent_ndims(sp) == rank;
        if (same) {
            H5Sget_simple_extent_dims(sp, have, NULL);
            for (int k = 0; k < rank; k++) same = same && have[k] == dims[k];
        }
        if (sp >= 0) H5Sclose(sp);
        if (!same) {
            if (d >= 0) H5Dclose(d);
            d = -1;
            if (H5Ldelete(g, name, H5P_DEFAULT) < 0) return -1;
        }
    }
    if (d < 0) {
        hid_t sp = H5Screate_simple(rank, dims, NULL);
        hid_t pl = H5Pcreate(H5P_DATASET_CREATE);
        H5Pset_alloc_time(pl, H5D_ALLOC_TIME_EARLY);
        d = H5Dcreate2(g, name, file_type, sp, H5P_DEFAULT, pl, H5P_DEFAULT);
        H5Pclose(pl);
        H5Sclose(sp);
        if (d < 0) return -1;
    }
    size_t n = 1;
    for (int k = 0; k < rank; k++) n *= dims[k];
    herr_t e = n == 0 ? 0 : H5Dwrite(d, mem_type, H5S_ALL, H5S_ALL, ss_h5_dxpl(), buf);
    H5Dclose(d);
    return e;
}

ss_status ss_archive_write_checkpoint(ss_archive *a, int i, ss_archive_checkpoint *c) {
    SS_TRY(ar_check_writable(a, __func__));
    SS_TRY(ar_check_run(a, i, __func__));
    if (!c || !c->image || c->w < 1 || c->h < 1 || c->iteration < 0 || c->n_metrics < 0 ||
        (c->state_size > 0 && !c->state))
        return ss_error(SS_ERR_ARG, "%s: bad checkpoint", __func__);
    SS_TRY(ar_ensure_space(a->path, a->path, 12ull * (unsigned)c->w * (unsigned)c->h + c->state_size, 0));
    hid_t g;
    SS_TRY(ar_open_run(&g, a, i, __func__));
    ss_status st = SS_OK;
    hid_t ck = ss_h5_exists(g, "checkpoint") ? H5Gopen2(g, "checkpoint", H5P_DEFAULT)
                                             : H5Gcreate2(g, "checkpoint", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    hid_t sg = -1;
    if (ck < 0) {
        st = ss_error(SS_ERR_IO, "%s: cannot create the checkpoint group of run '%s'", a->path, a->ids[i]);
        goto done;
    }
    slot_info si[2];
    ar_read_slot_info(ck, 0, &si[0]);
    ar_read_slot_info(ck, 1, &si[1]);
    /* the slot to overwrite: a missing one, else an incomplete one, else the older */
    int s;
    if (!si[0].exists) s = 0;
    else if (!si[1].exists) s = 1;
    else if (!si[0].complete) s = 0;
    else if (!si[1].complete) s = 1;
    else s = si[0].generation <= si[1].generation ? 0 : 1;
    long long gen = (si[0].generation > si[1].generation ? si[0].generation : si[1].generation) + 1;
    if (gen < 1) gen = 1;
    /* step 1: the slot says incomplete on disk before any of its data changes */
    sg = si[s].exists ? H5Gopen2(ck, ar_slots[s], H5P_DEFAULT)
                      : H5Gcreate2(ck, ar_slots[s], H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (sg < 0 || ss_h5_attr_set_ll(sg, "complete", 0) < 0) {
        st = ss_error(SS_ERR_IO, "%s: cannot prepare checkpoint slot %s of run '%s'", a->path, ar_slots[s], a->ids[i]);
        goto done;
    }
    SS_TRY_GOTO(st, ar_flush(a), done);
    /* step 2: the data */
    hsize_t idims[3] = {3, (hsize_t)c->h, (hsize_t)c->w}, sdims = (hsize_t)c->state_size;
    size_t nf = (size_t)3 * (size_t)c->h * (size_t)c->w;
    uint32_t crc = checkpoint_crc(c->image, nf, c->state, c->state_size);
    herr_t e = write_fixed(sg, "image", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 3, idims, c->image);
    if (e >= 0) e = write_fixed(sg, "state", H5T_STD_U8LE, H5T_NATIVE_UCHAR, 1, &sdims, c->state);
    /* step 3: the description, then the marker, then a flush */
    ar_test_kill_point("checkpoint");
    if (e >= 0) e = ss_h5_attr_set_ll(sg, "iteration", c->iteration);
    if (e >= 0) e = ss_h5_attr_set_ll(sg, "n_metrics", c->n_metrics);
    if (e >= 0) e = ss_h5_attr_set_ll(sg, "generation", gen);
    if (e >= 0) e = ss_h5_attr_set_num(sg, "crc32", H5T_STD_U32LE, H5T_NATIVE_UINT32, &crc);
    if (e >= 0) e = ss_h5_attr_set_double(sg, "time", ar_now());
    if (e >= 0) e = ss_h5_attr_set_ll(sg, "complete", 1);
    if (e < 0) {
        st = ss_error(SS_ERR_IO, "%s: cannot write the checkpoint of run '%s'%s", a->path, a->ids[i],
                      ss_h5_error_tail());
        goto done;
    }
    c->generation = gen;
done:
    if (sg >= 0) H5Gclose(sg);
    if (ck >= 0) H5Gclose(ck);
    H5Gclose(g);
    if (st != SS_OK) return st;
    return ar_flush(a);
}

void ss_archive_checkpoint_free(ss_archive_checkpoint *c) {
    if (!c) return;
    free(c->image);
    free(c->state);
    memset(c, 0, sizeof *c);
}

/* Reads and verifies slot s into *c; returns 1 when valid, else 0 with why set. */
static int read_slot(hid_t ck, int s, ss_archive_checkpoint *c, char *why, size_t why_size) {
    memset(c, 0, sizeof *c);
    hid_t g = H5Gopen2(ck, ar_slots[s], H5P_DEFAULT);
    if (g < 0) {
        snprintf(why, why_size, "slot %s unreadable", ar_slots[s]);
        return 0;
    }
    int ok = 0;
    long long it = -1, nm = -1, gen = -1, complete = 0;
    uint32_t crc = 0;
    hid_t di = -1, ds = -1, sp = -1;
    if (ss_h5_attr_get_ll(g, "complete", &complete) != 0 || complete != 1) {
        snprintf(why, why_size, "slot %s is incomplete (interrupted while written)", ar_slots[s]);
        goto done;
    }
    if (ss_h5_attr_get_ll(g, "iteration", &it) != 0 || ss_h5_attr_get_ll(g, "n_metrics", &nm) != 0 ||
        ss_h5_attr_get_ll(g, "generation", &gen) != 0 || ss_h5_attr_get_num(g, "crc32", H5T_NATIVE_UINT32, &crc) != 0 ||
        it < 0 || nm < 0 || it > INT32_MAX || nm > INT32_MAX) {
        snprintf(why, why_size, "slot %s lacks its attributes", ar_slots[s]);
        goto done;
    }
    di = ss_h5_exists(g, "image") ? H5Dopen2(g, "image", H5P_DEFAULT) : -1;
    ds = ss_h5_exists(g, "state") ? H5Dopen2(g, "state", H5P_DEFAULT) : -1;
    if (di < 0 || ds < 0) {
        snprintf(why, why_size, "slot %s lacks its image or state", ar_slots[s]);
        goto done;
    }
    hsize_t dims[3] = {0}, sd = 0;
    sp = H5Dget_space(di);
    if (H5Sget_simple_extent_ndims(sp) != 3 || H5Sget_simple_extent_dims(sp, dims, NULL) < 0 || dims[0] != 3 ||
        dims[1] < 1 || dims[2] < 1 || dims[1] > 65536 || dims[2] > 65536) {
        snprintf(why, why_size, "slot %s: image is not (3, H, W)", ar_slots[s]);
        goto done;
    }
    H5Sclose(sp);
    sp = H5Dget_space(ds);
    if (H5Sget_simple_extent_ndims(sp) != 1 || H5Sget_simple_extent_dims(sp, &sd, NULL) < 0) {
        snprintf(why, why_size, "slot %s: state is not 1-D", ar_slots[s]);
        goto done;
    }
    size_t ib = 0, sb = 0;
    hsize_t d3[3], d1[1];
    if (ss_h5_dataset_shape(d3, &ib, di, 3, sizeof(float), "checkpoint", "image") != SS_OK ||
        ss_h5_dataset_shape(d1, &sb, ds, 1, 1, "checkpoint", "state") != SS_OK) {
        snprintf(why, why_size, "slot %s: %s", ar_slots[s], ss_error_message());
        goto done;
    }
    size_t nf = (size_t)(3 * dims[1] * dims[2]);
    c->image = malloc(nf * sizeof(float));
    c->state = malloc(sd ? (size_t)sd : 1);
    if (!c->image || !c->state) {
        snprintf(why, why_size, "out of memory reading slot %s", ar_slots[s]);
        goto done;
    }
    if (H5Dread(di, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, ss_h5_dxpl(), c->image) < 0 ||
        (sd > 0 && H5Dread(ds, H5T_NATIVE_UCHAR, H5S_ALL, H5S_ALL, ss_h5_dxpl(), c->state) < 0)) {
        snprintf(why, why_size, "slot %s: data unreadable", ar_slots[s]);
        goto done;
    }
    if (checkpoint_crc(c->image, nf, c->state, (size_t)sd) != crc) {
        snprintf(why, why_size, "slot %s: checksum mismatch (torn or damaged write)", ar_slots[s]);
        goto done;
    }
    c->iteration = (int)it;
    c->n_metrics = (int)nm;
    c->generation = gen;
    c->h = (int)dims[1];
    c->w = (int)dims[2];
    c->state_size = (size_t)sd;
    ok = 1;
done:
    if (sp >= 0) H5Sclose(sp);
    if (di >= 0) H5Dclose(di);
    if (ds >= 0) H5Dclose(ds);
    H5Gclose(g);
    if (!ok) ss_archive_checkpoint_free(c);
    return ok;
}

ss_status ss_archive_read_checkpoint(ss_archive *a, int i, ss_archive_checkpoint *out,
                                     ss_archive_checkpoint_found *found) {
    memset(out, 0, sizeof *out);
    *found = SS_CHECKPOINT_NONE;
    hid_t g;
    SS_TRY(ar_open_run(&g, a, i, __func__));
    hid_t ck = ss_h5_exists(g, "checkpoint") ? H5Gopen2(g, "checkpoint", H5P_DEFAULT) : -1;
    slot_info si[2];
    ar_read_slot_info(ck, 0, &si[0]);
    ar_read_slot_info(ck, 1, &si[1]);
    if (si[0].exists || si[1].exists) {
        /* newest generation first */
        int order[2] = {0, 1};
        if (si[1].generation > si[0].generation) order[0] = 1, order[1] = 0;
        char why[2][160] = {"", ""};
        int nwhy = 0;
        for (int k = 0; k < 2 && *found != SS_CHECKPOINT_VALID; k++) {
            int s = order[k];
            if (!si[s].exists) continue;
            if (read_slot(ck, s, out, why[nwhy], sizeof why[0])) *found = SS_CHECKPOINT_VALID;
            else nwhy++;
        }
        if (*found != SS_CHECKPOINT_VALID) {
            *found = SS_CHECKPOINT_INVALID;
            ss_error(SS_ERR_FORMAT, "%s: run '%s' has no valid checkpoint (%s%s%s)", a->path, a->ids[i], why[0],
                     nwhy > 1 ? "; " : "", nwhy > 1 ? why[1] : "");
        }
    }
    if (ck >= 0) H5Gclose(ck);
    H5Gclose(g);
    return SS_OK;
}
