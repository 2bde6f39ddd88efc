/* test_pointcloud.c -- CUnit suite for point clouds (lib/data/pointcloud.c).
 *
 * Covers: sl_pointcloud_normalise; the procedural shapes (names, sizes,
 * balanced labels, bit-identical per seed and per thread count, every cloud
 * normalised, dropout duplicates, parameter errors, and that the classes
 * differ: a nearest-class-mean classifier on a rotation-invariant histogram
 * of point radii and pairwise distances, trained on one seed and tested on
 * another, must beat 60% on the 12 classes, chance being 8.3%); ModelNet
 * files: a round trip through sl_modelnet_save, files written here with raw
 * HDF5 as h5py writes them (uint8 labels (N, 1) with /normal, int64 labels
 * (N) with float64 data), comma lists, list files with relative, absolute
 * and PointNet-style paths, the first-n and seeded random subsets, and every
 * malformed case of the header, each with its code and a message naming the
 * file and the dataset. No HDF5 identifier may stay open after any case.
 */
#include "config.h"
#ifndef _XOPEN_SOURCE
#define _XOPEN_SOURCE 700 /* mkdtemp, nftw, truncate */
#endif

#include "spikeloop/pointcloud.h"
#include "spikeloop/dataset.h"
#include "spikeloop/error.h"
#include "spikeloop/version.h"
#include "fixtures.h"
#include "testutil.h"

#include <hdf5.h>

#include <ftw.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ------------------------------------------------------------ helpers */

/* A fresh temporary directory per test, removed with its contents by rm_dir. */
static char g_dir[512];
static void make_dir(void)
{
  const char *t = getenv("TMPDIR");
  snprintf(g_dir, sizeof g_dir, "%s/sl_test_pc_XXXXXX", t && *t ? t : "/tmp");
  CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(g_dir));
}
static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
  return remove(path);
}
static void rm_dir(void) { nftw(g_dir, rm_one, 16, FTW_DEPTH | FTW_PHYS); }
static const char *in_dir(const char *name, char *buf, size_t len)
{
  snprintf(buf, len, "%s/%s", g_dir, name);
  return buf;
}
static void write_text(const char *path, const char *text)
{
  FILE *f = fopen(path, "w");
  CU_ASSERT_PTR_NOT_NULL_FATAL(f);
  fputs(text, f);
  fclose(f);
}

/* Max over clouds of |mean| and of |max |p| - 1|. */
static void norm_errors(const float *x, size_t n, size_t P, double *mean_err, double *rad_err)
{
  *mean_err = *rad_err = 0.0;
  for (size_t i = 0; i < n; i++) {
    const float *c = x + i * 3 * P;
    double m[3] = {0, 0, 0}, r2 = 0.0;
    for (size_t j = 0; j < P; j++)
      for (int a = 0; a < 3; a++)
        m[a] += c[3 * j + a] / (double)P;
    for (size_t j = 0; j < P; j++) {
      double s = 0.0;
      for (int a = 0; a < 3; a++)
        s += (double)c[3 * j + a] * c[3 * j + a];
      if (!(s <= r2))
        r2 = isnan(s) ? INFINITY : s;
    }
    double me = sqrt(m[0] * m[0] + m[1] * m[1] + m[2] * m[2]), re = fabs(sqrt(r2) - 1.0);
    if (!(me <= *mean_err))
      *mean_err = isnan(me) ? INFINITY : me;
    if (!(re <= *rad_err))
      *rad_err = isnan(re) ? INFINITY : re;
  }
}

/* Write a ModelNet-style file with raw HDF5, as h5py does: /data of file
 * type dtype (memory float or double, as dmem) and shape dd[0..drank), and
 * /label likewise; a NULL buffer leaves that dataset out. With normal, also
 * a /normal the shape of /data (zeros). */
static void write_raw(const char *path, hid_t dtype, hid_t dmem, int drank, const hsize_t *dd,
                      const void *data, hid_t ltype, hid_t lmem, int lrank, const hsize_t *ld,
                      const void *label, int normal)
{
  hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  CU_ASSERT_FATAL(f >= 0);
  const char *names[3] = {"data", "label", "normal"};
  for (int k = 0; k < 3; k++) {
    int rank = k == 1 ? lrank : drank;
    const hsize_t *dims = k == 1 ? ld : dd;
    hid_t ft = k == 1 ? ltype : k == 0 ? dtype : H5T_IEEE_F32LE;
    hid_t mt = k == 1 ? lmem : k == 0 ? dmem : H5T_NATIVE_FLOAT;
    const void *buf = k == 1 ? label : data;
    if (!buf || (k == 2 && !normal))
      continue;
    float *zeros = NULL;
    if (k == 2) {
      size_t n = 1;
      for (int i = 0; i < rank; i++)
        n *= (size_t)dims[i];
      zeros = calloc(n ? n : 1, sizeof *zeros);
      buf = zeros;
    }
    hid_t s = H5Screate_simple(rank, dims, NULL);
    hid_t d = H5Dcreate2(f, names[k], ft, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    CU_ASSERT(d >= 0 && H5Dwrite(d, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0);
    H5Dclose(d);
    H5Sclose(s);
    free(zeros);
  }
  H5Fclose(f);
}

/* The usual case: float32 data (N, P, 3), uint8 labels (N, 1). */
static void write_std(const char *path, const float *x, size_t N, size_t P, const uint8_t *y)
{
  const hsize_t dd[3] = {N, P, 3}, ld[2] = {N, 1};
  write_raw(path, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 3, dd, x, H5T_STD_U8LE, H5T_NATIVE_UINT8, 2,
            ld, y, 0);
}

/* N clouds of P points with coordinates i + j/1000 + a/10 (point j of cloud
 * i, axis a: every value tells where it came from), labels (3 i + 1) % 40. */
static float *coded_clouds(size_t N, size_t P, uint8_t *y)
{
  float *x = malloc(N * P * 3 * sizeof *x);
  CU_ASSERT_PTR_NOT_NULL_FATAL(x);
  for (size_t i = 0; i < N; i++) {
    y[i] = (uint8_t)((3 * i + 1) % 40);
    for (size_t j = 0; j < P; j++)
      for (int a = 0; a < 3; a++)
        x[(i * P + j) * 3 + a] = (float)((double)i + (double)j / 1000.0 + a / 10.0);
  }
  return x;
}

static sl_modelnet_params raw_params(size_t n_points)
{
  sl_modelnet_params p = sl_modelnet_params_default();
  p.n_points = n_points;
  p.normalise = 0;
  return p;
}

/* ------------------------------------------------------------ normalise */

static void test_normalise(void)
{
  float c[4 * 3] = {1, 2, 3, 3, 2, 3, 1, 4, 3, 1, 2, 5}; /* mean (1.5, 2.5, 3.5) */
  sl_pointcloud_normalise(c, 4);
  double me, re;
  norm_errors(c, 1, 4, &me, &re);
  CU_ASSERT(me < 1e-6 && re < 1e-6);
  /* the farthest of the four is (3,2,3) - mean = (1.5, -0.5, -0.5) */
  const double r = sqrt(2.75);
  CU_ASSERT_DOUBLE_EQUAL(c[3], 1.5 / r, 1e-6);
  CU_ASSERT_DOUBLE_EQUAL(c[4], -0.5 / r, 1e-6);
  /* coinciding points are only centred; NULL and P = 0 do nothing */
  float same[6] = {2, 2, 2, 2, 2, 2};
  sl_pointcloud_normalise(same, 2);
  for (int i = 0; i < 6; i++)
    CU_ASSERT_EQUAL(same[i], 0.0f);
  sl_pointcloud_normalise(NULL, 3);
  sl_pointcloud_normalise(same, 0);
}

/* ------------------------------------------------------------ shapes */

static void test_shapes_names(void)
{
  CU_ASSERT_EQUAL(sl_shapes_num_classes(), (size_t)SL_SHAPES_CLASSES);
  CU_ASSERT(SL_SHAPES_CLASSES >= 10);
  for (size_t k = 0; k < SL_SHAPES_CLASSES; k++) {
    const char *a = sl_shapes_class_name(k);
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    CU_ASSERT(strlen(a) > 0);
    for (size_t j = 0; j < k; j++)
      CU_ASSERT(strcmp(a, sl_shapes_class_name(j)) != 0);
  }
  CU_ASSERT_STRING_EQUAL(sl_shapes_class_name(0), "sphere");
  CU_ASSERT_PTR_NULL(sl_shapes_class_name(SL_SHAPES_CLASSES));
  CU_ASSERT_PTR_NULL(sl_shapes_class_name((size_t)-1));
  sl_shapes_params p = sl_shapes_params_default();
  CU_ASSERT_EQUAL(p.n_points, 512);
  CU_ASSERT_DOUBLE_EQUAL(p.noise, 0.01, 0);
  CU_ASSERT_DOUBLE_EQUAL(p.dropout, 0.1, 0);
  CU_ASSERT_DOUBLE_EQUAL(p.scale_min, 0.8, 0);
  CU_ASSERT_DOUBLE_EQUAL(p.scale_max, 1.2, 0);
  CU_ASSERT_EQUAL(p.rotate, 1);
}

static void test_shapes_sizes_and_normalised(void)
{
  sl_shapes_params p = sl_shapes_params_default();
  p.n_points = 100;
  const size_t n = 5 * SL_SHAPES_CLASSES + 7;
  sl_dataset d;
  CU_ASSERT_EQUAL_FATAL(sl_shapes_generate(&d, n, &p, 11), SL_OK);
  CU_ASSERT_EQUAL(d.n, n);
  CU_ASSERT_EQUAL(d.dim, 300);
  CU_ASSERT_EQUAL(d.n_classes, SL_SHAPES_CLASSES);
  size_t count[SL_SHAPES_CLASSES] = {0};
  for (size_t i = 0; i < n; i++) {
    CU_ASSERT_EQUAL(d.y[i], (int32_t)(i % SL_SHAPES_CLASSES));
    count[d.y[i]]++;
  }
  for (size_t k = 0; k < SL_SHAPES_CLASSES; k++)
    CU_ASSERT(count[k] == 5 || count[k] == 6);
  size_t bad = 0;
  for (size_t i = 0; i < n * d.dim; i++)
    bad += !isfinite(d.x[i]);
  CU_ASSERT_EQUAL(bad, 0);
  double me, re;
  norm_errors(d.x, n, p.n_points, &me, &re);
  printf("\n  shapes: max |mean| %.2g, max | max|p| - 1 | %.2g ", me, re);
  CU_ASSERT(me < 1e-5);
  CU_ASSERT(re < 1e-5);
  sl_dataset_free(&d);

  /* NULL parameters: the defaults (512 points); every option off also normalises. */
  CU_ASSERT_EQUAL_FATAL(sl_shapes_generate(&d, SL_SHAPES_CLASSES, NULL, 3), SL_OK);
  CU_ASSERT_EQUAL(d.dim, 3 * 512);
  norm_errors(d.x, d.n, 512, &me, &re);
  CU_ASSERT(me < 1e-5 && re < 1e-5);
  sl_dataset_free(&d);
  p.noise = p.dropout = 0.0;
  p.scale_min = p.scale_max = 1.0;
  p.rotate = 0;
  CU_ASSERT_EQUAL_FATAL(sl_shapes_generate(&d, SL_SHAPES_CLASSES, &p, 3), SL_OK);
  norm_errors(d.x, d.n, p.n_points, &me, &re);
  CU_ASSERT(me < 1e-5 && re < 1e-5);
  /* without noise or rotation the disk is flat in z */
  double zmax = 0.0;
  const float *disk = d.x + 8 * d.dim;
  CU_ASSERT_STRING_EQUAL(sl_shapes_class_name(8), "disk");
  for (size_t j = 0; j < p.n_points; j++)
    zmax = fmax(zmax, fabs(disk[3 * j + 2]));
  CU_ASSERT(zmax < 1e-6);
  sl_dataset_free(&d);

  CU_ASSERT_EQUAL(sl_shapes_generate(&d, 0, &p, 3), SL_OK);
  CU_ASSERT_EQUAL(d.n, 0);
  sl_dataset_free(&d);
}

/* Points of cloud c (P points) equal bit for bit to an earlier point. */
static size_t duplicates(const float *c, size_t P)
{
  size_t dup = 0;
  for (size_t i = 1; i < P; i++)
    for (size_t j = 0; j < i; j++)
      if (memcmp(c + 3 * i, c + 3 * j, 3 * sizeof *c) == 0) {
        dup++;
        break;
      }
  return dup;
}

static int cmp_double(const void *a, const void *b)
{
  const double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* The upright pose turns each cloud about y only: with noise and dropout off
 * its points are those of the unrotated cloud from the same stream (in
 * another order: the shuffle draws after the angle), with the same y and
 * x^2 + z^2, and x and z turned. */
static void test_shapes_upright(void)
{
  sl_shapes_params p = sl_shapes_params_default();
  p.n_points = 64, p.noise = p.dropout = 0.0, p.scale_min = p.scale_max = 1.0;
  const size_t n = SL_SHAPES_CLASSES, P = p.n_points;
  sl_dataset a, b;
  p.rotate = SL_SHAPES_ROTATE_NONE;
  CU_ASSERT_EQUAL_FATAL(sl_shapes_generate(&a, n, &p, 5), SL_OK);
  p.rotate = SL_SHAPES_ROTATE_UPRIGHT;
  CU_ASSERT_EQUAL_FATAL(sl_shapes_generate(&b, n, &p, 5), SL_OK);
  double *ya = malloc(P * sizeof *ya), *yb = malloc(P * sizeof *yb);
  double *ra = malloc(P * sizeof *ra), *rb = malloc(P * sizeof *rb);
  CU_ASSERT_FATAL(ya && yb && ra && rb);
  double dy = 0.0, dr = 0.0, dx = 0.0;
  for (size_t c = 0; c < n; c++) {
    const float *u = a.x + c * a.dim, *v = b.x + c * b.dim;
    for (size_t i = 0; i < P; i++) {
      ya[i] = u[3 * i + 1], yb[i] = v[3 * i + 1];
      ra[i] = (double)u[3 * i] * u[3 * i] + (double)u[3 * i + 2] * u[3 * i + 2];
      rb[i] = (double)v[3 * i] * v[3 * i] + (double)v[3 * i + 2] * v[3 * i + 2];
    }
    qsort(ya, P, sizeof *ya, cmp_double), qsort(yb, P, sizeof *yb, cmp_double);
    qsort(ra, P, sizeof *ra, cmp_double), qsort(rb, P, sizeof *rb, cmp_double);
    for (size_t i = 0; i < P; i++)
      dy = fmax(dy, fabs(ya[i] - yb[i])), dr = fmax(dr, fabs(ra[i] - rb[i]));
    double sxa = 0.0, sxb = 0.0; /* the sorted x differ once turned */
    for (size_t i = 0; i < P; i++)
      ya[i] = u[3 * i], yb[i] = v[3 * i];
    qsort(ya, P, sizeof *ya, cmp_double), qsort(yb, P, sizeof *yb, cmp_double);
    for (size_t i = 0; i < P; i++)
      sxa += fabs(ya[i] - yb[i]), sxb += fabs(ya[i]);
    dx = fmax(dx, sxa / (sxb + 1e-12));
  }
  CU_ASSERT(dy < 1e-6);
  CU_ASSERT(dr < 1e-5);
  CU_ASSERT(dx > 0.05);
  free(ya), free(yb), free(ra), free(rb);
  sl_dataset_free(&a), sl_dataset_free(&b);
}

static void test_shapes_dropout(void)
{
  sl_shapes_params p = sl_shapes_params_default();
  p.n_points = 200;
  sl_dataset d;
  p.dropout = 0.0;
  CU_ASSERT_EQUAL_FATAL(sl_shapes_generate(&d, 24, &p, 5), SL_OK);
  size_t dup = 0;
  for (size_t i = 0; i < d.n; i++)
    dup += duplicates(d.x + i * d.dim, p.n_points);
  CU_ASSERT_EQUAL(dup, 0);
  sl_dataset_free(&d);
  /* dropout 0.9: f ~ U(0, 0.9), on average 45% of the points copies */
  p.dropout = 0.9;
  CU_ASSERT_EQUAL_FATAL(sl_shapes_generate(&d, 24, &p, 5), SL_OK);
  size_t most = 0;
  dup = 0;
  for (size_t i = 0; i < d.n; i++) {
    size_t k = duplicates(d.x + i * d.dim, p.n_points);
    dup += k;
    most = k > most ? k : most;
  }
  double frac = (double)dup / (double)(d.n * p.n_points);
  printf("\n  dropout 0.9: %.1f%% of points are copies, at most %zu of %zu in a cloud ",
         100.0 * frac, most, p.n_points);
  CU_ASSERT(frac > 0.25 && frac < 0.65);
  CU_ASSERT(most <= (size_t)(0.9 * p.n_points));
  sl_dataset_free(&d);
}

static void test_shapes_deterministic(void)
{
  sl_shapes_params p = sl_shapes_params_default();
  p.n_points = 64;
  sl_dataset a, b, c;
  const size_t n = 40;
  CU_ASSERT_EQUAL_FATAL(sl_shapes_generate(&a, n, &p, 42), SL_OK);
  CU_ASSERT_EQUAL_FATAL(sl_shapes_generate(&b, n, &p, 42), SL_OK);
  CU_ASSERT(memcmp(a.x, b.x, n * a.dim * sizeof *a.x) == 0);
  CU_ASSERT(memcmp(a.y, b.y, n * sizeof *a.y) == 0);
  sl_dataset_free(&b);
  /* another seed: every cloud differs */
  CU_ASSERT_EQUAL_FATAL(sl_shapes_generate(&b, n, &p, 43), SL_OK);
  size_t same = 0;
  for (size_t i = 0; i < n; i++)
    same += memcmp(a.x + i * a.dim, b.x + i * a.dim, a.dim * sizeof *a.x) == 0;
  CU_ASSERT_EQUAL(same, 0);
  sl_dataset_free(&b);
  /* cloud i does not depend on n */
  CU_ASSERT_EQUAL_FATAL(sl_shapes_generate(&c, 7, &p, 42), SL_OK);
  CU_ASSERT(memcmp(a.x, c.x, 7 * a.dim * sizeof *a.x) == 0);
  sl_dataset_free(&c);
  /* nor on the number of threads */
  int threads = sl_get_num_threads();
  if (sl_set_num_threads(threads > 1 ? 1 : 2) == SL_OK) {
    CU_ASSERT_EQUAL_FATAL(sl_shapes_generate(&c, n, &p, 42), SL_OK);
    CU_ASSERT(memcmp(a.x, c.x, n * a.dim * sizeof *a.x) == 0);
    sl_dataset_free(&c);
    sl_set_num_threads(threads);
  }
  sl_dataset_free(&a);
}

static void test_shapes_errors(void)
{
  sl_dataset d = {0};
  const sl_shapes_params def = sl_shapes_params_default();
  struct {
    const char *field;
    sl_shapes_params p;
  } bad[9];
  for (size_t k = 0; k < 9; k++)
    bad[k].p = def;
  bad[0].field = "n_points";
  bad[0].p.n_points = 1;
  bad[1].field = "noise";
  bad[1].p.noise = -0.1;
  bad[2].field = "noise";
  bad[2].p.noise = NAN;
  bad[3].field = "dropout";
  bad[3].p.dropout = 1.0;
  bad[4].field = "dropout";
  bad[4].p.dropout = -0.5;
  bad[5].field = "scale_min";
  bad[5].p.scale_min = 0.0;
  bad[6].field = "scale_max";
  bad[6].p.scale_max = 0.5;
  bad[7].field = "scale_max";
  bad[7].p.scale_max = INFINITY;
  bad[8].field = "rotate";
  bad[8].p.rotate = 3;
  for (size_t k = 0; k < 9; k++) {
    CU_ASSERT_EQUAL(sl_shapes_generate(&d, 3, &bad[k].p, 1), SL_EINVAL);
    CU_ASSERT(sl_test_msg_has(bad[k].field));
    CU_ASSERT_PTR_NULL(d.x);
  }
  CU_ASSERT_EQUAL(sl_shapes_generate(NULL, 3, &def, 1), SL_EINVAL);
}

/* A rotation-invariant descriptor of a normalised cloud: the histogram of
 * the radii |p| (16 bins over [0, 1]) and of all pairwise distances (16 bins
 * over [0, 2]), each summing to 1. */
#define DESC_BINS 16
static void descriptor(const float *c, size_t P, double *h)
{
  memset(h, 0, 2 * DESC_BINS * sizeof *h);
  const double pairs = 0.5 * (double)P * (double)(P - 1);
  for (size_t i = 0; i < P; i++) {
    const float *a = c + 3 * i;
    int b = (int)(sqrt((double)a[0] * a[0] + (double)a[1] * a[1] + (double)a[2] * a[2]) *
                  DESC_BINS);
    h[b < DESC_BINS ? b : DESC_BINS - 1] += 1.0 / (double)P;
    for (size_t j = i + 1; j < P; j++) {
      const float *q = c + 3 * j;
      double dx = a[0] - q[0], dy = a[1] - q[1], dz = a[2] - q[2];
      b = (int)(0.5 * sqrt(dx * dx + dy * dy + dz * dz) * DESC_BINS);
      h[DESC_BINS + (b < DESC_BINS ? b : DESC_BINS - 1)] += 1.0 / pairs;
    }
  }
}

/* The classes differ: class means of the descriptor on 20 clouds a class
 * (seed 1), nearest mean on 20 others (seed 2), default parameters but 256
 * points. */
static void test_shapes_separable(void)
{
  enum { K = SL_SHAPES_CLASSES, PER = 20, D = 2 * DESC_BINS };
  sl_shapes_params p = sl_shapes_params_default();
  p.n_points = 256;
  sl_dataset tr, te;
  CU_ASSERT_EQUAL_FATAL(sl_shapes_generate(&tr, K * PER, &p, 1), SL_OK);
  CU_ASSERT_EQUAL_FATAL(sl_shapes_generate(&te, K * PER, &p, 2), SL_OK);
  double mean[K][D], h[D];
  memset(mean, 0, sizeof mean);
  for (size_t i = 0; i < tr.n; i++) {
    descriptor(tr.x + i * tr.dim, p.n_points, h);
    for (int b = 0; b < D; b++)
      mean[tr.y[i]][b] += h[b] / PER;
  }
  size_t right[K] = {0}, total = 0;
  for (size_t i = 0; i < te.n; i++) {
    descriptor(te.x + i * te.dim, p.n_points, h);
    size_t best = 0;
    double best_d = INFINITY;
    for (size_t k = 0; k < K; k++) {
      double s = 0.0;
      for (int b = 0; b < D; b++)
        s += (h[b] - mean[k][b]) * (h[b] - mean[k][b]);
      if (s < best_d) {
        best_d = s;
        best = k;
      }
    }
    if ((int32_t)best == te.y[i]) {
      right[best]++;
      total++;
    }
  }
  double acc = (double)total / (double)te.n;
  printf("\n  nearest class mean on radius + distance histograms: %.1f%% (%zu of %zu; chance "
         "%.1f%%); per class:",
         100.0 * acc, total, te.n, 100.0 / K);
  for (size_t k = 0; k < K; k++)
    printf(" %s %zu/%d", sl_shapes_class_name(k), right[k], PER);
  printf(" ");
  CU_ASSERT(acc > 0.60);
  sl_dataset_free(&tr);
  sl_dataset_free(&te);
}

/* ------------------------------------------------------------ ModelNet: files */

static void test_modelnet_round_trip(void)
{
  make_dir();
  char path[600];
  in_dir("shapes.h5", path, sizeof path);
  sl_shapes_params sp = sl_shapes_params_default();
  sp.n_points = 64;
  sl_dataset a, b;
  CU_ASSERT_EQUAL_FATAL(sl_shapes_generate(&a, 30, &sp, 9), SL_OK);
  CU_ASSERT_EQUAL_FATAL(sl_modelnet_save(&a, path), SL_OK);
  sl_test_assert_no_open_hdf5();

  /* The layout, read with raw HDF5. */
  hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  CU_ASSERT_FATAL(f >= 0);
  const char *names[2] = {"data", "label"};
  const hsize_t want[2][3] = {{30, 64, 3}, {30, 1, 0}};
  for (int k = 0; k < 2; k++) {
    hid_t d = H5Dopen2(f, names[k], H5P_DEFAULT), s = H5Dget_space(d), t = H5Dget_type(d);
    hsize_t dims[3] = {0, 0, 0};
    CU_ASSERT_EQUAL(H5Sget_simple_extent_ndims(s), 3 - k);
    H5Sget_simple_extent_dims(s, dims, NULL);
    CU_ASSERT(memcmp(dims, want[k], sizeof dims) == 0);
    CU_ASSERT(H5Tequal(t, k ? H5T_STD_U8LE : H5T_IEEE_F32LE) > 0);
    H5Tclose(t);
    H5Sclose(s);
    H5Dclose(d);
  }
  H5Fclose(f);

  sl_modelnet_params p = raw_params(64);
  p.n_classes = SL_SHAPES_CLASSES;
  CU_ASSERT_EQUAL_FATAL(sl_modelnet_load(&b, path, &p), SL_OK);
  CU_ASSERT_EQUAL(b.n, 30);
  CU_ASSERT_EQUAL(b.dim, 192);
  CU_ASSERT_EQUAL(b.n_classes, SL_SHAPES_CLASSES);
  CU_ASSERT(memcmp(a.x, b.x, 30 * 192 * sizeof *a.x) == 0);
  CU_ASSERT(memcmp(a.y, b.y, 30 * sizeof *a.y) == 0);
  sl_dataset_free(&b);
  sl_test_assert_no_open_hdf5();
  /* normalising clouds already normalised changes them by rounding only */
  p.normalise = 1;
  CU_ASSERT_EQUAL_FATAL(sl_modelnet_load(&b, path, &p), SL_OK);
  CU_ASSERT(sl_test_max_rel_diff(b.x, a.x, 30 * 192, 1.0) < 1e-6);
  sl_dataset_free(&b);
  /* labels >= n_classes: the file's 11 with n_classes 11 */
  p.n_classes = 11;
  CU_ASSERT_EQUAL(sl_modelnet_load(&b, path, &p), SL_EFORMAT);
  CU_ASSERT(sl_test_msg_has("/label") && sl_test_msg_has(path));
  sl_test_assert_no_open_hdf5();

  /* Save refuses what load would reject, and leaves no file. */
  char bad[600];
  in_dir("bad.h5", bad, sizeof bad);
  a.dim = 190; /* not 3 x points */
  CU_ASSERT_EQUAL(sl_modelnet_save(&a, bad), SL_EINVAL);
  a.dim = 192;
  a.y[3] = SL_SHAPES_CLASSES;
  CU_ASSERT_EQUAL(sl_modelnet_save(&a, bad), SL_EINVAL);
  a.y[3] = 3;
  a.x[100] = NAN;
  CU_ASSERT_EQUAL(sl_modelnet_save(&a, bad), SL_ENUMERIC);
  CU_ASSERT_EQUAL(sl_test_file_size(bad), -1);
  a.x[100] = 0.0f;
  a.n_classes = 300;
  a.y[0] = 256; /* uint8 labels */
  CU_ASSERT_EQUAL(sl_modelnet_save(&a, bad), SL_EINVAL);
  in_dir("nodir/x.h5", bad, sizeof bad);
  a.y[0] = 0;
  CU_ASSERT_EQUAL(sl_modelnet_save(&a, bad), SL_EIO);
  CU_ASSERT(sl_test_msg_has("nodir"));
  CU_ASSERT_EQUAL(sl_modelnet_save(NULL, path), SL_EINVAL);
  CU_ASSERT_EQUAL(sl_modelnet_save(&a, NULL), SL_EINVAL);
  sl_test_assert_no_open_hdf5();
  sl_dataset_free(&a);

  /* An empty set round-trips too. */
  CU_ASSERT_EQUAL_FATAL(sl_dataset_alloc(&a, 0, 30, 40), SL_OK);
  CU_ASSERT_EQUAL(sl_modelnet_save(&a, path), SL_OK);
  p = raw_params(10);
  CU_ASSERT_EQUAL(sl_modelnet_load(&b, path, &p), SL_OK);
  CU_ASSERT_EQUAL(b.n, 0);
  CU_ASSERT_PTR_NOT_NULL(b.x);
  sl_dataset_free(&a);
  sl_dataset_free(&b);
  sl_test_assert_no_open_hdf5();
  rm_dir();
}

/* Files as h5py writes them: uint8 (N, 1) labels with /normal, int64 (N)
 * labels with float64 data. */
static void test_modelnet_h5py_files(void)
{
  make_dir();
  char p1[600], p2[600];
  in_dir("ply_data_train0.h5", p1, sizeof p1);
  in_dir("f64.h5", p2, sizeof p2);
  enum { N = 5, P = 8 };
  uint8_t y8[N];
  float *x = coded_clouds(N, P, y8);
  const hsize_t dd[3] = {N, P, 3}, ld2[2] = {N, 1}, ld1[1] = {N};
  write_raw(p1, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 3, dd, x, H5T_STD_U8LE, H5T_NATIVE_UINT8, 2,
            ld2, y8, 1);
  double x64[N * P * 3];
  int64_t y64[N];
  for (size_t i = 0; i < N * P * 3; i++)
    x64[i] = -(double)x[i];
  for (size_t i = 0; i < N; i++)
    y64[i] = 39 - (int64_t)i;
  write_raw(p2, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 3, dd, x64, H5T_STD_I64LE, H5T_NATIVE_INT64, 1,
            ld1, y64, 0);

  sl_dataset d;
  sl_modelnet_params p = raw_params(P);
  CU_ASSERT_EQUAL_FATAL(sl_modelnet_load(&d, p1, &p), SL_OK);
  CU_ASSERT_EQUAL(d.n, N);
  CU_ASSERT_EQUAL(d.dim, 3 * P);
  CU_ASSERT_EQUAL(d.n_classes, 40);
  CU_ASSERT(memcmp(d.x, x, sizeof(float) * N * P * 3) == 0);
  for (size_t i = 0; i < N; i++)
    CU_ASSERT_EQUAL(d.y[i], y8[i]);
  sl_dataset_free(&d);
  sl_test_assert_no_open_hdf5();

  CU_ASSERT_EQUAL_FATAL(sl_modelnet_load(&d, p2, &p), SL_OK);
  CU_ASSERT_EQUAL(d.n, N);
  size_t wrong = 0;
  for (size_t i = 0; i < N * P * 3; i++)
    wrong += d.x[i] != (float)x64[i];
  CU_ASSERT_EQUAL(wrong, 0);
  for (size_t i = 0; i < N; i++)
    CU_ASSERT_EQUAL(d.y[i], 39 - (int32_t)i);
  sl_dataset_free(&d);
  sl_test_assert_no_open_hdf5();

  /* Both, comma-separated (blanks allowed), concatenated in order. */
  char both[1300];
  snprintf(both, sizeof both, "%s , %s", p1, p2);
  CU_ASSERT_EQUAL_FATAL(sl_modelnet_load(&d, both, &p), SL_OK);
  CU_ASSERT_EQUAL(d.n, 2 * N);
  CU_ASSERT_EQUAL(d.y[0], y8[0]);
  CU_ASSERT_EQUAL(d.y[N], 39);
  CU_ASSERT_EQUAL(d.x[N * 3 * P + 3], (float)x64[3]);
  sl_dataset_free(&d);
  sl_test_assert_no_open_hdf5();

  /* The defaults normalise every cloud. */
  p = sl_modelnet_params_default();
  CU_ASSERT_EQUAL(p.n_points, 1024);
  CU_ASSERT_EQUAL(p.n_classes, 40);
  CU_ASSERT_EQUAL(p.normalise, 1);
  CU_ASSERT_EQUAL(p.sample, 0);
  p.n_points = P;
  CU_ASSERT_EQUAL_FATAL(sl_modelnet_load(&d, p1, &p), SL_OK);
  double me, re;
  norm_errors(d.x, d.n, P, &me, &re);
  CU_ASSERT(me < 1e-5 && re < 1e-5);
  sl_dataset_free(&d);
  sl_test_assert_no_open_hdf5();
  free(x);
  rm_dir();
}

/* List files: relative (to the list), absolute and PointNet-style paths. */
static void test_modelnet_list(void)
{
  make_dir();
  char sub[600], pa[600], pb[600], list[600], text[2600];
  in_dir("sub", sub, sizeof sub);
  CU_ASSERT_FATAL(mkdir(sub, 0700) == 0);
  in_dir("sub/a.h5", pa, sizeof pa);
  in_dir("b.h5", pb, sizeof pb);
  enum { N = 4, P = 6 };
  uint8_t y[N];
  float *x = coded_clouds(N, P, y);
  write_std(pa, x, N, P, y);
  for (size_t i = 0; i < N * P * 3; i++)
    x[i] += 100.0f;
  write_std(pb, x, N, P, y);

  sl_dataset d;
  const sl_modelnet_params p = raw_params(P);
  /* sub/a.h5 relative, CRLF, a comment, a blank line, b.h5 with blanks */
  in_dir("train_files.txt", list, sizeof list);
  write_text(list, "# ModelNet\r\nsub/a.h5\r\n\r\n   b.h5  \r\n");
  CU_ASSERT_EQUAL_FATAL(sl_modelnet_load(&d, list, &p), SL_OK);
  CU_ASSERT_EQUAL(d.n, 2 * N);
  CU_ASSERT_EQUAL(d.x[0], 0.0f);
  CU_ASSERT_EQUAL(d.x[N * 3 * P], 100.0f);
  sl_dataset_free(&d);
  sl_test_assert_no_open_hdf5();

  /* A list in a sub-folder, run from elsewhere: paths against its folder;
   * an absolute path as it is. */
  in_dir("sub/files.txt", list, sizeof list);
  snprintf(text, sizeof text, "a.h5\n%s\n", pb);
  write_text(list, text);
  CU_ASSERT_EQUAL_FATAL(sl_modelnet_load(&d, list, &p), SL_OK);
  CU_ASSERT_EQUAL(d.n, 2 * N);
  CU_ASSERT_EQUAL(d.x[N * 3 * P], 100.0f);
  sl_dataset_free(&d);

  /* PointNet's own list: paths relative to its repository; the file of that
   * base name next to the list is used. */
  in_dir("test_files.txt", list, sizeof list);
  write_text(list, "data/modelnet40_ply_hdf5_2048/b.h5\n");
  CU_ASSERT_EQUAL_FATAL(sl_modelnet_load(&d, list, &p), SL_OK);
  CU_ASSERT_EQUAL(d.n, N);
  CU_ASSERT_EQUAL(d.x[0], 100.0f);
  sl_dataset_free(&d);
  sl_test_assert_no_open_hdf5();
  free(x);
  rm_dir();
}

/* The first n_points, or n_points drawn at random, deterministic per seed. */
static void test_modelnet_subsets(void)
{
  make_dir();
  char path[600];
  in_dir("m.h5", path, sizeof path);
  enum { N = 6, P = 64, K = 16 };
  uint8_t y[N];
  float *x = coded_clouds(N, P, y);
  write_std(path, x, N, P, y);

  sl_dataset first, a, b, c;
  sl_modelnet_params p = raw_params(K);
  CU_ASSERT_EQUAL_FATAL(sl_modelnet_load(&first, path, &p), SL_OK);
  CU_ASSERT_EQUAL(first.dim, 3 * K);
  size_t wrong = 0;
  for (size_t i = 0; i < N; i++)
    wrong += memcmp(first.x + i * 3 * K, x + i * 3 * P, 3 * K * sizeof *x) != 0;
  CU_ASSERT_EQUAL(wrong, 0);

  p.sample = 1;
  p.seed = 5;
  CU_ASSERT_EQUAL_FATAL(sl_modelnet_load(&a, path, &p), SL_OK);
  CU_ASSERT_EQUAL_FATAL(sl_modelnet_load(&b, path, &p), SL_OK);
  CU_ASSERT(memcmp(a.x, b.x, N * 3 * K * sizeof *a.x) == 0);
  p.seed = 6;
  CU_ASSERT_EQUAL_FATAL(sl_modelnet_load(&c, path, &p), SL_OK);
  size_t same_seed6 = 0, same_first = 0, bad_point = 0, repeated = 0;
  for (size_t i = 0; i < N; i++) {
    same_seed6 += memcmp(a.x + i * 3 * K, c.x + i * 3 * K, 3 * K * sizeof *a.x) == 0;
    same_first += memcmp(a.x + i * 3 * K, first.x + i * 3 * K, 3 * K * sizeof *a.x) == 0;
    /* each chosen point is a point of cloud i (decoded from its value), each once */
    int seen[P] = {0};
    for (size_t j = 0; j < K; j++) {
      const float *q = a.x + (i * K + j) * 3;
      long cloud = lround(floor(q[0])), pt = lround((q[0] - (double)cloud) * 1000.0);
      if (cloud != (long)i || pt < 0 || pt >= P ||
          memcmp(q, x + (i * P + (size_t)pt) * 3, 3 * sizeof *q) != 0)
        bad_point++;
      else if (seen[pt]++)
        repeated++;
    }
  }
  CU_ASSERT_EQUAL(same_seed6, 0);
  CU_ASSERT_EQUAL(same_first, 0);
  CU_ASSERT_EQUAL(bad_point, 0);
  CU_ASSERT_EQUAL(repeated, 0);
  sl_dataset_free(&b);
  sl_dataset_free(&c);

  /* All points drawn: a permutation of the cloud. */
  p = raw_params(P);
  p.sample = 1;
  CU_ASSERT_EQUAL_FATAL(sl_modelnet_load(&b, path, &p), SL_OK);
  double sum_file = 0.0, sum_read = 0.0;
  for (size_t i = 0; i < N * P * 3; i++) {
    sum_file += x[i];
    sum_read += b.x[i];
  }
  CU_ASSERT_DOUBLE_EQUAL(sum_read, sum_file, 1e-6 * fabs(sum_file));
  sl_dataset_free(&b);

  /* Normalised subsets are normalised. */
  p = sl_modelnet_params_default();
  p.n_points = K;
  p.sample = 1;
  CU_ASSERT_EQUAL_FATAL(sl_modelnet_load(&b, path, &p), SL_OK);
  double me, re;
  norm_errors(b.x, N, K, &me, &re);
  CU_ASSERT(me < 1e-5 && re < 1e-5);
  sl_dataset_free(&b);
  sl_dataset_free(&a);
  sl_dataset_free(&first);
  sl_test_assert_no_open_hdf5();
  free(x);
  rm_dir();
}

/* ------------------------------------------------------------ ModelNet: errors */

/* Load `paths` and expect code, a message naming `file` and `what`, *d zeroed
 * and no HDF5 identifier left open. */
static void expect_fail(const char *paths, const sl_modelnet_params *p, int code,
                        const char *file, const char *what, const char *label)
{
  sl_dataset d = {(size_t)1, 0, 0, NULL, NULL};
  int rc = sl_modelnet_load(&d, paths, p);
  if (rc != code)
    printf("\n  %s: code %d, expected %d ('%s')", label, rc, code, sl_last_error());
  CU_ASSERT_EQUAL(rc, code);
  if (file)
    CU_ASSERT(sl_test_msg_has(file));
  if (what)
    CU_ASSERT(sl_test_msg_has(what));
  CU_ASSERT(d.n == 0 && d.x == NULL && d.y == NULL);
  if (rc == SL_OK)
    sl_dataset_free(&d);
  sl_test_assert_no_open_hdf5();
}

static void test_modelnet_malformed(void)
{
  make_dir();
  char path[600], good[600], list[600];
  in_dir("bad.h5", path, sizeof path);
  in_dir("good.h5", good, sizeof good);
  enum { N = 4, P = 16 };
  uint8_t y[N];
  float *x = coded_clouds(N, P, y);
  write_std(good, x, N, P, y);
  const sl_modelnet_params p = raw_params(P);
  const hsize_t dd[3] = {N, P, 3}, ld[2] = {N, 1};

  /* SL_EIO: missing, not HDF5, empty, truncated to half its size. */
  expect_fail(path, &p, SL_EIO, path, "cannot open", "missing file");
  FILE *f = fopen(path, "wb");
  CU_ASSERT_PTR_NOT_NULL_FATAL(f);
  for (int i = 0; i < 4096; i++)
    fputc((i * 37 + 11) & 0xff, f);
  fclose(f);
  expect_fail(path, &p, SL_EIO, path, "HDF5", "not HDF5");
  write_text(path, "");
  expect_fail(path, &p, SL_EIO, path, NULL, "empty file");
  long size = sl_test_file_size(good);
  CU_ASSERT_FATAL(size > 0);
  CU_ASSERT_FATAL(sl_test_copy_file(good, path, size / 2) == 0);
  expect_fail(path, &p, SL_EIO, path, NULL, "truncated file");

  /* SL_EFORMAT: missing datasets. */
  write_raw(path, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 3, dd, x, 0, 0, 0, NULL, NULL, 0);
  expect_fail(path, &p, SL_EFORMAT, path, "/label", "no /label");
  write_raw(path, 0, 0, 0, NULL, NULL, H5T_STD_U8LE, H5T_NATIVE_UINT8, 2, ld, y, 0);
  expect_fail(path, &p, SL_EFORMAT, path, "/data", "no /data");

  /* Rank 2 data (N, 3 P). */
  const hsize_t d2[2] = {N, 3 * P};
  write_raw(path, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 2, d2, x, H5T_STD_U8LE, H5T_NATIVE_UINT8, 2,
            ld, y, 0);
  expect_fail(path, &p, SL_EFORMAT, path, "/data", "rank 2 data");
  CU_ASSERT(sl_test_msg_has("rank"));

  /* Last dimension 4: (N, 12, 4) holds as many floats. */
  const hsize_t d4[3] = {N, 12, 4};
  write_raw(path, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 3, d4, x, H5T_STD_U8LE, H5T_NATIVE_UINT8, 2,
            ld, y, 0);
  sl_modelnet_params p12 = raw_params(12);
  expect_fail(path, &p12, SL_EFORMAT, path, "/data has shape (4, 12, 4)", "last dim 4");

  /* Integer data. */
  int32_t xi[N * P * 3] = {0};
  write_raw(path, H5T_STD_I32LE, H5T_NATIVE_INT32, 3, dd, xi, H5T_STD_U8LE, H5T_NATIVE_UINT8, 2,
            ld, y, 0);
  expect_fail(path, &p, SL_EFORMAT, path, "/data", "integer data");

  /* Label count mismatch: 3 labels for 4 clouds. */
  const hsize_t l3[2] = {N - 1, 1};
  write_raw(path, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 3, dd, x, H5T_STD_U8LE, H5T_NATIVE_UINT8, 2,
            l3, y, 0);
  expect_fail(path, &p, SL_EFORMAT, path, "/label", "count mismatch");

  /* Labels of shape (N, 2) and (N, 1, 1). */
  const hsize_t l22[2] = {N / 2, 2}, l111[3] = {N, 1, 1};
  write_raw(path, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 3, dd, x, H5T_STD_U8LE, H5T_NATIVE_UINT8, 2,
            l22, y, 0);
  expect_fail(path, &p, SL_EFORMAT, path, "/label has shape (2, 2)", "labels (N/2, 2)");
  write_raw(path, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 3, dd, x, H5T_STD_U8LE, H5T_NATIVE_UINT8, 3,
            l111, y, 0);
  expect_fail(path, &p, SL_EFORMAT, path, "/label", "labels (N, 1, 1)");

  /* Float labels. */
  const float yf[N] = {0, 1, 2, 3};
  write_raw(path, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 3, dd, x, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT,
            2, ld, yf, 0);
  expect_fail(path, &p, SL_EFORMAT, path, "/label", "float labels");
  CU_ASSERT(sl_test_msg_has("integer"));

  /* Label 40 with n_classes 40; -1 in an int8 file; 2^40 in an int64 file. */
  uint8_t y40[N] = {0, 40, 1, 2};
  write_std(path, x, N, P, y40);
  expect_fail(path, &p, SL_EFORMAT, path, "/label[1] = 40", "label 40");
  const int8_t yneg[N] = {0, 1, -1, 2};
  write_raw(path, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 3, dd, x, H5T_STD_I8LE, H5T_NATIVE_INT8, 2,
            ld, yneg, 0);
  expect_fail(path, &p, SL_EFORMAT, path, "/label[2] = -1", "label -1");
  const int64_t ybig[N] = {0, 1, 2, (int64_t)1 << 40};
  write_raw(path, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 3, dd, x, H5T_STD_I64LE, H5T_NATIVE_INT64, 2,
            ld, ybig, 0);
  expect_fail(path, &p, SL_EFORMAT, path, "/label[3]", "label 2^40");

  /* NaN and infinite coordinates, also among the points not kept, and in
   * float64 data. */
  float *xb = malloc(sizeof(float) * N * P * 3);
  CU_ASSERT_PTR_NOT_NULL_FATAL(xb);
  memcpy(xb, x, sizeof(float) * N * P * 3);
  xb[(2 * P + 5) * 3 + 1] = NAN;
  write_std(path, xb, N, P, y);
  expect_fail(path, &p, SL_EFORMAT, path, "/data[2][5][1] is NaN", "NaN coordinate");
  sl_modelnet_params p4 = raw_params(4);
  expect_fail(path, &p4, SL_EFORMAT, path, "/data[2][5][1]", "NaN in a point not kept");
  xb[(2 * P + 5) * 3 + 1] = 0.0f;
  xb[3 * P * 3] = -INFINITY;
  write_std(path, xb, N, P, y);
  expect_fail(path, &p, SL_EFORMAT, path, "/data[3][0][0] is infinite", "Inf coordinate");
  double xd[N * P * 3] = {0};
  xd[7] = 1e300; /* finite, but not as float32 */
  write_raw(path, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 3, dd, xd, H5T_STD_U8LE, H5T_NATIVE_UINT8,
            2, ld, y, 0);
  expect_fail(path, &p, SL_EFORMAT, path, "/data[0][2][1]", "1e300 in float64 data");
  free(xb);

  /* SL_EINVAL: more points asked than the file has; bad parameters. */
  sl_modelnet_params q = raw_params(P + 1);
  expect_fail(good, &q, SL_EINVAL, good, "n_points", "n_points > file's");
  q = raw_params(0);
  expect_fail(good, &q, SL_EINVAL, NULL, "n_points", "n_points 0");
  q = raw_params(P);
  q.n_classes = 0;
  expect_fail(good, &q, SL_EINVAL, NULL, "n_classes", "n_classes 0");
  q.n_classes = 40;
  q.sample = 2;
  expect_fail(good, &q, SL_EINVAL, NULL, "sample", "sample 2");
  q.sample = 0;
  q.normalise = -1;
  expect_fail(good, &q, SL_EINVAL, NULL, "normalise", "normalise -1");
  char commas[1300];
  snprintf(commas, sizeof commas, "%s,,%s", good, good);
  expect_fail(commas, &p, SL_EINVAL, NULL, "empty name", "empty name in a comma list");
  CU_ASSERT_EQUAL(sl_modelnet_load(NULL, good, &p), SL_EINVAL);
  sl_dataset d;
  CU_ASSERT_EQUAL(sl_modelnet_load(&d, NULL, &p), SL_EINVAL);

  /* A bad file after a good one: the whole load fails. */
  snprintf(commas, sizeof commas, "%s,%s", good, path);
  expect_fail(commas, &p, SL_EFORMAT, path, "/data", "good then bad");

  /* Lists: a missing file, a malformed file (named with the list line), an
   * empty list, a missing list. */
  in_dir("files.txt", list, sizeof list);
  write_text(list, "good.h5\nnot_there.h5\n");
  char missing[600];
  in_dir("not_there.h5", missing, sizeof missing);
  expect_fail(list, &p, SL_EIO, missing, "line 2", "missing file in a list");
  CU_ASSERT(sl_test_msg_has(list));
  write_text(list, "good.h5\nbad.h5\n");
  expect_fail(list, &p, SL_EFORMAT, path, "line 2", "bad file in a list");
  write_text(list, "# nothing\n\n");
  expect_fail(list, &p, SL_EFORMAT, list, "no files", "empty list");
  in_dir("absent.txt", list, sizeof list);
  expect_fail(list, &p, SL_EIO, list, NULL, "missing list");

  /* The good file still loads after all that. */
  CU_ASSERT_EQUAL(sl_modelnet_load(&d, good, &p), SL_OK);
  sl_dataset_free(&d);
  sl_test_assert_no_open_hdf5();
  free(x);
  rm_dir();
}

int main(void)
{
  static const sl_test_case cases[] = {
      {"normalise", test_normalise},
      {"shapes: names and defaults", test_shapes_names},
      {"shapes: sizes, balance, normalised", test_shapes_sizes_and_normalised},
      {"shapes: upright pose turns about y", test_shapes_upright},
      {"shapes: dropout duplicates", test_shapes_dropout},
      {"shapes: deterministic per seed and threads", test_shapes_deterministic},
      {"shapes: parameter errors", test_shapes_errors},
      {"shapes: classes separable", test_shapes_separable},
      {"modelnet: save/load round trip", test_modelnet_round_trip},
      {"modelnet: h5py-style files", test_modelnet_h5py_files},
      {"modelnet: list files", test_modelnet_list},
      {"modelnet: subsets", test_modelnet_subsets},
      {"modelnet: malformed files", test_modelnet_malformed},
      {NULL, NULL}};
  return sl_test_run("pointcloud", cases);
}
