/* cmd_transfer.c - `stylesweep transfer`: one style transfer. */
#include <stdio.h>

#include "commands.h"

int ss_cmd_transfer(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "stylesweep transfer: not available yet\n");
    return SS_EXIT_FAILURE;
}
