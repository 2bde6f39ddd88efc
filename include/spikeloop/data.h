/* spikeloop/data.h -- data sets and spike encoders.
 *
 * A data set is a dense float feature matrix x (n, dim) with integer labels
 * y (n). Encoders turn a batch of feature rows into an input spike raster
 * of layout (T, B, D_out), time-major, row-major, values 0 or 1 (float).
 */
#ifndef SPIKELOOP_DATA_H
#define SPIKELOOP_DATA_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
  size_t n;         /* samples */
  size_t dim;       /* features per sample */
  size_t n_classes; /* labels are 0 .. n_classes-1 */
  float *x;         /* (n, dim), owned */
  int32_t *y;       /* (n), owned */
} sl_dataset;

/* Allocate a data set of n samples x dim features (zeroed). *d is
 * overwritten, not freed; on error it is left zeroed. */
int sl_dataset_alloc(sl_dataset *d, size_t n, size_t dim, size_t n_classes);
void sl_dataset_free(sl_dataset *d); /* safe on zeroed/freed struct */

/* Yin-Yang (Kriener et al. 2021): r_small 0.1, r_big 0.5, centre (0.5,0.5);
 * rejection sampling with a uniformly drawn goal class; features
 * [x, y, 1-x, 1-y] (dim 4, no bias: encoders add it), 3 classes. */
int sl_yinyang_label(double x, double y); /* 0 yin, 1 yang, 2 dot */
int sl_yinyang_generate(sl_dataset *d, size_t n, uint64_t seed);

/* Write /x float (n,dim) and /y int32 (n) (+ attribute n_classes on /).
 * Writes to a temporary name and renames, so a failed write leaves no file.
 * Errors: SL_EIO, SL_EINVAL (NULL arguments, labels outside [0, n_classes)),
 * SL_ENUMERIC (NaN/Inf feature): data that load would reject is not saved. */
int sl_dataset_save_h5(const sl_dataset *d, const char *path);
/* Read a file written by sl_dataset_save_h5 (*d overwritten, not freed;
 * zeroed on error). Without the n_classes attribute, n_classes = max(y) + 1.
 * Errors: SL_EIO (missing, unreadable, non-HDF5 or truncated file), SL_EFORMAT
 * (missing /x or /y, wrong rank or type, lengths differ, labels out of range),
 * SL_ENUMERIC. */
int sl_dataset_load_h5(sl_dataset *d, const char *path);

/* ------------------------------------------------------------ encoders */
enum {
  SL_ENCODE_LATENCY_LINEAR = 0, /* t = t_early + (1 - x) * (t_late - t_early) */
  SL_ENCODE_LATENCY_LOG = 1,    /* t = tau_in * log(x / (x - x_min)); x <= x_min: no spike */
  SL_ENCODE_RATE = 2            /* Bernoulli per step with p = x * rate_max */
};

typedef struct {
  int kind;          /* SL_ENCODE_* */
  size_t t_steps;    /* T */
  double dt;         /* step length, s (latency times are in s) */
  double t_early;    /* linear latency: time of x = 1, s */
  double t_late;     /* linear latency: time of x = 0, s */
  double tau_in;     /* log latency: time scale, s */
  double x_min;      /* log latency: features <= x_min send no spike */
  double rate_max;   /* rate: spike probability per step at x = 1 */
  int bias;          /* 1: append one input that spikes once at bias_time */
  double bias_time;  /* s */
} sl_encoder;

/* Defaults: linear latency, T = 40, dt = 1 ms, t_early = 2 ms,
 * t_late = 27 ms, tau_in = 8 ms, x_min = 0.2, rate_max = 0.2, bias = 1,
 * bias_time = 0. */
sl_encoder sl_encoder_default(void);

/* Output inputs per sample: dim + (bias ? 1 : 0). */
size_t sl_encoder_out_dim(const sl_encoder *e, size_t dim);

/* Look up an encoder kind by name: "latency", "latency_log", "rate".
 * Returns SL_ENOTFOUND for others. */
int sl_encoder_kind_from_name(const char *name, int *kind);
const char *sl_encoder_kind_name(int kind); /* NULL for an unknown kind */

/* Encode B feature rows x (B, dim) into out (T, B, out_dim), zeroing it first
 * (out is untouched on error).
 * A latency spike lands in step floor(t/dt + 0.5) and is dropped if that is
 * >= T. Rate coding draws from a generator seeded by (seed, sample_ids[b]),
 * so the result does not depend on batching or threads; sample_ids may be
 * NULL for the latency kinds. Errors: SL_EINVAL (bad settings, including a
 * bias_time that falls at or after step T; NULL sample_ids for rate),
 * SL_ENUMERIC (NaN/Inf feature, message names the sample and feature). */
int sl_encode(const sl_encoder *e, const float *x, size_t B, size_t dim,
              const uint64_t *sample_ids, uint64_t seed, float *out);

/* ------------------------------------------------------- IDX files and
 * Fashion-MNIST (lib/idx.c)
 *
 * IDX is the MNIST file format: bytes 0 0 <type> <ndims>, then ndims
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

/* Copy samples [first, first+count) of d into *out (n = count, same dim and
 * n_classes). *out is overwritten, not freed, and zeroed on error. out may
 * be d itself: on success its old arrays are freed, on error it is left
 * unchanged. count 0 gives an empty set.
 * Errors: SL_EINVAL (NULL argument), SL_ERANGE (range beyond d->n),
 * SL_ENOMEM. */
int sl_dataset_split(const sl_dataset *d, size_t first, size_t count, sl_dataset *out);

#ifdef __cplusplus
}
#endif
#endif
