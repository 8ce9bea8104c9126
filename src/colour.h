/* colour.h - the colour controls of a run (preserve_color, histogram_method,
 * color_mask) after Gatys, Bethge, Hertzmann and Shechtman, "Preserving
 * Color in Neural Artistic Style Transfer" (2016), and titu1994's
 * Neural-Style-Transfer (color_transfer.py):
 *   ycbcr      after the optimisation, the result's luma with the content's
 *              chrominance (ss_image_preserve_color);
 *   luminance  luminance-only transfer: content and style become their luma
 *              Y (BT.601 full range, Y = 0.299 R + 0.587 G + 0.114 B)
 *              copied to three channels, the style's Y matched to the
 *              content's mean and variance, Y' = (Y - mu_s) sd_c / sd_s +
 *              mu_c (population statistics; a flat style gives mu_c); the
 *              result's luma then takes the content's chrominance;
 *   histogram  the style's pixels p (RGB, 0..255) matched to the content's
 *              mean and covariance before the transfer, p' = A (p - mu_s) +
 *              mu_c, with A Sigma_s A^T = Sigma_c: cholesky A = L_c L_s^-1
 *              (Sigma = L L^T), eigen A = Sigma_c^1/2 Sigma_s^-1/2 (the
 *              symmetric square roots). Covariances are population ones plus
 *              SS_COLOUR_EPS on the diagonal, so a flat image stays finite.
 * Results are rounded to nearest and clipped to 0..255 into 8-bit images;
 * the ss_colour_*_values functions give the values before that, for tests. */
#ifndef SS_COLOUR_H
#define SS_COLOUR_H

#include <stddef.h>

#include "image.h"
#include "status.h"

#define SS_COLOUR_EPS 1e-3

typedef enum ss_colour_mode { SS_COLOUR_OFF, SS_COLOUR_YCBCR, SS_COLOUR_LUMINANCE, SS_COLOUR_HISTOGRAM } ss_colour_mode;

typedef enum ss_hist_method { SS_HIST_CHOLESKY, SS_HIST_EIGEN } ss_hist_method;

/* Parses a preserve_color value ("false", "ycbcr", "luminance",
 * "histogram") into *mode; SS_ERR_ARG naming the key and value otherwise. */
ss_status ss_colour_parse_mode(ss_colour_mode *mode, const char *value);

/* out[i] (n doubles) = the matched luma of style pixel i: style's luma
 * matched to content's mean and variance (see the top). Pixels are 8-bit
 * RGB interleaved; ns and nc pixel counts >= 1. */
void ss_colour_luminance_values(double *out, const unsigned char *style, size_t ns, const unsigned char *content,
                                size_t nc);

/* out (3 * ns doubles, interleaved RGB) = style's pixels matched to
 * content's mean and covariance by method (see the top). SS_ERR_NUMERIC
 * when a covariance is not positive definite after the regularisation. */
ss_status ss_colour_histogram_values(double *out, const unsigned char *style, size_t ns, const unsigned char *content,
                                     size_t nc, ss_hist_method method);

/* Prepares a run's images for mode, in place: luminance turns content and
 * every style into their luma (the styles' matched to the content's) on
 * three channels; histogram matches every style's colours to the
 * content's; other modes change nothing. SS_ERR_NOMEM, SS_ERR_NUMERIC. */
ss_status ss_colour_prepare(ss_image *content, ss_image *styles, int n_styles, ss_colour_mode mode,
                            ss_hist_method method);

/* Puts content's colours back into result after a run of mode (ycbcr and
 * luminance: result's luma with content's chrominance; other modes do
 * nothing), only where mask (w * h bytes, non-zero = white; NULL: all)
 * says so. SS_ERR_ARG when the sizes differ. */
ss_status ss_colour_restore(ss_image *result, const ss_image *content, const unsigned char *mask, ss_colour_mode mode);

#endif
