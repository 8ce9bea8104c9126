/* sizes.h - the size limits shared by the run parameters (params.h), the
 * network (net.h) and everything built on them, without their types. */
#ifndef SS_SIZES_H
#define SS_SIZES_H

enum {
    SS_MODEL_MAX_CONVS = 16,                  /* convolutions of the deepest model (VGG19) */
    SS_MAX_STYLES = 8,                        /* style images of one run */
    SS_MAX_STYLE_LAYERS = SS_MODEL_MAX_CONVS, /* layers of the style loss */
    SS_PATH_MAX = 1024,                       /* a path parameter with its NUL */
    SS_NAME_MAX = 32                          /* a name parameter (model, layer, ...) with its NUL */
};

#endif
