/* idx.c -- IDX (MNIST-format) files and the Fashion-MNIST data set.
 *
 * IDX layout: 0x00 0x00 <type> <ndims>, ndims big-endian uint32 sizes, then
 * the payload in row-major order. We read only type 0x08 (unsigned byte),
 * rank 3 for images and rank 1 for labels.
 *
 * Choices:
 * - One reader for both ranks. Files are opened with gzopen/gzread, which
 *   reads gzip (magic 1f 8b) and plain files alike; a plain fopen first gives
 *   a clear errno message for a missing file and tells us which kind it is
 *   (for the error messages only).
 * - The payload buffer grows in steps (doubling, from 1 MiB) up to the size
 *   the header claims, so a damaged header cannot make us allocate gigabytes
 *   before the short read shows the file is truncated.
 * - After a full read the stream is drained to its end, so that zlib checks
 *   the gzip CRC and length trailer; bytes after the payload are ignored.
 * - Status mapping: cannot open or OS read error -> SL_EIO; anything about
 *   the content (magic, rank, truncation, corrupt gzip data, image/label
 *   count mismatch, wrong image size, label out of range) -> SL_EFORMAT.
 *   Messages always name the file.
 * - Resampling 24x24 -> 16x16 (Cramer et al. 2022 "scaled to 16x16"; the
 *   paper does not say how): area averaging. Output pixel o covers the
 *   input interval [o*s, (o+1)*s) with s = in/out = 1.5 in each axis; its
 *   value is the overlap-weighted mean of the input pixels (weights 1, 0.5,
 *   0.5, 0.25 summing to 2.25 in 2-D). This is the "box"/INTER_AREA filter:
 *   it keeps the image mean exactly, uses every input pixel with the same
 *   total weight, and introduces no ringing or negative values. The code is
 *   general (any in/out sizes); weights are precomputed once per axis.
 */
#include "config.h"

#include "spikeloop/idx.h"
#include "spikeloop/error.h"

#include <zlib.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define IDX_TYPE_UBYTE 0x08
#define IDX_CHUNK_MIN ((size_t)1 << 20) /* first buffer size, bytes */
#define IDX_READ_MAX ((size_t)1 << 30)  /* largest single gzread */

#define FASHION_DEFAULT_DIR "/usr/share/datasets/fashion-mnist"
#define FASHION_ENV "SPIKELOOP_FASHION_DIR"
#define FASHION_SIDE 28
#define FASHION_CROP 2
#define FASHION_CLASSES 10

/* ------------------------------------------------------------ IDX reader */

static size_t be32(const unsigned char *b)
{
  return ((size_t)b[0] << 24) | ((size_t)b[1] << 16) | ((size_t)b[2] << 8) | (size_t)b[3];
}

/* Raise the status for a short or failed gzread: an OS error is SL_EIO,
 * corrupt compressed data SL_EFORMAT, a clean early end SL_EFORMAT with
 * `truncated` as the detail. The message names fn and path. */
static int gz_fail(gzFile gz, const char *fn, const char *path, const char *truncated)
{
  int zerr = Z_OK;
  const char *zmsg = gzerror(gz, &zerr);
  if (zerr == Z_ERRNO)
    return sl_error(SL_EIO, "%s: cannot read '%s': %s", fn, path, strerror(errno));
  if (zerr == Z_MEM_ERROR)
    return sl_error(SL_ENOMEM, "%s: out of memory decompressing '%s'", fn, path);
  if (zerr == Z_DATA_ERROR || zerr == Z_STREAM_ERROR)
    return sl_error(SL_EFORMAT, "%s: '%s': corrupt gzip data (%s)", fn, path,
                    zmsg && *zmsg ? zmsg : "zlib error");
  return sl_error(SL_EFORMAT, "%s: '%s' is truncated: %s", fn, path, truncated);
}

/* Read up to len bytes into buf; *done = bytes read. 1 if all arrived. */
static int gz_read_all(gzFile gz, unsigned char *buf, size_t len, size_t *done)
{
  *done = 0;
  while (*done < len) {
    size_t left = len - *done;
    unsigned chunk = (unsigned)(left < IDX_READ_MAX ? left : IDX_READ_MAX);
    int got = gzread(gz, buf + *done, chunk);
    if (got <= 0)
      return 0;
    *done += (size_t)got;
  }
  return 1;
}

/* Read an IDX unsigned-byte file of rank `rank` (1 or 3). At most max_items
 * items (first dimension) are read (SIZE_MAX: all, and the stream is then
 * drained so gzip checks its CRC). Outputs: *data (malloc'd, >= 1 byte),
 * *n_total (count in the header), *n_read, dims[0..rank-1]. Outputs are
 * untouched on error. */
static int idx_read(const char *fn, const char *path, int rank, size_t max_items,
                    uint8_t **data, size_t *n_total, size_t *n_read, size_t *dims)
{
  FILE *f = fopen(path, "rb");
  if (!f)
    return sl_error(SL_EIO, "%s: cannot open '%s': %s", fn, path, strerror(errno));
  unsigned char magic[2] = {0, 0};
  size_t nm = fread(magic, 1, 2, f);
  fclose(f);
  int gzipped = nm == 2 && magic[0] == 0x1f && magic[1] == 0x8b;

  errno = 0;
  gzFile gz = gzopen(path, "rb");
  if (!gz)
    return sl_error(errno == ENOMEM ? SL_ENOMEM : SL_EIO, "%s: cannot open '%s': %s", fn, path,
                    errno ? strerror(errno) : "zlib error");
  gzbuffer(gz, 1u << 17);

  int rc;
  unsigned char *buf = NULL;
  unsigned char head[4 + 4 * 3];
  size_t d[3] = {0, 0, 0}, done = 0;
  char detail[192];
  const char *kind = gzipped ? "gzip" : "plain";
  if (!gz_read_all(gz, head, 4, &done)) {
    snprintf(detail, sizeof detail, "%zu of the 4 magic bytes (%s file)", done, kind);
    rc = gz_fail(gz, fn, path, detail);
    goto out;
  }
  if (head[0] != 0 || head[1] != 0 || head[2] != IDX_TYPE_UBYTE || head[3] != rank) {
    rc = sl_error(SL_EFORMAT,
                  "%s: '%s' is not an IDX%d unsigned-byte file (magic %02x %02x %02x %02x, "
                  "expected 00 00 08 %02x; %s file)",
                  fn, path, rank, head[0], head[1], head[2], head[3], rank, kind);
    goto out;
  }
  if (!gz_read_all(gz, head + 4, 4 * (size_t)rank, &done)) {
    snprintf(detail, sizeof detail, "the header ends after %zu of %d size bytes (%s file)", done,
             4 * rank, kind);
    rc = gz_fail(gz, fn, path, detail);
    goto out;
  }
  for (int k = 0; k < rank; k++)
    d[k] = be32(head + 4 + 4 * k);

  /* Bytes per item, and the bytes to read; overflow-checked. */
  size_t item = 1;
  for (int k = 1; k < rank; k++) {
    if (d[k] != 0 && item > SIZE_MAX / d[k]) {
      rc = sl_error(SL_EFORMAT, "%s: '%s': item size overflows", fn, path);
      goto out;
    }
    item *= d[k];
  }
  size_t want = d[0] < max_items ? d[0] : max_items;
  if (item != 0 && want > SIZE_MAX / item) {
    rc = sl_error(SL_EFORMAT, "%s: '%s': %zu items of %zu bytes overflow size_t", fn, path,
                  want, item);
    goto out;
  }
  size_t total = want * item;

  /* Grow the buffer as data arrives (see the file comment). */
  size_t cap = total < IDX_CHUNK_MIN ? (total ? total : 1) : IDX_CHUNK_MIN;
  size_t have = 0;
  buf = malloc(cap);
  if (!buf) {
    rc = sl_error(SL_ENOMEM, "%s: cannot allocate %zu bytes for '%s'", fn, cap, path);
    goto out;
  }
  while (have < total) {
    if (have == cap) {
      size_t ncap = cap > total / 2 ? total : 2 * cap;
      unsigned char *nb = realloc(buf, ncap);
      if (!nb) {
        rc = sl_error(SL_ENOMEM, "%s: cannot allocate %zu bytes for '%s'", fn, ncap, path);
        goto out;
      }
      buf = nb;
      cap = ncap;
    }
    if (!gz_read_all(gz, buf + have, cap - have, &done)) {
      snprintf(detail, sizeof detail,
               "the header announces %zu items of %zu bytes but the payload ends after %zu of "
               "%zu bytes (%s file)",
               want, item, have + done, total, kind);
      rc = gz_fail(gz, fn, path, detail);
      goto out;
    }
    have = cap;
  }

  if (max_items == SIZE_MAX) {
    /* Drain to the end so zlib verifies the gzip trailer (CRC, length). */
    unsigned char sink[4096];
    int got;
    while ((got = gzread(gz, sink, sizeof sink)) > 0)
      ;
    int zerr = Z_OK;
    gzerror(gz, &zerr);
    if (got < 0 || zerr != Z_OK) {
      rc = gz_fail(gz, fn, path, "the gzip stream ends before its trailer (CRC and length)");
      goto out;
    }
  }

  *data = buf;
  buf = NULL;
  *n_total = d[0];
  *n_read = want;
  for (int k = 0; k < rank; k++)
    dims[k] = d[k];
  rc = SL_OK;
out:
  free(buf);
  gzclose(gz);
  return rc;
}

int sl_idx_load_images(const char *path, uint8_t **pixels, size_t *n, size_t *rows,
                       size_t *cols)
{
  static const char fn[] = "sl_idx_load_images";
  if (!path || !pixels || !n || !rows || !cols)
    return sl_error(SL_EINVAL, "%s: NULL argument", fn);
  uint8_t *p = NULL;
  size_t total = 0, got = 0, dims[3] = {0, 0, 0};
  int rc = idx_read(fn, path, 3, SIZE_MAX, &p, &total, &got, dims);
  if (rc != SL_OK)
    return rc;
  *pixels = p;
  *n = dims[0];
  *rows = dims[1];
  *cols = dims[2];
  return SL_OK;
}

int sl_idx_load_labels(const char *path, uint8_t **labels, size_t *n)
{
  static const char fn[] = "sl_idx_load_labels";
  if (!path || !labels || !n)
    return sl_error(SL_EINVAL, "%s: NULL argument", fn);
  uint8_t *p = NULL;
  size_t total = 0, got = 0, dims[1] = {0};
  int rc = idx_read(fn, path, 1, SIZE_MAX, &p, &total, &got, dims);
  if (rc != SL_OK)
    return rc;
  *labels = p;
  *n = dims[0];
  return SL_OK;
}

/* ------------------------------------------------------------ area resampling */

/* Per-axis area weights for in -> out pixels. Output o covers the input
 * interval [o*in/out, (o+1)*in/out); input pixel k = [k, k+1) gets weight
 * |overlap|. start[o] is the first input pixel, cnt[o] how many, w[o*stride
 * + j] the weight of pixel start[o]+j, wsum[o] their sum (= in/out). */
typedef struct {
  size_t stride;
  size_t *start, *cnt;
  double *w, *wsum;
} area_axis;

static void area_axis_free(area_axis *a)
{
  free(a->start);
  free(a->cnt);
  free(a->w);
  free(a->wsum);
  memset(a, 0, sizeof *a);
}

static int area_axis_init(area_axis *a, size_t in, size_t out)
{
  memset(a, 0, sizeof *a);
  a->stride = in / out + 2; /* an interval of length in/out touches at most this many pixels */
  a->start = calloc(out, sizeof *a->start);
  a->cnt = calloc(out, sizeof *a->cnt);
  a->w = calloc(out * a->stride, sizeof *a->w);
  a->wsum = calloc(out, sizeof *a->wsum);
  if (!a->start || !a->cnt || !a->w || !a->wsum) {
    area_axis_free(a);
    return SL_ENOMEM;
  }
  for (size_t o = 0; o < out; o++) {
    double lo = (double)(o * in) / (double)out, hi = (double)((o + 1) * in) / (double)out;
    size_t k0 = (size_t)floor(lo), k1 = (size_t)ceil(hi); /* pixels k0 .. k1-1 */
    if (k1 > in)
      k1 = in;
    a->start[o] = k0;
    for (size_t k = k0; k < k1 && k - k0 < a->stride; k++) {
      double w = fmin((double)k + 1.0, hi) - fmax((double)k, lo);
      if (w <= 0.0)
        continue;
      a->w[o * a->stride + (k - k0)] = w;
      a->wsum[o] += w;
      a->cnt[o] = k - k0 + 1;
    }
  }
  return SL_OK;
}

/* out (orows, ocols) = area average of the (irows, icols) window starting at
 * `in` with row stride istride, scaled by 1/255:
 *   out[i][j] = sum_r sum_c wr[i][r] wc[j][c] in[r][c] / (wsum_r[i] wsum_c[j] 255). */
static void area_resample(const uint8_t *in, size_t istride, const area_axis *ar,
                          const area_axis *ac, size_t orows, size_t ocols, float *out)
{
  for (size_t i = 0; i < orows; i++) {
    const double *wr = ar->w + i * ar->stride;
    for (size_t j = 0; j < ocols; j++) {
      const double *wc = ac->w + j * ac->stride;
      double acc = 0.0;
      for (size_t r = 0; r < ar->cnt[i]; r++) {
        const uint8_t *row = in + (ar->start[i] + r) * istride + ac->start[j];
        double racc = 0.0;
        for (size_t c = 0; c < ac->cnt[j]; c++)
          racc += wc[c] * (double)row[c];
        acc += wr[r] * racc;
      }
      out[i * ocols + j] = (float)(acc / (ar->wsum[i] * ac->wsum[j]) / 255.0);
    }
  }
}

/* ------------------------------------------------------------ Fashion-MNIST */

/* "<dir>/<name>.gz" if that exists, else "<dir>/<name>" if that exists, else
 * the .gz name (for the error message). NULL when out of memory. */
static char *fashion_path(const char *dir, const char *name)
{
  size_t ld = strlen(dir), ln = strlen(name);
  char *p = malloc(ld + ln + 5);
  if (!p)
    return NULL;
  memcpy(p, dir, ld);
  p[ld] = '/';
  memcpy(p + ld + 1, name, ln);
  memcpy(p + ld + 1 + ln, ".gz", 4);
  FILE *f = fopen(p, "rb");
  if (f) {
    fclose(f);
    return p;
  }
  p[ld + 1 + ln] = '\0';
  f = fopen(p, "rb");
  if (f) {
    fclose(f);
    return p;
  }
  p[ld + 1 + ln] = '.';
  return p;
}

int sl_fashion_load(sl_dataset *d, const char *dir, int train, size_t side, size_t limit)
{
  static const char fn[] = "sl_fashion_load";
  if (!d)
    return sl_error(SL_EINVAL, "%s: data set pointer is NULL", fn);
  memset(d, 0, sizeof *d);
  if (side != 16 && side != 24 && side != 28)
    return sl_error(SL_EINVAL, "%s: side must be 16, 24 or 28, not %zu", fn, side);

  /* Where the files are, and how that was chosen (for the message). */
  int dir_kind = 0; /* 0 caller, 1 environment, 2 default */
  if (!dir) {
    const char *env = getenv(FASHION_ENV);
    if (env && *env) {
      dir = env;
      dir_kind = 1;
    } else {
      dir = FASHION_DEFAULT_DIR;
      dir_kind = 2;
    }
  }
  const char *stem = train ? "train" : "t10k";
  char name[64];
  snprintf(name, sizeof name, "%s-images-idx3-ubyte", stem);
  char *ipath = fashion_path(dir, name);
  snprintf(name, sizeof name, "%s-labels-idx1-ubyte", stem);
  char *lpath = fashion_path(dir, name);

  sl_dataset tmp = {0};
  uint8_t *pix = NULL, *lab = NULL;
  size_t n_lab = 0, n_lab_read = 0, n_img = 0, n_img_read = 0, ldims[1] = {0}, idims[3] = {0};
  size_t max_items = limit > 0 ? limit : SIZE_MAX;
  area_axis ar = {0}, ac = {0};
  int rc;
  if (!ipath || !lpath) {
    rc = sl_error(SL_ENOMEM, "%s: out of memory", fn);
    goto out;
  }

  rc = idx_read(fn, lpath, 1, max_items, &lab, &n_lab, &n_lab_read, ldims);
  if (rc == SL_OK)
    rc = idx_read(fn, ipath, 3, max_items, &pix, &n_img, &n_img_read, idims);
  if (rc == SL_EIO && dir_kind != 0) {
    char msg[512];
    snprintf(msg, sizeof msg, "%s", sl_last_error());
    if (dir_kind == 2)
      rc = sl_error(SL_EIO,
                    "%s (Fashion-MNIST is looked for in the default directory %s: install the "
                    "Debian package dataset-fashion-mnist, or set %s)",
                    msg, FASHION_DEFAULT_DIR, FASHION_ENV);
    else
      rc = sl_error(SL_EIO, "%s (directory taken from $%s)", msg, FASHION_ENV);
  }
  if (rc != SL_OK)
    goto out;

  if (idims[1] != FASHION_SIDE || idims[2] != FASHION_SIDE) {
    rc = sl_error(SL_EFORMAT, "%s: '%s' holds %zux%zu images, expected %dx%d", fn, ipath,
                  idims[1], idims[2], FASHION_SIDE, FASHION_SIDE);
    goto out;
  }
  if (n_img != n_lab) {
    rc = sl_error(SL_EFORMAT, "%s: '%s' holds %zu images but '%s' holds %zu labels", fn, ipath,
                  n_img, lpath, n_lab);
    goto out;
  }
  size_t n = n_img_read; /* = n_lab_read */
  for (size_t i = 0; i < n; i++)
    if (lab[i] >= FASHION_CLASSES) {
      rc = sl_error(SL_EFORMAT, "%s: '%s': label %u of sample %zu is not in 0..%d", fn, lpath,
                    (unsigned)lab[i], i, FASHION_CLASSES - 1);
      goto out;
    }

  if ((rc = sl_dataset_alloc(&tmp, n, side * side, FASHION_CLASSES)) != SL_OK)
    goto out;
  for (size_t i = 0; i < n; i++)
    tmp.y[i] = (int32_t)lab[i];

  const size_t isz = (size_t)FASHION_SIDE * FASHION_SIDE;
  const size_t crop = side == 28 ? 0 : FASHION_CROP, win = FASHION_SIDE - 2 * FASHION_CROP;
  if (side == 16) {
    if (area_axis_init(&ar, win, side) != SL_OK || area_axis_init(&ac, win, side) != SL_OK) {
      rc = sl_error(SL_ENOMEM, "%s: out of memory", fn);
      goto out;
    }
    const ptrdiff_t n_omp = (ptrdiff_t)n;
#pragma omp parallel for schedule(static)
    for (ptrdiff_t i = 0; i < n_omp; i++)
      area_resample(pix + (size_t)i * isz + crop * FASHION_SIDE + crop, FASHION_SIDE, &ar, &ac,
                    side, side, tmp.x + (size_t)i * side * side);
  } else {
    float lut[256]; /* x / 255, the same rounding as the resampled path */
    for (int v = 0; v < 256; v++)
      lut[v] = (float)((double)v / 255.0);
    for (size_t i = 0; i < n; i++)
      for (size_t r = 0; r < side; r++) {
        const uint8_t *src = pix + i * isz + (r + crop) * FASHION_SIDE + crop;
        float *dst = tmp.x + (i * side + r) * side;
        for (size_t c = 0; c < side; c++)
          dst[c] = lut[src[c]];
      }
  }
  *d = tmp;
  memset(&tmp, 0, sizeof tmp);
  rc = SL_OK;
out:
  area_axis_free(&ar);
  area_axis_free(&ac);
  sl_dataset_free(&tmp);
  free(pix);
  free(lab);
  free(ipath);
  free(lpath);
  return rc;
}
