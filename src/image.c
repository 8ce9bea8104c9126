/* image.c - 8-bit RGB images: decoding and encoding with stb (libstb),
 * resizing, pre-processing to planar float tensors and back, initial images
 * and colour preservation. */
#include "image.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <stb_image.h>
#include <stb_image_resize.h>
#include <stb_image_write.h>

#include "check.h"
#include "elementwise.h"
#include "util.h"

const ss_preproc ss_image_preproc_caffe = {
    .bgr = 1,
    .scale = 1.0f,
    .mean = {103.939f, 116.779f, 123.68f},
    .std = {1.0f, 1.0f, 1.0f},
};

const ss_preproc ss_image_preproc_torchvision = {
    .bgr = 0,
    .scale = 1.0f / 255.0f,
    .mean = {0.485f, 0.456f, 0.406f},
    .std = {0.229f, 0.224f, 0.225f},
};

ss_status ss_image_preproc_by_name(ss_preproc *out, const char *name) {
    if (name && strcasecmp(name, "caffe") == 0) {
        *out = ss_image_preproc_caffe;
        return SS_OK;
    }
    if (name && strcasecmp(name, "torchvision") == 0) {
        *out = ss_image_preproc_torchvision;
        return SS_OK;
    }
    return ss_error(SS_ERR_ARG, "unknown pre-processing '%s' (expected caffe or torchvision)", name ? name : "(null)");
}

static int size_ok(int w, int h) {
    return w >= 1 && h >= 1 && w <= SS_IMAGE_MAX_SIDE && h <= SS_IMAGE_MAX_SIDE &&
           (long long)w * h <= SS_IMAGE_MAX_PIXELS;
}

ss_status ss_image_alloc(ss_image *out, int w, int h) {
    out->w = out->h = 0;
    out->px = NULL;
    if (!size_ok(w, h))
        return ss_error(SS_ERR_ARG, "invalid image size %dx%d (at most %d per side, %lld pixels)", w, h,
                        SS_IMAGE_MAX_SIDE, (long long)SS_IMAGE_MAX_PIXELS);
    unsigned char *px = malloc((size_t)w * (size_t)h * 3);
    if (!px) return ss_error(SS_ERR_NOMEM, "out of memory for a %dx%d image", w, h);
    out->w = w;
    out->h = h;
    out->px = px;
    return SS_OK;
}

void ss_image_free(ss_image *img) {
    if (!img) return;
    free(img->px);
    img->px = NULL;
    img->w = img->h = 0;
}

static const char *stb_reason(void) {
    const char *r = stbi_failure_reason();
    return r ? r : "unknown reason";
}

ss_status ss_image_probe(int *w, int *h, int *channels, const char *path) {
    *w = *h = *channels = 0;
    FILE *f = path ? fopen(path, "rb") : NULL;
    if (!f) return ss_error(SS_ERR_IO, "cannot read image %s: %s", path ? path : "(none)", strerror(errno));
    int ok = stbi_info_from_file(f, w, h, channels);
    fclose(f);
    if (!ok || *w < 1 || *h < 1) {
        *w = *h = *channels = 0;
        return ss_error(SS_ERR_FORMAT, "%s: not an image stylesweep reads (%s)", path, stb_reason());
    }
    return SS_OK;
}

ss_status ss_image_load(ss_image *out, const char *path) {
    out->w = out->h = 0;
    out->px = NULL;
    if (!path) return ss_error(SS_ERR_ARG, "cannot read image: no path given");

    FILE *f = fopen(path, "rb");
    if (!f) return ss_error(SS_ERR_IO, "cannot read image %s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
        fclose(f);
        return ss_error(SS_ERR_IO, "cannot read image %s: %s", path, strerror(EISDIR));
    }
    char *text = NULL;
    size_t len = 0;
    int e = ss_file_read_all(&text, &len, f, INT_MAX); /* stb_image takes an int size */
    unsigned char *buf = (unsigned char *)text;
    fclose(f);
    if (e == ENOMEM) return ss_error(SS_ERR_NOMEM, "cannot read image %s: out of memory", path);
    if (e == EFBIG) return ss_error(SS_ERR_FORMAT, "cannot read image %s: file larger than %d bytes", path, INT_MAX);
    if (e) return ss_error(SS_ERR_IO, "cannot read image %s: %s", path, strerror(e));
    if (len == 0) {
        free(buf);
        return ss_error(SS_ERR_FORMAT, "cannot decode image %s: the file is empty", path);
    }

    /* The header first, so that absurd sizes are refused before decoding.
     * When it cannot be parsed, the decoder still runs: its reason ("no SOF",
     * "expected marker") says more than stbi_info's "unknown image type",
     * and the size is checked after decoding instead. */
    int w = 0, h = 0, n = 0;
    if (stbi_info_from_memory(buf, (int)len, &w, &h, &n) && !size_ok(w, h)) {
        free(buf);
        return ss_error(SS_ERR_FORMAT,
                        "cannot decode image %s: size %dx%d exceeds the limit (%d per side, "
                        "%lld pixels)",
                        path, w, h, SS_IMAGE_MAX_SIDE, (long long)SS_IMAGE_MAX_PIXELS);
    }
    unsigned char *rgba = stbi_load_from_memory(buf, (int)len, &w, &h, &n, 4);
    free(buf);
    if (!rgba)
        return ss_error(SS_ERR_FORMAT,
                        "cannot decode image %s (%zu bytes): %s (not an image, truncated, "
                        "corrupt or unsupported)",
                        path, len, stb_reason());
    if (!size_ok(w, h)) {
        stbi_image_free(rgba);
        return ss_error(SS_ERR_FORMAT,
                        "cannot decode image %s: size %dx%d exceeds the limit (%d per side, "
                        "%lld pixels)",
                        path, w, h, SS_IMAGE_MAX_SIDE, (long long)SS_IMAGE_MAX_PIXELS);
    }
    ss_status s = ss_image_alloc(out, w, h);
    if (s != SS_OK) {
        stbi_image_free(rgba);
        return ss_error(s, "cannot decode image %s: out of memory for %dx%d pixels", path, w, h);
    }
    size_t np = (size_t)w * (size_t)h;
    for (size_t i = 0; i < np; i++) {
        unsigned a = rgba[4 * i + 3];
        for (int c = 0; c < 3; c++) {
            unsigned v = rgba[4 * i + c];
            /* over white; exact for a == 255 */
            out->px[3 * i + c] = (unsigned char)((v * a + 255u * (255u - a) + 127u) / 255u);
        }
    }
    stbi_image_free(rgba);
    return SS_OK;
}

ss_status ss_image_target_size(int *w, int *h, int src_w, int src_h, int image_size, ss_aspect aspect) {
    if (image_size < 1 || image_size > SS_IMAGE_MAX_TARGET)
        return ss_error(SS_ERR_ARG, "image_size %d out of range (1..%d)", image_size, SS_IMAGE_MAX_TARGET);
    if (src_w < 1 || src_h < 1) return ss_error(SS_ERR_ARG, "invalid source image size %dx%d", src_w, src_h);
    if (aspect == SS_ASPECT_SQUARE) {
        *w = *h = image_size;
        return SS_OK;
    }
    if (aspect != SS_ASPECT_KEEP) return ss_error(SS_ERR_ARG, "unknown aspect mode %d", (int)aspect);
    long long lng = src_w >= src_h ? src_w : src_h;
    long long sht = src_w >= src_h ? src_h : src_w;
    long long s = (2 * sht * image_size + lng) / (2 * lng); /* round half up */
    if (s < 1) s = 1;
    if (src_w >= src_h) {
        *w = image_size;
        *h = (int)s;
    } else {
        *w = (int)s;
        *h = image_size;
    }
    return SS_OK;
}

ss_status ss_image_resize(ss_image *out, const ss_image *in, int w, int h) {
    out->w = out->h = 0;
    out->px = NULL;
    if (!in || !in->px || !size_ok(in->w, in->h)) return ss_error(SS_ERR_ARG, "cannot resize an empty image");
    ss_status s = ss_image_alloc(out, w, h);
    if (s != SS_OK) return s;
    if (w == in->w && h == in->h) {
        memcpy(out->px, in->px, (size_t)w * (size_t)h * 3);
        return SS_OK;
    }
    if (!stbir_resize_uint8(in->px, in->w, in->h, 0, out->px, w, h, 0, 3)) {
        ss_image_free(out);
        return ss_error(SS_ERR_INTERNAL, "stb_image_resize failed resizing %dx%d to %dx%d", in->w, in->h, w, h);
    }
    return SS_OK;
}

/* lut[c][v]: the pre-processed value of pixel value v in tensor channel c. */
static void make_lut(float lut[3][256], const ss_preproc *pp) {
    for (int c = 0; c < 3; c++)
        for (int v = 0; v < 256; v++)
            lut[c][v] = ss_ew_preprocess((unsigned char)v, pp->scale, pp->mean[c], pp->std[c]);
}

void ss_image_to_tensor(float *out, const ss_image *img, const ss_preproc *pp) {
    float lut[3][256];
    make_lut(lut, pp);
    size_t np = (size_t)img->w * (size_t)img->h;
    for (int c = 0; c < 3; c++) {
        int src = pp->bgr ? 2 - c : c;
        float *o = out + (size_t)c * np;
        for (size_t i = 0; i < np; i++) o[i] = lut[c][img->px[3 * i + src]];
    }
}

static unsigned char clip_round(double v) {
    if (!(v >= 0.0)) return 0; /* also NaN */
    if (v >= 255.0) return 255;
    return (unsigned char)floor(v + 0.5);
}

ss_status ss_image_from_tensor(ss_image *out, const float *x, int w, int h, const ss_preproc *pp) {
    ss_status s = ss_image_alloc(out, w, h);
    if (s != SS_OK) return s;
    size_t np = (size_t)w * (size_t)h;
    for (int c = 0; c < 3; c++) {
        int dst = pp->bgr ? 2 - c : c;
        const float *xc = x + (size_t)c * np;
        for (size_t i = 0; i < np; i++)
            out->px[3 * i + dst] = ss_ew_deprocess(xc[i], pp->scale, pp->mean[c], pp->std[c]);
    }
    return SS_OK;
}

static unsigned char luma601(const unsigned char *p) {
    return (unsigned char)((19595u * p[0] + 38470u * p[1] + 7471u * p[2] + 32768u) >> 16);
}

ss_status ss_image_init_tensor(float *out, const char *mode, const ss_image *content, const ss_preproc *pp,
                               unsigned long long seed) {
    if (!mode) return ss_error(SS_ERR_ARG, "no initial image mode given (expected content, noise or gray)");
    size_t np = (size_t)content->w * (size_t)content->h;
    if (strcmp(mode, "content") == 0) {
        ss_image_to_tensor(out, content, pp);
        return SS_OK;
    }
    if (strcmp(mode, "gray") == 0) {
        float lut[3][256];
        make_lut(lut, pp);
        for (size_t i = 0; i < np; i++) {
            unsigned char y = luma601(content->px + 3 * i);
            for (int c = 0; c < 3; c++) out[(size_t)c * np + i] = lut[c][y];
        }
        return SS_OK;
    }
    if (strcmp(mode, "noise") == 0) {
        uint64_t state = seed;
        for (int c = 0; c < 3; c++) {
            double k = (double)pp->scale / pp->std[c];
            for (size_t i = 0; i < np; i++) {
                double u = (double)(ss_splitmix64(&state) >> 11) * 0x1.0p-53;
                out[(size_t)c * np + i] = (float)((u * 255.0 - 128.0) * k);
            }
        }
        return SS_OK;
    }
    return ss_error(SS_ERR_ARG, "unknown initial image mode '%s' (expected content, noise or gray)", mode);
}

ss_status ss_image_preserve_color(ss_image *result, const ss_image *content) {
    if (!result || !content || !result->px || !content->px)
        return ss_error(SS_ERR_ARG, "colour preservation needs two images");
    if (result->w != content->w || result->h != content->h)
        return ss_error(SS_ERR_ARG, "colour preservation: result %dx%d and content %dx%d differ", result->w, result->h,
                        content->w, content->h);
    size_t np = (size_t)result->w * (size_t)result->h;
    for (size_t i = 0; i < np; i++) {
        unsigned char *r = result->px + 3 * i;
        const unsigned char *q = content->px + 3 * i;
        double y = 0.299 * r[0] + 0.587 * r[1] + 0.114 * r[2];
        double cb = -0.168735892 * q[0] - 0.331264108 * q[1] + 0.5 * q[2]; /* - 128 */
        double cr = 0.5 * q[0] - 0.418687589 * q[1] - 0.081312411 * q[2];  /* - 128 */
        r[0] = clip_round(y + 1.402 * cr);
        r[1] = clip_round(y - 0.344136286 * cb - 0.714136286 * cr);
        r[2] = clip_round(y + 1.772 * cb);
    }
    return SS_OK;
}

/* Returns 1 for .png, 2 for .jpg/.jpeg, 0 otherwise. */
static int save_kind(const char *path) {
    const char *slash = strrchr(path, '/');
    const char *dot = strrchr(path, '.');
    if (!dot || (slash && dot < slash)) return 0;
    if (strcasecmp(dot, ".png") == 0) return 1;
    if (strcasecmp(dot, ".jpg") == 0 || strcasecmp(dot, ".jpeg") == 0) return 2;
    return 0;
}

typedef struct save_sink {
    FILE *f;
    int err; /* first errno seen, 0 if none */
} save_sink;

static void sink_write(void *ctx, void *data, int size) {
    save_sink *s = ctx;
    if (s->err || size <= 0) return;
    errno = 0;
    if (fwrite(data, 1, (size_t)size, s->f) != (size_t)size) s->err = errno ? errno : EIO;
}

ss_status ss_image_save(const char *path, const ss_image *img) {
    if (!path) return ss_error(SS_ERR_ARG, "cannot write image: no path given");
    int kind = save_kind(path);
    if (!kind)
        return ss_error(SS_ERR_ARG, "cannot write image %s: unsupported extension (use .png, .jpg or .jpeg)", path);
    if (!img || !img->px || !size_ok(img->w, img->h))
        return ss_error(SS_ERR_ARG, "cannot write image %s: the image is empty", path);

    ss_file_tmp t;
    SS_TRY(ss_file_tmp_open(&t, path));
    save_sink sink = {t.f, 0};
    int ok = kind == 1 ? stbi_write_png_to_func(sink_write, &sink, img->w, img->h, 3, img->px, img->w * 3)
                       : stbi_write_jpg_to_func(sink_write, &sink, img->w, img->h, 3, img->px, 95);
    if (sink.err || !ok) {
        ss_file_tmp_abort(&t);
        if (sink.err) return ss_error(SS_ERR_IO, "cannot write image %s: %s", path, strerror(sink.err));
        return ss_error(SS_ERR_IO, "cannot write image %s: the %s encoder failed", path, kind == 1 ? "PNG" : "JPEG");
    }
    return ss_file_tmp_commit(&t);
}
