/* fixtures.h -- shared setup for the CUnit test programs (test/fixtures.c).
 *
 * What several suites built alike, each in its own copy: random test data
 * for the kernel suites, a small network and an input raster for the
 * backend suites, a backend opened for a network, deep copies and bitwise
 * comparison of observations, a small recording setup, a small training
 * configuration, and the file and HDF5 helpers of the format suites (run
 * log, recording, replay). Every
 * fixture is deterministic: the same call gives the same data. Fixtures
 * that can fail inside a test use CU_ASSERT_FATAL, as the copies did.
 */
#ifndef SL_TEST_FIXTURES_H
#define SL_TEST_FIXTURES_H

#include <hdf5.h>
#include <stddef.h>
#include <stdint.h>

#include "spikeloop/backend.h"
#include "spikeloop/config.h"
#include "spikeloop/net.h"

/* ------------------------------------------------------------ random data */

/* xorshift64*: a small deterministic generator for test data; one state per
 * program, restarted by sl_test_seed. */
void sl_test_seed(uint64_t s);
double sl_test_urand(void); /* [0, 1) */
void sl_test_fill_uniform(float *a, size_t n, double lo, double hi);
void sl_test_fill_spikes(float *a, size_t n, double p); /* 1 with probability p, else 0 */
float *sl_test_falloc(size_t n);                         /* zeroed, never size 0 */
float *sl_test_fdup(const float *a, size_t n);
double sl_test_max_abs(const float *a, size_t n);
/* Max relative difference with the floor at the largest reference element
 * (normwise): single sums that cancel to ~0 are not judged alone. */
double sl_test_normwise_rel_diff(const float *a, const float *ref, size_t n);

/* Product shapes (R, K, N) of the matrix and event kernel suites: ones,
 * odd sizes, more and fewer columns than a vector, a 4-row block. */
#define SL_TEST_N_SHAPES 8
extern const size_t sl_test_shapes[SL_TEST_N_SHAPES][3];

/* ------------------------------------------------------------ networks, backends */

/* A one-hidden-layer network n_in -> n_hid -> n_out (defaults otherwise),
 * weights drawn with sl_net_init_weights(scale, seed). */
sl_net *sl_test_net(size_t n_in, size_t n_hid, size_t n_out, double scale, uint64_t seed);
/* A 0/1 raster of n values: x[i] = 1 where (7 i + i / div) % mod == 0. */
void sl_test_raster(float *x, size_t n, size_t div, size_t mod);
/* Open backend `name` for net (T steps, B samples, options), with weight
 * units that fit weights up to w_max into `levels` levels (1.0 where
 * levels is 0). Returns the sl_hw_open code; *hw is NULL on failure. */
int sl_test_open_hw(sl_hw **hw, const char *name, const char *options, sl_net *net,
                    double w_max, int levels, size_t T, size_t B);

/* A deep copy of src into dst (dst is initialised here; sl_obs_free it). */
void sl_test_obs_copy(sl_observations *dst, const sl_observations *src);
/* 1 if a and b are equal bit for bit (shape, sample grid, spikes, membrane). */
int sl_test_obs_same(const sl_observations *a, const sl_observations *b);

/* The recording suites' network: 6 inputs -> 5 -> 4 (recurrent) -> readout
 * 3, dt 1 ms, up to 12 steps of 3 samples, weight unit 0.05. */
sl_backend_setup sl_test_small_setup(const char *options);

/* The defaults on a small Yin-Yang problem: n_train, n_val and n_test rows,
 * one hidden layer of `hidden` neurons, batches of `batch` rows. */
void sl_test_small_config(sl_config *c, long n_train, long n_val, long n_test, long hidden,
                          long batch);

/* ------------------------------------------------------------ files, HDF5 */

/* 1 if the last error message contains needle (else 0, printing both). */
int sl_test_msg_has(const char *needle);
/* Size of a file in bytes, -1 if it cannot be read. */
long sl_test_file_size(const char *path);
/* Copy src to dst, only its first `limit` bytes if limit >= 0; 0 or -1. */
int sl_test_copy_file(const char *src, const char *dst, long limit);
/* 1 if HDF5 object obj exists in the file, 0 if not, -1 if the file cannot
 * be opened. */
int sl_test_h5_has(const char *path, const char *obj);
/* Scalar attribute obj@name, a variable-length UTF-8 string (what h5py
 * reads as str), into buf; 0, or -1 if absent or of another type. */
int sl_test_h5_utf8_attr(hid_t file, const char *obj, const char *name, char *buf, size_t len);
/* Assert that no HDF5 file, group, dataset, datatype or attribute is left
 * open (every hid_t closed on every path). */
void sl_test_assert_no_open_hdf5(void);

#endif
