/* image.h - 8-bit RGB images: load, resize, save, convert to and from the
 * network's pre-processed float tensors, initial images and colour
 * preservation.
 *
 * Pixels are 8-bit RGB, interleaved (row-major H x W x 3). Tensors are
 * planar float (3, H, W) in the model's pre-processed domain (see
 * ss_preproc). Decoding and encoding use stb_image / stb_image_write /
 * stb_image_resize (Debian libstb). */
#ifndef SS_IMAGE_H
#define SS_IMAGE_H

#include <stddef.h>

#include "status.h"

/* Largest accepted width or height of an image, and the pixel budget: the
 * largest pixel count (8192 x 8192). A file whose header declares more is
 * refused before decoding (SS_ERR_FORMAT naming the budget): decoding one
 * takes about 7 bytes of memory per pixel. */
#define SS_IMAGE_MAX_SIDE 32768
#define SS_IMAGE_MAX_PIXELS (1LL << 26)
/* Range of the image_size parameter accepted by ss_image_target_size. */
#define SS_IMAGE_MAX_TARGET 8192

/* An 8-bit RGB image, interleaved HWC: pixel (x, y) channel c is
 * px[(y * w + x) * 3 + c], c = 0 red, 1 green, 2 blue. An image owns px
 * (malloc'd); a zeroed struct is a valid empty image. */
typedef struct ss_image {
    int w, h;
    unsigned char *px;
} ss_image;

/* How the long/short sides are chosen by ss_image_target_size. */
typedef enum ss_aspect {
    SS_ASPECT_KEEP,  /* long side = image_size, the other side scaled */
    SS_ASPECT_SQUARE /* image_size x image_size */
} ss_aspect;

/* Pre-processing of an image for a model: with v = pixel value (0..255) of
 * the tensor channel c (channel 0 = blue when bgr, red otherwise),
 *   x = (v * scale - mean[c]) / std[c].
 * mean and std are given in tensor channel order. */
typedef struct ss_preproc {
    int bgr;     /* 1: tensor channels are B, G, R; 0: R, G, B */
    float scale; /* multiplies the 0..255 pixel value before the mean */
    float mean[3];
    float std[3];
} ss_preproc;

/* Caffe / Keras VGG weights: BGR, 0..255, mean B 103.939 G 116.779
 * R 123.68, std 1. */
extern const ss_preproc ss_image_preproc_caffe;
/* torchvision VGG weights: RGB, 0..1, mean 0.485 0.456 0.406, std 0.229
 * 0.224 0.225. */
extern const ss_preproc ss_image_preproc_torchvision;

/* Looks up a pre-processing by name ("caffe" or "torchvision", case
 * insensitive) and copies it to *out. Returns SS_ERR_ARG naming the value
 * when it is unknown (out untouched). */
ss_status ss_image_preproc_by_name(ss_preproc *out, const char *name);

/* Allocates an uninitialised w x h image into *out (any earlier content of
 * *out is overwritten, not freed). Returns SS_ERR_ARG for a size outside
 * 1..SS_IMAGE_MAX_SIDE / SS_IMAGE_MAX_PIXELS, SS_ERR_NOMEM when allocation
 * fails; *out is then an empty image. The caller frees with ss_image_free. */
ss_status ss_image_alloc(ss_image *out, int w, int h);

/* Frees img's pixels and leaves it empty (w = h = 0, px = NULL). Accepts
 * NULL and empty images. */
void ss_image_free(ss_image *img);

/* Decodes the image file at path (any format stb_image reads: JPEG, PNG,
 * BMP, GIF (first frame), TGA, PSD, HDR, PNM) into *out as 8-bit RGB.
 * Before stb_image sees the bytes, the header is checked: the declared size
 * against SS_IMAGE_MAX_SIDE and the pixel budget SS_IMAGE_MAX_PIXELS; for
 * PNG, BMP, GIF, TGA and PNM, the declared size against the file's length
 * (the least a file of that size can hold: a forged or truncated header is
 * refused instead of decoded as zeros); for JPEG, every Huffman table
 * (README.md, "Known limits").
 * Grayscale is copied to the three channels; an alpha channel is
 * composited over white (out = (c * a + 255 * (255 - a)) / 255, rounded);
 * 16-bit and HDR files are converted by stb_image.
 * Returns SS_OK with out owning the pixels (free with ss_image_free), or:
 * SS_ERR_IO when the file cannot be opened or read (message names path and
 * strerror), SS_ERR_FORMAT when it is empty, not an image, truncated or
 * corrupt (message names path and stb_image's reason) or larger than
 * SS_IMAGE_MAX_SIDE / SS_IMAGE_MAX_PIXELS, SS_ERR_NOMEM. On failure *out is
 * an empty image. */
ss_status ss_image_load(ss_image *out, const char *path);

/* Reads only the header of the image file at path (stb_image's stbi_info,
 * nothing decoded): its declared width, height and channels (1..4).
 * SS_ERR_IO when the file cannot be opened, SS_ERR_FORMAT (naming path)
 * when no format stb_image reads recognises the header. */
ss_status ss_image_probe(int *w, int *h, int *channels, const char *path);

/* Computes the size an image of src_w x src_h is resized to for the
 * image_size parameter. KEEP: the long side becomes image_size and the
 * short side src_short * image_size / src_long rounded to nearest (at
 * least 1); SQUARE: image_size x image_size. Returns SS_ERR_ARG (w, h
 * untouched) when image_size is outside 1..SS_IMAGE_MAX_TARGET, the source
 * size is not positive or aspect is unknown. */
ss_status ss_image_target_size(int *w, int *h, int src_w, int src_h, int image_size, ss_aspect aspect);

/* Resizes in to w x h into *out (a new image; *out's earlier content is
 * overwritten, not freed) with stb_image_resize's default filters
 * (Mitchell down, Catmull-Rom up) on the 8-bit values as they are (no sRGB
 * linearisation). Same size copies. Returns SS_ERR_ARG for an empty input
 * or a bad size, SS_ERR_NOMEM, SS_ERR_INTERNAL if stb fails; *out is then
 * empty. */
ss_status ss_image_resize(ss_image *out, const ss_image *in, int w, int h);

/* Writes img pre-processed by pp into out, planar (3, h, w) floats
 * (3 * w * h of them, caller-allocated). Cannot fail. */
void ss_image_to_tensor(float *out, const ss_image *img, const ss_preproc *pp);

/* Reverses ss_image_to_tensor: reads the (3, h, w) tensor x, de-processes
 * it with pp, rounds to nearest and clips to 0..255 (NaN becomes 0) into a
 * newly allocated w x h image *out (earlier content overwritten, not
 * freed). to_tensor followed by from_tensor gives back the same pixels.
 * Returns SS_ERR_ARG for a bad size, SS_ERR_NOMEM; *out is then empty. */
ss_status ss_image_from_tensor(ss_image *out, const float *x, int w, int h, const ss_preproc *pp);

/* Fills out (3 * content->w * content->h floats, planar) with the initial
 * image of a run, in the domain of pp:
 *   "content": the content image pre-processed;
 *   "gray":    the content image turned grayscale (ITU-R BT.601 luma,
 *              Y = (19595 R + 38470 G + 7471 B + 32768) >> 16, as PIL's
 *              convert("L")), copied to three channels, then pre-processed;
 *   "noise":   n uniform in [-128, 127) (uniform 0..255 minus 128, as the
 *              reference), written as x = n * scale / std[c]: for Caffe x = n
 *              exactly; for other pre-processings the same offset from the
 *              mean expressed in their units. Drawn from splitmix64 seeded
 *              with seed, one draw per value in tensor order (c, y, x), the
 *              top 53 bits giving u in [0, 1) and n = u * 255 - 128: the same
 *              values on every machine.
 * Returns SS_ERR_ARG naming the mode when it is NULL or unknown (out
 * untouched). */
ss_status ss_image_init_tensor(float *out, const char *mode, const ss_image *content, const ss_preproc *pp,
                               unsigned long long seed);

/* Colour preservation: replaces result's chrominance by content's. Each
 * pixel keeps result's luma Y and takes content's Cb and Cr (YCbCr, BT.601
 * full range as JPEG/JFIF uses), converted back to RGB, rounded and clipped
 * to 0..255. Changes result in place. Returns SS_ERR_ARG (result untouched)
 * when the two images are empty or their sizes differ. */
ss_status ss_image_preserve_color(ss_image *result, const ss_image *content);

/* Writes img to path: JPEG (quality 95) when the extension is .jpg or .jpeg,
 * PNG when it is .png (case-insensitive). The image goes to a temporary
 * file path + ".tmp.XXXXXX" in the same directory, is flushed and synced,
 * and is renamed onto path only when complete, so path is never a partial
 * file; the temporary is removed on failure. The file gets mode 0666 less
 * the umask. Returns SS_ERR_ARG for another extension or an empty image,
 * SS_ERR_IO naming path and strerror when the file cannot be created,
 * written or renamed (path is then untouched). */
ss_status ss_image_save(const char *path, const ss_image *img);

#endif
