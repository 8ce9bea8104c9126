/* colour.c - luminance-only transfer, colour histogram matching and the
 * colour restoration of a run (see colour.h). */
#include "colour.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

ss_status ss_colour_parse_mode(ss_colour_mode *mode, const char *value) {
    if (!strcmp(value, "false")) *mode = SS_COLOUR_OFF;
    else if (!strcmp(value, "ycbcr")) *mode = SS_COLOUR_YCBCR;
    else if (!strcmp(value, "luminance")) *mode = SS_COLOUR_LUMINANCE;
    else if (!strcmp(value, "histogram")) *mode = SS_COLOUR_HISTOGRAM;
    else return ss_error(SS_ERR_ARG, "preserve_color: '%s' is not one of false|ycbcr|luminance|histogram", value);
    return SS_OK;
}

static double luma(const unsigned char *p) { return 0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2]; }

static unsigned char clip_round(double v) {
    if (!(v > 0.0)) return 0;
    if (v >= 255.0) return 255;
    return (unsigned char)(v + 0.5);
}

/* Mean and population standard deviation of the luma of n pixels. */
static void luma_stats(double *mean, double *sd, const unsigned char *px, size_t n) {
    double s = 0.0, s2 = 0.0;
    for (size_t i = 0; i < n; i++) s += luma(px + 3 * i);
    *mean = s / (double)n;
    for (size_t i = 0; i < n; i++) {
        double d = luma(px + 3 * i) - *mean;
        s2 += d * d;
    }
    *sd = sqrt(s2 / (double)n);
}

void ss_colour_luminance_values(double *out, const unsigned char *style, size_t ns, const unsigned char *content,
                                size_t nc) {
    double ms, ss, mc, sc;
    luma_stats(&ms, &ss, style, ns);
    luma_stats(&mc, &sc, content, nc);
    double k = ss > 0.0 ? sc / ss : 0.0;
    for (size_t i = 0; i < ns; i++) out[i] = (luma(style + 3 * i) - ms) * k + mc;
}

/* Mean (3) and population covariance (3x3, row-major) of n RGB pixels, plus
 * SS_COLOUR_EPS on the diagonal. */
static void rgb_stats(double mean[3], double cov[9], const unsigned char *px, size_t n) {
    double s[3] = {0, 0, 0};
    for (size_t i = 0; i < n; i++)
        for (int c = 0; c < 3; c++) s[c] += px[3 * i + c];
    for (int c = 0; c < 3; c++) mean[c] = s[c] / (double)n;
    memset(cov, 0, 9 * sizeof *cov);
    for (size_t i = 0; i < n; i++) {
        const double d[3] = {px[3 * i] - mean[0], px[3 * i + 1] - mean[1], px[3 * i + 2] - mean[2]};
        for (int a = 0; a < 3; a++)
            for (int b = 0; b < 3; b++) cov[3 * a + b] += d[a] * d[b];
    }
    for (int k = 0; k < 9; k++) cov[k] /= (double)n;
    for (int c = 0; c < 3; c++) cov[4 * c] += SS_COLOUR_EPS;
}

static void mat3_mul(double out[9], const double a[9], const double b[9]) {
    double r[9];
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) r[3 * i + j] = a[3 * i] * b[j] + a[3 * i + 1] * b[3 + j] + a[3 * i + 2] * b[6 + j];
    memcpy(out, r, sizeof r);
}

/* Lower-triangular l with l l^T = a; 0 when a is not positive definite. */
static int cholesky3(double l[9], const double a[9]) {
    memset(l, 0, 9 * sizeof *l);
    for (int i = 0; i < 3; i++)
        for (int j = 0; j <= i; j++) {
            double s = a[3 * i + j];
            for (int k = 0; k < j; k++) s -= l[3 * i + k] * l[3 * j + k];
            if (i == j) {
                if (!(s > 0.0)) return 0;
                l[3 * i + i] = sqrt(s);
            } else l[3 * i + j] = s / l[3 * j + j];
        }
    return 1;
}

/* Inverse of the lower-triangular l (forward substitution). */
static void lower_inverse3(double out[9], const double l[9]) {
    memset(out, 0, 9 * sizeof *out);
    for (int j = 0; j < 3; j++)
        for (int i = j; i < 3; i++) {
            double s = i == j ? 1.0 : 0.0;
            for (int k = j; k < i; k++) s -= l[3 * i + k] * out[3 * k + j];
            out[3 * i + j] = s / l[3 * i + i];
        }
}

/* a^power for a symmetric positive definite 3x3 a, by cyclic Jacobi
 * rotations (a = V diag(d) V^T, then V diag(d^power) V^T); 0 when an
 * eigenvalue is not positive. */
static int sym_power3(double out[9], const double a[9], double power) {
    double m[9], v[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1};
    memcpy(m, a, sizeof m);
    for (int sweep = 0; sweep < 64; sweep++) {
        double off = m[1] * m[1] + m[2] * m[2] + m[5] * m[5];
        if (off <= 1e-30 * (m[0] * m[0] + m[4] * m[4] + m[8] * m[8])) break;
        for (int p = 0; p < 2; p++)
            for (int q = p + 1; q < 3; q++) {
                double apq = m[3 * p + q];
                if (apq == 0.0) continue;
                double theta = (m[3 * q + q] - m[3 * p + p]) / (2.0 * apq);
                double t = (theta >= 0 ? 1.0 : -1.0) / (fabs(theta) + sqrt(theta * theta + 1.0));
                double c = 1.0 / sqrt(t * t + 1.0), s = t * c;
                for (int k = 0; k < 3; k++) { /* m = J^T m J, v = v J */
                    double mkp = m[3 * k + p], mkq = m[3 * k + q];
                    m[3 * k + p] = c * mkp - s * mkq;
                    m[3 * k + q] = s * mkp + c * mkq;
                }
                for (int k = 0; k < 3; k++) {
                    double mpk = m[3 * p + k], mqk = m[3 * q + k];
                    m[3 * p + k] = c * mpk - s * mqk;
                    m[3 * q + k] = s * mpk + c * mqk;
                }
                for (int k = 0; k < 3; k++) {
                    double vkp = v[3 * k + p], vkq = v[3 * k + q];
                    v[3 * k + p] = c * vkp - s * vkq;
                    v[3 * k + q] = s * vkp + c * vkq;
                }
            }
    }
    double d[3];
    for (int i = 0; i < 3; i++) {
        if (!(m[4 * i] > 0.0)) return 0;
        d[i] = pow(m[4 * i], power);
    }
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            out[3 * i + j] =
                v[3 * i] * d[0] * v[3 * j] + v[3 * i + 1] * d[1] * v[3 * j + 1] + v[3 * i + 2] * d[2] * v[3 * j + 2];
    return 1;
}

ss_status ss_colour_histogram_values(double *out, const unsigned char *style, size_t ns, const unsigned char *content,
                                     size_t nc, ss_hist_method method) {
    double ms[3], cs[9], mc[3], cc[9], a[9], x[9], y[9];
    rgb_stats(ms, cs, style, ns);
    rgb_stats(mc, cc, content, nc);
    int ok;
    if (method == SS_HIST_EIGEN) {
        ok = sym_power3(x, cc, 0.5) && sym_power3(y, cs, -0.5);
    } else {
        double ls[9];
        ok = cholesky3(x, cc) && cholesky3(ls, cs);
        if (ok) lower_inverse3(y, ls);
    }
    if (!ok) return ss_error(SS_ERR_NUMERIC, "preserve_color histogram: a colour covariance is not positive definite");
    mat3_mul(a, x, y);
    for (size_t i = 0; i < ns; i++) {
        const double d[3] = {style[3 * i] - ms[0], style[3 * i + 1] - ms[1], style[3 * i + 2] - ms[2]};
        for (int c = 0; c < 3; c++)
            out[3 * i + c] = a[3 * c] * d[0] + a[3 * c + 1] * d[1] + a[3 * c + 2] * d[2] + mc[c];
    }
    return SS_OK;
}

/* Writes the n values v (one per pixel: gray; or three) rounded into img. */
static void store(ss_image *img, const double *v, int per_pixel) {
    size_t n = (size_t)img->w * img->h;
    for (size_t i = 0; i < n; i++)
        for (int c = 0; c < 3; c++) img->px[3 * i + c] = clip_round(per_pixel == 1 ? v[i] : v[3 * i + c]);
}

ss_status ss_colour_prepare(ss_image *content, ss_image *styles, int n_styles, ss_colour_mode mode,
                            ss_hist_method method) {
    if (mode != SS_COLOUR_LUMINANCE && mode != SS_COLOUR_HISTOGRAM) return SS_OK;
    size_t nc = (size_t)content->w * content->h, most = nc;
    for (int s = 0; s < n_styles; s++)
        if ((size_t)styles[s].w * styles[s].h > most) most = (size_t)styles[s].w * styles[s].h;
    double *v = malloc(3 * most * sizeof *v);
    SS_ALLOC_CHECK(v);
    ss_status st = SS_OK;
    for (int s = 0; st == SS_OK && s < n_styles; s++) {
        size_t ns = (size_t)styles[s].w * styles[s].h;
        if (mode == SS_COLOUR_LUMINANCE) {
            ss_colour_luminance_values(v, styles[s].px, ns, content->px, nc);
            store(&styles[s], v, 1);
        } else {
            st = ss_colour_histogram_values(v, styles[s].px, ns, content->px, nc, method);
            if (st == SS_OK) store(&styles[s], v, 3);
        }
    }
    if (st == SS_OK && mode == SS_COLOUR_LUMINANCE) { /* after the styles: they match the colour content */
        for (size_t i = 0; i < nc; i++) v[i] = luma(content->px + 3 * i);
        store(content, v, 1);
    }
    free(v);
    return st;
}

ss_status ss_colour_restore(ss_image *result, const ss_image *content, const unsigned char *mask, ss_colour_mode mode) {
    if (mode != SS_COLOUR_YCBCR && mode != SS_COLOUR_LUMINANCE) return SS_OK;
    if (!mask) return ss_image_preserve_color(result, content);
    size_t n = (size_t)result->w * result->h;
    unsigned char *keep = malloc(3 * n);
    SS_ALLOC_CHECK(keep);
    memcpy(keep, result->px, 3 * n);
    ss_status st = ss_image_preserve_color(result, content);
    for (size_t i = 0; st == SS_OK && i < n; i++)
        if (!mask[i]) memcpy(result->px + 3 * i, keep + 3 * i, 3);
    free(keep);
    return st;
}
