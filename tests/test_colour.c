/* test_colour.c - the colour controls (src/colour.h) against the NumPy
 * implementation of tests/make_reference.py (tests/data/ref_colour.h5:
 * luminance-only statistics, histogram matching by Cholesky and by the
 * symmetric eigenvalue form), the colour restore under a mask, the masks'
 * loading (binarised at 128; a missing or all-black mask is refused naming
 * the key and file), the output sizes, and the run keys of the colour
 * controls and style_scale in the parameter table. */
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "colour.h"
#include "h5util.h"
#include "inputs.h"
#include "model.h"
#include "net.h"
#include "params.h"
#include "testlib.h"

#define REF "tests/data/ref_colour.h5"

/* Reads an (H, W, 3) uint8 dataset as an image. */
static ss_image read_image(hid_t f, const char *name) {
    float *v = NULL;
    int rank = 0;
    long long dims[4];
    ss_image img = {0};
    if (ss_h5_read_floats(&v, &rank, dims, f, name, REF) != SS_OK || rank != 3 || dims[2] != 3) {
        FAIL("%s: %s", name, ss_error_message());
        free(v);
        return img;
    }
    MUST(ss_image_alloc(&img, (int)dims[1], (int)dims[0]));
    for (long long i = 0; i < dims[0] * dims[1] * 3; i++) img.px[i] = (unsigned char)v[i];
    free(v);
    return img;
}

/* Largest |a - ref[name]| over n values (and a failed check when the sizes differ). */
static double worst_diff(hid_t f, const char *name, const double *a, long long n) {
    float *v = NULL;
    int rank = 0;
    long long dims[4], count = 1;
    if (ss_h5_read_floats(&v, &rank, dims, f, name, REF) != SS_OK) {
        FAIL("%s: %s", name, ss_error_message());
        return INFINITY;
    }
    for (int i = 0; i < rank; i++) count *= dims[i];
    double worst = count == n ? 0.0 : INFINITY;
    for (long long i = 0; count == n && i < n; i++) worst = fmax(worst, fabs(a[i] - v[i]));
    free(v);
    return worst;
}

static void test_reference(void) {
    hid_t f;
    ss_h5_quiet();
    if (ss_h5_open_read(&f, REF) != SS_OK) {
        FAIL("%s", ss_error_message());
        return;
    }
    long long version = 0;
    CHECK(ss_h5_attr_get_ll(f, "version", &version) == 0 && version == 1, "%s: version %lld, want 1", REF, version);
    ss_image content = read_image(f, "content");
    const char *styles[2] = {"style0", "style1"};
    for (int s = 0; s < 2 && content.px; s++) {
        ss_image style = read_image(f, styles[s]);
        if (!style.px) continue;
        size_t ns = (size_t)style.w * style.h, nc = (size_t)content.w * content.h;
        double *v = malloc(3 * ns * sizeof *v);
        char name[64];
        /* values in 0..255; the reference is stored as float64, read as float32 */
        ss_colour_luminance_values(v, style.px, ns, content.px, nc);
        snprintf(name, sizeof name, "luminance_%s", styles[s]);
        double d = worst_diff(f, name, v, (long long)ns);
        CHECK(d < 1e-3, "%s: worst difference from NumPy %g", name, d);
        const char *methods[2] = {"cholesky", "eigen"};
        for (int m = 0; m < 2; m++) {
            CHECK_OK(ss_colour_histogram_values(v, style.px, ns, content.px, nc, (ss_hist_method)m));
            snprintf(name, sizeof name, "histogram_%s_%s", methods[m], styles[s]);
            d = worst_diff(f, name, v, 3 * (long long)ns);
            CHECK(d < 1e-3, "%s: worst difference from NumPy %g", name, d);
        }
        /* the images a run sees: the rounded values */
        ss_image c2 = {0}, s2 = {0};
        MUST(ss_image_resize(&c2, &content, content.w, content.h));
        MUST(ss_image_resize(&s2, &style, style.w, style.h));
        CHECK_OK(ss_colour_prepare(&c2, &s2, 1, SS_COLOUR_LUMINANCE, SS_HIST_CHOLESKY));
        ss_colour_luminance_values(v, style.px, ns, content.px, nc);
        int bad = 0;
        for (size_t i = 0; i < ns; i++) {
            double want = fmin(255.0, fmax(0.0, v[i]));
            for (int c = 0; c < 3; c++) bad += fabs(s2.px[3 * i + c] - want) > 0.5 + 1e-9;
        }
        CHECK(bad == 0, "%s: %d luminance pixel values are not the rounded matched luma", styles[s], bad);
        for (size_t i = 0; i < nc; i++) bad += c2.px[3 * i] != c2.px[3 * i + 1] || c2.px[3 * i] != c2.px[3 * i + 2];
        CHECK(bad == 0, "luminance: the content is not gray (%d pixels)", bad);
        ss_image_free(&c2);
        ss_image_free(&s2);
        free(v);
        ss_image_free(&style);
    }
    ss_image_free(&content);
    H5Fclose(f);
}

static void test_restore_mask(void) {
    int w = 8, h = 6;
    ss_image result = {0}, content = {0}, plain = {0};
    MUST(ss_image_alloc(&result, w, h));
    MUST(ss_image_alloc(&content, w, h));
    for (int i = 0; i < 3 * w * h; i++) {
        result.px[i] = (unsigned char)(40 + (i * 37) % 170);
        content.px[i] = (unsigned char)(60 + (i * 53) % 140);
    }
    unsigned char mask[48];
    for (int i = 0; i < w * h; i++) mask[i] = (unsigned char)(i % 3 == 0);
    MUST(ss_image_resize(&plain, &result, w, h));
    CHECK_OK(ss_image_preserve_color(&plain, &content));
    ss_image masked = {0};
    MUST(ss_image_resize(&masked, &result, w, h));
    CHECK_OK(ss_colour_restore(&masked, &content, mask, SS_COLOUR_YCBCR));
    int bad = 0;
    for (int i = 0; i < w * h; i++) bad += memcmp(masked.px + 3 * i, (mask[i] ? plain.px : result.px) + 3 * i, 3) != 0;
    CHECK(bad == 0, "color mask: %d pixels are neither preserved where white nor kept where black", bad);
    ss_image same = {0};
    MUST(ss_image_resize(&same, &result, w, h));
    CHECK_OK(ss_colour_restore(&same, &content, NULL, SS_COLOUR_HISTOGRAM));
    CHECK(!memcmp(same.px, result.px, 3 * (size_t)w * h), "histogram mode changed the result after the run");
    ss_image_free(&same);
    ss_image_free(&masked);
    ss_image_free(&plain);
    ss_image_free(&content);
    ss_image_free(&result);
}

static void test_masks(void) {
    ss_image img = {0};
    MUST(ss_image_alloc(&img, 20, 10));
    for (int y = 0; y < 10; y++)
        for (int x = 0; x < 20; x++) memset(img.px + 3 * (y * 20 + x), x < 10 ? 0 : (x < 15 ? 127 : 128 + y), 3);
    char *path = tmp_path("mask.png");
    MUST(ss_image_save(path, &img));
    unsigned char *m = NULL;
    CHECK_OK(ss_inputs_load_mask(&m, 20, 10, path, "color_mask"));
    int bad = 0;
    for (int i = 0; m && i < 200; i++) bad += m[i] != (i % 20 >= 15);
    CHECK(bad == 0, "mask binarised at 128: %d pixels wrong", bad);
    free(m);
    memset(img.px, 20, 3 * 200);
    MUST(ss_image_save(path, &img));
    m = NULL;
    ss_status st = ss_inputs_load_mask(&m, 20, 10, path, "style_masks");
    CHECK(st == SS_ERR_ARG && m == NULL, "an all-black mask was accepted");
    CHECK(strstr(ss_error_message(), "style_masks: ") == ss_error_message() && strstr(ss_error_message(), path) &&
              strstr(ss_error_message(), "all black"),
          "all-black mask: '%s'", ss_error_message());
    st = ss_inputs_load_mask(&m, 20, 10, "no/such/mask.png", "color_mask");
    CHECK(st == SS_ERR_IO && strstr(ss_error_message(), "color_mask: ") == ss_error_message() &&
              strstr(ss_error_message(), "no/such/mask.png"),
          "missing mask: %d '%s'", (int)st, ss_error_message());
    ss_image_free(&img);
}

static void test_output_size(void) {
    ss_inputs in = {0};
    in.w = 64, in.h = 64, in.src_w = 451, in.src_h = 300; /* square optimisation of chelsea.jpg */
    int w, h;
    ss_inputs_output_size(&w, &h, &in, "optimised");
    CHECK(w == 64 && h == 64, "optimised: %dx%d", w, h);
    ss_inputs_output_size(&w, &h, &in, "content_aspect");
    CHECK(w == 96 && h == 64, "content_aspect: %dx%d, want 96x64 (floor(64 * 451 / 300))", w, h);
    in.w = 64, in.h = 43; /* aspect keep: content_aspect changes nothing */
    ss_inputs_output_size(&w, &h, &in, "content_aspect");
    CHECK(w == 64 && h == 43, "content_aspect after aspect keep: %dx%d, want 64x43", w, h);
    ss_inputs_output_size(&w, &h, &in, "content_pixels");
    CHECK(w == 451 && h == 300, "content_pixels: %dx%d", w, h);
}

static void test_keys(void) {
    ss_params p;
    ss_params_defaults(&p);
    char buf[64];
    CHECK(!strcmp(p.preserve_color, "false") && !strcmp(p.output_size, "optimised") && p.style_scale == 1.0 &&
              !strcmp(p.histogram_method, "cholesky") && !p.color_mask[0],
          "defaults");
    const char *yes[] = {"true", "yes", "on", "1", "ycbcr"};
    for (int i = 0; i < 5; i++) {
        CHECK_OK(ss_params_set(&p, "preserve_color", yes[i]));
        ss_params_format(&p, "preserve_color", buf, sizeof buf);
        CHECK(!strcmp(buf, "ycbcr"), "preserve_color %s reads as %s, want ycbcr", yes[i], buf);
    }
    CHECK_OK(ss_params_set(&p, "preserve-color", "no"));
    CHECK(!strcmp(p.preserve_color, "false"), "preserve_color no: %s", p.preserve_color);
    CHECK(ss_params_set(&p, "preserve_color", "hsv") == SS_ERR_ARG &&
              !strcmp(ss_error_message(), "preserve_color: 'hsv' is not one of false|ycbcr|luminance|histogram"),
          "'%s'", ss_error_message());
    CHECK(ss_params_set(&p, "histogram_method", "svd") == SS_ERR_ARG &&
              !strcmp(ss_error_message(), "histogram_method: 'svd' is not one of cholesky|eigen"),
          "'%s'", ss_error_message());
    CHECK(ss_params_set(&p, "output_size", "big") == SS_ERR_ARG && strstr(ss_error_message(), "output_size: 'big'"),
          "'%s'", ss_error_message());
    CHECK(ss_params_set(&p, "style_scale", "-1") == SS_ERR_ARG && strstr(ss_error_message(), "style_scale: -1"), "'%s'",
          ss_error_message());
    /* style_scale multiplies every style weight */
    ss_params_defaults(&p);
    MUST(ss_params_set(&p, "style", "a.jpg,b.jpg"));
    MUST(ss_params_set(&p, "style_weight", "0.5,2"));
    MUST(ss_params_set(&p, "style_scale", "3"));
    ss_model m;
    ss_loss_config cfg;
    CHECK_OK(ss_params_resolve(&p, &m, &cfg));
    CHECK(cfg.style_weight[0] == 1.5 && cfg.style_weight[1] == 6.0, "style_scale 3: weights %g %g", cfg.style_weight[0],
          cfg.style_weight[1]);
    ss_model_free(&m);
    /* a colour mask needs a colour mode that puts colours back */
    MUST(ss_params_set(&p, "color_mask", "m.png"));
    CHECK(ss_params_resolve(&p, &m, &cfg) == SS_ERR_ARG && strstr(ss_error_message(), "color_mask: ") &&
              strstr(ss_error_message(), "preserve_color"),
          "color_mask without preserve_color: '%s'", ss_error_message());
    ss_model_free(&m);
    MUST(ss_params_set(&p, "preserve_color", "luminance"));
    CHECK_OK(ss_params_resolve(&p, &m, &cfg));
    ss_model_free(&m);
}

int main(void) {
    check_tmpdir("ss_colour");
    test_reference();
    test_restore_mask();
    test_masks();
    test_output_size();
    test_keys();
    check_tmpdir_remove();
    return check_summary("test_colour");
}
