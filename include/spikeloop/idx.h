/* spikeloop/idx.h -- IDX (MNIST-format) files and Fashion-MNIST (lib/data/idx.c). */
#ifndef SPIKELOOP_IDX_H
#define SPIKELOOP_IDX_H

#include <stddef.h>
#include <stdint.h>
#include "spikeloop/dataset.h"

#ifdef __cplusplus
extern "C" {
#endif

/* IDX is the MNIST file format: bytes 0 0 <type> <ndims>, then ndims
 * big-endian uint32 sizes, then the payload. Only type 0x08 (unsigned byte)
 * is read. Files may be gzip-compressed or plain: zlib's gzopen/gzread read
 * both (a gzip file is recognised by its magic bytes 1f 8b). */

/* Read an IDX3 unsigned-byte file (n, rows, cols). On success *pixels is a
 * malloc'd array of n*rows*cols bytes, row-major (free() it; never NULL,
 * even when empty). Outputs are untouched on error. A gzip stream is read to
 * its end so that its CRC is checked; bytes after the payload are ignored.
 * Errors: SL_EINVAL (NULL argument), SL_EIO (cannot open or read; the
 * message names the path), SL_EFORMAT (wrong magic, type or rank; truncated
 * header or payload; corrupt gzip stream; the message names the file),
 * SL_ENOMEM. */
int sl_idx_load_images(const char *path, uint8_t **pixels, size_t *n, size_t *rows,
                       size_t *cols);

/* Read an IDX1 unsigned-byte file (n). *labels as for sl_idx_load_images.
 * Errors as for sl_idx_load_images. */
int sl_idx_load_labels(const char *path, uint8_t **labels, size_t *n);

/* Load Fashion-MNIST (Xiao et al. 2017) as shipped by the Debian package
 * dataset-fashion-mnist, prepared as in Cramer et al. 2022.
 * dir: directory with {train,t10k}-{images-idx3,labels-idx1}-ubyte.gz (or
 * the same names without .gz); NULL means $SPIKELOOP_FASHION_DIR if set and
 * non-empty, else /usr/share/datasets/fashion-mnist.
 * train: nonzero reads train-* (60000 samples), 0 reads t10k-* (10000).
 * side: 28 raw images; 24 crops 2 pixels from every border; 16 crops to
 * 24x24 and then resamples to 16x16 by area averaging: each output pixel is
 * the area-weighted mean of the 1.5 x 1.5 input pixels it covers (weights
 * 1, 0.5, 0.5, 0.25 over 2.25), which keeps the image mean exactly and
 * neither drops nor duplicates input pixels.
 * limit: > 0 keeps only the first min(limit, n) samples (only those are
 * read, so damage after them goes unnoticed); 0 keeps all.
 * Result: dim = side*side features x/255 in [0, 1], labels 0..9,
 * n_classes = 10. *d is overwritten, not freed; zeroed on error.
 * Errors: SL_EINVAL (NULL d, side not 16/24/28), SL_EIO (missing or
 * unreadable file, named; for the default directory the message says to
 * install the Debian package dataset-fashion-mnist), SL_EFORMAT (as for
 * sl_idx_load_*, images not 28x28, image and label counts differ, a label
 * above 9; the message names the file), SL_ENOMEM. */
int sl_fashion_load(sl_dataset *d, const char *dir, int train, size_t side, size_t limit);

#ifdef __cplusplus
}
#endif
#endif
