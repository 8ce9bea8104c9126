/* backend_cpu_winograd_kernels.h - the tile transforms of the Winograd
 * F(4x4, 3x3) convolution (backend_cpu_winograd.c), written once with GCC's
 * vector extensions and compiled once per instruction set: the including
 * file defines WG_VEC (lanes: the channel block of the activations), WG_TARGET
 * (the target attribute) and WG_FN(name) (the name with the ISA's suffix),
 * includes this file, and undefines them. Each tile works on one channel block
 * of WG_VEC channels, the innermost axis of the blocked layout nChw{WG_VEC}c;
 * every sum is written out in a fixed order, so a result does not depend on
 * which thread computes it. */

typedef float WG_FN(vf) __attribute__((vector_size(WG_VEC * 4)));
typedef int WG_FN(vi) __attribute__((vector_size(WG_VEC * 4)));
#define wg_vf WG_FN(vf) /* this ISA's vectors, by short names */
#define wg_vi WG_FN(vi)

#define WG_ATTR __attribute__((target(WG_TARGET)))
#define WG_INLINE __attribute__((target(WG_TARGET), always_inline)) static inline

WG_INLINE wg_vf WG_FN(ld)(const float *p) {
    wg_vf v;
    __builtin_memcpy(&v, p, sizeof v);
    return v;
}

WG_INLINE void WG_FN(st)(float *p, wg_vf v) { __builtin_memcpy(p, &v, sizeof v); }

/* v[xi * xs] (xi = 6 i + j, WG_VEC floats each) = (B^T d B)[i][j], d the 6x6
 * patch of the channel block `in` (H x W x WG_VEC) whose top-left pixel is
 * (y0, x0), zero outside the image. */
static WG_ATTR void WG_FN(wg_in_tile)(float *v, size_t xs, const float *in, int H, int W, int y0, int x0) {
    wg_vf d[6][6], t[6][6], zero = {0};
    for (int i = 0; i < 6; i++) {
        int y = y0 + i;
        for (int j = 0; j < 6; j++) {
            int x = x0 + j;
            d[i][j] = y >= 0 && y < H && x >= 0 && x < W ? WG_FN(ld)(in + ((size_t)y * W + x) * WG_VEC) : zero;
        }
    }
    for (int j = 0; j < 6; j++) { /* t = B^T d */
        wg_vf d0 = d[0][j], d1 = d[1][j], d2 = d[2][j], d3 = d[3][j], d4 = d[4][j], d5 = d[5][j];
        t[0][j] = 4.0f * d0 - 5.0f * d2 + d4;
        t[1][j] = -4.0f * d1 - 4.0f * d2 + d3 + d4;
        t[2][j] = 4.0f * d1 - 4.0f * d2 - d3 + d4;
        t[3][j] = -2.0f * d1 - d2 + 2.0f * d3 + d4;
        t[4][j] = 2.0f * d1 - d2 - 2.0f * d3 + d4;
        t[5][j] = 4.0f * d1 - 5.0f * d3 + d5;
    }
    for (int i = 0; i < 6; i++) { /* (t B)[i] */
        wg_vf t0 = t[i][0], t1 = t[i][1], t2 = t[i][2], t3 = t[i][3], t4 = t[i][4], t5 = t[i][5];
        float *r = v + (size_t)i * 6 * xs;
        WG_FN(st)(r, 4.0f * t0 - 5.0f * t2 + t4);
        WG_FN(st)(r + xs, -4.0f * t1 - 4.0f * t2 + t3 + t4);
        WG_FN(st)(r + 2 * xs, 4.0f * t1 - 4.0f * t2 - t3 + t4);
        WG_FN(st)(r + 3 * xs, -2.0f * t1 - t2 + 2.0f * t3 + t4);
        WG_FN(st)(r + 4 * xs, 2.0f * t1 - t2 - 2.0f * t3 + t4);
        WG_FN(st)(r + 5 * xs, 4.0f * t1 - 5.0f * t3 + t5);
    }
}

/* The 4x4 output tile at (y0, x0) of the channel block `out` (H x W x
 * WG_VEC), cut at the image's border: A^T m A (+ bias, then ReLU when relu),
 * m[xi] at m + xi * xs. bias is WG_VEC floats or NULL. */
static WG_ATTR void WG_FN(wg_out_tile)(float *out, const float *m, size_t xs, const float *bias, int relu, int H, int W,
                                       int y0, int x0) {
    wg_vf t[4][6], zero = {0}, b = bias ? WG_FN(ld)(bias) : zero;
    for (int j = 0; j < 6; j++) { /* t = A^T m */
        wg_vf m0 = WG_FN(ld)(m + (size_t)j * xs), m1 = WG_FN(ld)(m + (size_t)(6 + j) * xs),
              m2 = WG_FN(ld)(m + (size_t)(12 + j) * xs), m3 = WG_FN(ld)(m + (size_t)(18 + j) * xs),
              m4 = WG_FN(ld)(m + (size_t)(24 + j) * xs), m5 = WG_FN(ld)(m + (size_t)(30 + j) * xs);
        t[0][j] = m0 + m1 + m2 + m3 + m4;
        t[1][j] = m1 - m2 + 2.0f * (m3 - m4);
        t[2][j] = m1 + m2 + 4.0f * (m3 + m4);
        t[3][j] = m1 - m2 + 8.0f * (m3 - m4) + m5;
    }
    for (int i = 0; i < 4 && y0 + i < H; i++) { /* (t A)[i] */
        wg_vf t0 = t[i][0], t1 = t[i][1], t2 = t[i][2], t3 = t[i][3], t4 = t[i][4], t5 = t[i][5], o[4];
        o[0] = t0 + t1 + t2 + t3 + t4 + b;
        o[1] = t1 - t2 + 2.0f * (t3 - t4) + b;
        o[2] = t1 + t2 + 4.0f * (t3 + t4) + b;
        o[3] = t1 - t2 + 8.0f * (t3 - t4) + t5 + b;
        float *row = out + ((size_t)(y0 + i) * W + x0) * WG_VEC;
        for (int j = 0; j < 4 && x0 + j < W; j++) {
            wg_vf r = o[j];
            if (relu) r = (wg_vf)((wg_vi)r & (r > zero));
            WG_FN(st)(row + (size_t)j * WG_VEC, r);
        }
    }
}

#undef WG_ATTR
#undef wg_vf
#undef wg_vi
#undef WG_INLINE
