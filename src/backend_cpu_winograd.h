/* backend_cpu_winograd.h - part of the CPU backend: a Winograd F(4x4, 3x3)
 * convolution (Lavin and Gray 2016) for 3x3, stride-1, padding-1 layers,
 * used where oneDNN has no Winograd kernel of its own (AVX2 CPUs).
 *
 * Activations are in the blocked layout nChw{vec}c (vec = 8 for AVX2, 16
 * for AVX-512; channels padded with zeros to a multiple of vec), the layout
 * oneDNN's direct convolutions use on those CPUs. The filters are
 * transformed once, for both directions, when the layer is made; each call
 * transforms the input tile by tile, multiplies the 36 transformed planes by
 * the filters with OpenBLAS sgemm (one product per plane, over channels) and
 * transforms the output back, with bias and ReLU fused in the forward
 * direction. Tiles are processed in chunks whose size depends only on the
 * layer's shape (few channels: each thread takes whole chunks, kept in its
 * cache; many: the threads share each phase of a chunk), and every sum has a
 * fixed order: results are identical for any number of threads. */
#ifndef SS_BACKEND_CPU_WINOGRAD_H
#define SS_BACKEND_CPU_WINOGRAD_H

#include <stddef.h>

#include "status.h"

typedef struct ss_wino ss_wino;

/* Makes the convolution of a (cin, h, w) input into cout channels with the
 * host arrays weight (cout, cin, 3, 3) and bias (cout), for channel blocks
 * of vec lanes (8: the AVX2 kernels, 16: the AVX-512 ones), run by at most
 * `threads` threads. *out is freed with ss_wino_free. */
ss_status ss_wino_new(ss_wino **out, int cin, int cout, int h, int w, int vec, int threads, const float *weight,
                      const float *bias);

/* Frees w (NULL is ignored). */
void ss_wino_free(ss_wino *w);

/* The floats of scratch memory ss_wino_forward and ss_wino_backward_data
 * need (the caller's, shared by the layers of a network). */
size_t ss_wino_scratch_floats(const ss_wino *w);

/* out (blocked, cout channels) = relu(conv(in) + bias), in blocked (cin
 * channels); scratch holds ss_wino_scratch_floats(w) floats. */
void ss_wino_forward(const ss_wino *w, float *out, const float *in, float *scratch);

/* din (blocked, cin) = conv^T(dpre) (dpre blocked, cout): the same
 * convolution with the filters rotated by 180 degrees and their channel
 * axes swapped. */
void ss_wino_backward_data(const ss_wino *w, float *din, const float *dpre, float *scratch);

/* 1 when this CPU and build can run the kernels for vec lanes. */
int ss_wino_supported(int vec);

#endif
