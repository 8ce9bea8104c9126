/* test_image.c - tests of the image module (src/image.c): pre-processing
 * round trip and channel order, target sizes, initial images, colour
 * preservation, resize, save/load round trips and clean failures.
 * Run from the repository root (reads samples/content/chelsea.jpg); writes
 * only under a mkdtemp directory in /tmp, removed at the end. */
#include "image.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <stb_image_write.h>

#include "testlib.h"

static const char *SAMPLE = "samples/content/chelsea.jpg";

/* A small deterministic generator for test data. */
static uint32_t g_lcg = 12345u;
static unsigned rnd(unsigned n) {
    g_lcg = g_lcg * 1664525u + 1013904223u;
    return (g_lcg >> 8) % n;
}

static int file_exists(const char *p) {
    struct stat st;
    return stat(p, &st) == 0;
}

static int write_bytes(const char *p, const void *data, size_t n) {
    FILE *f = fopen(p, "wb");
    if (!f) return -1;
    size_t w = n ? fwrite(data, 1, n, f) : 0;
    return fclose(f) == 0 && w == n ? 0 : -1;
}

static ss_image make_image(int w, int h) {
    ss_image img;
    ss_status s = ss_image_alloc(&img, w, h);
    if (s != SS_OK) {
        fprintf(stderr, "cannot allocate a test image: %s\n", ss_error_message());
        exit(2);
    }
    return img;
}

static void fill_random(ss_image *img, unsigned lo, unsigned hi) {
    for (size_t i = 0; i < (size_t)img->w * img->h * 3; i++) img->px[i] = (unsigned char)(lo + rnd(hi - lo + 1));
}

static void ycbcr(const unsigned char *p, double *y, double *cb, double *cr) {
    *y = 0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2];
    *cb = 128 - 0.168736 * p[0] - 0.331264 * p[1] + 0.5 * p[2];
    *cr = 128 + 0.5 * p[0] - 0.418688 * p[1] - 0.081312 * p[2];
}

static void test_preproc_roundtrip(void) {
    const ss_preproc *pps[2] = {&ss_image_preproc_caffe, &ss_image_preproc_torchvision};
    ss_image img = make_image(256, 5);
    /* every value in every channel, and random pixels */
    for (int x = 0; x < 256; x++)
        for (int c = 0; c < 3; c++) {
            img.px[(0 * 256 + x) * 3 + c] = (unsigned char)x;
            img.px[(1 * 256 + x) * 3 + c] = (unsigned char)(255 - x);
        }
    for (int i = 2 * 256 * 3; i < 5 * 256 * 3; i++) img.px[i] = (unsigned char)rnd(256);
    float *t = malloc(sizeof(float) * 3 * 256 * 5);
    for (int k = 0; k < 2; k++) {
        ss_image back = {0};
        ss_image_to_tensor(t, &img, pps[k]);
        CHECK(ss_image_from_tensor(&back, t, 256, 5, pps[k]) == SS_OK, "%s", ss_error_message());
        CHECK(back.w == 256 && back.h == 5, "size %dx%d", back.w, back.h);
        CHECK(back.px && memcmp(back.px, img.px, 256 * 5 * 3) == 0, "round trip not exact for pre-processing %d", k);
        ss_image_free(&back);
    }
    free(t);
    ss_image_free(&img);
}

static void test_channel_order(void) {
    /* 3x2 image: all pure red, except pixel (x=2, y=1) blue 200 */
    ss_image img = make_image(3, 2);
    for (int i = 0; i < 6; i++) {
        img.px[3 * i] = 255;
        img.px[3 * i + 1] = 0;
        img.px[3 * i + 2] = 0;
    }
    unsigned char *p = img.px + (1 * 3 + 2) * 3;
    p[0] = 0, p[1] = 0, p[2] = 200;
    float t[18];
    ss_image_to_tensor(t, &img, &ss_image_preproc_caffe);
    CHECK(fabsf(t[0 * 6 + 0] - (0.0f - 103.939f)) < 1e-4f, "caffe ch0 (B) = %g", t[0]);
    CHECK(fabsf(t[1 * 6 + 0] - (0.0f - 116.779f)) < 1e-4f, "caffe ch1 (G) = %g", t[6]);
    CHECK(fabsf(t[2 * 6 + 0] - (255.0f - 123.68f)) < 1e-4f, "caffe ch2 (R) = %g", t[12]);
    /* planar index c*H*W + y*W + x */
    CHECK(fabsf(t[0 * 6 + 1 * 3 + 2] - (200.0f - 103.939f)) < 1e-4f, "caffe blue pixel = %g", t[5]);
    CHECK(fabsf(t[2 * 6 + 1 * 3 + 2] - (0.0f - 123.68f)) < 1e-4f, "caffe red of blue pixel = %g", t[17]);

    ss_image_to_tensor(t, &img, &ss_image_preproc_torchvision);
    CHECK(fabsf(t[0] - (1.0f - 0.485f) / 0.229f) < 1e-4f, "torchvision ch0 (R) = %g", t[0]);
    CHECK(fabsf(t[6] - (0.0f - 0.456f) / 0.224f) < 1e-4f, "torchvision ch1 (G) = %g", t[6]);
    CHECK(fabsf(t[12] - (0.0f - 0.406f) / 0.225f) < 1e-4f, "torchvision ch2 (B) = %g", t[12]);
    CHECK(fabsf(t[2 * 6 + 5] - (200.0f / 255.0f - 0.406f) / 0.225f) < 1e-4f, "torchvision blue pixel = %g", t[17]);

    /* de-processing clips and maps NaN to 0 */
    float x[3] = {1e6f, -1e6f, NAN};
    ss_image out = {0};
    CHECK(ss_image_from_tensor(&out, x, 1, 1, &ss_image_preproc_caffe) == SS_OK, "%s", ss_error_message());
    CHECK(out.px && out.px[2] == 255 && out.px[1] == 0 && out.px[0] == 0, "clip: got %d %d %d (R G B)", out.px[0],
          out.px[1], out.px[2]);
    ss_image_free(&out);
    CHECK(ss_image_from_tensor(&out, x, 0, 1, &ss_image_preproc_caffe) == SS_ERR_ARG, "zero width accepted");

    ss_preproc pp;
    CHECK(ss_image_preproc_by_name(&pp, "Caffe") == SS_OK && pp.bgr == 1, "caffe by name");
    CHECK(ss_image_preproc_by_name(&pp, "torchvision") == SS_OK && pp.bgr == 0 && fabsf(pp.std[2] - 0.225f) < 1e-7f,
          "torchvision by name");
    CHECK(ss_image_preproc_by_name(&pp, "tf") == SS_ERR_ARG && strstr(ss_error_message(), "tf"),
          "unknown pre-processing: %s", ss_error_message());
    ss_image_free(&img);
}

static void test_target_size(void) {
    static const struct {
        int sw, sh, size, aspect, w, h;
    } cases[] = {
        {640, 480, 512, SS_ASPECT_KEEP, 512, 384},
        {480, 640, 512, SS_ASPECT_KEEP, 384, 512},
        {640, 480, 512, SS_ASPECT_SQUARE, 512, 512},
        {480, 640, 100, SS_ASPECT_SQUARE, 100, 100},
        {451, 300, 224, SS_ASPECT_KEEP, 224, 149},
        {300, 451, 224, SS_ASPECT_KEEP, 149, 224},
        {1000, 1, 100, SS_ASPECT_KEEP, 100, 1},
        {1, 1000, 100, SS_ASPECT_KEEP, 1, 100},
        {4, 2, 3, SS_ASPECT_KEEP, 3, 2}, /* 1.5 rounds up */
        {500, 500, 256, SS_ASPECT_KEEP, 256, 256},
        {10, 7, 8192, SS_ASPECT_KEEP, 8192, 5734},
        {64, 48, 1, SS_ASPECT_KEEP, 1, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int w = -1, h = -1;
        ss_status s = ss_image_target_size(&w, &h, cases[i].sw, cases[i].sh, cases[i].size, (ss_aspect)cases[i].aspect);
        CHECK(s == SS_OK && w == cases[i].w && h == cases[i].h,
              "%dx%d at %d (aspect %d): got %dx%d status %d, want %dx%d", cases[i].sw, cases[i].sh, cases[i].size,
              cases[i].aspect, w, h, (int)s, cases[i].w, cases[i].h);
    }
    int w = 7, h = 7;
    CHECK(ss_image_target_size(&w, &h, 640, 480, 0, SS_ASPECT_KEEP) == SS_ERR_ARG && strstr(ss_error_message(), "0"),
          "image_size 0 accepted");
    CHECK(ss_image_target_size(&w, &h, 640, 480, 8193, SS_ASPECT_SQUARE) == SS_ERR_ARG &&
              strstr(ss_error_message(), "8193"),
          "image_size 8193 accepted");
    CHECK(ss_image_target_size(&w, &h, 0, 480, 256, SS_ASPECT_KEEP) == SS_ERR_ARG, "source width 0 accepted");
    CHECK(w == 7 && h == 7, "outputs changed on error: %dx%d", w, h);
}

static void test_init(void) {
    ss_image content = make_image(64, 48);
    fill_random(&content, 0, 255);
    content.px[0] = 255, content.px[1] = 0, content.px[2] = 0; /* pixel 0 pure red */
    size_t n = 3 * 64 * 48;
    float *a = malloc(sizeof(float) * n), *b = malloc(sizeof(float) * n);
    const ss_preproc *caffe = &ss_image_preproc_caffe, *tv = &ss_image_preproc_torchvision;

    /* noise: deterministic, seed-dependent, uniform on [-128, 127) */
    CHECK(ss_image_init_tensor(a, "noise", &content, caffe, 42) == SS_OK, "%s", ss_error_message());
    CHECK(ss_image_init_tensor(b, "noise", &content, caffe, 42) == SS_OK, "%s", ss_error_message());
    CHECK(memcmp(a, b, sizeof(float) * n) == 0, "noise differs for the same seed");
    double mn = 1e9, mx = -1e9, sum = 0;
    for (size_t i = 0; i < n; i++) {
        mn = a[i] < mn ? a[i] : mn;
        mx = a[i] > mx ? a[i] : mx;
        sum += a[i];
    }
    CHECK(mn >= -128.0 && mx <= 127.0, "noise range [%g, %g]", mn, mx);
    CHECK(mn < -125.0 && mx > 124.0, "noise does not cover the range: [%g, %g]", mn, mx);
    CHECK(fabs(sum / n + 0.5) < 2.0, "noise mean %g, want about -0.5", sum / n);
    CHECK(ss_image_init_tensor(b, "noise", &content, caffe, 43) == SS_OK, "%s", ss_error_message());
    size_t same = 0;
    for (size_t i = 0; i < n; i++) same += a[i] == b[i];
    CHECK(same < n / 100, "seeds 42 and 43 share %zu of %zu values", same, n);
    CHECK(ss_image_init_tensor(b, "noise", &content, caffe, 0) == SS_OK, "seed 0");
    /* the channels are not copies of each other */
    CHECK(memcmp(a, a + n / 3, sizeof(float) * (n / 3)) != 0, "noise channels identical");
    /* torchvision: the same pixel-unit offsets from the mean, in its units */
    CHECK(ss_image_init_tensor(b, "noise", &content, tv, 42) == SS_OK, "%s", ss_error_message());
    int tv_ok = 1;
    for (int c = 0; c < 3; c++)
        for (size_t i = 0; i < n / 3; i++) {
            size_t k = c * (n / 3) + i;
            double back = b[k] * tv->std[c] / tv->scale;
            if (fabs(back - a[k]) > 1e-3) tv_ok = 0;
        }
    CHECK(tv_ok, "torchvision noise is not caffe noise * scale / std");

    /* content: the content image pre-processed */
    CHECK(ss_image_init_tensor(a, "content", &content, caffe, 1) == SS_OK, "%s", ss_error_message());
    ss_image_to_tensor(b, &content, caffe);
    CHECK(memcmp(a, b, sizeof(float) * n) == 0, "content init is not to_tensor(content)");

    /* gray: equal R, G, B after de-processing; BT.601 luma */
    const ss_preproc *pps[2] = {caffe, tv};
    for (int k = 0; k < 2; k++) {
        ss_image g = {0};
        CHECK(ss_image_init_tensor(a, "gray", &content, pps[k], 1) == SS_OK, "%s", ss_error_message());
        CHECK(ss_image_from_tensor(&g, a, 64, 48, pps[k]) == SS_OK, "%s", ss_error_message());
        int equal = 1, luma_ok = 1;
        for (size_t i = 0; g.px && i < 64 * 48; i++) {
            const unsigned char *p = g.px + 3 * i, *q = content.px + 3 * i;
            if (p[0] != p[1] || p[1] != p[2]) equal = 0;
            double y = 0.299 * q[0] + 0.587 * q[1] + 0.114 * q[2];
            if (fabs(p[0] - y) > 0.51) luma_ok = 0;
        }
        CHECK(equal, "gray init (pre-processing %d) has unequal channels", k);
        CHECK(luma_ok, "gray init (pre-processing %d) is not the BT.601 luma", k);
        CHECK(g.px && g.px[0] == 76, "gray of pure red = %d, want 76", g.px ? g.px[0] : -1);
        ss_image_free(&g);
    }

    CHECK(ss_image_init_tensor(a, "perlin", &content, caffe, 1) == SS_ERR_ARG && strstr(ss_error_message(), "perlin"),
          "unknown mode: %s", ss_error_message());
    CHECK(ss_image_init_tensor(a, NULL, &content, caffe, 1) == SS_ERR_ARG, "NULL mode accepted");
    free(a);
    free(b);
    ss_image_free(&content);
}

static void test_preserve_color(void) {
    int w = 40, h = 30;
    ss_image result = make_image(w, h), content = make_image(w, h);
    fill_random(&result, 60, 190);    /* luma 60..190 */
    for (int i = 0; i < w * h; i++) { /* moderate chroma: stays in gamut */
        unsigned base = 70 + rnd(110);
        for (int c = 0; c < 3; c++) content.px[3 * i + c] = (unsigned char)(base - 25 + rnd(51));
    }
    ss_image before = make_image(w, h);
    memcpy(before.px, result.px, (size_t)w * h * 3);
    CHECK(ss_image_preserve_color(&result, &content) == SS_OK, "%s", ss_error_message());
    double worst_y = 0, worst_c = 0;
    for (int i = 0; i < w * h; i++) {
        double y0, cb0, cr0, y1, cb1, cr1, yc, cbc, crc;
        ycbcr(before.px + 3 * i, &y0, &cb0, &cr0);
        ycbcr(result.px + 3 * i, &y1, &cb1, &cr1);
        ycbcr(content.px + 3 * i, &yc, &cbc, &crc);
        worst_y = fmax(worst_y, fabs(y1 - y0));
        worst_c = fmax(worst_c, fmax(fabs(cb1 - cbc), fabs(cr1 - crc)));
    }
    CHECK(worst_y <= 1.0, "result luma moved by %g", worst_y);
    CHECK(worst_c <= 1.0, "chroma differs from the content's by %g", worst_c);

    ss_image small = make_image(w, h - 1);
    memcpy(before.px, result.px, (size_t)w * h * 3);
    CHECK(ss_image_preserve_color(&result, &small) == SS_ERR_ARG, "size mismatch accepted");
    CHECK(memcmp(before.px, result.px, (size_t)w * h * 3) == 0, "result changed on error");
    ss_image_free(&small);
    ss_image_free(&before);
    ss_image_free(&result);
    ss_image_free(&content);
}

static void test_resize(void) {
    ss_image img = make_image(64, 48), out = {0};
    for (int i = 0; i < 64 * 48; i++) img.px[3 * i] = 200, img.px[3 * i + 1] = 100, img.px[3 * i + 2] = 30;
    CHECK(ss_image_resize(&out, &img, 32, 24) == SS_OK, "%s", ss_error_message());
    CHECK(out.w == 32 && out.h == 24, "resized to %dx%d", out.w, out.h);
    int flat = 1;
    for (int i = 0; out.px && i < 32 * 24; i++)
        if (out.px[3 * i] != 200 || out.px[3 * i + 1] != 100 || out.px[3 * i + 2] != 30) flat = 0;
    CHECK(flat, "a constant image did not stay constant (or channels mixed)");
    ss_image_free(&out);
    CHECK(ss_image_resize(&out, &img, 100, 75) == SS_OK && out.w == 100 && out.h == 75, "upscale: %s",
          ss_error_message());
    ss_image_free(&out);
    fill_random(&img, 0, 255);
    CHECK(ss_image_resize(&out, &img, 64, 48) == SS_OK && out.px && memcmp(out.px, img.px, 64 * 48 * 3) == 0,
          "same-size resize is not a copy");
    ss_image_free(&out);
    CHECK(ss_image_resize(&out, &img, 0, 10) == SS_ERR_ARG && out.px == NULL, "zero width accepted");
    ss_image_free(&img);
}

static void test_save_load(void) {
    ss_image img = make_image(37, 23), back = {0};
    fill_random(&img, 0, 255);
    char png[256];
    snprintf(png, sizeof png, "%s", tmp_path("round.png"));
    CHECK(ss_image_save(png, &img) == SS_OK, "%s", ss_error_message());
    CHECK(ss_image_load(&back, png) == SS_OK, "%s", ss_error_message());
    CHECK(back.w == 37 && back.h == 23 && back.px && memcmp(back.px, img.px, 37 * 23 * 3) == 0,
          "PNG round trip not exact (%dx%d)", back.w, back.h);
    ss_image_free(&back);
    /* overwriting an existing file works */
    img.px[0] ^= 0xff;
    CHECK(ss_image_save(png, &img) == SS_OK, "overwrite: %s", ss_error_message());
    CHECK(ss_image_load(&back, png) == SS_OK && back.px && back.px[0] == img.px[0], "overwrite not seen");
    ss_image_free(&back);

    /* JPEG: by extension, case-insensitive; smooth image survives closely */
    ss_image smooth = make_image(64, 48);
    for (int y = 0; y < 48; y++)
        for (int x = 0; x < 64; x++) {
            unsigned char *p = smooth.px + (y * 64 + x) * 3;
            p[0] = (unsigned char)(x * 3), p[1] = (unsigned char)(y * 4), p[2] = 128;
        }
    char jpg[256];
    snprintf(jpg, sizeof jpg, "%s", tmp_path("smooth.JPG"));
    CHECK(ss_image_save(jpg, &smooth) == SS_OK, "%s", ss_error_message());
    FILE *f = fopen(jpg, "rb");
    unsigned char magic[2] = {0, 0};
    CHECK(f && fread(magic, 1, 2, f) == 2 && magic[0] == 0xFF && magic[1] == 0xD8, "%s is not a JPEG", jpg);
    if (f) fclose(f);
    CHECK(ss_image_load(&back, jpg) == SS_OK && back.w == 64 && back.h == 48, "%s", ss_error_message());
    double err = 0;
    for (int i = 0; back.px && i < 64 * 48 * 3; i++) err += abs(back.px[i] - smooth.px[i]);
    CHECK(back.px && err / (64 * 48 * 3) < 2.0, "JPEG mean error %g", err / (64 * 48 * 3));
    ss_image_free(&back);
    CHECK(ss_image_save(tmp_path("x.jpeg"), &smooth) == SS_OK, "%s", ss_error_message());
    ss_image_free(&smooth);

    /* refused extensions and empty images */
    CHECK(ss_image_save(tmp_path("x.bmp"), &img) == SS_ERR_ARG && !file_exists(tmp_path("x.bmp")), "bmp accepted");
    CHECK(ss_image_save(tmp_path("png"), &img) == SS_ERR_ARG, "no extension accepted");
    ss_image empty = {0};
    CHECK(ss_image_save(tmp_path("e.png"), &empty) == SS_ERR_ARG, "empty image saved");

    /* unwritable place: SS_ERR_IO naming the path, nothing left behind */
    char bad[256];
    snprintf(bad, sizeof bad, "%s", tmp_path("no/such/dir/out.png"));
    ss_status s = ss_image_save(bad, &img);
    CHECK(s == SS_ERR_IO, "save into a missing directory: status %d", (int)s);
    CHECK(strstr(ss_error_message(), bad) && strstr(ss_error_message(), strerror(ENOENT)), "message: %s",
          ss_error_message());
    CHECK(!file_exists(bad), "%s exists", bad);

    /* a write that fails midway (file size limit: EFBIG) leaves the old file
     * intact and no temporary behind */
    ss_image big = make_image(200, 200);
    fill_random(&big, 0, 255);
    struct rlimit old_lim, lim;
    getrlimit(RLIMIT_FSIZE, &old_lim);
    lim = old_lim;
    lim.rlim_cur = 4096;
    void (*old_sig)(int) = signal(SIGXFSZ, SIG_IGN);
    if (setrlimit(RLIMIT_FSIZE, &lim) == 0) {
        s = ss_image_save(png, &big);
        setrlimit(RLIMIT_FSIZE, &old_lim);
        CHECK(s == SS_ERR_IO && strstr(ss_error_message(), png), "write failure: status %d, %s", (int)s,
              ss_error_message());
        CHECK(ss_image_load(&back, png) == SS_OK && back.w == 37 && back.h == 23,
              "the old %s was replaced by a failed write (%dx%d)", png, back.w, back.h);
        ss_image_free(&back);
    }
    signal(SIGXFSZ, old_sig);
    ss_image_free(&big);

    /* no temporary file left in the directory */
    DIR *d = opendir(g_dir);
    int leftovers = 0;
    for (struct dirent *e; d && (e = readdir(d));)
        if (strstr(e->d_name, ".tmp.")) leftovers++;
    if (d) closedir(d);
    CHECK(leftovers == 0, "%d temporary files left in %s", leftovers, g_dir);
    /* mode 0666 less the umask, not mkstemp's 0600 */
    mode_t mask = umask(0);
    umask(mask);
    struct stat st;
    CHECK(stat(png, &st) == 0 && (st.st_mode & 0777) == (0666 & ~mask), "%s has mode %o", png,
          (unsigned)(st.st_mode & 0777));
    ss_image_free(&img);
}

static void expect_load_failure(const char *path, ss_status want, const char *what) {
    ss_image img = {1, 1, (unsigned char *)"x"};
    ss_error_clear();
    ss_status s = ss_image_load(&img, path);
    CHECK(s == want, "%s (%s): status %d (%s), want %d; message: %s", what, path, (int)s, ss_strerror(s), (int)want,
          ss_error_message());
    CHECK(strstr(ss_error_message(), path) != NULL, "%s: message lacks the path: %s", what, ss_error_message());
    CHECK(img.px == NULL && img.w == 0 && img.h == 0, "%s: output not emptied", what);
}

static void test_load(void) {
    ss_image img = {0};
    CHECK(ss_image_load(&img, SAMPLE) == SS_OK, "%s", ss_error_message());
    CHECK(img.w == 451 && img.h == 300, "%s is %dx%d, want 451x300", SAMPLE, img.w, img.h);

    /* truncated: the first 100 bytes of a real JPEG, and half of it */
    FILE *f = fopen(SAMPLE, "rb");
    static unsigned char data[1 << 17];
    size_t n = f ? fread(data, 1, sizeof data, f) : 0;
    if (f) fclose(f);
    CHECK(n > 1000, "cannot read %s", SAMPLE);
    write_bytes(tmp_path("trunc100.jpg"), data, 100);
    write_bytes(tmp_path("trunchalf.jpg"), data, n / 2);
    write_bytes(tmp_path("empty.jpg"), data, 0);
    const char *text = "this is not an image\n";
    write_bytes(tmp_path("notes.png"), text, strlen(text));
    const char *huge = "P6\n40000 40000\n255\n";
    write_bytes(tmp_path("huge.ppm"), huge, strlen(huge));

    expect_load_failure(tmp_path("missing.jpg"), SS_ERR_IO, "missing file");
    CHECK(strstr(ss_error_message(), strerror(ENOENT)) != NULL, "missing: %s", ss_error_message());
    expect_load_failure(tmp_path("empty.jpg"), SS_ERR_FORMAT, "empty file");
    expect_load_failure(tmp_path("trunc100.jpg"), SS_ERR_FORMAT, "truncated to 100 bytes");
    expect_load_failure(tmp_path("trunchalf.jpg"), SS_ERR_FORMAT, "truncated to half");
    expect_load_failure(tmp_path("notes.png"), SS_ERR_FORMAT, "text file");
    expect_load_failure(tmp_path("huge.ppm"), SS_ERR_FORMAT, "40000x40000 image");
    CHECK(strstr(ss_error_message(), "40000x40000") != NULL, "huge: %s", ss_error_message());
    expect_load_failure(g_dir, SS_ERR_IO, "directory");

    /* grayscale becomes three equal channels; alpha goes over white */
    unsigned char gray[6] = {0, 50, 100, 150, 200, 255};
    CHECK(stbi_write_png(tmp_path("gray.png"), 3, 2, 1, gray, 3), "cannot write gray.png");
    ss_image g = {0};
    CHECK(ss_image_load(&g, tmp_path("gray.png")) == SS_OK && g.w == 3 && g.h == 2, "%s", ss_error_message());
    int ok = 1;
    for (int i = 0; g.px && i < 6; i++)
        if (g.px[3 * i] != gray[i] || g.px[3 * i + 1] != gray[i] || g.px[3 * i + 2] != gray[i]) ok = 0;
    CHECK(g.px && ok, "grayscale not copied to three channels");
    ss_image_free(&g);
    unsigned char rgba[3 * 4] = {10, 20, 30, 255, 0, 0, 0, 0, 0, 0, 0, 128};
    CHECK(stbi_write_png(tmp_path("rgba.png"), 3, 1, 4, rgba, 12), "cannot write rgba.png");
    CHECK(ss_image_load(&g, tmp_path("rgba.png")) == SS_OK && g.w == 3, "%s", ss_error_message());
    CHECK(g.px && g.px[0] == 10 && g.px[1] == 20 && g.px[2] == 30, "opaque pixel changed");
    CHECK(g.px && g.px[3] == 255 && g.px[4] == 255 && g.px[5] == 255, "transparent pixel not white: %d %d %d", g.px[3],
          g.px[4], g.px[5]);
    CHECK(g.px && g.px[6] == 127 && g.px[7] == 127 && g.px[8] == 127, "half-transparent black not mid gray: %d",
          g.px[6]);
    ss_image_free(&g);
    ss_image_free(&img);
}

int main(void) {
    check_tmpdir("ss_test_image");
    test_preproc_roundtrip();
    test_channel_order();
    test_target_size();
    test_init();
    test_preserve_color();
    test_resize();
    test_save_load();
    test_load();
    check_tmpdir_remove();
    return check_summary("test_image");
}
