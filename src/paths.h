/* paths.h - lexical path handling for files named in a manifest: joining a
 * path written relative to a folder, collapsing "." and "..", and the file
 * part of a "FILE.h5:/dataset" specification. No I/O except the stat calls
 * ss_path_join documents. */
#ifndef SS_PATHS_H
#define SS_PATHS_H

#include <stddef.h>

/* Collapses "." and "dir/.." components of path in place (lexically; a
 * leading ".." of a relative path stays). path holds at most size bytes. */
void ss_path_normalise(char *path, size_t size);

/* Writes into out (size bytes) the path p, written relative to folder dir
 * ("" = the current directory; an absolute p ignores dir), as a path usable
 * from the current directory: dir/p, or its normalised form when both name
 * the same existing file (so symbolic links are respected). Returns 0 when
 * the result does not fit. */
int ss_path_join(char *out, size_t size, const char *dir, const char *p);

/* Length of the file part of "FILE.h5:/dataset" or "FILE.hdf5:/dataset"
 * (the whole string's length otherwise). */
size_t ss_path_file_part(const char *spec);

#endif
