/* test_config.c -- CUnit suite for the configuration table (lib/config.c).
 *
 * Checks the documented defaults, that every key's value survives
 * get -> set -> get exactly, that each value type parses and rejects bad text
 * with the right code and a message naming the key, INI loading (sections,
 * comments, "path:line: " errors), that sl_config_write output loads back to
 * an identical config, the cross-field checks of sl_config_validate, and that
 * net.hidden / net.recurrent may be set in either order, and that the enum
 * keys allow exactly the names of the modules' tables.
 */
#include "config.h"
#include "spikeloop/config.h"
#include "spikeloop/encode.h"
#include "spikeloop/error.h"
#include "spikeloop/fromconfig.h"
#include "spikeloop/loss.h"
#include "spikeloop/optim.h"
#include "spikeloop/surrogate.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "testutil.h"

#define N_DOCUMENTED_KEYS 69

static int contains(const char *haystack, const char *needle)
{
  return haystack && needle && strstr(haystack, needle) != NULL;
}

/* The value of key as text ("" on error). */
static const char *get(const sl_config *cfg, const char *key)
{
  static char buf[256];
  if (sl_config_get(cfg, key, buf, sizeof buf) != SL_OK)
    buf[0] = '\0';
  return buf;
}

/* Every key of a and b prints the same; reports the first difference. */
static int same_config(const sl_config *a, const sl_config *b)
{
  char va[256], vb[256];
  for (size_t i = 0; i < sl_config_num_keys(); i++) {
    if (sl_config_get_index(a, i, va, sizeof va) != SL_OK ||
        sl_config_get_index(b, i, vb, sizeof vb) != SL_OK || strcmp(va, vb) != 0) {
      fprintf(stderr, "\n  %s: '%s' != '%s'\n", sl_config_key_name(i), va, vb);
      return 0;
    }
  }
  return 1;
}

static void write_file(const char *path, const char *text)
{
  FILE *f = fopen(path, "w");
  CU_ASSERT_PTR_NOT_NULL_FATAL(f);
  fputs(text, f);
  fclose(f);
}

/* ------------------------------------------------------------ tests */

static void test_defaults(void)
{
  sl_config c;
  memset(&c, 0xAB, sizeof c);
  sl_config_defaults(&c);
  CU_ASSERT_STRING_EQUAL(c.dataset, "yinyang");
  CU_ASSERT_EQUAL(c.n_train, 5000);
  CU_ASSERT_EQUAL(c.n_val, 1000);
  CU_ASSERT_EQUAL(c.seed_test, 3);
  CU_ASSERT_STRING_EQUAL(c.encoder, "latency");
  CU_ASSERT_EQUAL(c.t_steps, 40);
  CU_ASSERT_EQUAL(c.t_early, 0.002);
  CU_ASSERT_EQUAL(c.t_late, 0.027);
  CU_ASSERT_EQUAL(c.x_min, 0.2);
  CU_ASSERT_EQUAL(c.bias, 1);
  CU_ASSERT_EQUAL(c.n_layers, 1);
  CU_ASSERT_EQUAL(c.hidden[0], 120);
  for (size_t l = 0; l < SL_CONFIG_MAX_LAYERS; l++)
    CU_ASSERT_EQUAL(c.recurrent[l], 0);
  CU_ASSERT_EQUAL(c.dt, 0.001);
  CU_ASSERT_EQUAL(c.tau_mem, 0.006);
  CU_ASSERT_EQUAL(c.v_th, 1.0);
  CU_ASSERT_EQUAL(c.v_reset, 0.0);
  CU_ASSERT_STRING_EQUAL(c.reset, "value");
  CU_ASSERT_EQUAL(c.detach_reset, 1);
  CU_ASSERT_EQUAL(c.scale_input, 0);
  CU_ASSERT_EQUAL(c.ro_tau_syn, 0.006);
  CU_ASSERT_EQUAL(c.mm_v_th, 0.0);
  CU_ASSERT_EQUAL(c.mm_readout, 0);
  CU_ASSERT_EQUAL(c.mm_seed, 7);
  CU_ASSERT_EQUAL(c.epochs, 40);
  CU_ASSERT_EQUAL(c.batch, 25);
  CU_ASSERT_STRING_EQUAL(c.optimizer, "adam");
  CU_ASSERT_EQUAL(c.lr, 0.002);
  CU_ASSERT_EQUAL(c.lr_decay, 0.95);
  CU_ASSERT_EQUAL(c.beta2, 0.999);
  CU_ASSERT_EQUAL(c.eps, 1e-8);
  CU_ASSERT_STRING_EQUAL(c.loss, "max");
  CU_ASSERT_STRING_EQUAL(c.surrogate, "superspike");
  CU_ASSERT_EQUAL(c.sg_beta, 10.0);
  CU_ASSERT_EQUAL(c.init_scale, 1.0);
  CU_ASSERT_EQUAL(c.seed, 42);
  CU_ASSERT_EQUAL(sl_config_validate(&c), SL_OK);
}

static void test_key_table(void)
{
  size_t n = sl_config_num_keys();
  CU_ASSERT_EQUAL(n, N_DOCUMENTED_KEYS);
  for (size_t i = 0; i < n; i++) {
    const char *name = sl_config_key_name(i);
    CU_ASSERT_PTR_NOT_NULL_FATAL(name);
    const char *dot = strchr(name, '.');
    CU_ASSERT(dot && dot > name && dot[1] != '\0' && !strchr(dot + 1, '.'));
    CU_ASSERT(sl_config_key_help(i) && strlen(sl_config_key_help(i)) > 5);
    CU_ASSERT_PTR_NOT_NULL(sl_config_key_default(i));
    for (size_t j = 0; j < i; j++)
      CU_ASSERT(strcmp(name, sl_config_key_name(j)) != 0);
    /* each default text is accepted by sl_config_set */
    sl_config c;
    sl_config_defaults(&c);
    int rc = sl_config_set(&c, name, sl_config_key_default(i));
    if (rc != SL_OK)
      fprintf(stderr, "\n  default of %s rejected: %s\n", name, sl_last_error());
    CU_ASSERT_EQUAL(rc, SL_OK);
  }
  CU_ASSERT_PTR_NULL(sl_config_key_name(n));
  CU_ASSERT_PTR_NULL(sl_config_key_help(n));
  CU_ASSERT_PTR_NULL(sl_config_key_default(n));
}

static void test_default_roundtrip(void)
{
  sl_config a, b;
  char v1[256], v2[256];
  sl_config_defaults(&a);
  for (size_t i = 0; i < sl_config_num_keys(); i++) {
    memset(&b, 0, sizeof b);
    b = a;
    CU_ASSERT_EQUAL_FATAL(sl_config_get_index(&a, i, v1, sizeof v1), SL_OK);
    CU_ASSERT_EQUAL(sl_config_set(&b, sl_config_key_name(i), v1), SL_OK);
    CU_ASSERT_EQUAL(sl_config_get_index(&b, i, v2, sizeof v2), SL_OK);
    CU_ASSERT_STRING_EQUAL(v1, v2);
    /* by name gives the same text */
    CU_ASSERT_STRING_EQUAL(get(&a, sl_config_key_name(i)), v1);
  }
}

static void test_double_roundtrip(void)
{
  const double values[] = {0.1, 1.0 / 3.0, 2.0 / 3.0, 1e-300, 5e-324, 0.30000000000000004,
                           123456789.12345679, 1e300, 6.02214076e23, 0.005};
  sl_config c;
  char buf[64];
  double max_diff = 0.0;
  sl_config_defaults(&c);
  for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
    c.reg_amp = values[i];
    CU_ASSERT_EQUAL_FATAL(sl_config_get(&c, "train.reg_amp", buf, sizeof buf), SL_OK);
    c.reg_amp = -1.0;
    CU_ASSERT_EQUAL(sl_config_set(&c, "train.reg_amp", buf), SL_OK);
    double d = fabs(c.reg_amp - values[i]);
    if (d > max_diff)
      max_diff = d;
    CU_ASSERT(c.reg_amp == values[i]);
  }
  if (max_diff != 0.0)
    fprintf(stderr, "\n  max round-trip difference %g\n", max_diff);
  /* short forms where they round-trip */
  CU_ASSERT_STRING_EQUAL(get(&c, "train.lr"), "0.002");
  CU_ASSERT_STRING_EQUAL(get(&c, "train.adam_eps"), "1e-08");
  CU_ASSERT_EQUAL(sl_config_set(&c, "train.lr", "0.1"), SL_OK);
  CU_ASSERT_STRING_EQUAL(get(&c, "train.lr"), "0.1");
}

static void test_set_types(void)
{
  sl_config c;
  sl_config_defaults(&c);
  /* long, also integral floating-point text, surrounding blanks */
  CU_ASSERT_EQUAL(sl_config_set(&c, "data.n_train", " 1e4 "), SL_OK);
  CU_ASSERT_EQUAL(c.n_train, 10000);
  CU_ASSERT_EQUAL(sl_config_set(&c, "train.epochs", "0"), SL_OK);
  CU_ASSERT_EQUAL(c.epochs, 0);
  /* double */
  CU_ASSERT_EQUAL(sl_config_set(&c, "neuron.v_th", "-2.5e-1"), SL_OK);
  CU_ASSERT_EQUAL(c.v_th, -0.25);
  CU_ASSERT_EQUAL(sl_config_set(&c, "train.lr_decay", "1"), SL_OK);
  CU_ASSERT_EQUAL(c.lr_decay, 1.0);
  /* uint64, the full range */
  CU_ASSERT_EQUAL(sl_config_set(&c, "train.seed", "18446744073709551615"), SL_OK);
  CU_ASSERT_EQUAL(c.seed, UINT64_MAX);
  CU_ASSERT_STRING_EQUAL(get(&c, "train.seed"), "18446744073709551615");
  /* bool words */
  const char *yes[] = {"1", "true", "YES", "On"}, *no[] = {"0", "false", "no", "OFF"};
  for (size_t i = 0; i < 4; i++) {
    CU_ASSERT_EQUAL(sl_config_set(&c, "encoder.bias", no[i]), SL_OK);
    CU_ASSERT_EQUAL(c.bias, 0);
    CU_ASSERT_EQUAL(sl_config_set(&c, "encoder.bias", yes[i]), SL_OK);
    CU_ASSERT_EQUAL(c.bias, 1);
  }
  CU_ASSERT_STRING_EQUAL(get(&c, "encoder.bias"), "1");
  /* enum */
  CU_ASSERT_EQUAL(sl_config_set(&c, "encoder.kind", "latency_log"), SL_OK);
  CU_ASSERT_STRING_EQUAL(c.encoder, "latency_log");
  CU_ASSERT_EQUAL(sl_config_set(&c, "train.surrogate", "arctan"), SL_OK);
  CU_ASSERT_STRING_EQUAL(c.surrogate, "arctan");
  /* lists */
  CU_ASSERT_EQUAL(sl_config_set(&c, "net.hidden", "100, 50 ,25"), SL_OK);
  CU_ASSERT_EQUAL(c.n_layers, 3);
  CU_ASSERT(c.hidden[0] == 100 && c.hidden[1] == 50 && c.hidden[2] == 25 && c.hidden[3] == 0);
  CU_ASSERT_STRING_EQUAL(get(&c, "net.hidden"), "100,50,25");
  CU_ASSERT_EQUAL(sl_config_set(&c, "net.hidden", "1,2,3,4,5,6,7,8"), SL_OK);
  CU_ASSERT_EQUAL(c.n_layers, SL_CONFIG_MAX_LAYERS);
  CU_ASSERT_EQUAL(sl_config_set(&c, "net.recurrent", "1"), SL_OK);
  for (size_t l = 0; l < SL_CONFIG_MAX_LAYERS; l++)
    CU_ASSERT_EQUAL(c.recurrent[l], 1);
  CU_ASSERT_EQUAL(sl_config_set(&c, "net.hidden", "100,50,25"), SL_OK);
  CU_ASSERT_EQUAL(sl_config_set(&c, "net.recurrent", "0, 1,0"), SL_OK);
  CU_ASSERT(c.recurrent[0] == 0 && c.recurrent[1] == 1 && c.recurrent[2] == 0);
  CU_ASSERT_STRING_EQUAL(get(&c, "net.recurrent"), "0,1,0");
  /* key=value pairs */
  CU_ASSERT_EQUAL(sl_config_set_pair(&c, "train.epochs=7"), SL_OK);
  CU_ASSERT_EQUAL(c.epochs, 7);
  CU_ASSERT_EQUAL(sl_config_set_pair(&c, " train.batch = 20 "), SL_OK);
  CU_ASSERT_EQUAL(c.batch, 20);
  CU_ASSERT_EQUAL(sl_config_set_pair(&c, "train.epochs"), SL_EINVAL);
  CU_ASSERT_EQUAL(sl_config_set_pair(&c, "train.epoch=3"), SL_ENOTFOUND);
  CU_ASSERT_EQUAL(c.epochs, 7);
}

static void test_bad_values(void)
{
  static const struct {
    const char *key, *value;
    int code;
    const char *in_message; /* besides the key */
  } cases[] = {
      {"train.lr", "abc", SL_EINVAL, "'abc' is not a number"},
      {"train.lr", "", SL_EINVAL, "not a number"},
      {"train.lr", "   ", SL_EINVAL, "not a number"},
      {"train.lr", "0.005x", SL_EINVAL, "0.005x"},
      {"train.lr", "nan", SL_EINVAL, "nan"},
      {"train.lr", "NAN", SL_EINVAL, "NAN"},
      {"train.lr", "inf", SL_EINVAL, "inf"},
      {"train.lr", "-Infinity", SL_EINVAL, "-Infinity"},
      {"train.lr", "1e999", SL_ERANGE, "1e999"},
      {"train.lr", "0", SL_ERANGE, "(0, inf)"},
      {"train.lr", "-1", SL_ERANGE, "(0, inf)"},
      {"train.lr_decay", "1.5", SL_ERANGE, "(0, 1]"},
      {"train.lr_decay", "0", SL_ERANGE, "(0, 1]"},
      {"encoder.x_min", "1", SL_ERANGE, "[0, 1)"},
      {"mismatch.v_th", "-0.1", SL_ERANGE, "[0, 1]"},
      {"train.reg_spikes", "-1e-9", SL_ERANGE, "[0, inf)"},
      {"data.n_train", "0", SL_ERANGE, "[1, 10000000]"},
      {"data.n_train", "20000000", SL_ERANGE, "[1, 10000000]"},
      {"data.n_train", "99999999999999999999999", SL_ERANGE, "[1, 10000000]"},
      {"data.n_train", "2.5", SL_EINVAL, "not an integer"},
      {"data.n_train", "12abc", SL_EINVAL, "12abc"},
      {"data.n_train", "", SL_EINVAL, "not a number"},
      {"encoder.t_steps", "inf", SL_EINVAL, "inf"},
      {"train.seed", "-1", SL_ERANGE, "'-1'"},
      {"train.seed", "abc", SL_EINVAL, "'abc'"},
      {"train.seed", "18446744073709551616", SL_ERANGE, "18446744073709551616"},
      {"train.seed", "12 3", SL_EINVAL, "12 3"},
      {"encoder.bias", "maybe", SL_EINVAL, "'maybe' is not a boolean"},
      {"encoder.bias", "2", SL_EINVAL, "'2'"},
      {"encoder.bias", "", SL_EINVAL, "boolean"},
      {"encoder.kind", "poisson", SL_EINVAL, "latency, latency_log, rate"},
      {"train.optimizer", "Adam", SL_EINVAL, "adam, sgd"},
      {"net.hidden", "1,2,3,4,5,6,7,8,9", SL_ERANGE, "more than 8"},
      {"net.hidden", "100,0", SL_ERANGE, "entry 2 '0'"},
      {"net.hidden", "-5", SL_ERANGE, "'-5'"},
      {"net.hidden", "100,,5", SL_EINVAL, "entry 2"},
      {"net.hidden", "100,x", SL_EINVAL, "'x'"},
      {"net.hidden", "", SL_EINVAL, "entry 1"},
      {"net.hidden", "1.5", SL_EINVAL, "not an integer"},
      {"net.recurrent", "2", SL_EINVAL, "'2'"},
      {"net.recurrent", "0,1,0,1,0,1,0,1,0", SL_ERANGE, "more than 8"},
      {"net.dt", "1.5", SL_ERANGE, "(0, 1]"},
  };
  sl_config c, ref;
  sl_config_defaults(&ref);
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    sl_config_defaults(&c);
    sl_clear_error();
    int rc = sl_config_set(&c, cases[i].key, cases[i].value);
    const char *msg = sl_last_error();
    int ok = rc == cases[i].code && sl_last_error_code() == rc && contains(msg, cases[i].key) &&
             contains(msg, cases[i].in_message);
    if (!ok)
      fprintf(stderr, "\n  %s='%s': code %d (want %d), message \"%s\"\n", cases[i].key,
              cases[i].value, rc, cases[i].code, msg);
    CU_ASSERT(ok);
    /* a failed set leaves the config unchanged */
    CU_ASSERT(same_config(&c, &ref));
  }
}

static void test_unknown_key(void)
{
  sl_config c;
  char buf[64];
  sl_config_defaults(&c);
  CU_ASSERT_EQUAL(sl_config_set(&c, "foo.bar", "1"), SL_ENOTFOUND);
  CU_ASSERT(contains(sl_last_error(), "unknown config key 'foo.bar'"));
  CU_ASSERT_EQUAL(sl_config_set(&c, "train.epoch", "1"), SL_ENOTFOUND);
  CU_ASSERT(contains(sl_last_error(), "'train.epoch'"));
  CU_ASSERT(contains(sl_last_error(), "did you mean 'train.epochs'"));
  CU_ASSERT_EQUAL(sl_config_set(&c, "epochs", "1"), SL_ENOTFOUND);
  CU_ASSERT(contains(sl_last_error(), "'train.epochs'"));
  CU_ASSERT_EQUAL(sl_config_set(&c, "", "1"), SL_ENOTFOUND);
  CU_ASSERT_EQUAL(sl_config_get(&c, "train.nope", buf, sizeof buf), SL_ENOTFOUND);
  CU_ASSERT(contains(sl_last_error(), "train.nope"));
  CU_ASSERT_EQUAL(sl_config_get_index(&c, sl_config_num_keys(), buf, sizeof buf), SL_ENOTFOUND);
  /* a buffer too small is an error, not a truncated value */
  CU_ASSERT_EQUAL(sl_config_get(&c, "data.dataset", buf, 4), SL_EINVAL);
  CU_ASSERT_EQUAL(sl_config_get(&c, "data.dataset", buf, 8), SL_OK);
  CU_ASSERT_STRING_EQUAL(buf, "yinyang");
}

/* names joined by sep, as the messages list them */
static const char *joined(const char *const *names, const char *sep)
{
  static char buf[256];
  buf[0] = '\0';
  for (size_t i = 0; names[i]; i++)
    snprintf(buf + strlen(buf), sizeof buf - strlen(buf), "%s%s", i ? sep : "", names[i]);
  return buf;
}

/* key accepts exactly the names of `table`: each one sets, and a bad value's
 * message and the --print-config "allowed:" line list the table in order. */
static void check_enum_table(const char *key, const char *const *table, const char *written)
{
  sl_config c;
  char want[512];
  sl_config_defaults(&c);
  for (size_t i = 0; table[i]; i++) {
    CU_ASSERT_EQUAL(sl_config_set(&c, key, table[i]), SL_OK);
    CU_ASSERT_STRING_EQUAL(get(&c, key), table[i]);
  }
  CU_ASSERT_EQUAL(sl_config_set(&c, key, "bogus"), SL_EINVAL);
  snprintf(want, sizeof want, "%s: 'bogus' is not one of %s", key, joined(table, ", "));
  CU_ASSERT_STRING_EQUAL(sl_last_error(), want);
  snprintf(want, sizeof want, "#   allowed: %s\n%s = ", joined(table, " | "), strchr(key, '.') + 1);
  CU_ASSERT(contains(written, want));
}

/* The enum keys take their values from the modules' name tables; data sets
 * and optimisers are listed in config.c too (train/ builds on io/), so they
 * are checked against train/'s lists here. */
static void test_enum_tables(void)
{
  char path[256], written[16384];
  sl_test_tmpfile("config_enum", path, sizeof path);
  sl_config c;
  sl_config_defaults(&c);
  FILE *f = fopen(path, "w+");
  CU_ASSERT_PTR_NOT_NULL_FATAL(f);
  CU_ASSERT_EQUAL(sl_config_write(&c, f), SL_OK);
  rewind(f);
  written[fread(written, 1, sizeof written - 1, f)] = '\0';
  fclose(f);
  remove(path);

  const char *const *sg = sl_surrogate_names();
  size_t n = 0;
  for (; sg[n]; n++)
    CU_ASSERT_PTR_EQUAL(sl_surrogate_find(sg[n]), sl_surrogate_list()[n]);
  CU_ASSERT_PTR_NULL(sl_surrogate_list()[n]);

  check_enum_table("train.loss", sl_loss_list(), written);
  check_enum_table("encoder.kind", sl_encoder_list(), written);
  check_enum_table("train.surrogate", sl_surrogate_names(), written);
  check_enum_table("train.optimizer", sl_optim_list(), written);

  /* the data sets: config.c's list is the one sl_data_from_config knows */
  snprintf(c.dataset, sizeof c.dataset, "bogus");
  CU_ASSERT_EQUAL(sl_data_from_config(&c, NULL, NULL, NULL), SL_ENOTFOUND);
  const char *known = strstr(sl_last_error(), "(known: ");
  CU_ASSERT_PTR_NOT_NULL_FATAL(known);
  char list[128];
  snprintf(list, sizeof list, "%s", known + strlen("(known: "));
  CU_ASSERT_FATAL(strlen(list) > 0 && list[strlen(list) - 1] == ')');
  list[strlen(list) - 1] = '\0';
  sl_config_defaults(&c);
  CU_ASSERT_EQUAL(sl_config_set(&c, "data.dataset", "bogus"), SL_EINVAL);
  CU_ASSERT(contains(sl_last_error(), "is not one of "));
  CU_ASSERT_STRING_EQUAL(strstr(sl_last_error(), "is not one of ") + strlen("is not one of "),
                         list);
}

static void test_load_file(void)
{
  char path[256];
  sl_test_tmpfile("config_load", path, sizeof path);
  write_file(path, "# a comment\n"
                   "; another comment\n"
                   "\n"
                   "net.hidden = 64, 32   # top level, dotted\n"
                   "[train]\n"
                   "  epochs=12\n"
                   "lr = 0.01 ; trailing comment\n"
                   "optimizer = sgd\t# tab before comment\n"
                   "net.recurrent = 1,0  # dotted inside a section is taken as is\n"
                   "[ encoder ]\n"
                   "kind = rate\n"
                   "bias = off\n"
                   "\n"
                   "[mismatch]\n"
                   "v_th = 0.25\n"
                   "seed = 123456789012345\n");
  sl_config c;
  sl_config_defaults(&c);
  int rc = sl_config_load(&c, path);
  if (rc != SL_OK)
    fprintf(stderr, "\n  load: %s\n", sl_last_error());
  CU_ASSERT_EQUAL(rc, SL_OK);
  CU_ASSERT_EQUAL(c.n_layers, 2);
  CU_ASSERT(c.hidden[0] == 64 && c.hidden[1] == 32);
  CU_ASSERT(c.recurrent[0] == 1 && c.recurrent[1] == 0);
  CU_ASSERT_EQUAL(c.epochs, 12);
  CU_ASSERT_EQUAL(c.lr, 0.01);
  CU_ASSERT_STRING_EQUAL(c.optimizer, "sgd");
  CU_ASSERT_STRING_EQUAL(c.encoder, "rate");
  CU_ASSERT_EQUAL(c.bias, 0);
  CU_ASSERT_EQUAL(c.mm_v_th, 0.25);
  CU_ASSERT_EQUAL(c.mm_seed, 123456789012345u);
  /* untouched keys keep their values */
  CU_ASSERT_EQUAL(c.batch, 25);
  CU_ASSERT_EQUAL(sl_config_validate(&c), SL_OK);
  remove(path);
}

static void test_load_errors(void)
{
  static const struct {
    const char *text;
    int line, code;
    const char *in_message;
  } cases[] = {
      {"[train]\nepochs = 3\nthis line has no equals sign\n", 3, SL_EFORMAT, "no equals"},
      {"# c\n[train]\nlr = abc\n", 3, SL_EINVAL, "train.lr: 'abc' is not a number"},
      {"[train]\n\n\nfoo = 1\n", 4, SL_ENOTFOUND, "unknown config key 'train.foo'"},
      {"epochs = 1\n", 1, SL_ENOTFOUND, "unknown config key 'epochs'"},
      {"[trian]\nepochs = 1\n", 1, SL_ENOTFOUND, "trian"},
      {"[train\nepochs = 1\n", 1, SL_EFORMAT, "[train"},
      {"[net]\nhidden = 1,2,3,4,5,6,7,8,9\n", 2, SL_ERANGE, "net.hidden"},
      {"[train]\n= 5\n", 2, SL_EFORMAT, "missing key"},
      {"[train]\nepochs = 5\nbatch = 0", 3, SL_ERANGE, "train.batch"}, /* no final newline */
  };
  char path[256], prefix[300];
  sl_test_tmpfile("config_err", path, sizeof path);
  sl_config c, ref;
  sl_config_defaults(&ref);
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    write_file(path, cases[i].text);
    sl_config_defaults(&c);
    int rc = sl_config_load(&c, path);
    snprintf(prefix, sizeof prefix, "%s:%d: ", path, cases[i].line);
    const char *msg = sl_last_error();
    int ok = rc == cases[i].code && strncmp(msg, prefix, strlen(prefix)) == 0 &&
             contains(msg, cases[i].in_message);
    if (!ok)
      fprintf(stderr, "\n  case %zu: code %d (want %d), message \"%s\" (want prefix \"%s\")\n", i,
              rc, cases[i].code, msg, prefix);
    CU_ASSERT(ok);
    /* a failed load leaves the config unchanged (epochs = 3/5 was not applied) */
    CU_ASSERT(same_config(&c, &ref));
  }
  remove(path);

  /* missing file */
  snprintf(path, sizeof path, "/nonexistent-dir-sl/none.cfg");
  CU_ASSERT_EQUAL(sl_config_load(&c, path), SL_EIO);
  CU_ASSERT(contains(sl_last_error(), "cannot open config file '/nonexistent-dir-sl/none.cfg'"));
  CU_ASSERT(contains(sl_last_error(), "No such file"));
}

static void test_write_reload(void)
{
  char path[256];
  sl_test_tmpfile("config_write", path, sizeof path);
  sl_config a, b;
  sl_config_defaults(&a);
  const char *pairs[] = {"net.hidden=64,32,16", "net.recurrent=1,0,1", "train.lr=0.3333333333333333",
                         "encoder.kind=latency_log", "train.seed=18446744073709551615",
                         "neuron.v_leak=-0.1", "mismatch.readout=yes", "train.loss=sum",
                         "neuron.reset=subtract", "data.n_val=0", "train.reg_amp=5e-324",
                         "encoder.t_late=0.1", "neuron.refrac=2"};
  for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++)
    CU_ASSERT_EQUAL(sl_config_set_pair(&a, pairs[i]), SL_OK);
  a.tau_syn = 1.0 / 7.0; /* a direct edit is written too */

  FILE *f = fopen(path, "w");
  CU_ASSERT_PTR_NOT_NULL_FATAL(f);
  CU_ASSERT_EQUAL(sl_config_write(&a, f), SL_OK);
  fclose(f);

  sl_config_defaults(&b);
  int rc = sl_config_load(&b, path);
  if (rc != SL_OK)
    fprintf(stderr, "\n  reload: %s\n", sl_last_error());
  CU_ASSERT_EQUAL(rc, SL_OK);
  CU_ASSERT(same_config(&a, &b));
  CU_ASSERT_EQUAL(b.tau_syn, 1.0 / 7.0);
  CU_ASSERT(b.recurrent[0] == 1 && b.recurrent[1] == 0 && b.recurrent[2] == 1);

  /* the text itself: sections, help comments with defaults, every key once */
  f = fopen(path, "r");
  CU_ASSERT_PTR_NOT_NULL_FATAL(f);
  static char text[65536];
  size_t n = fread(text, 1, sizeof text - 1, f);
  text[n] = '\0';
  fclose(f);
  const char *sections[] = {"[data]", "[encoder]", "[net]", "[neuron]", "[readout]", "[mismatch]",
                            "[train]"};
  for (size_t i = 0; i < 7; i++)
    CU_ASSERT(contains(text, sections[i]));
  CU_ASSERT(contains(text, "(default: 0.002)\n"));
  CU_ASSERT(contains(text, "\nlr = 0.3333333333333333\n"));
  CU_ASSERT(contains(text, "\nhidden = 64,32,16\n"));
  for (size_t i = 0; i < sl_config_num_keys(); i++) {
    char line[256];
    snprintf(line, sizeof line, "# %s (default: %s)\n", sl_config_key_help(i),
             sl_config_key_default(i));
    CU_ASSERT(contains(text, line));
  }

  /* the defaults written and reloaded onto a changed config give the defaults */
  sl_config_defaults(&b);
  f = fopen(path, "w");
  CU_ASSERT_PTR_NOT_NULL_FATAL(f);
  CU_ASSERT_EQUAL(sl_config_write(&b, f), SL_OK);
  fclose(f);
  CU_ASSERT_EQUAL(sl_config_load(&a, path), SL_OK);
  CU_ASSERT(same_config(&a, &b));
  remove(path);
}

static void test_validate(void)
{
  sl_config c;
  sl_config_defaults(&c);
  CU_ASSERT_EQUAL(sl_config_validate(&c), SL_OK);

  CU_ASSERT_EQUAL(sl_config_set(&c, "data.n_val", "0"), SL_OK);
  CU_ASSERT_EQUAL(sl_config_validate(&c), SL_OK);

  CU_ASSERT_EQUAL(sl_config_set(&c, "encoder.t_early", "0.03"), SL_OK);
  CU_ASSERT_EQUAL(sl_config_validate(&c), SL_EINVAL);
  CU_ASSERT(contains(sl_last_error(), "encoder.t_early") &&
            contains(sl_last_error(), "encoder.t_late"));
  CU_ASSERT_EQUAL(sl_config_set(&c, "encoder.t_early", "0.027"), SL_OK); /* equal is fine */
  CU_ASSERT_EQUAL(sl_config_validate(&c), SL_OK);

  CU_ASSERT_EQUAL(sl_config_set(&c, "train.batch", "5001"), SL_OK);
  CU_ASSERT_EQUAL(sl_config_validate(&c), SL_EINVAL);
  CU_ASSERT(contains(sl_last_error(), "train.batch") && contains(sl_last_error(), "data.n_train"));
  CU_ASSERT_EQUAL(sl_config_set(&c, "train.batch", "5000"), SL_OK);
  CU_ASSERT_EQUAL(sl_config_validate(&c), SL_OK);

  CU_ASSERT_EQUAL(sl_config_set(&c, "net.recurrent", "1,0"), SL_OK);
  CU_ASSERT_EQUAL(sl_config_validate(&c), SL_EINVAL);
  CU_ASSERT(contains(sl_last_error(), "net.recurrent"));
  CU_ASSERT_EQUAL(sl_config_set(&c, "net.hidden", "30,30,30"), SL_OK);
  CU_ASSERT_EQUAL(sl_config_validate(&c), SL_EINVAL);
  CU_ASSERT_EQUAL(sl_config_set(&c, "net.hidden", "30,30"), SL_OK);
  CU_ASSERT_EQUAL(sl_config_validate(&c), SL_OK);

  CU_ASSERT_EQUAL(sl_config_set(&c, "neuron.v_reset", "1"), SL_OK);
  CU_ASSERT_EQUAL(sl_config_validate(&c), SL_EINVAL);
  CU_ASSERT(contains(sl_last_error(), "neuron.v_th") && contains(sl_last_error(), "neuron.v_reset"));
  CU_ASSERT_EQUAL(sl_config_set(&c, "neuron.v_reset", "0"), SL_OK);

  /* direct field edits are range-checked too */
  c.lr = -1.0;
  CU_ASSERT_EQUAL(sl_config_validate(&c), SL_ERANGE);
  CU_ASSERT(contains(sl_last_error(), "train.lr"));
  c.lr = NAN;
  CU_ASSERT_EQUAL(sl_config_validate(&c), SL_EINVAL);
  c.lr = 0.005;
  c.hidden[1] = 0;
  CU_ASSERT_EQUAL(sl_config_validate(&c), SL_ERANGE);
  CU_ASSERT(contains(sl_last_error(), "net.hidden"));
  c.hidden[1] = 30;
  snprintf(c.loss, sizeof c.loss, "mse");
  CU_ASSERT_EQUAL(sl_config_validate(&c), SL_EINVAL);
  CU_ASSERT(contains(sl_last_error(), "train.loss"));
  snprintf(c.loss, sizeof c.loss, "sum");
  CU_ASSERT_EQUAL(sl_config_validate(&c), SL_OK);
}

static void test_recurrent_order(void)
{
  sl_config a, b;
  sl_config_defaults(&a);
  sl_config_defaults(&b);
  CU_ASSERT_EQUAL(sl_config_set(&a, "net.hidden", "10,20,30"), SL_OK);
  CU_ASSERT_EQUAL(sl_config_set(&a, "net.recurrent", "1,0,1"), SL_OK);
  CU_ASSERT_EQUAL(sl_config_set(&b, "net.recurrent", "1,0,1"), SL_OK);
  CU_ASSERT_EQUAL(sl_config_set(&b, "net.hidden", "10,20,30"), SL_OK);
  CU_ASSERT(same_config(&a, &b));
  for (size_t l = 0; l < 3; l++)
    CU_ASSERT_EQUAL(a.recurrent[l], b.recurrent[l]);
  CU_ASSERT(b.recurrent[0] == 1 && b.recurrent[1] == 0 && b.recurrent[2] == 1);
  CU_ASSERT_EQUAL(sl_config_validate(&a), SL_OK);
  CU_ASSERT_EQUAL(sl_config_validate(&b), SL_OK);

  /* one value applies to however many layers come later */
  sl_config_defaults(&a);
  CU_ASSERT_EQUAL(sl_config_set(&a, "net.recurrent", "1"), SL_OK);
  CU_ASSERT_EQUAL(sl_config_set(&a, "net.hidden", "5,5,5,5"), SL_OK);
  for (size_t l = 0; l < 4; l++)
    CU_ASSERT_EQUAL(a.recurrent[l], 1);
  CU_ASSERT_STRING_EQUAL(get(&a, "net.recurrent"), "1");
  CU_ASSERT_EQUAL(sl_config_validate(&a), SL_OK);

  /* the same through files, in both orders */
  char path[256];
  sl_test_tmpfile("config_rec", path, sizeof path);
  write_file(path, "[net]\nrecurrent = 0,1\nhidden = 7,8\n");
  sl_config_defaults(&a);
  CU_ASSERT_EQUAL(sl_config_load(&a, path), SL_OK);
  write_file(path, "[net]\nhidden = 7,8\nrecurrent = 0,1\n");
  sl_config_defaults(&b);
  CU_ASSERT_EQUAL(sl_config_load(&b, path), SL_OK);
  CU_ASSERT(same_config(&a, &b));
  CU_ASSERT(a.recurrent[0] == 0 && a.recurrent[1] == 1);
  remove(path);

  /* a direct edit of recurrent[] is what get reports */
  sl_config_defaults(&a);
  CU_ASSERT_EQUAL(sl_config_set(&a, "net.hidden", "4,4"), SL_OK);
  a.recurrent[1] = 1;
  CU_ASSERT_STRING_EQUAL(get(&a, "net.recurrent"), "0,1");
}

int main(void)
{
  static const sl_test_case cases[] = {
      {"defaults", test_defaults},
      {"key table", test_key_table},
      {"default round trip", test_default_roundtrip},
      {"double round trip", test_double_roundtrip},
      {"set each type", test_set_types},
      {"bad values", test_bad_values},
      {"unknown key", test_unknown_key},
      {"enum keys from the name tables", test_enum_tables},
      {"load file", test_load_file},
      {"load errors", test_load_errors},
      {"write and reload", test_write_reload},
      {"validate", test_validate},
      {"recurrent order", test_recurrent_order},
      {NULL, NULL},
  };
  return sl_test_run("config", cases);
}
