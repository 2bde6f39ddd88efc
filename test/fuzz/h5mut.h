/* h5mut.h -- structure-level fuzzing of HDF5 readers (test/fuzz only).
 *
 * libhdf5 itself is not robust against corrupted bytes (see the README's
 * "Fuzzing" section), so the HDF5 harnesses do not hand it damaged files.
 * They copy a valid template file (a seed written by the library) and apply
 * a "mutation program" taken from the fuzz input with the HDF5 API: every
 * file the reader then sees is a well-formed HDF5 file whose *content* is
 * hostile -- objects and attributes missing, other ranks and shapes, other
 * types (integers, floats, strings), NaN, infinities, huge, negative and
 * zero values, strings of arbitrary bytes. That is what our validation code
 * must reject with an error.
 *
 * The program is a sequence of 4-byte operations: kind, target (2 bytes,
 * modulo the number of objects and attributes of the file), argument; some
 * kinds consume further bytes (values, dimensions, string contents).
 */
#ifndef SL_FUZZ_H5MUT_H
#define SL_FUZZ_H5MUT_H

#include <stddef.h>
#include <stdint.h>

/* Read the template file `path` into memory once per process (cached by
 * path); NULL on failure. */
typedef struct {
  unsigned char *bytes;
  size_t len;
} fz_blob;
const fz_blob *fz_template(const char *path);

/* A per-process scratch path in /dev/shm (or $TMPDIR) ending in `suffix`. */
const char *fz_scratch(const char *suffix);

/* Write len bytes to path (truncating); 0 or -1. */
int fz_write(const char *path, const void *bytes, size_t len);

/* Write the template to `path` and apply the mutation program to it.
 * 0 on success (the file is a valid HDF5 file), -1 if the template could
 * not be written or opened (the harness then skips the input). */
int fz_h5_mutate(const fz_blob *tmpl, const char *path, const uint8_t *prog, size_t len);

/* The template directory: $SL_FUZZ_TEMPLATES, else the compiled-in one. */
const char *fz_template_dir(void);

/* The template `name` of the template directory (aborts with a message
 * when it is missing: a harness without its template is misconfigured). */
const fz_blob *fz_named_template(const char *name);

/* Once per process: HDF5's error stack printing off (the readers' errors
 * are expected), nothing else. */
void fz_init(void);

#endif
