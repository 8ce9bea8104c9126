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

/* ---- checks of a file's header before stb_image decodes it ---- */

static unsigned be16(const unsigned char *p) { return (unsigned)p[0] << 8 | p[1]; }
static unsigned le16(const unsigned char *p) { return (unsigned)p[1] << 8 | p[0]; }
static unsigned long be32(const unsigned char *p) {
    return (unsigned long)p[0] << 24 | (unsigned long)p[1] << 16 | (unsigned long)p[2] << 8 | p[3];
}
static long le32s(const unsigned char *p) {
    return (long)(int32_t)((uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0]);
}

/* JPEG: every Huffman table (DHT) must hold at most 256 codes whose lengths
 * fit (stb_image 2.27 writes past its tables otherwise). Walks the markers
 * and the entropy-coded data between them; a truncated file is left to the
 * decoder. Returns 0, or -1 with *why set. */
static int jpeg_check_huffman(const unsigned char *b, size_t n, const char **why) {
    size_t pos = 2;
    while (pos + 1 < n) {
        if (b[pos] != 0xFF) return 0; /* not a marker: the decoder reports it */
        while (pos + 1 < n && b[pos + 1] == 0xFF) pos++;
        if (pos + 1 >= n) return 0;
        unsigned marker = b[pos + 1];
        pos += 2;
        if (marker == 0xD9) return 0;                                       /* EOI */
        if (marker == 0x01 || (marker >= 0xD0 && marker <= 0xD8)) continue; /* no length */
        if (pos + 2 > n) return 0;
        size_t len = be16(b + pos);
        if (len < 2 || pos + len > n) return 0;
        if (marker == 0xC4) {
            size_t q = pos + 2, end = pos + len;
            while (q < end) {
                if (q + 17 > end) {
                    *why = "a Huffman table (DHT) is cut short";
                    return -1;
                }
                unsigned long codes = 0, total = 0;
                for (int j = 1; j <= 16; j++) {
                    codes += b[q + j];
                    total += b[q + j];
                    if (codes > (1ul << j)) {
                        *why = "a Huffman table (DHT) has impossible code lengths";
                        return -1;
                    }
                    codes <<= 1;
                }
                if (total > 256) {
                    *why = "a Huffman table (DHT) declares more than 256 codes";
                    return -1;
                }
                q += 17 + total;
            }
        }
        pos += len;
        if (marker == 0xDA) /* entropy-coded data up to the next marker */
            while (pos + 1 < n && !(b[pos] == 0xFF && b[pos + 1] != 0 && !(b[pos + 1] >= 0xD0 && b[pos + 1] <= 0xD7)))
                pos++;
    }
    return 0;
}

/* PNM (P5, P6) header: reads one decimal number after whitespace and
 * comments; -1 when there is none. */
static long pnm_number(const unsigned char *b, size_t n, size_t *pos) {
    for (;;) {
        while (*pos < n && (b[*pos] == ' ' || (b[*pos] >= '\t' && b[*pos] <= '\r'))) (*pos)++;
        if (*pos < n && b[*pos] == '#') {
            while (*pos < n && b[*pos] != '\n' && b[*pos] != '\r') (*pos)++;
            continue;
        }
        break;
    }
    if (*pos >= n || b[*pos] < '0' || b[*pos] > '9') return -1;
    long v = 0;
    while (*pos < n && b[*pos] >= '0' && b[*pos] <= '9') {
        if (v > 100000000) return -1;
        v = v * 10 + (b[(*pos)++] - '0');
    }
    return v;
}

/* Checks the header of the image in b[0..n-1] before it is decoded: the
 * declared size against the limits and the pixel budget, against the least
 * number of bytes a file of that size needs (PNG, BMP, GIF, TGA, PNM), 16-bit
 * PNM refused, JPEG Huffman tables checked. Returns SS_OK, or SS_ERR_FORMAT
 * naming path. A header stb_image does not recognise passes: the decoder
 * then gives its reason. */
static ss_status check_header(const unsigned char *b, size_t n, const char *path) {
    int w = 0, h = 0, comp = 0;
    if (!stbi_info_from_memory(b, (int)n, &w, &h, &comp)) w = h = 0;
    if (w || h) {
        if (w < 1 || h < 1 || w > SS_IMAGE_MAX_SIDE || h > SS_IMAGE_MAX_SIDE)
            return ss_error(SS_ERR_FORMAT, "cannot decode image %s: it declares %dx%d pixels (at most %d per side)",
                            path, w, h, SS_IMAGE_MAX_SIDE);
        if ((long long)w * h > SS_IMAGE_MAX_PIXELS)
            return ss_error(SS_ERR_FORMAT,
                            "cannot decode image %s: it declares %dx%d = %lld pixels, over the pixel budget of %lld "
                            "(8192 x 8192); scale it down first",
                            path, w, h, (long long)w * h, (long long)SS_IMAGE_MAX_PIXELS);
    }
    double need = 0; /* the least bytes a file of the declared size holds */
    const char *fmt = NULL, *why = NULL;
    double px = (double)w * h;
    if (n >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF) {
        if (jpeg_check_huffman(b, n, &why))
            return ss_error(SS_ERR_FORMAT, "cannot decode image %s: corrupt JPEG: %s", path, why);
    } else if (n >= 26 && !memcmp(b, "\x89PNG\r\n\x1a\n", 8)) {
        /* deflate expands at most 1032 times; bits per pixel from IHDR */
        static const int channels[7] = {1, 0, 3, 1, 2, 0, 4};
        int depth = b[24], ct = b[25] <= 6 ? channels[b[25]] : 0;
        double row = ct ? ((double)be32(b + 16) * ct * depth + 7) / 8 + 1 : 0;
        need = row * (double)be32(b + 20) / 1032;
        fmt = "PNG";
    } else if (n >= 30 && b[0] == 'B' && b[1] == 'M') {
        unsigned long hsz = le32s(b + 14);
        long bw = hsz == 12 ? (long)le16(b + 18) : le32s(b + 18), bh = hsz == 12 ? (long)le16(b + 20) : le32s(b + 22);
        unsigned bpp = hsz == 12 ? le16(b + 24) : le16(b + 28);
        unsigned long compression = hsz == 12 || n < 34 ? 0 : (unsigned long)le32s(b + 30);
        if (compression == 0 || compression == 3) { /* uncompressed rows, padded to 4 bytes */
            double row = (((double)(bw < 0 ? -bw : bw) * bpp + 31) / 32) * 4;
            need = row * (double)(bh < 0 ? -bh : bh);
            fmt = "BMP";
        }
    } else if (n >= 6 && (!memcmp(b, "GIF87a", 6) || !memcmp(b, "GIF89a", 6))) {
        need = px / 4096; /* an LZW code of 12 bits or less stands for at most 4096 pixels */
        fmt = "GIF";
    } else if (n >= 3 && b[0] == 'P' && (b[1] == '5' || b[1] == '6')) {
        size_t pos = 2;
        long pw = pnm_number(b, n, &pos), ph = pnm_number(b, n, &pos), maxval = pnm_number(b, n, &pos);
        if (maxval > 255)
            return ss_error(SS_ERR_FORMAT,
                            "cannot decode image %s: 16-bit PNM (maxval %ld) is not supported; convert it to PNG", path,
                            maxval);
        if (pw > 0 && ph > 0) need = (double)pw * ph * (b[1] == '6' ? 3 : 1);
        fmt = "PNM";
    } else if (n >= 18 && w && h && (b[2] == 1 || b[2] == 2 || b[2] == 3 || b[2] == 9 || b[2] == 10 || b[2] == 11)) {
        /* TGA: stb_image reads missing pixel data as zeros */
        double bytes = (b[16] + 7) / 8;
        need = b[2] < 9 ? px * bytes : (px / 128) * (1 + bytes); /* RLE: a packet covers 128 pixels at most */
        fmt = "TGA";
    }
    if (fmt && need > (double)n)
        return ss_error(SS_ERR_FORMAT,
                        "cannot decode image %s: the %s header declares %dx%d pixels, which need at least %.0f bytes, "
                        "but the file has %zu (truncated or forged header)",
                        path, fmt, w, h, need, n);
    return SS_OK;
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

    /* The header first, so that absurd sizes and the inputs stb_image 2.27
     * mishandles are refused before decoding. When it cannot be parsed, the
     * decoder still runs: its reason ("no SOF", "expected marker") says more
     * than stbi_info's "unknown image type"; the size is checked again after. */
    ss_status hs = check_header(buf, len, path);
    if (hs != SS_OK) {
        free(buf);
        return hs;
    }
    /* decoded with the file's own channels (req_comp 0): stb_image 2.27
     * converts 16-bit data with the wrong channel count otherwise */
    int w = 0, h = 0, n = 0;
    unsigned char *rgba = stbi_load_from_memory(buf, (int)len, &w, &h, &n, 0);
    free(buf);
    if (!rgba)
        return ss_error(SS_ERR_FORMAT,
                        "cannot decode image %s (%zu bytes): %s (not an image, truncated, "
                        "corrupt or unsupported)",
                        path, len, stb_reason());
    if (!size_ok(w, h) || n < 1 || n > 4) {
        stbi_image_free(rgba);
        return ss_error(SS_ERR_FORMAT,
                        "cannot decode image %s: size %dx%d with %d channels exceeds the limit (%d per side, "
                        "%lld pixels)",
                        path, w, h, n, SS_IMAGE_MAX_SIDE, (long long)SS_IMAGE_MAX_PIXELS);
    }
    ss_status s = ss_image_alloc(out, w, h);
    if (s != SS_OK) {
        stbi_image_free(rgba);
        return ss_error(s, "cannot decode image %s: out of memory for %dx%d pixels", path, w, h);
    }
    size_t np = (size_t)w * (size_t)h;
    for (size_t i = 0; i < np; i++) {
        const unsigned char *p = rgba + (size_t)n * i;
        unsigned a = n == 2 || n == 4 ? p[n - 1] : 255;
        for (int c = 0; c < 3; c++) {
            unsigned v = n >= 3 ? p[c] : p[0];
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
