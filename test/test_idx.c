/* test_idx.c -- CUnit suite for IDX files, Fashion-MNIST and sl_dataset_split.
 *
 * Covers: synthetic IDX files (plain and gzip) read back byte for byte;
 * wrong magic, truncated header/payload/gzip stream, a bad gzip CRC and
 * missing files map to the promised codes and name the file; the
 * Fashion-MNIST loader on a synthetic directory: raw values, the 2-pixel
 * crop, the 24 -> 16 area resampler (constant image, hand-computed impulse
 * responses with weights 1, 0.5, 0.5, 0.25 over 2.25, and an independent
 * 2x-supersampling oracle on a random image), limit, t10k names, plain-file
 * fallback, $SPIKELOOP_FASHION_DIR, count/size/label errors; split ranges;
 * and, if installed, the real Debian files (counts, class balance, first
 * label, value range, mean pixel, load time).
 */
#include "config.h"
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L /* mkdtemp, setenv, truncate, clock_gettime */
#endif

#include "spikeloop/dataset.h"
#include "spikeloop/encode.h"
#include "spikeloop/idx.h"
#include "spikeloop/yinyang.h"
#include "spikeloop/error.h"
#include "testutil.h"

#include <zlib.h>

#include <dirent.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define DEBIAN_DIR "/usr/share/datasets/fashion-mnist"

/* ------------------------------------------------------------ helpers */

static int msg_has(const char *needle) { return strstr(sl_last_error(), needle) != NULL; }

static uint64_t lcg_state = 12345;
static unsigned test_byte(void)
{
  lcg_state = lcg_state * 6364136223846793005ull + 1442695040888963407ull;
  return (unsigned)(lcg_state >> 56);
}

/* A fresh temporary directory per test, removed (with its files) by rm_dir. */
static char g_dir[512];
static int make_dir(void)
{
  const char *t = getenv("TMPDIR");
  snprintf(g_dir, sizeof g_dir, "%s/sl_test_idx_XXXXXX", t && *t ? t : "/tmp");
  return mkdtemp(g_dir) != NULL;
}
static void rm_dir(void)
{
  DIR *dp = opendir(g_dir);
  if (dp) {
    struct dirent *e;
    char p[1024];
    while ((e = readdir(dp)) != NULL) {
      if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
        continue;
      snprintf(p, sizeof p, "%s/%s", g_dir, e->d_name);
      unlink(p);
    }
    closedir(dp);
  }
  rmdir(g_dir);
}
static const char *in_dir(const char *name, char *buf, size_t len)
{
  snprintf(buf, len, "%s/%s", g_dir, name);
  return buf;
}

/* IDX header: 0 0 <type> <rank> then big-endian sizes. Returns its length. */
static size_t idx_header(unsigned char *h, unsigned type, unsigned rank, const uint32_t *dims)
{
  h[0] = 0;
  h[1] = 0;
  h[2] = (unsigned char)type;
  h[3] = (unsigned char)rank;
  for (unsigned k = 0; k < rank; k++) {
    h[4 + 4 * k] = (unsigned char)(dims[k] >> 24);
    h[5 + 4 * k] = (unsigned char)(dims[k] >> 16);
    h[6 + 4 * k] = (unsigned char)(dims[k] >> 8);
    h[7 + 4 * k] = (unsigned char)dims[k];
  }
  return 4 + 4 * (size_t)rank;
}

/* Write head then body, gzip-compressed (gzopen/gzwrite) or plain. 1 on success. */
static int write_file(const char *path, int gz, const void *head, size_t hlen, const void *body,
                      size_t blen)
{
  if (gz) {
    gzFile f = gzopen(path, "wb");
    if (!f)
      return 0;
    int ok = (hlen == 0 || gzwrite(f, head, (unsigned)hlen) == (int)hlen) &&
             (blen == 0 || gzwrite(f, body, (unsigned)blen) == (int)blen);
    return (gzclose(f) == Z_OK) && ok;
  }
  FILE *f = fopen(path, "wb");
  if (!f)
    return 0;
  int ok = (hlen == 0 || fwrite(head, 1, hlen, f) == hlen) &&
           (blen == 0 || fwrite(body, 1, blen, f) == blen);
  return (fclose(f) == 0) && ok;
}

/* An IDX unsigned-byte file of rank 1 or 3 with a payload of `plen` bytes
 * (which may disagree with dims, to make broken files). */
static int write_idx(const char *path, int gz, unsigned rank, const uint32_t *dims,
                     const uint8_t *payload, size_t plen)
{
  unsigned char h[16];
  size_t hl = idx_header(h, 0x08, rank, dims);
  return write_file(path, gz, h, hl, payload, plen);
}

static long file_size(const char *path)
{
  struct stat st;
  return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

static double now_s(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ------------------------------------------------------------ IDX round trip */

static void test_roundtrip(void)
{
  CU_ASSERT_FATAL(make_dir());
  enum { N = 3, R = 5, C = 4 };
  uint8_t img[N * R * C], lab[N] = {9, 0, 5};
  for (size_t i = 0; i < sizeof img; i++)
    img[i] = (uint8_t)((i * 37 + 11) & 255);
  uint32_t idims[3] = {N, R, C}, ldims[1] = {N};
  char ip[1024], lp[1024];
  for (int gz = 0; gz <= 1; gz++) {
    in_dir(gz ? "img.gz" : "img", ip, sizeof ip);
    in_dir(gz ? "lab.gz" : "lab", lp, sizeof lp);
    CU_ASSERT_FATAL(write_idx(ip, gz, 3, idims, img, sizeof img));
    CU_ASSERT_FATAL(write_idx(lp, gz, 1, ldims, lab, sizeof lab));
    /* The gzip variant really is compressed (so both reader paths run). */
    FILE *f = fopen(ip, "rb");
    unsigned char m[2] = {0, 0};
    CU_ASSERT_FATAL(f != NULL);
    CU_ASSERT(fread(m, 1, 2, f) == 2);
    fclose(f);
    CU_ASSERT_EQUAL(m[0] == 0x1f && m[1] == 0x8b, gz);

    uint8_t *p = NULL, *l = NULL;
    size_t n = 0, r = 0, c = 0, nl = 0;
    CU_ASSERT_EQUAL_FATAL(sl_idx_load_images(ip, &p, &n, &r, &c), SL_OK);
    CU_ASSERT_EQUAL(n, N);
    CU_ASSERT_EQUAL(r, R);
    CU_ASSERT_EQUAL(c, C);
    CU_ASSERT(memcmp(p, img, sizeof img) == 0);
    free(p);
    CU_ASSERT_EQUAL_FATAL(sl_idx_load_labels(lp, &l, &nl), SL_OK);
    CU_ASSERT_EQUAL(nl, N);
    CU_ASSERT(memcmp(l, lab, sizeof lab) == 0);
    free(l);
  }
  /* An empty file (n = 0) loads with a valid pointer. */
  uint32_t zdims[3] = {0, 28, 28};
  in_dir("empty.gz", ip, sizeof ip);
  CU_ASSERT_FATAL(write_idx(ip, 1, 3, zdims, NULL, 0));
  uint8_t *p = NULL;
  size_t n = 7, r = 0, c = 0;
  CU_ASSERT_EQUAL(sl_idx_load_images(ip, &p, &n, &r, &c), SL_OK);
  CU_ASSERT(p != NULL);
  CU_ASSERT_EQUAL(n, 0);
  CU_ASSERT_EQUAL(r, 28);
  free(p);
  /* NULL arguments. */
  CU_ASSERT_EQUAL(sl_idx_load_images(NULL, &p, &n, &r, &c), SL_EINVAL);
  CU_ASSERT_EQUAL(sl_idx_load_labels(ip, NULL, &n), SL_EINVAL);
  rm_dir();
}

/* ------------------------------------------------------------ malformed files */

/* Expect `code` from loading path as images (rank 3) or labels (rank 1), with
 * the path in the message and the outputs untouched. */
static void expect_fail(const char *path, int as_images, int code, const char *needle)
{
  uint8_t sentinel = 0, *p = &sentinel;
  size_t n = 123, r = 45, c = 67;
  int rc = as_images ? sl_idx_load_images(path, &p, &n, &r, &c) : sl_idx_load_labels(path, &p, &n);
  CU_ASSERT_EQUAL(rc, code);
  CU_ASSERT(msg_has(path));
  if (needle)
    CU_ASSERT(msg_has(needle));
  if (rc != code || !msg_has(path) || (needle && !msg_has(needle)))
    printf("\n    unexpected (%d): %s\n", rc, sl_last_error());
  CU_ASSERT(p == &sentinel);
  CU_ASSERT(n == 123 && r == 45 && c == 67);
  if (rc == SL_OK && p != &sentinel)
    free(p);
}

static void test_bad_magic(void)
{
  CU_ASSERT_FATAL(make_dir());
  char p[1024];
  uint8_t lab[3] = {1, 2, 3};
  uint32_t ldims[1] = {3}, idims[3] = {1, 2, 2};
  uint8_t img[4] = {1, 2, 3, 4};
  unsigned char h[16];
  for (int gz = 0; gz <= 1; gz++) {
    /* A label file read as images and an image file read as labels. */
    in_dir(gz ? "lab.gz" : "lab", p, sizeof p);
    CU_ASSERT_FATAL(write_idx(p, gz, 1, ldims, lab, 3));
    expect_fail(p, 1, SL_EFORMAT, "IDX3");
    in_dir(gz ? "img.gz" : "img", p, sizeof p);
    CU_ASSERT_FATAL(write_idx(p, gz, 3, idims, img, 4));
    expect_fail(p, 0, SL_EFORMAT, "IDX1");
    /* Type 0x09 (signed byte) is not read. */
    size_t hl = idx_header(h, 0x09, 3, idims);
    in_dir(gz ? "s8.gz" : "s8", p, sizeof p);
    CU_ASSERT_FATAL(write_file(p, gz, h, hl, img, 4));
    expect_fail(p, 1, SL_EFORMAT, "magic");
    /* Text. */
    in_dir(gz ? "txt.gz" : "txt", p, sizeof p);
    CU_ASSERT_FATAL(write_file(p, gz, "hello world\n", 12, NULL, 0));
    expect_fail(p, 1, SL_EFORMAT, "magic");
  }
  rm_dir();
}

static void test_truncated(void)
{
  CU_ASSERT_FATAL(make_dir());
  char p[1024];
  enum { N = 3, R = 5, C = 4 };
  uint8_t img[N * R * C];
  for (size_t i = 0; i < sizeof img; i++)
    img[i] = (uint8_t)i;
  uint32_t idims[3] = {N, R, C}, ldims[1] = {10};
  unsigned char h[16];
  for (int gz = 0; gz <= 1; gz++) {
    /* Payload 50 of 60 bytes. */
    in_dir(gz ? "short.gz" : "short", p, sizeof p);
    CU_ASSERT_FATAL(write_idx(p, gz, 3, idims, img, 50));
    expect_fail(p, 1, SL_EFORMAT, "truncated");
    CU_ASSERT(msg_has("50 of 60"));
    /* Labels: 10 announced, 4 present. */
    in_dir(gz ? "lshort.gz" : "lshort", p, sizeof p);
    CU_ASSERT_FATAL(write_idx(p, gz, 1, ldims, img, 4));
    expect_fail(p, 0, SL_EFORMAT, "truncated");
    /* Header cut inside the sizes, and a 2-byte file. */
    size_t hl = idx_header(h, 0x08, 3, idims);
    in_dir(gz ? "head.gz" : "head", p, sizeof p);
    CU_ASSERT_FATAL(write_file(p, gz, h, hl - 5, NULL, 0));
    expect_fail(p, 1, SL_EFORMAT, "truncated");
    in_dir(gz ? "tiny.gz" : "tiny", p, sizeof p);
    CU_ASSERT_FATAL(write_file(p, gz, h, 2, NULL, 0));
    expect_fail(p, 1, SL_EFORMAT, "truncated");
    /* Empty file. */
    in_dir(gz ? "empty.gz" : "empty", p, sizeof p);
    CU_ASSERT_FATAL(write_file(p, gz, h, 0, NULL, 0));
    expect_fail(p, 1, SL_EFORMAT, "truncated");
  }

  /* A gzip stream cut in half, and one with a damaged CRC trailer. */
  enum { BN = 8, BR = 28, BC = 28 };
  uint8_t *big = malloc(BN * BR * BC);
  CU_ASSERT_FATAL(big != NULL);
  for (size_t i = 0; i < BN * BR * BC; i++)
    big[i] = (uint8_t)test_byte(); /* incompressible, so half the file is half the data */
  uint32_t bdims[3] = {BN, BR, BC};
  in_dir("cut.gz", p, sizeof p);
  CU_ASSERT_FATAL(write_idx(p, 1, 3, bdims, big, BN * BR * BC));
  long sz = file_size(p);
  CU_ASSERT_FATAL(sz > 1000);
  CU_ASSERT_FATAL(truncate(p, sz / 2) == 0);
  expect_fail(p, 1, SL_EFORMAT, "truncated");

  in_dir("crc.gz", p, sizeof p);
  CU_ASSERT_FATAL(write_idx(p, 1, 3, bdims, big, BN * BR * BC));
  sz = file_size(p);
  FILE *f = fopen(p, "r+b");
  CU_ASSERT_FATAL(f != NULL);
  unsigned char b = 0;
  CU_ASSERT(fseek(f, sz - 8, SEEK_SET) == 0 && fread(&b, 1, 1, f) == 1);
  b ^= 0x5a;
  CU_ASSERT(fseek(f, sz - 8, SEEK_SET) == 0 && fwrite(&b, 1, 1, f) == 1);
  fclose(f);
  expect_fail(p, 1, SL_EFORMAT, "corrupt");

  /* Only the trailer missing (payload complete). */
  in_dir("notrailer.gz", p, sizeof p);
  CU_ASSERT_FATAL(write_idx(p, 1, 3, bdims, big, BN * BR * BC));
  CU_ASSERT_FATAL(truncate(p, file_size(p) - 4) == 0);
  expect_fail(p, 1, SL_EFORMAT, NULL);
  free(big);
  rm_dir();
}

static void test_missing(void)
{
  CU_ASSERT_FATAL(make_dir());
  char p[1024];
  in_dir("nonexistent-images-idx3-ubyte.gz", p, sizeof p);
  expect_fail(p, 1, SL_EIO, "cannot open");
  expect_fail(p, 0, SL_EIO, "cannot open");

  /* The loader on an explicit empty directory: names the file, no package hint. */
  sl_dataset d;
  memset(&d, 0xff, sizeof d);
  CU_ASSERT_EQUAL(sl_fashion_load(&d, g_dir, 1, 16, 0), SL_EIO);
  CU_ASSERT(msg_has(g_dir));
  CU_ASSERT(msg_has("train-labels-idx1-ubyte.gz"));
  CU_ASSERT(!msg_has("dataset-fashion-mnist"));
  CU_ASSERT(d.n == 0 && d.x == NULL && d.y == NULL);

  /* Through $SPIKELOOP_FASHION_DIR: the message says where the directory came from. */
  const char *old = getenv("SPIKELOOP_FASHION_DIR");
  char *saved = old ? strdup(old) : NULL;
  setenv("SPIKELOOP_FASHION_DIR", g_dir, 1);
  CU_ASSERT_EQUAL(sl_fashion_load(&d, NULL, 0, 28, 0), SL_EIO);
  CU_ASSERT(msg_has(g_dir));
  CU_ASSERT(msg_has("t10k-labels-idx1-ubyte.gz"));
  CU_ASSERT(msg_has("SPIKELOOP_FASHION_DIR"));
  if (saved)
    setenv("SPIKELOOP_FASHION_DIR", saved, 1);
  else
    unsetenv("SPIKELOOP_FASHION_DIR");
  free(saved);

  /* Default directory missing (only checkable where the package is absent). */
  if (!old && access(DEBIAN_DIR "/train-labels-idx1-ubyte.gz", F_OK) != 0) {
    CU_ASSERT_EQUAL(sl_fashion_load(&d, NULL, 1, 16, 0), SL_EIO);
    CU_ASSERT(msg_has("dataset-fashion-mnist"));
    CU_ASSERT(msg_has(DEBIAN_DIR));
  }
  rm_dir();
}

/* ------------------------------------------------------------ Fashion-MNIST, synthetic */

enum { S = 28, NS = 4 };
static uint8_t syn_img[NS][S][S];
static const uint8_t syn_lab[NS] = {0, 3, 9, 7};

/* img0 constant 77; img1 border 255 (outside the crop) and four impulses in
 * the 24x24 crop; img2 and img3 random. */
static void make_synthetic(void)
{
  memset(syn_img, 0, sizeof syn_img);
  memset(syn_img[0], 77, sizeof syn_img[0]);
  for (int r = 0; r < S; r++)
    for (int c = 0; c < S; c++)
      if (r < 2 || r >= 26 || c < 2 || c >= 26)
        syn_img[1][r][c] = 255;
  /* Crop coordinates (r, c) sit at (r+2, c+2). */
  syn_img[1][2 + 0][2 + 0] = 255;  /* -> out(0,0) weight 1*1 */
  syn_img[1][2 + 4][2 + 4] = 90;   /* -> out(2..3, 2..3) weight 0.5*0.5 */
  syn_img[1][2 + 6][2 + 13] = 180; /* -> out(4, 8..9) weight 1*0.5 */
  syn_img[1][2 + 23][2 + 23] = 225; /* -> out(15,15) weight 1*1 */
  for (int k = 2; k < NS; k++)
    for (int r = 0; r < S; r++)
      for (int c = 0; c < S; c++)
        syn_img[k][r][c] = (uint8_t)test_byte();
}

static int write_fashion(const char *stem, int gz, size_t n_img, size_t n_lab, uint32_t rows,
                         const uint8_t *labels)
{
  char ip[1024], lp[1024], name[128];
  snprintf(name, sizeof name, "%s-images-idx3-ubyte%s", stem, gz ? ".gz" : "");
  in_dir(name, ip, sizeof ip);
  snprintf(name, sizeof name, "%s-labels-idx1-ubyte%s", stem, gz ? ".gz" : "");
  in_dir(name, lp, sizeof lp);
  uint32_t idims[3] = {(uint32_t)n_img, rows, S}, ldims[1] = {(uint32_t)n_lab};
  return write_idx(ip, gz, 3, idims, &syn_img[0][0][0], n_img * rows * S) &&
         write_idx(lp, gz, 1, ldims, labels, n_lab);
}

/* Independent oracle for 24 -> 16: split every crop pixel into 2x2 half-pixel
 * cells (48x48); output (i,j) covers exactly cells 3i..3i+2 x 3j..3j+2. */
static float oracle16(const uint8_t *img, int i, int j)
{
  double acc = 0.0;
  for (int a = 3 * i; a < 3 * i + 3; a++)
    for (int b = 3 * j; b < 3 * j + 3; b++)
      acc += img[(2 + a / 2) * S + 2 + b / 2];
  return (float)(acc / 9.0 / 255.0);
}

static void test_fashion_synthetic(void)
{
  CU_ASSERT_FATAL(make_dir());
  make_synthetic();
  CU_ASSERT_FATAL(write_fashion("train", 1, NS, NS, S, syn_lab));
  sl_dataset d28 = {0}, d24 = {0}, d16 = {0};

  /* side 28: x / 255 everywhere. */
  CU_ASSERT_EQUAL_FATAL(sl_fashion_load(&d28, g_dir, 1, 28, 0), SL_OK);
  CU_ASSERT(d28.n == NS && d28.dim == 784 && d28.n_classes == 10);
  double maxd = 0.0;
  for (int k = 0; k < NS; k++) {
    CU_ASSERT_EQUAL(d28.y[k], syn_lab[k]);
    for (int r = 0; r < S; r++)
      for (int c = 0; c < S; c++)
        maxd = fmax(maxd, fabs(d28.x[(size_t)k * 784 + r * S + c] - syn_img[k][r][c] / 255.0));
  }
  printf("\n    side 28: max |x - v/255| = %.3g\n", maxd);
  CU_ASSERT(maxd < 1e-7);

  /* side 24: the 2-pixel border is gone, the interior kept. */
  CU_ASSERT_EQUAL_FATAL(sl_fashion_load(&d24, g_dir, 1, 24, 0), SL_OK);
  CU_ASSERT(d24.n == NS && d24.dim == 576 && d24.n_classes == 10);
  maxd = 0.0;
  for (int k = 0; k < NS; k++)
    for (int r = 0; r < 24; r++)
      for (int c = 0; c < 24; c++)
        maxd = fmax(maxd, fabs(d24.x[(size_t)k * 576 + r * 24 + c] -
                               syn_img[k][r + 2][c + 2] / 255.0));
  printf("    side 24: max |x - crop/255| = %.3g\n", maxd);
  CU_ASSERT(maxd < 1e-7);
  const float *c1 = d24.x + 576;
  CU_ASSERT_DOUBLE_EQUAL(c1[0], 1.0, 1e-7);               /* impulse at crop (0,0) */
  CU_ASSERT_DOUBLE_EQUAL(c1[23 * 24 + 23], 225 / 255.0, 1e-7); /* crop (23,23) */
  CU_ASSERT_DOUBLE_EQUAL(c1[1], 0.0, 0.0);                /* not the 255 border */
  CU_ASSERT_DOUBLE_EQUAL(c1[23 * 24 + 22], 0.0, 0.0);
  CU_ASSERT_DOUBLE_EQUAL(c1[22 * 24 + 23], 0.0, 0.0);

  /* side 16. */
  CU_ASSERT_EQUAL_FATAL(sl_fashion_load(&d16, g_dir, 1, 16, 0), SL_OK);
  CU_ASSERT(d16.n == NS && d16.dim == 256 && d16.n_classes == 10);
  for (int k = 0; k < NS; k++)
    CU_ASSERT_EQUAL(d16.y[k], syn_lab[k]);
  /* Constant image stays constant. */
  maxd = 0.0;
  for (int i = 0; i < 256; i++)
    maxd = fmax(maxd, fabs(d16.x[i] - 77 / 255.0));
  printf("    side 16: constant image, max diff %.3g\n", maxd);
  CU_ASSERT(maxd < 1e-7);
  /* Impulses: value * weight / 2.25 / 255. */
  const float *o = d16.x + 256;
#define O(i, j) o[(i) * 16 + (j)]
  CU_ASSERT_DOUBLE_EQUAL(O(0, 0), 255 * 1.0 / 2.25 / 255, 1e-6); /* 0.4444 */
  CU_ASSERT_DOUBLE_EQUAL(O(2, 2), 90 * 0.25 / 2.25 / 255, 1e-6); /* 10/255 */
  CU_ASSERT_DOUBLE_EQUAL(O(2, 3), 90 * 0.25 / 2.25 / 255, 1e-6);
  CU_ASSERT_DOUBLE_EQUAL(O(3, 2), 90 * 0.25 / 2.25 / 255, 1e-6);
  CU_ASSERT_DOUBLE_EQUAL(O(3, 3), 90 * 0.25 / 2.25 / 255, 1e-6);
  CU_ASSERT_DOUBLE_EQUAL(O(4, 8), 180 * 0.5 / 2.25 / 255, 1e-6); /* 40/255 */
  CU_ASSERT_DOUBLE_EQUAL(O(4, 9), 180 * 0.5 / 2.25 / 255, 1e-6);
  CU_ASSERT_DOUBLE_EQUAL(O(15, 15), 225 * 1.0 / 2.25 / 255, 1e-6); /* 100/255 */
  int nonzero = 0;
  for (int i = 0; i < 256; i++)
    nonzero += o[i] != 0.0f;
  CU_ASSERT_EQUAL(nonzero, 8); /* nothing else, in particular no border */
  printf("    side 16: impulses out(0,0)=%.6f out(2,2)=%.6f out(4,8)=%.6f out(15,15)=%.6f, "
         "%d nonzero\n",
         O(0, 0), O(2, 2), O(4, 8), O(15, 15), nonzero);
#undef O
  /* Random images against the half-pixel oracle; means kept exactly. */
  maxd = 0.0;
  double maxm = 0.0;
  for (int k = 0; k < NS; k++) {
    double m16 = 0.0, m24 = 0.0;
    for (int i = 0; i < 16; i++)
      for (int j = 0; j < 16; j++) {
        float v = d16.x[(size_t)k * 256 + i * 16 + j];
        maxd = fmax(maxd, fabs(v - oracle16(&syn_img[k][0][0], i, j)));
        m16 += v / 256.0;
      }
    for (int i = 0; i < 576; i++)
      m24 += d24.x[(size_t)k * 576 + i] / 576.0;
    maxm = fmax(maxm, fabs(m16 - m24));
  }
  printf("    side 16: max |x - oracle| = %.3g, max |mean16 - mean24| = %.3g\n", maxd, maxm);
  CU_ASSERT(maxd < 1e-6);
  CU_ASSERT(maxm < 1e-6);

  /* limit keeps a prefix; a limit beyond n keeps all. */
  sl_dataset dl = {0};
  CU_ASSERT_EQUAL_FATAL(sl_fashion_load(&dl, g_dir, 1, 16, 2), SL_OK);
  CU_ASSERT_EQUAL(dl.n, 2);
  CU_ASSERT(memcmp(dl.x, d16.x, 2 * 256 * sizeof(float)) == 0);
  CU_ASSERT(memcmp(dl.y, d16.y, 2 * sizeof(int32_t)) == 0);
  sl_dataset_free(&dl);
  CU_ASSERT_EQUAL_FATAL(sl_fashion_load(&dl, g_dir, 1, 24, 100), SL_OK);
  CU_ASSERT_EQUAL(dl.n, NS);
  sl_dataset_free(&dl);

  /* train = 0 reads t10k-*, here plain (uncompressed) files: the .gz-less fallback. */
  static const uint8_t tlab[1] = {4};
  CU_ASSERT_FATAL(write_fashion("t10k", 0, 1, 1, S, tlab));
  CU_ASSERT_EQUAL_FATAL(sl_fashion_load(&dl, g_dir, 0, 28, 0), SL_OK);
  CU_ASSERT_EQUAL(dl.n, 1);
  CU_ASSERT_EQUAL(dl.y[0], 4);
  CU_ASSERT(memcmp(dl.x, d28.x, 784 * sizeof(float)) == 0);
  sl_dataset_free(&dl);

  /* dir NULL with $SPIKELOOP_FASHION_DIR. */
  const char *old = getenv("SPIKELOOP_FASHION_DIR");
  char *saved = old ? strdup(old) : NULL;
  setenv("SPIKELOOP_FASHION_DIR", g_dir, 1);
  CU_ASSERT_EQUAL(sl_fashion_load(&dl, NULL, 1, 16, 0), SL_OK);
  CU_ASSERT(dl.n == NS && dl.x && memcmp(dl.x, d16.x, NS * 256 * sizeof(float)) == 0);
  sl_dataset_free(&dl);
  if (saved)
    setenv("SPIKELOOP_FASHION_DIR", saved, 1);
  else
    unsetenv("SPIKELOOP_FASHION_DIR");
  free(saved);

  sl_dataset_free(&d28);
  sl_dataset_free(&d24);
  sl_dataset_free(&d16);
  rm_dir();
}

static void expect_fashion_fail(int code, const char *n1, const char *n2)
{
  sl_dataset d;
  memset(&d, 0xff, sizeof d);
  int rc = sl_fashion_load(&d, g_dir, 1, 16, 0);
  CU_ASSERT_EQUAL(rc, code);
  if (n1)
    CU_ASSERT(msg_has(n1));
  if (n2)
    CU_ASSERT(msg_has(n2));
  CU_ASSERT(d.n == 0 && d.x == NULL && d.y == NULL);
  if (rc != code)
    printf("\n    unexpected (%d): %s\n", rc, sl_last_error());
  if (rc == SL_OK)
    sl_dataset_free(&d);
}

static void test_fashion_errors(void)
{
  CU_ASSERT_FATAL(make_dir());
  make_synthetic();
  sl_dataset d;
  memset(&d, 0xff, sizeof d);
  CU_ASSERT_EQUAL(sl_fashion_load(&d, g_dir, 1, 20, 0), SL_EINVAL);
  CU_ASSERT(d.n == 0 && d.x == NULL);
  CU_ASSERT_EQUAL(sl_fashion_load(NULL, g_dir, 1, 16, 0), SL_EINVAL);

  /* 4 images, 3 labels. */
  CU_ASSERT_FATAL(write_fashion("train", 1, NS, NS - 1, S, syn_lab));
  expect_fashion_fail(SL_EFORMAT, "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz");
  CU_ASSERT(msg_has("4 images") && msg_has("3 labels"));
  /* 27x28 images. */
  CU_ASSERT_FATAL(write_fashion("train", 1, NS, NS, 27, syn_lab));
  expect_fashion_fail(SL_EFORMAT, "train-images-idx3-ubyte.gz", "27x28");
  /* A label of 10. */
  static const uint8_t bad[NS] = {0, 10, 2, 3};
  CU_ASSERT_FATAL(write_fashion("train", 1, NS, NS, S, bad));
  expect_fashion_fail(SL_EFORMAT, "train-labels-idx1-ubyte.gz", "label 10");
  /* Truncated image payload goes through the same reader. */
  char ip[1024];
  CU_ASSERT_FATAL(write_fashion("train", 0, NS, NS, S, syn_lab)); /* plain, to truncate */
  in_dir("train-images-idx3-ubyte.gz", ip, sizeof ip);
  unlink(ip);
  in_dir("train-labels-idx1-ubyte.gz", ip, sizeof ip);
  unlink(ip);
  in_dir("train-images-idx3-ubyte", ip, sizeof ip);
  CU_ASSERT_FATAL(truncate(ip, 16 + 3 * 784 + 100) == 0);
  expect_fashion_fail(SL_EFORMAT, "train-images-idx3-ubyte", "truncated");
  rm_dir();
}

/* ------------------------------------------------------------ split */

static void test_split(void)
{
  sl_dataset d = {0}, s = {0};
  CU_ASSERT_EQUAL_FATAL(sl_dataset_alloc(&d, 5, 3, 4), SL_OK);
  for (int i = 0; i < 15; i++)
    d.x[i] = (float)i;
  for (int i = 0; i < 5; i++)
    d.y[i] = i % 4;
  CU_ASSERT_EQUAL_FATAL(sl_dataset_split(&d, 1, 3, &s), SL_OK);
  CU_ASSERT(s.n == 3 && s.dim == 3 && s.n_classes == 4);
  for (int i = 0; i < 9; i++)
    CU_ASSERT_EQUAL(s.x[i], (float)(i + 3));
  CU_ASSERT(s.y[0] == 1 && s.y[1] == 2 && s.y[2] == 3);
  CU_ASSERT(s.x != d.x);
  sl_dataset_free(&s);
  /* Empty range at the end; whole set. */
  CU_ASSERT_EQUAL(sl_dataset_split(&d, 5, 0, &s), SL_OK);
  CU_ASSERT(s.n == 0 && s.dim == 3 && s.x != NULL);
  sl_dataset_free(&s);
  CU_ASSERT_EQUAL(sl_dataset_split(&d, 0, 5, &s), SL_OK);
  CU_ASSERT(s.n == 5 && memcmp(s.x, d.x, 15 * sizeof(float)) == 0);
  sl_dataset_free(&s);
  /* Out of range, including overflow of first + count. */
  memset(&s, 0xff, sizeof s);
  CU_ASSERT_EQUAL(sl_dataset_split(&d, 4, 2, &s), SL_ERANGE);
  CU_ASSERT(s.n == 0 && s.x == NULL && s.y == NULL);
  CU_ASSERT_EQUAL(sl_dataset_split(&d, 6, 0, &s), SL_ERANGE);
  CU_ASSERT_EQUAL(sl_dataset_split(&d, 2, SIZE_MAX, &s), SL_ERANGE);
  CU_ASSERT_EQUAL(sl_dataset_split(&d, SIZE_MAX, 2, &s), SL_ERANGE);
  CU_ASSERT_EQUAL(sl_dataset_split(NULL, 0, 0, &s), SL_EINVAL);
  CU_ASSERT_EQUAL(sl_dataset_split(&d, 0, 0, NULL), SL_EINVAL);
  /* In place: error leaves d alone; success replaces it. */
  CU_ASSERT_EQUAL(sl_dataset_split(&d, 3, 3, &d), SL_ERANGE);
  CU_ASSERT(d.n == 5 && d.x[14] == 14.0f);
  CU_ASSERT_EQUAL(sl_dataset_split(&d, 3, 2, &d), SL_OK);
  CU_ASSERT(d.n == 2 && d.x[0] == 9.0f && d.x[5] == 14.0f && d.y[0] == 3 && d.y[1] == 0);
  sl_dataset_free(&d);
}

/* ------------------------------------------------------------ real Debian files */

static void class_counts(const sl_dataset *d, size_t *cnt)
{
  memset(cnt, 0, 10 * sizeof *cnt);
  for (size_t i = 0; i < d->n; i++)
    if (d->y[i] >= 0 && d->y[i] < 10)
      cnt[d->y[i]]++;
}

static void range_mean(const sl_dataset *d, float *lo, float *hi, double *mean)
{
  *lo = INFINITY;
  *hi = -INFINITY;
  double s = 0.0;
  size_t m = d->n * d->dim;
  for (size_t i = 0; i < m; i++) {
    float v = d->x[i];
    *lo = fminf(*lo, v);
    *hi = fmaxf(*hi, v);
    s += v;
  }
  *mean = m ? s / (double)m : NAN;
}

static void test_real(void)
{
  const char *env = getenv("SPIKELOOP_FASHION_DIR");
  const char *dir = env && *env ? env : DEBIAN_DIR;
  char p[1024];
  snprintf(p, sizeof p, "%s/train-images-idx3-ubyte.gz", dir);
  if (access(p, R_OK) != 0) {
    printf("\n    NOTE: %s not found: real Fashion-MNIST checks skipped "
           "(install the Debian package dataset-fashion-mnist)\n", p);
    return;
  }
  sl_dataset tr = {0}, te = {0}, te24 = {0}, te16 = {0};
  size_t cnt[10];
  float lo, hi;
  double mean;

  double t0 = now_s();
  int rc = sl_fashion_load(&tr, NULL, 1, 16, 0);
  double t1 = now_s();
  if (rc != SL_OK)
    printf("\n    %s\n", sl_last_error());
  CU_ASSERT_EQUAL_FATAL(rc, SL_OK);
  CU_ASSERT(tr.n == 60000 && tr.dim == 256 && tr.n_classes == 10);
  CU_ASSERT_EQUAL(tr.y[0], 9); /* the first training image is an ankle boot */
  class_counts(&tr, cnt);
  for (int c = 0; c < 10; c++)
    CU_ASSERT_EQUAL(cnt[c], 6000);
  range_mean(&tr, &lo, &hi, &mean);
  printf("\n    train 16x16: n=%zu, load %.3f s, x in [%g, %g], mean pixel %.4f\n", tr.n, t1 - t0,
         lo, hi, mean);
  CU_ASSERT(lo >= 0.0f && hi <= 1.0f && hi > 0.9f);
  /* Raw mean 0.2860 over 28x28; the crop drops (mostly black) border
   * pixels: <= 0.2860 * 784 / 576 = 0.389. */
  CU_ASSERT(mean > 0.33 && mean < 0.40);

  t0 = now_s();
  CU_ASSERT_EQUAL_FATAL(sl_fashion_load(&te, NULL, 0, 28, 0), SL_OK);
  t1 = now_s();
  CU_ASSERT(te.n == 10000 && te.dim == 784 && te.n_classes == 10);
  class_counts(&te, cnt);
  for (int c = 0; c < 10; c++)
    CU_ASSERT_EQUAL(cnt[c], 1000);
  double m28, m24, m16;
  range_mean(&te, &lo, &hi, &m28);
  CU_ASSERT(lo >= 0.0f && hi <= 1.0f);
  CU_ASSERT(m28 > 0.27 && m28 < 0.30);
  CU_ASSERT_EQUAL_FATAL(sl_fashion_load(&te24, NULL, 0, 24, 0), SL_OK);
  CU_ASSERT_EQUAL_FATAL(sl_fashion_load(&te16, NULL, 0, 16, 0), SL_OK);
  range_mean(&te24, &lo, &hi, &m24);
  range_mean(&te16, &lo, &hi, &m16);
  CU_ASSERT(lo >= 0.0f && hi <= 1.0f);
  printf("    test: 28x28 load %.3f s, mean pixel 28x28 %.4f, 24x24 %.4f, 16x16 %.4f\n",
         t1 - t0, m28, m24, m16);
  CU_ASSERT(fabs(m16 - m24) < 1e-5);                /* area averaging keeps the mean */
  CU_ASSERT(m24 * 576.0 <= m28 * 784.0 + 1e-6);     /* the crop only removes pixels */
  CU_ASSERT(memcmp(te16.y, te.y, te.n * sizeof(int32_t)) == 0);

  sl_dataset_free(&tr);
  sl_dataset_free(&te);
  sl_dataset_free(&te24);
  sl_dataset_free(&te16);
}

int main(void)
{
  static const sl_test_case cases[] = {
      {"IDX round trip, plain and gzip", test_roundtrip},
      {"wrong magic, type or rank", test_bad_magic},
      {"truncated header, payload, gzip stream; bad CRC", test_truncated},
      {"missing files", test_missing},
      {"Fashion loader: crop, area resampling, limit", test_fashion_synthetic},
      {"Fashion loader: count, size and label errors", test_fashion_errors},
      {"sl_dataset_split", test_split},
      {"real Debian Fashion-MNIST files", test_real},
      {NULL, NULL}};
  return sl_test_run("idx", cases);
}
