/* test_shd.c -- the SHD loader (lib/data/shd.c): a small SHD-layout writer
 * (variable-length times and units per sample, as the real files hold them;
 * times as float16 like the published files, or float32), binning and
 * channel subsampling checked value by value, augmentation, sample ranges,
 * the raster encoder, and every malformed file the loader must refuse with
 * a message naming the dataset and the sample. */
#include <hdf5.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "spikeloop/spikeloop.h"
#include "testutil.h"

/* What the writer writes; NULL/0 fields leave the dataset out. */
typedef struct {
  size_t n;                 /* samples */
  const float *const *t;    /* t[i][j] */
  const long *const *u;     /* u[i][j] */
  const size_t *len_t, *len_u;
  const long *labels;
  size_t n_labels;          /* labels written (default n) */
  int times_f16;            /* float16 times (the published files) */
  int times_int;            /* wrong: integer times */
  int units_float;          /* wrong: float units */
  int times_fixed;          /* wrong: a plain float dataset instead of vlen */
  int labels_float;         /* wrong: float labels */
  int labels_2d;            /* wrong: labels (n, 1) */
  int no_times, no_units, no_labels;
} shd_spec;

static hid_t f16_type(void)
{
  hid_t t = H5Tcopy(H5T_IEEE_F32LE);
  H5Tset_fields(t, 15, 10, 5, 0, 10);
  H5Tset_size(t, 2);
  H5Tset_ebias(t, 15);
  return t;
}

static void write_shd(const char *path, const shd_spec *s)
{
  hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  CU_ASSERT_FATAL(f >= 0);
  hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
  H5Pset_create_intermediate_group(lcpl, 1);
  hsize_t n = s->n;
  hid_t sp = H5Screate_simple(1, &n, NULL);
  hvl_t *vt = calloc(s->n, sizeof *vt), *vu = calloc(s->n, sizeof *vu);
  for (size_t i = 0; i < s->n; i++) {
    vt[i].len = s->len_t[i];
    vt[i].p = (void *)s->t[i];
    vu[i].len = s->len_u[i];
    vu[i].p = (void *)s->u[i];
  }
  if (!s->no_times) {
    if (s->times_fixed) {
      float *flat = calloc(s->n, sizeof *flat);
      hid_t d = H5Dcreate2(f, "/spikes/times", H5T_IEEE_F32LE, sp, lcpl, H5P_DEFAULT, H5P_DEFAULT);
      H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, flat);
      H5Dclose(d);
      free(flat);
    } else {
      hid_t base = s->times_int ? H5Tcopy(H5T_STD_I32LE) : s->times_f16 ? f16_type()
                                                                          : H5Tcopy(H5T_IEEE_F32LE);
      hid_t ft = H5Tvlen_create(base), mt = H5Tvlen_create(H5T_NATIVE_FLOAT);
      hid_t d = H5Dcreate2(f, "/spikes/times", ft, sp, lcpl, H5P_DEFAULT, H5P_DEFAULT);
      CU_ASSERT(H5Dwrite(d, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, vt) >= 0);
      H5Dclose(d);
      H5Tclose(ft);
      H5Tclose(mt);
      H5Tclose(base);
    }
  }
  if (!s->no_units) {
    hid_t ft = H5Tvlen_create(s->units_float ? H5T_IEEE_F32LE : H5T_STD_U16LE);
    hid_t mt = H5Tvlen_create(H5T_NATIVE_LONG);
    hid_t d = H5Dcreate2(f, "/spikes/units", ft, sp, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    CU_ASSERT(H5Dwrite(d, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, vu) >= 0);
    H5Dclose(d);
    H5Tclose(ft);
    H5Tclose(mt);
  }
  if (!s->no_labels) {
    hsize_t dims[2] = {s->n_labels ? s->n_labels : s->n, 1};
    hid_t ls = H5Screate_simple(s->labels_2d ? 2 : 1, dims, NULL);
    hid_t d = H5Dcreate2(f, "/labels", s->labels_float ? H5T_IEEE_F32LE : H5T_STD_U16LE, ls,
                         lcpl, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(d, H5T_NATIVE_LONG, H5S_ALL, H5S_ALL, H5P_DEFAULT, s->labels);
    H5Dclose(d);
    H5Sclose(ls);
  }
  free(vt);
  free(vu);
  H5Sclose(sp);
  H5Pclose(lcpl);
  H5Fclose(f);
}

/* Three samples. Sample 0: kept channels 70 (k 0), 79 (k 1), 691 (k 69),
 * a dropped one (71: not every 9th), one past the grid (1.2 s). */
static const float t0[] = {0.0f, 0.015f, 0.0175f, 0.5f, 0.25f, 1.2f};
static const long u0[] = {70, 79, 79, 691, 71, 70};
static const float t1[] = {0.99f, 0.035f}; /* (not 0.03f: 2.9999 bins, floor 2) */
static const long u1[] = {88, 88};
static const float t2[] = {0.125f};
static const long u2[] = {0};
static const float *const T3[] = {t0, t1, t2};
static const long *const U3[] = {u0, u1, u2};
static const size_t L3[] = {6, 2, 1};
static const long LAB3[] = {3, 19, 0};

static shd_spec good(void)
{
  shd_spec s = {3, T3, U3, L3, L3, LAB3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  return s;
}

static void check_binned(const sl_dataset *d, size_t row0)
{
  const size_t C = 70;
  const float *x = d->x + row0 * d->dim;
  double total = 0;
  for (size_t i = 0; i < d->dim; i++)
    total += x[i];
  CU_ASSERT_EQUAL(total, 4.0);
  CU_ASSERT_EQUAL(x[0 * C + 0], 1.0f);
  CU_ASSERT_EQUAL(x[1 * C + 1], 2.0f); /* 0.015 and 0.0175 share bin 1 */
  CU_ASSERT_EQUAL(x[50 * C + 69], 1.0f);
  x = d->x + (row0 + 1) * d->dim; /* channel 88 = 70 + 2*9 */
  CU_ASSERT_EQUAL(x[99 * C + 2], 1.0f);
  CU_ASSERT_EQUAL(x[3 * C + 2], 1.0f);
  x = d->x + (row0 + 2) * d->dim; /* channel 0: not kept */
  total = 0;
  for (size_t i = 0; i < d->dim; i++)
    total += x[i];
  CU_ASSERT_EQUAL(total, 0.0);
}

static void test_load_binning(void)
{
  char path[256];
  sl_test_tmpfile("shd_good", path, sizeof path);
  for (int f16 = 0; f16 <= 1; f16++) {
    shd_spec s = good();
    s.times_f16 = f16;
    write_shd(path, &s);
    sl_dataset d;
    sl_shd_options o = sl_shd_options_default();
    int rc = sl_shd_load(&d, path, &o);
    if (rc)
      printf("\n  %s\n", sl_last_error());
    CU_ASSERT_EQUAL_FATAL(rc, SL_OK);
    CU_ASSERT_EQUAL(d.n, 3);
    CU_ASSERT_EQUAL(d.dim, 100 * 70);
    CU_ASSERT_EQUAL(d.n_classes, 20);
    CU_ASSERT_EQUAL(d.y[0], 3);
    CU_ASSERT_EQUAL(d.y[1], 19);
    check_binned(&d, 0);
    size_t n = 0;
    CU_ASSERT_EQUAL(sl_shd_count(path, &n), SL_OK);
    CU_ASSERT_EQUAL(n, 3);
    sl_dataset_free(&d);
  }
  remove(path);
}

static void test_ranges_and_augmentation(void)
{
  char path[256];
  sl_test_tmpfile("shd_aug", path, sizeof path);
  shd_spec s = good();
  write_shd(path, &s);
  sl_shd_options o = sl_shd_options_default();
  sl_dataset d, e;
  o.first = 1;
  o.count = 2;
  CU_ASSERT_EQUAL_FATAL(sl_shd_load(&d, path, &o), SL_OK);
  CU_ASSERT_EQUAL(d.n, 2);
  CU_ASSERT_EQUAL(d.y[0], 19);
  CU_ASSERT_EQUAL(d.x[99 * 70 + 2], 1.0f);
  sl_dataset_free(&d);
  o.count = 3; /* 1 .. 3: beyond the file */
  CU_ASSERT_EQUAL(sl_shd_load(&d, path, &o), SL_EFORMAT);
  CU_ASSERT_PTR_NOT_NULL(strstr(sl_last_error(), "the file holds 3"));
  CU_ASSERT_PTR_NULL(d.x);
  /* copies without jitter repeat the samples; with jitter they are shifted
   * by whole channels, the same for the same seed */
  o = sl_shd_options_default();
  o.copies = 2;
  CU_ASSERT_EQUAL_FATAL(sl_shd_load(&d, path, &o), SL_OK);
  CU_ASSERT_EQUAL(d.n, 9);
  check_binned(&d, 3);
  check_binned(&d, 6);
  CU_ASSERT_EQUAL(d.y[7], 19);
  sl_dataset_free(&d);
  o.jitter = 9;
  o.copies = 8;
  CU_ASSERT_EQUAL_FATAL(sl_shd_load(&d, path, &o), SL_OK);
  CU_ASSERT_EQUAL_FATAL(sl_shd_load(&e, path, &o), SL_OK);
  CU_ASSERT_EQUAL(memcmp(d.x, e.x, d.n * d.dim * sizeof(float)), 0);
  check_binned(&d, 0);
  int moved = 0;
  for (size_t c = 1; c <= 8; c++)
    moved += memcmp(d.x + 3 * c * d.dim, d.x, d.dim * sizeof(float)) != 0;
  CU_ASSERT(moved > 0); /* some copy of sample 0 got a nonzero shift */
  /* a shift keeps the spike count or loses spikes off the kept channels */
  for (size_t c = 1; c <= 8; c++) {
    double tot = 0;
    for (size_t i = 0; i < d.dim; i++)
      tot += d.x[3 * c * d.dim + i];
    CU_ASSERT(tot <= 4.0);
  }
  sl_dataset_free(&d);
  sl_dataset_free(&e);
  o = sl_shd_options_default();
  o.ch_first = 80; /* 80 + 9*69 = 701: beyond 700 */
  CU_ASSERT_EQUAL(sl_shd_load(&d, path, &o), SL_EINVAL);
  o = sl_shd_options_default();
  o.jitter = -1;
  CU_ASSERT_EQUAL(sl_shd_load(&d, path, &o), SL_EINVAL);
  remove(path);
}

static void test_raster_encoder(void)
{
  sl_encoder e = sl_encoder_default();
  CU_ASSERT_EQUAL(sl_encoder_kind_from_name("raster", &e.kind), SL_OK);
  e.t_steps = 3;
  e.bias = 0;
  float x[2 * 6] = {0, 2, 0, 0, 1, 0, /* sample 0: (3 steps, 2 inputs) */
                    1, 0, 0, 0, 0, 3};
  float out[3 * 2 * 2];
  CU_ASSERT_EQUAL(sl_encoder_out_dim(&e, 6), 2);
  CU_ASSERT_EQUAL_FATAL(sl_encode(&e, x, 2, 6, NULL, 1, out), SL_OK);
  const float want[12] = {0, 1, 1, 0, /* t 0: b0 (0,1), b1 (1,0) */
                          0, 0, 0, 0, 1, 0, 0, 1};
  CU_ASSERT_EQUAL(memcmp(out, want, sizeof want), 0);
  CU_ASSERT_EQUAL(sl_encode(&e, x, 2, 5, NULL, 1, out), SL_EINVAL); /* 5 is not 3 x inputs */
}

/* A malformed file must fail with `code` and a message holding `a` and `b`. */
static void expect(const shd_spec *s, int code, const char *a, const char *b)
{
  char path[256];
  sl_test_tmpfile("shd_bad", path, sizeof path);
  write_shd(path, s);
  sl_dataset d;
  sl_shd_options o = sl_shd_options_default();
  int rc = sl_shd_load(&d, path, &o);
  CU_ASSERT_EQUAL(rc, code);
  CU_ASSERT_PTR_NULL(d.x);
  const char *m = sl_last_error();
  if (rc != code || !strstr(m, a) || (b && !strstr(m, b)))
    printf("\n  rc %d (want %d): %s\n", rc, code, m);
  CU_ASSERT_PTR_NOT_NULL(strstr(m, a));
  if (b)
    CU_ASSERT_PTR_NOT_NULL(strstr(m, b));
  CU_ASSERT_PTR_NOT_NULL(strstr(m, path));
  remove(path);
}

static void test_malformed(void)
{
  shd_spec s = good();
  s.no_labels = 1;
  expect(&s, SL_EFORMAT, "no dataset /labels", NULL);
  s = good();
  s.no_units = 1;
  expect(&s, SL_EFORMAT, "no dataset /spikes/units", NULL);
  s = good();
  s.no_times = 1;
  expect(&s, SL_EFORMAT, "no dataset /spikes/times", NULL);
  s = good();
  s.times_int = 1;
  expect(&s, SL_EFORMAT, "/spikes/times must hold variable-length arrays of floats",
         "found variable-length arrays of integers");
  s = good();
  s.times_fixed = 1;
  expect(&s, SL_EFORMAT, "/spikes/times must hold variable-length arrays of floats",
         "found fixed-size floats");
  s = good();
  s.units_float = 1;
  expect(&s, SL_EFORMAT, "/spikes/units must hold variable-length arrays of integers", NULL);
  s = good();
  s.labels_float = 1;
  expect(&s, SL_EFORMAT, "/labels must hold integers", "found fixed-size floats");
  s = good();
  s.labels_2d = 1;
  expect(&s, SL_EFORMAT, "/labels must be 1-D", "(3, 1)");
  s = good();
  s.n_labels = 2;
  expect(&s, SL_EFORMAT, "/labels 2", "must be equal");
  /* per-sample faults name the dataset, the sample and the element */
  static const long bad_u[] = {88, 700};
  static const long *const U_bad[] = {u0, bad_u, u2};
  s = good();
  s.u = U_bad;
  expect(&s, SL_EFORMAT, "/spikes/units[1][1] = 700", "0 .. 699");
  static const float neg_t[] = {0.5f, -0.001f};
  static const float nan_t[] = {NAN, 0.1f};
  static const float *const T_neg[] = {t0, neg_t, t2};
  static const float *const T_nan[] = {t0, nan_t, t2};
  s = good();
  s.t = T_neg;
  expect(&s, SL_ENUMERIC, "/spikes/times[1][1]", "negative");
  s = good();
  s.t = T_nan;
  expect(&s, SL_ENUMERIC, "/spikes/times[1][0]", "NaN");
  static const size_t L_short[] = {6, 1, 1};
  s = good();
  s.len_u = L_short;
  expect(&s, SL_EFORMAT, "sample 1 has 2 times", "1 units");
  static const long bad_lab[] = {3, 20, 0};
  s = good();
  s.labels = bad_lab;
  expect(&s, SL_EFORMAT, "/labels[1] = 20", "0 .. 19");
}

static void test_truncated_and_missing(void)
{
  char path[256];
  sl_test_tmpfile("shd_trunc", path, sizeof path);
  shd_spec s = good();
  write_shd(path, &s);
  struct stat st;
  CU_ASSERT_FATAL(stat(path, &st) == 0);
  for (int frac = 1; frac <= 3; frac++) {
    write_shd(path, &s);
    CU_ASSERT_FATAL(truncate(path, st.st_size * frac / 4) == 0);
    sl_dataset d;
    sl_shd_options o = sl_shd_options_default();
    int rc = sl_shd_load(&d, path, &o);
    CU_ASSERT(rc == SL_EIO || rc == SL_EFORMAT);
    CU_ASSERT_PTR_NULL(d.x);
    CU_ASSERT_PTR_NOT_NULL(strstr(sl_last_error(), path));
  }
  remove(path);
  sl_dataset d;
  sl_shd_options o = sl_shd_options_default();
  CU_ASSERT_EQUAL(sl_shd_load(&d, path, &o), SL_EIO);
  CU_ASSERT_PTR_NOT_NULL(strstr(sl_last_error(), "No such file"));
}

int main(void)
{
  static const sl_test_case cases[] = {
      {"load and binning (float32, float16 times)", test_load_binning},
      {"sample ranges, channel jitter", test_ranges_and_augmentation},
      {"raster encoder", test_raster_encoder},
      {"malformed files", test_malformed},
      {"truncated and missing files", test_truncated_and_missing},
      {NULL, NULL}};
  return sl_test_run("shd", cases);
}
