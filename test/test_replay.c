/* test_replay.c -- CUnit suite for recordings (spikeloop/recording.h) and the
 * "replay" backend (spikeloop/replay.h).
 *
 * A tiny deterministic backend defined here ("fake": its observations depend
 * on every input bit and every weight, plus an optional per-run drift that
 * plays a noisy chip) is driven through its table and recorded with
 * sl_recorder_*; the replay backend is then driven through its own table.
 * Covers: bit-identical observations for every recorded request, in any
 * order and whatever the weight-write history (content, not indices);
 * repeated requests served in recording order; changed input, changed or
 * missing weights -> SL_ENOTFOUND with a message saying what differs; setup
 * mismatches -> SL_EINVAL naming the field; damaged recordings (deleted
 * datasets, groups and attributes, wrong shapes, mismatched lengths, NaN,
 * out-of-range values, truncated, not HDF5) -> SL_EFORMAT / SL_EIO naming
 * the object, never a crash; uncommitted runs ignored; a recorder killed
 * mid-way (fork + _exit) leaves a replayable file; recorder argument and
 * file errors.
 *
 * Files are damaged directly with the HDF5 API.
 */
#include "config.h"
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L /* fork, truncate under -std=c11 */
#endif

#include "spikeloop/backend.h"
#include "spikeloop/error.h"
#include "spikeloop/neurons.h"
#include "spikeloop/recording.h"
#include "spikeloop/replay.h"
#include "fixtures.h"
#include "testutil.h"

#include <hdf5.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

/* ------------------------------------------------------------ fake backend */

typedef struct {
  size_t n_in, n_layers, size[SL_MAX_LAYERS + 1], n_neurons;
  double dt, drift; /* drift: membrane offset per run made (a noisy chip) */
  unsigned long runs;
  float *w[SL_MAX_LAYERS + 1][2];
} fake_state;

static void fake_close(void *state)
{
  fake_state *s = state;
  for (size_t l = 0; l <= SL_MAX_LAYERS; l++)
    for (int k = 0; k < 2; k++) {
      free(s->w[l][k]);
      s->w[l][k] = NULL;
    }
}

static int fake_open(void *state, const sl_backend_setup *setup)
{
  fake_state *s = state;
  char buf[32];
  s->n_in = setup->n_in;
  s->n_layers = setup->n_layers;
  s->dt = setup->dt;
  s->drift = sl_backend_option(setup->options, "drift", buf, sizeof buf) ? atof(buf) : 0.0;
  s->n_neurons = 0;
  for (size_t l = 0; l <= s->n_layers; l++) {
    s->size[l] = setup->size[l];
    s->n_neurons += s->size[l];
  }
  return SL_OK;
}

static const sl_backend_caps fake_caps = {
    .max_neurons = 512, .max_fan_in = 256, .weight_levels = 63, .sign_by_row_pair = 1,
    .adc_bits = 8, .sample_period = 1.7e-6, .time_scale = 1e-3, .membrane_gain = 80.0,
    .membrane_units = "adc", .observables = SL_OBS_SPIKES | SL_OBS_MEMBRANE, .recurrent = 1};

static int fake_capabilities(void *state, sl_backend_caps *caps)
{
  (void)state;
  *caps = fake_caps;
  return SL_OK;
}

static int fake_write_weights(void *state, size_t layer, int which, const float *w, size_t rows,
                              size_t cols)
{
  fake_state *s = state;
  float *copy = realloc(s->w[layer][which], rows * cols * sizeof *copy);
  if (!copy)
    return SL_ENOMEM;
  memcpy(copy, w, rows * cols * sizeof *copy);
  s->w[layer][which] = copy;
  return SL_OK;
}

/* Membrane (t, b, g) = g + sum_i x[t,b,i] * (i+1) * colsum(w_in of g's layer)[g']
 * + drift * runs; spike of neuron (i*3 + t) % N when x[t,b,i] = 1 and the
 * weight sum of w_in[i mod rows] of layer 0 is positive. */
static int fake_run(void *state, const float *x, size_t T, size_t B, sl_observations *obs)
{
  fake_state *s = state;
  size_t N = s->n_neurons;
  int rc = sl_obs_reset(obs, B, N, T);
  if (rc != SL_OK)
    return rc;
  obs->sample_t0 = 2.5e-7;
  obs->sample_period = s->dt * 1e-3;
  for (size_t t = 0; t < T; t++)
    for (size_t b = 0; b < B; b++) {
      double drive = 0.0;
      for (size_t i = 0; i < s->n_in; i++)
        drive += x[(t * B + b) * s->n_in + i] * (double)(i + 1);
      size_t g = 0;
      for (size_t l = 0; l <= s->n_layers; l++) {
        size_t rows = l ? s->size[l - 1] : s->n_in;
        for (size_t j = 0; j < s->size[l]; j++, g++) {
          double col = 0.0;
          for (int k = 0; k < 2; k++) {
            const float *w = s->w[l][k];
            size_t r = k ? s->size[l] : rows;
            for (size_t i = 0; w && i < r; i++)
              col += (k ? 0.5 : 1.0) * w[i * s->size[l] + j];
          }
          obs->membrane[(t * B + b) * N + g] =
              (float)(g + drive * col + s->drift * (double)s->runs);
        }
      }
      for (size_t i = 0; i < s->n_in; i++) {
        const float *w0 = s->w[0][0];
        if (x[(t * B + b) * s->n_in + i] != 0.0f && w0 && w0[(i % s->n_in) * s->size[0]] > 0.0f &&
            (rc = sl_obs_add_spike(obs, b, (i * 3 + t) % N,
                                   (double)t * s->dt * 1e-3 + (double)b * 1e-9)) != SL_OK)
          return rc;
      }
    }
  s->runs++;
  return SL_OK;
}

static int fake_read_config(void *state, const char *key, char *buf, size_t len)
{
  (void)state, (void)buf, (void)len;
  return sl_error(SL_ENOTFOUND, "fake: no key %s", key);
}

static const sl_backend fake_backend = {
    .version = SL_BACKEND_VERSION, .name = "fake", .description = "test backend",
    .state_size = sizeof(fake_state), .open = fake_open, .close = fake_close,
    .capabilities = fake_capabilities, .write_weights = fake_write_weights, .run = fake_run,
    .read_config = fake_read_config};

/* ------------------------------------------------------------ helpers */

/* An instance: a table and its state (what the core would allocate). */
typedef struct {
  const sl_backend *b;
  void *state;
} inst;

static int inst_open(inst *h, const sl_backend *b, const sl_backend_setup *setup)
{
  h->b = b;
  h->state = calloc(1, b->state_size);
  if (!h->state)
    return SL_ENOMEM;
  int rc = b->open(h->state, setup);
  if (rc != SL_OK) {
    b->close(h->state); /* must be harmless after a failed open */
    free(h->state);
    h->state = NULL;
  }
  return rc;
}

static void inst_close(inst *h)
{
  if (h->state) {
    h->b->close(h->state);
    free(h->state);
    h->state = NULL;
  }
}

#define T1 10
#define B1 3
#define T2 7
#define B2 2
#define N_IN 6
#define N_NEURONS 12

/* Weights: set v (0..3) of layer l, which k, in hardware units. */
static void make_weights(float *w, size_t l, int k, int v)
{
  static const size_t rows[3][2] = {{6, 0}, {5, 4}, {4, 0}}, cols[3] = {5, 4, 3};
  size_t n = rows[l][k] * cols[l];
  for (size_t i = 0; i < n; i++)
    w[i] = (float)((int)((i * 7 + l * 5 + (size_t)k * 3 + (size_t)v * 11) % 19) - 6);
}

static void raster(float *x, size_t T, size_t B, unsigned seed)
{
  for (size_t i = 0; i < T * B * N_IN; i++)
    x[i] = (float)(((i * 2654435761u + seed * 40503u) >> 7) % 3 == 0);
}

/* A deep copy of an observation. */
typedef struct {
  sl_observations o;
} saved_obs;

/* Weights and rasters used by every recording. */
static float wa[3][2][64], wb1[64]; /* wa[l][k]: set 0; wb1: layer 1 w_in set 1 */
static float xa[T1 * B1 * N_IN], xb[T1 * B1 * N_IN], xc[T2 * B2 * N_IN];

static void init_data(void)
{
  static int done;
  if (done)
    return;
  for (size_t l = 0; l < 3; l++)
    for (int k = 0; k < 2; k++)
      make_weights(wa[l][k], l, k, 0);
  make_weights(wb1, 1, 0, 1);
  raster(xa, T1, B1, 1);
  raster(xb, T1, B1, 2);
  raster(xc, T2, B2, 3);
  done = 1;
}

/* Write the initial weights (layer 0 w_in, layer 1 w_in + w_rec, readout w_in)
 * to an instance (and a recorder, if rec). */
static void write_initial(inst *h, sl_recorder *rec)
{
  static const size_t rows[3][2] = {{6, 0}, {5, 4}, {4, 0}}, cols[3] = {5, 4, 3};
  for (size_t l = 0; l < 3; l++)
    for (int k = 0; k < 2; k++) {
      if (!rows[l][k])
        continue;
      CU_ASSERT_EQUAL(h->b->write_weights(h->state, l, k, wa[l][k], rows[l][k], cols[l]), SL_OK);
      if (rec)
        CU_ASSERT_EQUAL(sl_recorder_weights(rec, l, k, wa[l][k], rows[l][k], cols[l]), SL_OK);
    }
}

/* Run x on the fake backend, record it, keep a copy in *saved (if saved). */
static void fake_record_run(inst *h, sl_recorder *rec, const float *x, size_t T, size_t B,
                            saved_obs *saved)
{
  sl_observations o;
  sl_obs_init(&o);
  CU_ASSERT_EQUAL(h->b->run(h->state, x, T, B, &o), SL_OK);
  CU_ASSERT_EQUAL(sl_recorder_run(rec, x, T, B, &o), SL_OK);
  if (saved)
    sl_test_obs_copy(&saved->o, &o);
  sl_obs_free(&o);
}

/* Start a recording of the fake backend (setup options) at a temporary path
 * named after stem: *h is an open fake instance, and it and the recorder
 * returned hold the initial weights. */
static sl_recorder *start_recording(const char *stem, char *path, size_t len,
                                    const char *options, inst *h)
{
  init_data();
  sl_test_tmpfile(stem, path, len);
  sl_backend_setup setup = sl_test_small_setup(options);
  CU_ASSERT_EQUAL_FATAL(inst_open(h, &fake_backend, &setup), SL_OK);
  sl_recorder *rec = NULL;
  CU_ASSERT_EQUAL_FATAL(sl_recorder_create(&rec, path, "fake", &setup, &fake_caps), SL_OK);
  write_initial(h, rec);
  return rec;
}

/* The standard recording: initial weights; runs 0: xa, 1: xb, 2: xc; layer 1
 * w_in <- wb1; run 3: xa. The observations are kept in saved[0..3]. */
#define N_SAVED 4
static char rec_path[512];
static saved_obs saved[N_SAVED];
static int recorded;

static void make_recording(void)
{
  if (recorded)
    return;
  inst h;
  sl_recorder *rec = start_recording("replay", rec_path, sizeof rec_path, NULL, &h);
  fake_record_run(&h, rec, xa, T1, B1, &saved[0]);
  fake_record_run(&h, rec, xb, T1, B1, &saved[1]);
  fake_record_run(&h, rec, xc, T2, B2, &saved[2]);
  CU_ASSERT_EQUAL(h.b->write_weights(h.state, 1, 0, wb1, 5, 4), SL_OK);
  CU_ASSERT_EQUAL(sl_recorder_weights(rec, 1, 0, wb1, 5, 4), SL_OK);
  fake_record_run(&h, rec, xa, T1, B1, &saved[3]);
  CU_ASSERT_EQUAL(sl_recorder_close(rec), SL_OK);
  inst_close(&h);
  CU_ASSERT(saved[0].o.n_spikes > 0);
  recorded = 1;
}

static int replay_open(inst *h, const char *path)
{
  char opts[600];
  snprintf(opts, sizeof opts, "file=%s", path);
  sl_backend_setup setup = sl_test_small_setup(opts);
  return inst_open(h, sl_replay_backend(), &setup);
}

/* Run x on a replay instance; expect rc; if ok, compare with want. */
static void replay_expect(inst *h, const float *x, size_t T, size_t B, int rc,
                          const sl_observations *want)
{
  sl_observations o;
  sl_obs_init(&o);
  int got = h->b->run(h->state, x, T, B, &o);
  CU_ASSERT_EQUAL(got, rc);
  if (got != rc)
    fprintf(stderr, "\n  run: %d (%s), expected %d\n", got, sl_last_error(), rc);
  if (rc == SL_OK && want)
    CU_ASSERT(sl_test_obs_same(&o, want));
  sl_obs_free(&o);
}

/* ------------------------------------------------------------ tests */

static void test_round_trip(void)
{
  make_recording();
  inst h;
  CU_ASSERT_EQUAL_FATAL(replay_open(&h, rec_path), SL_OK);
  sl_backend_caps caps;
  CU_ASSERT_EQUAL(h.b->capabilities(h.state, &caps), SL_OK);
  CU_ASSERT_EQUAL(caps.max_neurons, fake_caps.max_neurons);
  CU_ASSERT_EQUAL(caps.max_fan_in, fake_caps.max_fan_in);
  CU_ASSERT_EQUAL(caps.weight_levels, 63);
  CU_ASSERT_EQUAL(caps.sign_by_row_pair, 1);
  CU_ASSERT_EQUAL(caps.adc_bits, 8);
  CU_ASSERT_EQUAL(caps.sample_period, fake_caps.sample_period);
  CU_ASSERT_EQUAL(caps.time_scale, fake_caps.time_scale);
  CU_ASSERT_EQUAL(caps.membrane_gain, fake_caps.membrane_gain);
  CU_ASSERT_STRING_EQUAL(caps.membrane_units, "adc");
  CU_ASSERT_EQUAL(caps.observables, SL_OBS_SPIKES | SL_OBS_MEMBRANE);
  CU_ASSERT_EQUAL(caps.recurrent, 1);

  /* Same weights, runs in another order: matched by content. */
  write_initial(&h, NULL);
  replay_expect(&h, xc, T2, B2, SL_OK, &saved[2].o);
  replay_expect(&h, xb, T1, B1, SL_OK, &saved[1].o);
  replay_expect(&h, xa, T1, B1, SL_OK, &saved[0].o);
  CU_ASSERT_EQUAL(h.b->write_weights(h.state, 1, 0, wb1, 5, 4), SL_OK);
  replay_expect(&h, xa, T1, B1, SL_OK, &saved[3].o);
  /* Back to the first layer 1 w_in (a new write, equal content). */
  CU_ASSERT_EQUAL(h.b->write_weights(h.state, 1, 0, wa[1][0], 5, 4), SL_OK);
  replay_expect(&h, xa, T1, B1, SL_OK, &saved[0].o);
  /* Rewriting every array with the same values changes nothing. */
  write_initial(&h, NULL);
  replay_expect(&h, xb, T1, B1, SL_OK, &saved[1].o);

  char buf[64];
  CU_ASSERT_EQUAL(h.b->read_config(h.state, "runs", buf, sizeof buf), SL_OK);
  CU_ASSERT_STRING_EQUAL(buf, "4");
  CU_ASSERT_EQUAL(h.b->read_config(h.state, "backend", buf, sizeof buf), SL_OK);
  CU_ASSERT_STRING_EQUAL(buf, "fake");
  CU_ASSERT_EQUAL(h.b->read_config(h.state, "file", buf, sizeof buf), SL_OK);
  CU_ASSERT_STRING_EQUAL(buf, rec_path);
  CU_ASSERT_EQUAL(h.b->read_config(h.state, "chip_seed", buf, sizeof buf), SL_ENOTFOUND);
  CU_ASSERT_EQUAL(h.b->read_config(h.state, "file", buf, 3), SL_ERANGE);
  inst_close(&h);
  h.b->close(NULL); /* harmless */
  sl_test_assert_no_open_hdf5();
}

static void test_not_found(void)
{
  make_recording();
  inst h;
  CU_ASSERT_EQUAL_FATAL(replay_open(&h, rec_path), SL_OK);
  /* Nothing written yet: the raster is known, the weights are not. */
  replay_expect(&h, xa, T1, B1, SL_ENOTFOUND, NULL);
  CU_ASSERT(sl_test_msg_has("was not written here"));
  write_initial(&h, NULL);

  float x[T1 * B1 * N_IN];
  memcpy(x, xa, sizeof x);
  x[17] = 1.0f - x[17];
  replay_expect(&h, x, T1, B1, SL_ENOTFOUND, NULL);
  CU_ASSERT(sl_test_msg_has("no recorded run with this input raster (T=10, B=3)"));
  CU_ASSERT(sl_test_msg_has("not in the recording"));
  replay_expect(&h, xa, T1 - 1, B1, SL_ENOTFOUND, NULL); /* a prefix of xa */
  CU_ASSERT(sl_test_msg_has("T=9, B=3"));
  replay_expect(&h, xc, T1, 1, SL_ENOTFOUND, NULL); /* a different shape */

  /* One weight changed by one unit. */
  float w[64];
  memcpy(w, wa[2][0], sizeof w);
  w[5] += 1.0f;
  CU_ASSERT_EQUAL(h.b->write_weights(h.state, 2, 0, w, 4, 3), SL_OK);
  replay_expect(&h, xa, T1, B1, SL_ENOTFOUND, NULL);
  CU_ASSERT(sl_test_msg_has("and these weights"));
  CU_ASSERT(sl_test_msg_has("layer 2 w_in differs"));
  CU_ASSERT_EQUAL(h.b->write_weights(h.state, 2, 0, wa[2][0], 4, 3), SL_OK);
  /* -0.0 == 0.0 as floats, but not as recorded bytes. */
  memcpy(w, wa[0][0], sizeof w);
  size_t zeros = 0;
  for (size_t i = 0; i < 30; i++)
    if (w[i] == 0.0f) {
      w[i] = -0.0f;
      zeros++;
    }
  CU_ASSERT_FATAL(zeros > 0);
  CU_ASSERT_EQUAL(h.b->write_weights(h.state, 0, 0, w, 6, 5), SL_OK);
  replay_expect(&h, xb, T1, B1, SL_ENOTFOUND, NULL);
  CU_ASSERT(sl_test_msg_has("layer 0 w_in differs"));
  CU_ASSERT_EQUAL(h.b->write_weights(h.state, 0, 0, wa[0][0], 6, 5), SL_OK);
  replay_expect(&h, xb, T1, B1, SL_OK, &saved[1].o);

  /* Bad requests. */
  memcpy(x, xa, sizeof x);
  x[3] = 0.5f;
  replay_expect(&h, x, T1, B1, SL_EINVAL, NULL);
  replay_expect(&h, xa, 0, B1, SL_EINVAL, NULL);
  CU_ASSERT_EQUAL(h.b->write_weights(h.state, 1, 0, wb1, 4, 5), SL_ESHAPE);
  CU_ASSERT_EQUAL(h.b->write_weights(h.state, 3, 0, wb1, 4, 5), SL_EINVAL);
  CU_ASSERT_EQUAL(h.b->write_weights(h.state, 1, 2, wb1, 4, 4), SL_EINVAL);
  CU_ASSERT_EQUAL(h.b->write_weights(h.state, 1, 0, NULL, 5, 4), SL_EINVAL);
  inst_close(&h);

  /* A fresh instance without the recurrent weights. */
  CU_ASSERT_EQUAL_FATAL(replay_open(&h, rec_path), SL_OK);
  CU_ASSERT_EQUAL(h.b->write_weights(h.state, 0, 0, wa[0][0], 6, 5), SL_OK);
  CU_ASSERT_EQUAL(h.b->write_weights(h.state, 1, 0, wa[1][0], 5, 4), SL_OK);
  CU_ASSERT_EQUAL(h.b->write_weights(h.state, 2, 0, wa[2][0], 4, 3), SL_OK);
  replay_expect(&h, xa, T1, B1, SL_ENOTFOUND, NULL);
  CU_ASSERT(sl_test_msg_has("layer 1 w_rec was not written here"));
  inst_close(&h);
  sl_test_assert_no_open_hdf5();
}

/* A drifting chip asked the same thing three times, recorded; replay gives
 * the three answers in order, then starts over. */
static void test_repeated_requests(void)
{
  char path[512];
  inst h;
  sl_recorder *rec = start_recording("replay_repeat", path, sizeof path, "drift=0.25", &h);
  saved_obs s[4];
  fake_record_run(&h, rec, xa, T1, B1, &s[0]);
  fake_record_run(&h, rec, xb, T1, B1, &s[1]);
  fake_record_run(&h, rec, xa, T1, B1, &s[2]);
  fake_record_run(&h, rec, xa, T1, B1, &s[3]);
  CU_ASSERT_EQUAL(sl_recorder_close(rec), SL_OK);
  inst_close(&h);
  CU_ASSERT(!sl_test_obs_same(&s[0].o, &s[2].o));

  CU_ASSERT_EQUAL_FATAL(replay_open(&h, path), SL_OK);
  write_initial(&h, NULL);
  replay_expect(&h, xa, T1, B1, SL_OK, &s[0].o);
  replay_expect(&h, xa, T1, B1, SL_OK, &s[2].o);
  replay_expect(&h, xb, T1, B1, SL_OK, &s[1].o);
  replay_expect(&h, xa, T1, B1, SL_OK, &s[3].o);
  replay_expect(&h, xa, T1, B1, SL_OK, &s[0].o);
  replay_expect(&h, xb, T1, B1, SL_OK, &s[1].o);
  inst_close(&h);
  for (int i = 0; i < 4; i++)
    sl_obs_free(&s[i].o);
  remove(path);
  sl_test_assert_no_open_hdf5();
}

static void test_setup_mismatch(void)
{
  make_recording();
  char opts[600];
  snprintf(opts, sizeof opts, "file=%s", rec_path);
  static const char *field[] = {"n_in", "n_layers", "size[1]", "recurrent[1]", "recurrent[0]",
                                "dt"};
  for (int c = 0; c < 6; c++) {
    sl_backend_setup s = sl_test_small_setup(opts);
    switch (c) {
    case 0: s.n_in = 7; break;
    case 1: s.n_layers = 1; break;
    case 2: s.size[1] = 5; break;
    case 3: s.recurrent[1] = 0; break;
    case 4: s.recurrent[0] = 1; break;
    default: s.dt = 2e-3; break;
    }
    inst h;
    CU_ASSERT_EQUAL(inst_open(&h, sl_replay_backend(), &s), SL_EINVAL);
    CU_ASSERT(sl_test_msg_has(field[c]));
    CU_ASSERT(sl_test_msg_has(rec_path));
  }
  /* A dt that only differs in the last bits still matches. */
  sl_backend_setup s = sl_test_small_setup(opts);
  s.dt = nextafter(s.dt, 1.0);
  inst h;
  CU_ASSERT_EQUAL(inst_open(&h, sl_replay_backend(), &s), SL_OK);
  inst_close(&h);

  /* Options. */
  s = sl_test_small_setup(NULL);
  CU_ASSERT_EQUAL(inst_open(&h, sl_replay_backend(), &s), SL_EINVAL);
  CU_ASSERT(sl_test_msg_has("file=PATH"));
  s = sl_test_small_setup("chip_seed=3");
  CU_ASSERT_EQUAL(inst_open(&h, sl_replay_backend(), &s), SL_EINVAL);
  s = sl_test_small_setup("file=/nonexistent/dir/rec.h5");
  CU_ASSERT_EQUAL(inst_open(&h, sl_replay_backend(), &s), SL_EIO);
  CU_ASSERT(sl_test_msg_has("/nonexistent/dir/rec.h5"));
  sl_test_assert_no_open_hdf5();
}

/* ---- damaged recordings */

typedef void (*damage_fn)(hid_t file);

static void del(hid_t f, const char *path) { CU_ASSERT(H5Ldelete(f, path, H5P_DEFAULT) >= 0); }

static void replace_dataset(hid_t f, const char *path, hid_t type, int rank, const hsize_t *dims,
                            const void *data)
{
  del(f, path);
  hid_t space = H5Screate_simple(rank, dims, NULL);
  hid_t d = H5Dcreate2(f, path, type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  CU_ASSERT(d >= 0);
  CU_ASSERT(H5Dwrite(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) >= 0);
  H5Dclose(d);
  H5Sclose(space);
}

/* Read-modify-write element i of a dataset: *v, of the native type. */
static void poke(hid_t f, const char *path, size_t i, hid_t type, const void *v)
{
  size_t elem = H5Tget_size(type);
  hid_t d = H5Dopen2(f, path, H5P_DEFAULT);
  hid_t s = H5Dget_space(d);
  size_t n = (size_t)H5Sget_simple_extent_npoints(s);
  unsigned char *buf = malloc(n * elem);
  CU_ASSERT_FATAL(buf && i < n);
  CU_ASSERT(H5Dread(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0);
  memcpy(buf + i * elem, v, elem);
  CU_ASSERT(H5Dwrite(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0);
  free(buf);
  H5Sclose(s);
  H5Dclose(d);
}

static void poke_double(hid_t f, const char *path, size_t i, double v)
{
  poke(f, path, i, H5T_NATIVE_DOUBLE, &v);
}

static void poke_int(hid_t f, const char *path, size_t i, int64_t v)
{
  poke(f, path, i, H5T_NATIVE_INT64, &v);
}

static void set_attr_i64(hid_t f, const char *obj, const char *name, int64_t v)
{
  hid_t o = H5Oopen(f, obj, H5P_DEFAULT);
  hid_t a = H5Aopen(o, name, H5P_DEFAULT);
  CU_ASSERT(H5Awrite(a, H5T_NATIVE_INT64, &v) >= 0);
  H5Aclose(a);
  H5Oclose(o);
}

static void d_spike_time(hid_t f) { del(f, "/runs/1/spike_time"); }
static void d_setup(hid_t f) { del(f, "/setup"); }
static void d_runs(hid_t f) { del(f, "/runs"); }
static void d_weight(hid_t f) { del(f, "/weights/2"); }
static void d_units(hid_t f) { CU_ASSERT(H5Adelete_by_name(f, "/caps", "membrane_units", H5P_DEFAULT) >= 0); }
static void d_format(hid_t f) { CU_ASSERT(H5Adelete(f, "format") >= 0); }
static void d_count_high(hid_t f) { set_attr_i64(f, "/runs", "count", 99); }
static void d_count_neg(hid_t f) { set_attr_i64(f, "/runs", "count", -1); }
static void d_version(hid_t f)
{
  hid_t a = H5Aopen(f, "format_version", H5P_DEFAULT);
  int v = 2;
  CU_ASSERT(H5Awrite(a, H5T_NATIVE_INT, &v) >= 0);
  H5Aclose(a);
}
static void d_membrane_shape(hid_t f)
{
  static float zero[T1 * B1 * (N_NEURONS + 1)];
  hsize_t dims[3] = {T1, B1, N_NEURONS + 1};
  replace_dataset(f, "/runs/0/membrane", H5T_NATIVE_FLOAT, 3, dims, zero);
}
static void d_x_shape(hid_t f)
{
  static uint8_t zero[T1 * B1 * (N_IN + 1)];
  hsize_t dims[3] = {T1, B1, N_IN + 1};
  replace_dataset(f, "/runs/0/x", H5T_NATIVE_UINT8, 3, dims, zero);
}
static void d_x_rank(hid_t f)
{
  static uint8_t zero[T1 * B1 * N_IN];
  hsize_t dims[2] = {T1 * B1, N_IN};
  replace_dataset(f, "/runs/3/x", H5T_NATIVE_UINT8, 2, dims, zero);
}
static void d_x_float(hid_t f)
{
  static float zero[T1 * B1 * N_IN];
  hsize_t dims[3] = {T1, B1, N_IN};
  replace_dataset(f, "/runs/0/x", H5T_NATIVE_FLOAT, 3, dims, zero);
}
static void d_x_value(hid_t f) { poke_int(f, "/runs/2/x", 4, 2); }
static void d_weights_shape(hid_t f)
{
  static int64_t w[4] = {0, -1, 1, -1};
  hsize_t dims[2] = {2, 2};
  replace_dataset(f, "/runs/1/weights", H5T_NATIVE_INT64, 2, dims, w);
}
static void d_weights_range(hid_t f) { poke_int(f, "/runs/2/weights", 0, 1000); }
static void d_weights_cross(hid_t f) { poke_int(f, "/runs/2/weights", 0, 1); } /* a layer 1 array */
static void d_weight_array_shape(hid_t f)
{
  static float zero[30];
  hsize_t dims[2] = {5, 6};
  replace_dataset(f, "/weights/0", H5T_NATIVE_FLOAT, 2, dims, zero);
}
static void d_lengths(hid_t f)
{
  static uint32_t zero[1];
  hsize_t dims[1] = {1};
  replace_dataset(f, "/runs/2/spike_neuron", H5T_NATIVE_UINT32, 1, dims, zero);
}
static void d_dataset_is_group(hid_t f)
{
  del(f, "/runs/1/membrane");
  hid_t g = H5Gcreate2(f, "/runs/1/membrane", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  CU_ASSERT(g >= 0);
  H5Gclose(g);
}

/* Damage the recording one way; replay open must fail with code, naming what. */
static void expect_open_fails(damage_fn damage, int code, const char *what)
{
  char path[512];
  sl_test_tmpfile("replay_bad", path, sizeof path);
  CU_ASSERT_FATAL(sl_test_copy_file(rec_path, path, -1) == 0);
  hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
  CU_ASSERT_FATAL(f >= 0);
  damage(f);
  CU_ASSERT(H5Fclose(f) >= 0);
  inst h;
  sl_clear_error();
  int rc = replay_open(&h, path);
  CU_ASSERT_EQUAL(rc, code);
  if (rc != code)
    fprintf(stderr, "\n  open: %d (%s), expected %d\n", rc, sl_last_error(), code);
  if (rc == SL_OK)
    inst_close(&h);
  CU_ASSERT(sl_test_msg_has(what));
  remove(path);
}

static void test_damaged_structure(void)
{
  make_recording();
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL); /* this test's own HDF5 calls */
  expect_open_fails(d_spike_time, SL_EFORMAT, "/runs/1/spike_time");
  expect_open_fails(d_setup, SL_EFORMAT, "/setup");
  expect_open_fails(d_runs, SL_EFORMAT, "/runs");
  expect_open_fails(d_weight, SL_EFORMAT, "/weights/2");
  expect_open_fails(d_units, SL_EFORMAT, "/caps@membrane_units");
  expect_open_fails(d_format, SL_EFORMAT, "not a spikeloop recording");
  expect_open_fails(d_version, SL_EFORMAT, "version 2");
  expect_open_fails(d_count_high, SL_EFORMAT, "/runs@count");
  expect_open_fails(d_count_neg, SL_EFORMAT, "/runs@count");
  expect_open_fails(d_membrane_shape, SL_EFORMAT, "/runs/0/membrane");
  expect_open_fails(d_x_shape, SL_EFORMAT, "/runs/0/x");
  expect_open_fails(d_x_rank, SL_EFORMAT, "/runs/3/x");
  expect_open_fails(d_x_float, SL_EFORMAT, "/runs/0/x");
  expect_open_fails(d_x_value, SL_EFORMAT, "/runs/2/x[4]");
  expect_open_fails(d_weights_shape, SL_EFORMAT, "/runs/1/weights");
  expect_open_fails(d_weights_range, SL_EFORMAT, "/runs/2/weights");
  expect_open_fails(d_weights_cross, SL_EFORMAT, "/weights/1");
  expect_open_fails(d_weight_array_shape, SL_EFORMAT, "/weights/0");
  expect_open_fails(d_lengths, SL_EFORMAT, "/runs/2/spike_neuron");
  expect_open_fails(d_dataset_is_group, SL_EFORMAT, "/runs/1/membrane");
  sl_test_assert_no_open_hdf5();
}

/* Values are checked when a run is served: the others still serve. */
static void test_damaged_values(void)
{
  make_recording();
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  char path[512];
  sl_test_tmpfile("replay_nan", path, sizeof path);
  CU_ASSERT_FATAL(sl_test_copy_file(rec_path, path, -1) == 0);
  hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
  CU_ASSERT_FATAL(f >= 0);
  poke_double(f, "/runs/0/spike_time", 0, NAN);
  poke_double(f, "/runs/1/membrane", 7, INFINITY);
  poke_int(f, "/runs/2/spike_neuron", 0, N_NEURONS);
  poke_int(f, "/runs/3/spike_sample", 1, B1);
  CU_ASSERT(H5Fclose(f) >= 0);

  inst h;
  CU_ASSERT_EQUAL_FATAL(replay_open(&h, path), SL_OK);
  write_initial(&h, NULL);
  replay_expect(&h, xa, T1, B1, SL_EFORMAT, NULL);
  CU_ASSERT(sl_test_msg_has("/runs/0/spike_time[0]"));
  replay_expect(&h, xb, T1, B1, SL_EFORMAT, NULL);
  CU_ASSERT(sl_test_msg_has("/runs/1/membrane[7]"));
  replay_expect(&h, xc, T2, B2, SL_EFORMAT, NULL);
  CU_ASSERT(sl_test_msg_has("/runs/2/spike_neuron[0] = 12"));
  CU_ASSERT_EQUAL(h.b->write_weights(h.state, 1, 0, wb1, 5, 4), SL_OK);
  replay_expect(&h, xa, T1, B1, SL_EFORMAT, NULL);
  CU_ASSERT(sl_test_msg_has("/runs/3/spike_sample[1] = 3"));
  inst_close(&h);

  /* An attribute of the served run. */
  CU_ASSERT_FATAL(sl_test_copy_file(rec_path, path, -1) == 0);
  f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
  CU_ASSERT(H5Adelete_by_name(f, "/runs/1/membrane", "sample_t0", H5P_DEFAULT) >= 0);
  CU_ASSERT(H5Fclose(f) >= 0);
  CU_ASSERT_EQUAL_FATAL(replay_open(&h, path), SL_OK);
  write_initial(&h, NULL);
  replay_expect(&h, xb, T1, B1, SL_EFORMAT, NULL);
  CU_ASSERT(sl_test_msg_has("/runs/1/membrane@sample_t0"));
  replay_expect(&h, xa, T1, B1, SL_OK, &saved[0].o);
  inst_close(&h);
  remove(path);
  sl_test_assert_no_open_hdf5();
}

static void test_truncated_and_foreign(void)
{
  make_recording();
  char path[512];
  sl_test_tmpfile("replay_trunc", path, sizeof path);
  long size = sl_test_file_size(rec_path);
  CU_ASSERT_FATAL(size > 1000);
  long cuts[] = {0, 7, 512, size / 4, size / 2, size * 3 / 4, size - 100, size - 1};
  for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
    CU_ASSERT_FATAL(sl_test_copy_file(rec_path, path, cuts[i]) == 0);
    inst h;
    sl_clear_error();
    int rc = replay_open(&h, path);
    CU_ASSERT(rc == SL_EIO || rc == SL_EFORMAT);
    if (rc == SL_OK) { /* it must then fail on a request, never crash */
      write_initial(&h, NULL);
      sl_observations o;
      sl_obs_init(&o);
      rc = h.b->run(h.state, xa, T1, B1, &o);
      sl_obs_free(&o);
      inst_close(&h);
    }
    CU_ASSERT(sl_test_msg_has(path));
  }

  FILE *t = fopen(path, "w");
  CU_ASSERT_FATAL(t != NULL);
  fputs("time,spike\n0.1,3\n", t);
  fclose(t);
  inst h;
  CU_ASSERT_EQUAL(replay_open(&h, path), SL_EIO);
  CU_ASSERT(sl_test_msg_has("not an HDF5 file"));

  /* An HDF5 file that is not a recording. */
  hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  CU_ASSERT_FATAL(f >= 0);
  H5Fclose(f);
  CU_ASSERT_EQUAL(replay_open(&h, path), SL_EFORMAT);
  CU_ASSERT(sl_test_msg_has("not a spikeloop recording"));
  remove(path);
  sl_test_assert_no_open_hdf5();
}

/* Groups past /runs@count (an append cut short) are ignored. */
static void test_uncommitted_run(void)
{
  make_recording();
  char path[512];
  sl_test_tmpfile("replay_partial", path, sizeof path);
  CU_ASSERT_FATAL(sl_test_copy_file(rec_path, path, -1) == 0);
  hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
  CU_ASSERT_FATAL(f >= 0);
  hid_t g = H5Gcreate2(f, "/runs/4", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  CU_ASSERT(g >= 0);
  H5Gclose(g);
  H5Fclose(f);
  inst h;
  CU_ASSERT_EQUAL_FATAL(replay_open(&h, path), SL_OK);
  char buf[16];
  CU_ASSERT_EQUAL(h.b->read_config(h.state, "runs", buf, sizeof buf), SL_OK);
  CU_ASSERT_STRING_EQUAL(buf, "4");
  write_initial(&h, NULL);
  replay_expect(&h, xc, T2, B2, SL_OK, &saved[2].o);
  inst_close(&h);
  remove(path);
  sl_test_assert_no_open_hdf5();
}

/* A recording process killed after two runs (never closing the file) leaves
 * a file that replays those two runs. */
static void test_killed_recorder(void)
{
  make_recording();
  char path[512];
  sl_test_tmpfile("replay_killed", path, sizeof path);
  fflush(NULL);
  pid_t pid = fork();
  CU_ASSERT_FATAL(pid >= 0);
  if (pid == 0) {
    sl_backend_setup setup = sl_test_small_setup(NULL);
    inst h;
    sl_recorder *rec = NULL;
    if (inst_open(&h, &fake_backend, &setup) != SL_OK ||
        sl_recorder_create(&rec, path, "fake", &setup, &fake_caps) != SL_OK)
      _exit(2);
    write_initial(&h, rec);
    sl_observations o;
    sl_obs_init(&o);
    const float *xs[3] = {xa, xb, xa};
    for (int i = 0; i < 2; i++)
      if (h.b->run(h.state, xs[i], T1, B1, &o) != SL_OK ||
          sl_recorder_run(rec, xs[i], T1, B1, &o) != SL_OK)
        _exit(3);
    /* A third append that never finishes: weights written, no run. */
    if (sl_recorder_weights(rec, 1, 0, wb1, 5, 4) != SL_OK)
      _exit(4);
    _exit(0);
  }
  int status = 0;
  CU_ASSERT_EQUAL_FATAL(waitpid(pid, &status, 0), pid);
  CU_ASSERT_FATAL(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  inst h;
  CU_ASSERT_EQUAL_FATAL(replay_open(&h, path), SL_OK);
  char buf[16];
  CU_ASSERT_EQUAL(h.b->read_config(h.state, "runs", buf, sizeof buf), SL_OK);
  CU_ASSERT_STRING_EQUAL(buf, "2");
  write_initial(&h, NULL);
  replay_expect(&h, xb, T1, B1, SL_OK, &saved[1].o);
  replay_expect(&h, xa, T1, B1, SL_OK, &saved[0].o);
  inst_close(&h);
  remove(path);
  sl_test_assert_no_open_hdf5();
}

static void test_recorder_errors(void)
{
  init_data();
  sl_backend_setup setup = sl_test_small_setup(NULL);
  sl_recorder *rec = (sl_recorder *)&setup; /* must be reset to NULL */
  CU_ASSERT_EQUAL(sl_recorder_create(&rec, "/nonexistent/dir/rec.h5", "fake", &setup, &fake_caps),
                  SL_EIO);
  CU_ASSERT(rec == NULL);
  CU_ASSERT(sl_test_msg_has("/nonexistent/dir/rec.h5"));
  CU_ASSERT_EQUAL(sl_recorder_create(&rec, "", "fake", &setup, &fake_caps), SL_EINVAL);
  CU_ASSERT_EQUAL(sl_recorder_create(&rec, "x.h5", "fake", NULL, &fake_caps), SL_EINVAL);
  CU_ASSERT_EQUAL(sl_recorder_create(NULL, "x.h5", "fake", &setup, &fake_caps), SL_EINVAL);
  sl_backend_setup bad = setup;
  bad.size[1] = 0;
  CU_ASSERT_EQUAL(sl_recorder_create(&rec, "x.h5", "fake", &bad, &fake_caps), SL_EINVAL);
  bad = setup;
  bad.n_layers = SL_MAX_LAYERS + 1;
  CU_ASSERT_EQUAL(sl_recorder_create(&rec, "x.h5", "fake", &bad, &fake_caps), SL_EINVAL);
  CU_ASSERT_EQUAL(sl_recorder_weights(NULL, 0, 0, wa[0][0], 6, 5), SL_EINVAL);
  CU_ASSERT_EQUAL(sl_recorder_run(NULL, xa, T1, B1, NULL), SL_EINVAL);
  CU_ASSERT_EQUAL(sl_recorder_close(NULL), SL_OK);

  char path[512];
  sl_test_tmpfile("replay_rec", path, sizeof path);
  inst h;
  CU_ASSERT_EQUAL_FATAL(inst_open(&h, &fake_backend, &setup), SL_OK);
  CU_ASSERT_EQUAL_FATAL(sl_recorder_create(&rec, path, "fake", &setup, &fake_caps), SL_OK);
  write_initial(&h, rec);
  CU_ASSERT_EQUAL(sl_recorder_weights(rec, 3, 0, wa[0][0], 6, 5), SL_EINVAL);
  CU_ASSERT_EQUAL(sl_recorder_weights(rec, 0, 2, wa[0][0], 6, 5), SL_EINVAL);
  CU_ASSERT_EQUAL(sl_recorder_weights(rec, 0, 0, wa[0][0], 5, 6), SL_ESHAPE);
  CU_ASSERT(sl_test_msg_has("layer 0 w_in is 5 x 6, expected 6 x 5"));
  CU_ASSERT_EQUAL(sl_recorder_weights(rec, 1, 1, wa[1][1], 5, 4), SL_ESHAPE);
  CU_ASSERT_EQUAL(sl_recorder_weights(rec, 0, 0, NULL, 6, 5), SL_EINVAL);

  sl_observations o;
  sl_obs_init(&o);
  CU_ASSERT_EQUAL(h.b->run(h.state, xa, T1, B1, &o), SL_OK);
  float x[T1 * B1 * N_IN];
  memcpy(x, xa, sizeof x);
  x[2] = 2.0f;
  CU_ASSERT_EQUAL(sl_recorder_run(rec, x, T1, B1, &o), SL_EINVAL);
  CU_ASSERT(sl_test_msg_has("x[2] = 2"));
  x[2] = NAN;
  CU_ASSERT_EQUAL(sl_recorder_run(rec, x, T1, B1, &o), SL_EINVAL);
  CU_ASSERT_EQUAL(sl_recorder_run(rec, xa, T1, B1 - 1, &o), SL_ESHAPE);
  CU_ASSERT_EQUAL(sl_recorder_run(rec, xa, 0, B1, &o), SL_EINVAL);
  float keep = o.membrane[5];
  o.membrane[5] = NAN;
  CU_ASSERT_EQUAL(sl_recorder_run(rec, xa, T1, B1, &o), SL_ENUMERIC);
  o.membrane[5] = keep;
  CU_ASSERT_FATAL(o.n_spikes > 0);
  uint32_t keep_n = o.spike_neuron[0];
  o.spike_neuron[0] = N_NEURONS;
  CU_ASSERT_EQUAL(sl_recorder_run(rec, xa, T1, B1, &o), SL_ERANGE);
  o.spike_neuron[0] = keep_n;
  double keep_t = o.spike_time[0];
  o.spike_time[0] = INFINITY;
  CU_ASSERT_EQUAL(sl_recorder_run(rec, xa, T1, B1, &o), SL_ENUMERIC);
  o.spike_time[0] = keep_t;
  saved_obs s;
  sl_test_obs_copy(&s.o, &o);
  /* After all those refusals the next good run is run 0. */
  CU_ASSERT_EQUAL(sl_recorder_run(rec, xa, T1, B1, &o), SL_OK);
  sl_obs_free(&o);
  inst_close(&h);

  CU_ASSERT_EQUAL(sl_recorder_close(rec), SL_OK);
  inst r;

  CU_ASSERT_EQUAL_FATAL(replay_open(&r, path), SL_OK);
  char buf[16];
  CU_ASSERT_EQUAL(r.b->read_config(r.state, "runs", buf, sizeof buf), SL_OK);
  CU_ASSERT_STRING_EQUAL(buf, "1");
  write_initial(&r, NULL);
  replay_expect(&r, xa, T1, B1, SL_OK, &s.o);
  inst_close(&r);
  sl_obs_free(&s.o);
  remove(path);
  sl_test_assert_no_open_hdf5();
}

/* A recording holding many runs opens and finds each by content. */
static void test_many_runs(void)
{
  char path[512];
  inst h;
  sl_recorder *rec = start_recording("replay_many", path, sizeof path, NULL, &h);
  enum { N = 300 };
  static float x[T2 * B2 * N_IN];
  sl_observations o, last;
  sl_obs_init(&o);
  sl_obs_init(&last);
  for (unsigned i = 0; i < N; i++) {
    raster(x, T2, B2, 100 + i);
    if (i % 50 == 0) { /* new weights now and then */
      float w[64];
      make_weights(w, 2, 0, (int)(i / 50));
      CU_ASSERT_EQUAL(h.b->write_weights(h.state, 2, 0, w, 4, 3), SL_OK);
      CU_ASSERT_EQUAL(sl_recorder_weights(rec, 2, 0, w, 4, 3), SL_OK);
    }
    CU_ASSERT_EQUAL(h.b->run(h.state, x, T2, B2, &o), SL_OK);
    CU_ASSERT_EQUAL(sl_recorder_run(rec, x, T2, B2, &o), SL_OK);
  }
  CU_ASSERT_EQUAL(sl_recorder_close(rec), SL_OK);

  inst r;
  CU_ASSERT_EQUAL_FATAL(replay_open(&r, path), SL_OK);
  write_initial(&r, NULL);
  /* Runs 250..299 used weight set 5; 120 used set 2. */
  float w[64];
  make_weights(w, 2, 0, 5);
  CU_ASSERT_EQUAL(r.b->write_weights(r.state, 2, 0, w, 4, 3), SL_OK);
  CU_ASSERT_EQUAL(h.b->write_weights(h.state, 2, 0, w, 4, 3), SL_OK);
  raster(x, T2, B2, 100 + 277);
  CU_ASSERT_EQUAL(h.b->run(h.state, x, T2, B2, &last), SL_OK); /* deterministic: same answer */
  replay_expect(&r, x, T2, B2, SL_OK, &last);
  raster(x, T2, B2, 100 + 120);
  replay_expect(&r, x, T2, B2, SL_ENOTFOUND, NULL);
  CU_ASSERT(sl_test_msg_has("layer 2 w_in differs"));
  make_weights(w, 2, 0, 2);
  CU_ASSERT_EQUAL(r.b->write_weights(r.state, 2, 0, w, 4, 3), SL_OK);
  CU_ASSERT_EQUAL(h.b->write_weights(h.state, 2, 0, w, 4, 3), SL_OK);
  CU_ASSERT_EQUAL(h.b->run(h.state, x, T2, B2, &last), SL_OK);
  replay_expect(&r, x, T2, B2, SL_OK, &last);
  inst_close(&r);
  inst_close(&h);
  sl_obs_free(&o);
  sl_obs_free(&last);
  remove(path);
  sl_test_assert_no_open_hdf5();
}

/* A run large enough for x and membrane to be stored chunked and
 * deflate-compressed round-trips bit for bit. */
static void test_large_run(void)
{
  enum { T = 200, B = 8 };
  char path[512];
  inst h;
  sl_recorder *rec = start_recording("replay_large", path, sizeof path, NULL, &h);
  float *x = malloc(T * B * N_IN * sizeof *x);
  CU_ASSERT_FATAL(x != NULL);
  raster(x, T, B, 9);
  saved_obs s;
  fake_record_run(&h, rec, x, T, B, &s);
  CU_ASSERT_EQUAL(sl_recorder_close(rec), SL_OK);
  inst_close(&h);

  hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  CU_ASSERT_FATAL(f >= 0);
  static const char *names[2] = {"/runs/0/x", "/runs/0/membrane"};
  for (int i = 0; i < 2; i++) {
    hid_t d = H5Dopen2(f, names[i], H5P_DEFAULT);
    hid_t dcpl = H5Dget_create_plist(d);
    if (H5Zfilter_avail(H5Z_FILTER_DEFLATE) > 0) {
      CU_ASSERT_EQUAL(H5Pget_layout(dcpl), H5D_CHUNKED);
      CU_ASSERT(H5Pget_nfilters(dcpl) >= 1);
    }
    H5Pclose(dcpl);
    H5Dclose(d);
  }
  H5Fclose(f);

  CU_ASSERT_EQUAL_FATAL(replay_open(&h, path), SL_OK);
  write_initial(&h, NULL);
  replay_expect(&h, x, T, B, SL_OK, &s.o);
  x[T * B * N_IN - 1] = 1.0f - x[T * B * N_IN - 1];
  replay_expect(&h, x, T, B, SL_ENOTFOUND, NULL);
  inst_close(&h);
  sl_obs_free(&s.o);
  free(x);
  remove(path);
  sl_test_assert_no_open_hdf5();
}

/* The same through the instance API: sl_hw_record on a registered backend,
 * then sl_hw_open("replay"). Recording starts before the first write. */
static void test_through_hw(void)
{
  make_recording();
  char path[512], opts[600];
  sl_test_tmpfile("replay_hw", path, sizeof path);
  snprintf(opts, sizeof opts, "file=%s", path);
  sl_neurons neurons[3];
  memset(neurons, 0, sizeof neurons);
  sl_backend_setup setup = sl_test_small_setup(NULL);
  for (size_t l = 0; l < 3; l++) {
    CU_ASSERT_EQUAL_FATAL(sl_neurons_alloc(&neurons[l], setup.size[l], NULL), SL_OK);
    setup.neurons[l] = &neurons[l];
  }
  CU_ASSERT_EQUAL_FATAL(sl_backend_register(&fake_backend), SL_OK);
  static const size_t rows[3][2] = {{6, 0}, {5, 4}, {4, 0}}, cols[3] = {5, 4, 3};
  for (int pass = 0; pass < 2; pass++) {
    sl_hw *hw = NULL;
    setup.options = pass ? opts : NULL;
    CU_ASSERT_EQUAL_FATAL(sl_hw_open(&hw, pass ? "replay" : "fake", &setup), SL_OK);
    if (!pass) {
      CU_ASSERT_EQUAL(sl_hw_record(hw, path), SL_OK);
    } else {
      CU_ASSERT_STRING_EQUAL(sl_hw_caps(hw)->membrane_units, "adc");
    }
    for (size_t l = 0; l < 3; l++)
      for (int k = 0; k < 2; k++)
        if (rows[l][k])
          CU_ASSERT_EQUAL(sl_hw_write_weights(hw, l, k, wa[l][k], rows[l][k], cols[l]), SL_OK);
    sl_observations o;
    sl_obs_init(&o);
    CU_ASSERT_EQUAL(sl_hw_run(hw, xb, T1, B1, &o), SL_OK);
    CU_ASSERT(sl_test_obs_same(&o, &saved[1].o));
    CU_ASSERT_EQUAL(sl_hw_run(hw, xc, T2, B2, &o), SL_OK);
    CU_ASSERT(sl_test_obs_same(&o, &saved[2].o));
    sl_obs_free(&o);
    sl_hw_close(hw);
  }
  for (size_t l = 0; l < 3; l++)
    sl_neurons_free(&neurons[l]);
  remove(path);
  sl_test_assert_no_open_hdf5();
}

static void test_cleanup(void)
{
  for (int i = 0; i < N_SAVED; i++)
    if (recorded)
      sl_obs_free(&saved[i].o);
  if (recorded)
    remove(rec_path);
  recorded = 0;
  sl_test_assert_no_open_hdf5();
}

int main(void)
{
  static const sl_test_case cases[] = {
      {"record, then replay bit for bit in any order", test_round_trip},
      {"changed input or weights: SL_ENOTFOUND", test_not_found},
      {"repeated requests served in recorded order", test_repeated_requests},
      {"setup mismatch and options: SL_EINVAL / SL_EIO", test_setup_mismatch},
      {"damaged structure fails open, naming the object", test_damaged_structure},
      {"damaged values fail the run that serves them", test_damaged_values},
      {"truncated, foreign and non-recording files", test_truncated_and_foreign},
      {"uncommitted run groups are ignored", test_uncommitted_run},
      {"a killed recorder leaves a replayable file", test_killed_recorder},
      {"recorder argument and file errors", test_recorder_errors},
      {"many runs indexed by content", test_many_runs},
      {"a large run, stored compressed", test_large_run},
      {"sl_hw_record, then sl_hw_open(\"replay\")", test_through_hw},
      {"clean up", test_cleanup},
      {NULL, NULL}};
  return sl_test_run("replay", cases);
}
