/* test_mpi_cmp.c -- compare every float dataset under /params of two run
 * logs; print the largest absolute difference and exit 1 if it exceeds the
 * tolerance (argv[3], default 1e-4) or the logs differ in shape.
 * Also: `test_mpi_cmp --ranks LOG` prints /meta@ranks. */
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  hid_t other;
  double maxdiff;
  size_t n, count;
  int bad;
} cmp_state;

static float *read_all(hid_t file, const char *name, size_t *n)
{
  hid_t d = H5Dopen2(file, name, H5P_DEFAULT);
  if (d < 0)
    return NULL;
  hid_t sp = H5Dget_space(d);
  hssize_t np = H5Sget_simple_extent_npoints(sp);
  float *v = np > 0 ? malloc((size_t)np * sizeof *v) : NULL;
  if (v && H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) < 0) {
    free(v);
    v = NULL;
  }
  *n = (size_t)np;
  H5Sclose(sp);
  H5Dclose(d);
  return v;
}

/* every link under /params; groups are skipped (they do not open as datasets) */
static herr_t visit(hid_t root, const char *name, const H5L_info_t *info, void *user)
{
  cmp_state *st = user;
  (void)info;
  hid_t d = H5Dopen2(root, name, H5P_DEFAULT);
  if (d < 0)
    return 0;
  H5Dclose(d);
  char path[512];
  snprintf(path, sizeof path, "/params/%s", name);
  size_t na = 0, nb = 0;
  float *a = read_all(root, name, &na), *b = read_all(st->other, path, &nb);
  if (!a || !b || na != nb) {
    fprintf(stderr, "%s: missing or of different size\n", path);
    st->bad = 1;
  } else {
    for (size_t i = 0; i < na; i++) {
      double d = fabs((double)a[i] - (double)b[i]);
      if (!(d <= st->maxdiff))
        st->maxdiff = d; /* NaN propagates */
    }
    st->n += na;
    st->count++;
  }
  free(a), free(b);
  return 0;
}

int main(int argc, char **argv)
{
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  if (argc == 3 && strcmp(argv[1], "--ranks") == 0) {
    hid_t f = H5Fopen(argv[2], H5F_ACC_RDONLY, H5P_DEFAULT);
    int ranks = -1;
    if (f < 0)
      return 2;
    hid_t a = H5Aopen_by_name(f, "/meta", "ranks", H5P_DEFAULT, H5P_DEFAULT);
    if (a < 0 || H5Aread(a, H5T_NATIVE_INT, &ranks) < 0)
      return 2;
    H5Aclose(a);
    H5Fclose(f);
    printf("%d\n", ranks);
    return 0;
  }
  if (argc < 3) {
    fprintf(stderr, "usage: test_mpi_cmp A.h5 B.h5 [TOL] | --ranks LOG.h5\n");
    return 2;
  }
  double tol = argc > 3 ? atof(argv[3]) : 1e-4;
  hid_t fa = H5Fopen(argv[1], H5F_ACC_RDONLY, H5P_DEFAULT);
  hid_t fb = H5Fopen(argv[2], H5F_ACC_RDONLY, H5P_DEFAULT);
  if (fa < 0 || fb < 0)
    return 2;
  hid_t ga = H5Gopen2(fa, "/params", H5P_DEFAULT);
  if (ga < 0)
    return 2;
  cmp_state st = {fb, 0.0, 0, 0, 0};
  H5Lvisit(ga, H5_INDEX_NAME, H5_ITER_NATIVE, visit, &st);
  H5Gclose(ga);
  H5Fclose(fa);
  H5Fclose(fb);
  printf("max |w_a - w_b| = %.3g over %zu weights in %zu tensors\n", st.maxdiff, st.n, st.count);
  if (st.bad || st.count == 0 || !(st.maxdiff <= tol))
    return 1;
  return 0;
}
