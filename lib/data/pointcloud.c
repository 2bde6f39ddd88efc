/* pointcloud.c -- point clouds: normalisation, procedural shapes, ModelNet40
 * in PointNet's HDF5 layout (contract in spikeloop/pointcloud.h).
 *
 * Choices:
 * - Clouds live in an sl_dataset, one cloud per row, points interleaved
 *   (x y z x y z ...), so splitting and shuffling need nothing new.
 * - Shapes: each class is a sampler of one point uniform over the shape's
 *   area (a triangle mesh chosen by area for the polyhedra, closed forms or
 *   area-proportional rejection for the others); everything is computed in
 *   double and stored as float. The proportions are fixed per class and
 *   chosen apart (a squat pyramid against a tall cone, a helix taller than
 *   the cylinder it winds on, an ellipsoid of axes 1 : 0.6 : 0.35 against
 *   a sphere that the per-axis scale stretches by at most 1.5), so that
 *   even a rotation-invariant histogram tells most clouds apart
 *   (test/test_pointcloud.c measures it).
 * - Each cloud draws from its own xoshiro256+ stream seeded with
 *   sl_seed_mix(seed, i) (lib/base/rng.h), so the clouds are computed in
 *   parallel and the set does not depend on the number of threads.
 * - Dropout replaces the dropped points by copies of kept ones (PointNet++'s
 *   random input dropout) so every cloud keeps P points; as the sampled
 *   points are independent, dropping the last k is dropping k at random, and
 *   the points are shuffled afterwards so the copies are not all at the end.
 * - ModelNet files go through lib/io/h5.h (every message "<who>: '<file>':
 *   /data ..."). A whole file is read into memory (2048 clouds x 2048 points
 *   x 3 floats = 48 MiB for PointNet's largest), checked, and the chosen
 *   points copied out; files are appended one after another.
 * - Labels are read as int64 whatever their integer type (HDF5 converts;
 *   values beyond int64 saturate), so any width is range-checked exactly.
 */
#include "config.h"
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L /* strdup */
#endif

#include "spikeloop/pointcloud.h"
#include "spikeloop/dataset.h"
#include "spikeloop/error.h"

#include "base/rng.h"
#include "io/h5.h"

#include <hdf5.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TWO_PI 6.283185307179586

/* ------------------------------------------------------------ normalisation */

void sl_pointcloud_normalise(float *xyz, size_t P)
{
  if (!xyz || P == 0)
    return;
  /* p_i <- (p_i - mean) / max_j |p_j - mean| */
  double m[3] = {0.0, 0.0, 0.0};
  for (size_t i = 0; i < P; i++)
    for (int a = 0; a < 3; a++)
      m[a] += xyz[3 * i + a];
  for (int a = 0; a < 3; a++)
    m[a] /= (double)P;
  double r2max = 0.0;
  for (size_t i = 0; i < P; i++) {
    double r2 = 0.0;
    for (int a = 0; a < 3; a++) {
      double v = xyz[3 * i + a] - m[a];
      r2 += v * v;
    }
    if (r2 > r2max)
      r2max = r2;
  }
  double s = r2max > 0.0 ? 1.0 / sqrt(r2max) : 1.0;
  for (size_t i = 0; i < P; i++)
    for (int a = 0; a < 3; a++)
      xyz[3 * i + a] = (float)((xyz[3 * i + a] - m[a]) * s);
}

/* ------------------------------------------------------------ shapes */

enum {
  SHAPE_SPHERE,
  SHAPE_CUBE,
  SHAPE_CYLINDER,
  SHAPE_CONE,
  SHAPE_TORUS,
  SHAPE_PYRAMID,
  SHAPE_ELLIPSOID,
  SHAPE_CAPSULE,
  SHAPE_DISK,
  SHAPE_HELIX,
  SHAPE_OCTAHEDRON,
  SHAPE_TETRAHEDRON,
  SHAPE_COUNT
};

static const char *const shape_names[SHAPE_COUNT] = {
    "sphere",  "cube",    "cylinder", "cone",  "torus",      "pyramid",
    "ellipsoid", "capsule", "disk",   "helix", "octahedron", "tetrahedron"};

_Static_assert(SHAPE_COUNT == SL_SHAPES_CLASSES, "SL_SHAPES_CLASSES must match the shape table");

/* Proportions (see pointcloud.h). */
#define TORUS_R 1.0
#define TORUS_TUBE 0.35
#define ELL_A 1.0
#define ELL_B 0.6
#define ELL_C 0.35
#define CAPSULE_R 0.5
#define CAPSULE_HALF 1.0 /* half the straight part */
#define HELIX_TURNS 3.0
#define HELIX_HALF 1.5 /* half the height */

/* Triangle meshes of the polyhedra: vertices and faces (outward or not:
 * only the areas matter). */
typedef struct {
  const double (*v)[3];
  const unsigned char (*t)[3];
  size_t nt;
} mesh;

static const double cube_v[8][3] = {{-1, -1, -1}, {1, -1, -1}, {1, 1, -1}, {-1, 1, -1},
                                    {-1, -1, 1},  {1, -1, 1},  {1, 1, 1},  {-1, 1, 1}};
static const unsigned char cube_t[12][3] = {{0, 1, 2}, {0, 2, 3}, {4, 5, 6}, {4, 6, 7},
                                            {0, 1, 5}, {0, 5, 4}, {3, 2, 6}, {3, 6, 7},
                                            {0, 3, 7}, {0, 7, 4}, {1, 2, 6}, {1, 6, 5}};
static const double pyr_v[5][3] = {
    {-1, -1, -0.5}, {1, -1, -0.5}, {1, 1, -0.5}, {-1, 1, -0.5}, {0, 0, 0.5}};
static const unsigned char pyr_t[6][3] = {{0, 1, 2}, {0, 2, 3}, {0, 1, 4},
                                          {1, 2, 4}, {2, 3, 4}, {3, 0, 4}};
static const double oct_v[6][3] = {{1, 0, 0}, {-1, 0, 0}, {0, 1, 0},
                                   {0, -1, 0}, {0, 0, 1}, {0, 0, -1}};
static const unsigned char oct_t[8][3] = {{0, 2, 4}, {2, 1, 4}, {1, 3, 4}, {3, 0, 4},
                                          {0, 2, 5}, {2, 1, 5}, {1, 3, 5}, {3, 0, 5}};
static const double tet_v[4][3] = {{1, 1, 1}, {1, -1, -1}, {-1, 1, -1}, {-1, -1, 1}};
static const unsigned char tet_t[4][3] = {{0, 1, 2}, {0, 1, 3}, {0, 2, 3}, {1, 2, 3}};

static const mesh mesh_cube = {cube_v, cube_t, 12};
static const mesh mesh_pyramid = {pyr_v, pyr_t, 6};
static const mesh mesh_octahedron = {oct_v, oct_t, 8};
static const mesh mesh_tetrahedron = {tet_v, tet_t, 4};

static double tri_area(const mesh *m, size_t k)
{
  const double *a = m->v[m->t[k][0]], *b = m->v[m->t[k][1]], *c = m->v[m->t[k][2]];
  double u[3], w[3];
  for (int i = 0; i < 3; i++) {
    u[i] = b[i] - a[i];
    w[i] = c[i] - a[i];
  }
  double x = u[1] * w[2] - u[2] * w[1], y = u[2] * w[0] - u[0] * w[2],
         z = u[0] * w[1] - u[1] * w[0];
  return 0.5 * sqrt(x * x + y * y + z * z);
}

/* A point uniform on the mesh: a triangle with probability area / total,
 * then uniform in it: p = (1 - s) a + s (1 - u2) b + s u2 c, s = sqrt(u1). */
static void mesh_point(const mesh *m, sl_rng_state *r, double *p)
{
  double total = 0.0;
  for (size_t k = 0; k < m->nt; k++)
    total += tri_area(m, k);
  double u = sl_rng_uniform(r) * total;
  size_t k = 0;
  for (; k + 1 < m->nt; k++) {
    double a = tri_area(m, k);
    if (u < a)
      break;
    u -= a;
  }
  const double *a = m->v[m->t[k][0]], *b = m->v[m->t[k][1]], *c = m->v[m->t[k][2]];
  double s1 = sqrt(sl_rng_uniform(r)), u2 = sl_rng_uniform(r);
  for (int i = 0; i < 3; i++)
    p[i] = (1.0 - s1) * a[i] + s1 * (1.0 - u2) * b[i] + s1 * u2 * c[i];
}

/* A point uniform on the unit sphere (a normalised gaussian vector). */
static void sphere_point(sl_rng_state *r, double *p)
{
  double n2;
  do {
    n2 = 0.0;
    for (int i = 0; i < 3; i++) {
      p[i] = sl_rng_normal(r);
      n2 += p[i] * p[i];
    }
  } while (n2 < 1e-24);
  double s = 1.0 / sqrt(n2);
  for (int i = 0; i < 3; i++)
    p[i] *= s;
}

/* A point uniform on the disk of radius rad at height z (area grows as r^2). */
static void disk_point(sl_rng_state *r, double rad, double z, double *p)
{
  double rho = rad * sqrt(sl_rng_uniform(r)), phi = TWO_PI * sl_rng_uniform(r);
  p[0] = rho * cos(phi);
  p[1] = rho * sin(phi);
  p[2] = z;
}

/* One point of shape k, in the shape's own frame. */
static void shape_point(int k, sl_rng_state *r, double *p)
{
  double u, phi;
  switch (k) {
  case SHAPE_SPHERE: sphere_point(r, p); return;
  case SHAPE_CUBE: mesh_point(&mesh_cube, r, p); return;
  case SHAPE_CYLINDER: /* side 2 pi r h = 4 pi, caps 2 pi: side with p = 2/3 */
    if (sl_rng_uniform(r) < 2.0 / 3.0) {
      phi = TWO_PI * sl_rng_uniform(r);
      p[0] = cos(phi);
      p[1] = sin(phi);
      p[2] = 2.0 * sl_rng_uniform(r) - 1.0;
    } else {
      u = sl_rng_uniform(r);
      disk_point(r, 1.0, u < 0.5 ? -1.0 : 1.0, p);
    }
    return;
  case SHAPE_CONE: { /* apex (0,0,1), base z = -1: side pi r s (s = sqrt 5), base pi r^2 */
    const double s = sqrt(5.0);
    if (sl_rng_uniform(r) < s / (s + 1.0)) {
      double t = sqrt(sl_rng_uniform(r)); /* distance from the apex / slant: density ~ t */
      phi = TWO_PI * sl_rng_uniform(r);
      p[0] = t * cos(phi);
      p[1] = t * sin(phi);
      p[2] = 1.0 - 2.0 * t;
    } else
      disk_point(r, 1.0, -1.0, p);
    return;
  }
  case SHAPE_TORUS: { /* area element ~ (R + r cos v): rejection on v */
    double v;
    do
      v = TWO_PI * sl_rng_uniform(r);
    while (sl_rng_uniform(r) * (TORUS_R + TORUS_TUBE) > TORUS_R + TORUS_TUBE * cos(v));
    phi = TWO_PI * sl_rng_uniform(r);
    double rho = TORUS_R + TORUS_TUBE * cos(v);
    p[0] = rho * cos(phi);
    p[1] = rho * sin(phi);
    p[2] = TORUS_TUBE * sin(v);
    return;
  }
  case SHAPE_PYRAMID: mesh_point(&mesh_pyramid, r, p); return;
  case SHAPE_ELLIPSOID: {
    /* The sphere mapped by diag(a, b, c) stretches the area at unit normal n
     * by g(n) = |(b c n_x, a c n_y, a b n_z)|; accept with g / max g. */
    const double gmax = ELL_A * ELL_B; /* the largest of bc, ac, ab */
    double n[3], g;
    do {
      sphere_point(r, n);
      double gx = ELL_B * ELL_C * n[0], gy = ELL_A * ELL_C * n[1], gz = ELL_A * ELL_B * n[2];
      g = sqrt(gx * gx + gy * gy + gz * gz);
    } while (sl_rng_uniform(r) * gmax > g);
    p[0] = ELL_A * n[0];
    p[1] = ELL_B * n[1];
    p[2] = ELL_C * n[2];
    return;
  }
  case SHAPE_CAPSULE: { /* side 2 pi r L, the two hemispheres 4 pi r^2 */
    const double side = 2.0 * CAPSULE_HALF, caps = 2.0 * CAPSULE_R;
    if (sl_rng_uniform(r) * (side + caps) < side) {
      phi = TWO_PI * sl_rng_uniform(r);
      p[0] = CAPSULE_R * cos(phi);
      p[1] = CAPSULE_R * sin(phi);
      p[2] = CAPSULE_HALF * (2.0 * sl_rng_uniform(r) - 1.0);
    } else {
      sphere_point(r, p);
      for (int i = 0; i < 3; i++)
        p[i] *= CAPSULE_R;
      p[2] += p[2] >= 0.0 ? CAPSULE_HALF : -CAPSULE_HALF;
    }
    return;
  }
  case SHAPE_DISK: disk_point(r, 1.0, 0.0, p); return;
  case SHAPE_HELIX: /* uniform in t is uniform in length for a circular helix */
    u = sl_rng_uniform(r);
    phi = TWO_PI * HELIX_TURNS * u;
    p[0] = cos(phi);
    p[1] = sin(phi);
    p[2] = HELIX_HALF * (2.0 * u - 1.0);
    return;
  case SHAPE_OCTAHEDRON: mesh_point(&mesh_octahedron, r, p); return;
  default: mesh_point(&mesh_tetrahedron, r, p); return;
  }
}

/* A uniformly random rotation: the matrix of a random unit quaternion. */
static void random_rotation(sl_rng_state *r, double R[3][3])
{
  double q[4], n2;
  do {
    n2 = 0.0;
    for (int i = 0; i < 4; i++) {
      q[i] = sl_rng_normal(r);
      n2 += q[i] * q[i];
    }
  } while (n2 < 1e-24);
  double s = 1.0 / sqrt(n2), w = q[0] * s, x = q[1] * s, y = q[2] * s, z = q[3] * s;
  R[0][0] = 1 - 2 * (y * y + z * z);
  R[0][1] = 2 * (x * y - w * z);
  R[0][2] = 2 * (x * z + w * y);
  R[1][0] = 2 * (x * y + w * z);
  R[1][1] = 1 - 2 * (x * x + z * z);
  R[1][2] = 2 * (y * z - w * x);
  R[2][0] = 2 * (x * z - w * y);
  R[2][1] = 2 * (y * z + w * x);
  R[2][2] = 1 - 2 * (x * x + y * y);
}

/* Cloud `out` (3P floats) of class k from stream r; the steps of pointcloud.h. */
static void shape_cloud(int k, const sl_shapes_params *p, sl_rng_state *r, float *out)
{
  const size_t P = p->n_points;
  double sc[3], R[3][3] = {{1, 0, 0}, {0, 1, 0}, {0, 0, 1}};
  for (int a = 0; a < 3; a++)
    sc[a] = p->scale_min + (p->scale_max - p->scale_min) * sl_rng_uniform(r);
  if (p->rotate == SL_SHAPES_ROTATE_ANY)
    random_rotation(r, R);
  for (size_t i = 0; i < P; i++) {
    double q[3];
    shape_point(k, r, q);
    for (int a = 0; a < 3; a++)
      q[a] *= sc[a];
    for (int a = 0; a < 3; a++)
      out[3 * i + a] = (float)(R[a][0] * q[0] + R[a][1] * q[1] + R[a][2] * q[2]);
  }
  if (p->rotate == SL_SHAPES_ROTATE_UPRIGHT) { /* drawn after the points: y stays bit-equal */
    const double t = TWO_PI * sl_rng_uniform(r), c = cos(t), s = sin(t);
    for (size_t i = 0; i < P; i++) {
      const double x = out[3 * i], z = out[3 * i + 2];
      out[3 * i] = (float)(c * x + s * z);
      out[3 * i + 2] = (float)(c * z - s * x);
    }
  }
  sl_pointcloud_normalise(out, P);

  for (size_t i = 0; i < 3 * P; i++)
    out[i] = (float)(out[i] + p->noise * sl_rng_normal(r));

  /* Drop k points (the last ones: the points are independent), copy kept ones in. */
  size_t drop = (size_t)(p->dropout * sl_rng_uniform(r) * (double)P);
  if (drop > P - 2)
    drop = P - 2;
  const size_t keep = P - drop;
  for (size_t i = keep; i < P; i++) {
    size_t j = (size_t)(sl_rng_uniform(r) * (double)keep);
    memcpy(out + 3 * i, out + 3 * j, 3 * sizeof *out);
  }
  for (size_t i = P - 1; i > 0; i--) { /* Fisher-Yates */
    size_t j = (size_t)(sl_rng_uniform(r) * (double)(i + 1));
    float t[3];
    memcpy(t, out + 3 * i, sizeof t);
    memcpy(out + 3 * i, out + 3 * j, sizeof t);
    memcpy(out + 3 * j, t, sizeof t);
  }
  sl_pointcloud_normalise(out, P);
}

sl_shapes_params sl_shapes_params_default(void)
{
  sl_shapes_params p = {.n_points = 512,
                        .noise = 0.01,
                        .dropout = 0.1,
                        .scale_min = 0.8,
                        .scale_max = 1.2,
                        .rotate = SL_SHAPES_ROTATE_ANY};
  return p;
}

size_t sl_shapes_num_classes(void) { return SL_SHAPES_CLASSES; }

const char *sl_shapes_class_name(size_t k)
{
  return k < SL_SHAPES_CLASSES ? shape_names[k] : NULL;
}

int sl_shapes_generate(sl_dataset *d, size_t n, const sl_shapes_params *params, uint64_t seed)
{
  static const char fn[] = "sl_shapes_generate";
  if (!d)
    return sl_error(SL_EINVAL, "%s: data set pointer is NULL", fn);
  memset(d, 0, sizeof *d);
  const sl_shapes_params p = params ? *params : sl_shapes_params_default();
  if (p.n_points < 2 || p.n_points > SIZE_MAX / 3 / sizeof(float))
    return sl_error(SL_EINVAL, "%s: n_points = %zu: need at least 2", fn, p.n_points);
  if (!(p.noise >= 0.0 && isfinite(p.noise)))
    return sl_error(SL_EINVAL, "%s: noise = %g: need a finite value >= 0", fn, p.noise);
  if (!(p.dropout >= 0.0 && p.dropout < 1.0))
    return sl_error(SL_EINVAL, "%s: dropout = %g: need 0 <= dropout < 1", fn, p.dropout);
  if (!(p.scale_min > 0.0 && p.scale_max >= p.scale_min && isfinite(p.scale_max)))
    return sl_error(SL_EINVAL, "%s: scale_min = %g, scale_max = %g: need 0 < min <= max, finite",
                    fn, p.scale_min, p.scale_max);
  if (p.rotate < SL_SHAPES_ROTATE_NONE || p.rotate > SL_SHAPES_ROTATE_UPRIGHT)
    return sl_error(SL_EINVAL, "%s: rotate = %d: need 0 (none), 1 (any) or 2 (upright)", fn,
                    p.rotate);

  const size_t dim = 3 * p.n_points;
  int rc = sl_dataset_alloc(d, n, dim, SL_SHAPES_CLASSES);
  if (rc != SL_OK)
    return rc;
  const ptrdiff_t n_omp = (ptrdiff_t)n;
#pragma omp parallel for schedule(static)
  for (ptrdiff_t i = 0; i < n_omp; i++) {
    sl_rng_state r;
    sl_rng_seed(&r, sl_seed_mix(seed, (uint64_t)i));
    const int k = (int)((size_t)i % SL_SHAPES_CLASSES);
    d->y[i] = k;
    shape_cloud(k, &p, &r, d->x + (size_t)i * dim);
  }
  return SL_OK;
}

/* ------------------------------------------------------------ ModelNet: save */

typedef struct {
  const sl_dataset *d;
  const uint8_t *labels;
} modelnet_out;

/* /data and /label, for slh_write_file. */
static herr_t modelnet_fill(hid_t file, const void *arg, const char **what)
{
  const modelnet_out *o = arg;
  const hsize_t dd[3] = {(hsize_t)o->d->n, (hsize_t)(o->d->dim / 3), 3};
  const hsize_t ld[2] = {(hsize_t)o->d->n, 1};
  *what = "/data";
  if (slh_dataset(file, "data", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 3, dd, o->d->x, SLH_PLAIN) < 0)
    return -1;
  *what = "/label";
  return slh_dataset(file, "label", H5T_STD_U8LE, H5T_NATIVE_UINT8, 2, ld, o->labels, SLH_PLAIN);
}

int sl_modelnet_save(const sl_dataset *d, const char *path)
{
  static const char fn[] = "sl_modelnet_save";
  if (!d || !path)
    return sl_error(SL_EINVAL, "%s: NULL %s", fn, d ? "path" : "data set");
  if (d->dim == 0 || d->dim % 3 != 0)
    return sl_error(SL_EINVAL, "%s: dim = %zu is not 3 x points", fn, d->dim);
  if (d->n && (!d->x || !d->y))
    return sl_error(SL_EINVAL, "%s: data set has NULL arrays", fn);
  uint8_t *labels = malloc(d->n ? d->n : 1);
  if (!labels)
    return sl_error(SL_ENOMEM, "%s: out of memory", fn);
  for (size_t i = 0; i < d->n; i++) {
    int32_t c = d->y[i];
    if (c < 0 || (size_t)c >= d->n_classes || c > 255) {
      free(labels);
      return sl_error(SL_EINVAL, "%s: label %ld of cloud %zu outside [0, %zu) or above 255", fn,
                      (long)c, i, d->n_classes);
    }
    labels[i] = (uint8_t)c;
    for (size_t j = 0; j < d->dim; j++)
      if (!isfinite(d->x[i * d->dim + j])) {
        free(labels);
        return sl_error(SL_ENUMERIC, "%s: coordinate %zu of point %zu of cloud %zu is not finite",
                        fn, j % 3, j / 3, i);
      }
  }
  const modelnet_out o = {d, labels};
  int rc = slh_write_file(fn, path, modelnet_fill, &o);
  free(labels);
  return rc;
}

/* ------------------------------------------------------------ ModelNet: load */

sl_modelnet_params sl_modelnet_params_default(void)
{
  sl_modelnet_params p = {
      .n_points = 1024, .sample = 0, .seed = 0, .normalise = 1, .n_classes = 40};
  return p;
}

/* The clouds loaded so far: d->n of them, room for cap. */
typedef struct {
  sl_dataset d;
  size_t cap;
} cloud_acc;

/* Room for `more` clouds after the d->n already there. */
static int acc_reserve(cloud_acc *a, size_t more, const char *who)
{
  const size_t dim = a->d.dim;
  if (more > SIZE_MAX / 2 - a->d.n)
    return sl_error(SL_ENOMEM, "%s: too many clouds", who);
  size_t need = a->d.n + more;
  if (need <= a->cap)
    return SL_OK;
  size_t cap = a->cap ? a->cap : 64;
  while (cap < need)
    cap *= 2;
  if (cap > SIZE_MAX / sizeof(float) / dim)
    return sl_error(SL_ENOMEM, "%s: %zu clouds of %zu floats overflow size_t", who, cap, dim);
  float *x = realloc(a->d.x, cap * dim * sizeof *x);
  if (x)
    a->d.x = x;
  int32_t *y = realloc(a->d.y, cap * sizeof *y);
  if (y)
    a->d.y = y;
  if (!x || !y)
    return sl_error(SL_ENOMEM, "%s: out of memory for %zu clouds", who, cap);
  a->cap = cap;
  return SL_OK;
}

/* Open /data (float, rank 3, last dim 3) and /label (integer, (N) or (N, 1),
 * the same N); check n_points against the file. dims of /data in dd. */
static int open_modelnet(const slh_file *f, const sl_modelnet_params *p, hid_t *data,
                         hid_t *label, hsize_t *dd)
{
  hsize_t ld[H5S_MAX_RANK];
  int lrank = 0;
  int rc = slh_open_dataset(f, "/data", H5T_FLOAT, 3, dd, data);
  if (rc != SL_OK)
    return rc;
  if (dd[2] != 3) {
    const hsize_t want[3] = {dd[0], dd[1], 3};
    return slh_bad_shape(f, "/data", 3, dd, want);
  }
  if ((rc = slh_open_dataset_any(f, "/label", H5T_INTEGER, &lrank, ld, label)) != SL_OK)
    return rc;
  if ((lrank != 1 && lrank != 2) || (lrank == 2 && ld[1] != 1)) {
    char got[32 + 24 * H5S_MAX_RANK];
    slh_format_shape(got, sizeof got, lrank, ld);
    return sl_error(SL_EFORMAT, "%s: '%s': /label has shape %s, expected (%llu,) or (%llu, 1)",
                    f->who, f->path, got, (unsigned long long)dd[0],
                    (unsigned long long)dd[0]);
  }
  if (ld[0] != dd[0])
    return sl_error(SL_EFORMAT, "%s: '%s': /data holds %llu clouds but /label %llu labels",
                    f->who, f->path, (unsigned long long)dd[0], (unsigned long long)ld[0]);
  if (dd[1] < p->n_points)
    return sl_error(SL_EINVAL, "%s: '%s': n_points = %zu but /data has %llu points per cloud",
                    f->who, f->path, p->n_points, (unsigned long long)dd[1]);
  if (dd[0] > SIZE_MAX / sizeof(int64_t) ||
      (dd[1] && dd[0] > SIZE_MAX / sizeof(float) / 3 / dd[1]))
    return sl_error(SL_EFORMAT, "%s: '%s': /data is too large to read", f->who, f->path);
  return SL_OK;
}

/* Check the labels and coordinates of one file read whole (N clouds of Pf points). */
static int check_modelnet(const slh_file *f, const sl_modelnet_params *p, const float *x,
                          const int64_t *y, size_t N, size_t Pf)
{
  for (size_t i = 0; i < N; i++)
    if (y[i] < 0 || (uint64_t)y[i] >= (uint64_t)p->n_classes)
      return sl_error(SL_EFORMAT, "%s: '%s': /label[%zu] = %lld outside [0, %zu)", f->who, f->path,
                      i, (long long)y[i], p->n_classes);
  for (size_t j = 0; j < N * Pf * 3; j++)
    if (!isfinite(x[j]))
      return sl_error(SL_EFORMAT, "%s: '%s': /data[%zu][%zu][%zu] is %s", f->who, f->path,
                      j / (3 * Pf), j / 3 % Pf, j % 3,
                      isnan(x[j]) ? "NaN" : "infinite (as float32)");
  return SL_OK;
}

/* Append the clouds of file f to a: the chosen points of each, normalised if
 * asked. Cloud g (the index in the concatenation) draws from stream (seed, g). */
static int append_clouds(cloud_acc *a, const sl_modelnet_params *p, const float *x,
                         const int64_t *y, size_t N, size_t Pf, const char *who)
{
  const size_t P = p->n_points, dim = 3 * P;
  size_t *idx = NULL;
  int rc = acc_reserve(a, N, who);
  if (rc != SL_OK)
    return rc;
  if (p->sample && !(idx = malloc(Pf * sizeof *idx)))
    return sl_error(SL_ENOMEM, "%s: out of memory", who);
  for (size_t i = 0; i < N; i++) {
    const size_t g = a->d.n;
    const float *src = x + i * Pf * 3;
    float *dst = a->d.x + g * dim;
    if (p->sample) {
      /* The first P steps of a Fisher-Yates shuffle of 0 .. Pf-1. */
      sl_rng_state r;
      sl_rng_seed(&r, sl_seed_mix(p->seed, (uint64_t)g));
      for (size_t j = 0; j < Pf; j++)
        idx[j] = j;
      for (size_t j = 0; j < P; j++) {
        size_t k = j + (size_t)(sl_rng_uniform(&r) * (double)(Pf - j));
        size_t t = idx[j];
        idx[j] = idx[k];
        idx[k] = t;
        memcpy(dst + 3 * j, src + 3 * idx[j], 3 * sizeof *dst);
      }
    } else
      memcpy(dst, src, dim * sizeof *dst);
    if (p->normalise)
      sl_pointcloud_normalise(dst, P);
    a->d.y[g] = (int32_t)y[i];
    a->d.n++;
  }
  free(idx);
  return SL_OK;
}

/* Read one ModelNet file and append its clouds to a. */
static int load_file(cloud_acc *a, const char *who, const char *path,
                     const sl_modelnet_params *p)
{
  slh_file f;
  hid_t data = -1, label = -1;
  hsize_t dd[3] = {0, 0, 0};
  float *x = NULL;
  int64_t *y = NULL;
  int rc;
  H5E_BEGIN_TRY
  {
    rc = slh_open_read(&f, who, path);
    if (rc == SL_OK)
      rc = open_modelnet(&f, p, &data, &label, dd);
    if (rc == SL_OK) {
      const size_t N = (size_t)dd[0], nx = N * (size_t)dd[1] * 3;
      x = malloc((nx ? nx : 1) * sizeof *x);
      y = malloc((N ? N : 1) * sizeof *y);
      if (!x || !y)
        rc = sl_error(SL_ENOMEM, "%s: '%s': out of memory reading /data", who, path);
      if (rc == SL_OK)
        rc = slh_read(&f, label, "/label", H5T_NATIVE_INT64, N, y);
      if (rc == SL_OK)
        rc = slh_read(&f, data, "/data", H5T_NATIVE_FLOAT, nx, x);
      if (rc == SL_OK)
        rc = check_modelnet(&f, p, x, y, N, (size_t)dd[1]);
    }
    if (label >= 0)
      H5Oclose(label);
    if (data >= 0)
      H5Oclose(data);
    slh_close(&f);
  }
  H5E_END_TRY;
  if (rc == SL_OK)
    rc = append_clouds(a, p, x, y, (size_t)dd[0], (size_t)dd[1], who);
  free(x);
  free(y);
  return rc;
}

/* Does a file exist at path (can it be opened for reading)? */
static int readable(const char *path)
{
  FILE *fp = fopen(path, "rb");
  if (fp)
    fclose(fp);
  return fp != NULL;
}

/* Drop blanks at both ends of s (in place); returns the new start. */
static char *trim(char *s)
{
  while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
    s++;
  size_t n = strlen(s);
  while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
    s[--n] = '\0';
  return s;
}

/* The path of a list entry: absolute as it is; relative against the list's
 * folder, or (if nothing is there) the same base name in that folder. A
 * fresh string (free it), or NULL. */
static char *resolve(const char *list, const char *entry)
{
  if (entry[0] == '/')
    return strdup(entry);
  const char *slash = strrchr(list, '/');
  size_t dlen = slash ? (size_t)(slash - list) + 1 : 0; /* with the '/' */
  size_t len = dlen + strlen(entry) + 1;
  char *full = malloc(len);
  if (!full)
    return NULL;
  snprintf(full, len, "%.*s%s", (int)dlen, list, entry);
  const char *base = strrchr(entry, '/');
  if (base && !readable(full)) {
    char *alt = malloc(len);
    if (!alt) {
      free(full);
      return NULL;
    }
    snprintf(alt, len, "%.*s%s", (int)dlen, list, base + 1);
    if (readable(alt)) {
      free(full);
      return alt;
    }
    free(alt);
  }
  return full;
}

/* Load the files listed in text file `list`, one per line. */
static int load_list(cloud_acc *a, const char *list, const sl_modelnet_params *p)
{
  static const char fn[] = "sl_modelnet_load";
  FILE *fp = fopen(list, "r");
  if (!fp)
    return sl_error(SL_EIO, "%s: cannot open list file '%s': %s", fn, list, strerror(errno));
  char *line = NULL;
  size_t cap = 0, lineno = 0, files = 0;
  int rc = SL_OK;
  while (rc == SL_OK) {
    errno = 0;
    ssize_t got = getline(&line, &cap, fp);
    if (got < 0) {
      if (ferror(fp))
        rc = sl_error(SL_EIO, "%s: cannot read list file '%s': %s", fn, list,
                      strerror(errno ? errno : EIO));
      break;
    }
    lineno++;
    char *entry = trim(line);
    if (!*entry || *entry == '#')
      continue;
    char *path = resolve(list, entry);
    size_t wlen = strlen(list) + 64;
    char *who = malloc(wlen);
    if (!path || !who)
      rc = sl_error(SL_ENOMEM, "%s: out of memory", fn);
    else {
      snprintf(who, wlen, "%s ('%s' line %zu)", fn, list, lineno);
      rc = load_file(a, who, path, p);
      files++;
    }
    free(who);
    free(path);
  }
  free(line);
  fclose(fp);
  if (rc == SL_OK && files == 0)
    rc = sl_error(SL_EFORMAT, "%s: list file '%s' lists no files", fn, list);
  return rc;
}

/* Load the comma-separated HDF5 files of `paths`. */
static int load_commas(cloud_acc *a, const char *paths, const sl_modelnet_params *p)
{
  static const char fn[] = "sl_modelnet_load";
  char *copy = strdup(paths);
  if (!copy)
    return sl_error(SL_ENOMEM, "%s: out of memory", fn);
  int rc = SL_OK;
  size_t k = 0;
  for (char *s = copy; rc == SL_OK; k++) {
    char *comma = strchr(s, ',');
    if (comma)
      *comma = '\0';
    char *name = trim(s);
    if (!*name)
      rc = sl_error(SL_EINVAL, "%s: file %zu of '%s' has an empty name", fn, k + 1, paths);
    else
      rc = load_file(a, fn, name, p);
    if (!comma)
      break;
    s = comma + 1;
  }
  free(copy);
  return rc;
}

int sl_modelnet_load(sl_dataset *d, const char *paths, const sl_modelnet_params *params)
{
  static const char fn[] = "sl_modelnet_load";
  if (!d || !paths)
    return sl_error(SL_EINVAL, "%s: NULL %s", fn, d ? "paths" : "data set");
  memset(d, 0, sizeof *d);
  const sl_modelnet_params p = params ? *params : sl_modelnet_params_default();
  if (p.n_points == 0 || p.n_points > SIZE_MAX / 3 / sizeof(float))
    return sl_error(SL_EINVAL, "%s: n_points = %zu: need at least 1", fn, p.n_points);
  if (p.n_classes == 0 || p.n_classes > (size_t)INT32_MAX)
    return sl_error(SL_EINVAL, "%s: n_classes = %zu: need 1 .. %d", fn, p.n_classes, INT32_MAX);
  if ((p.sample != 0 && p.sample != 1) || (p.normalise != 0 && p.normalise != 1))
    return sl_error(SL_EINVAL, "%s: sample = %d, normalise = %d: each must be 0 or 1", fn,
                    p.sample, p.normalise);

  cloud_acc a = {{0}, 0};
  a.d.dim = 3 * p.n_points;
  a.d.n_classes = p.n_classes;
  size_t len = strlen(paths);
  int is_list = !strchr(paths, ',') && len >= 4 && strcmp(paths + len - 4, ".txt") == 0;
  int rc = is_list ? load_list(&a, paths, &p) : load_commas(&a, paths, &p);
  if (rc == SL_OK && a.cap == 0) /* no clouds: valid pointers all the same */
    rc = acc_reserve(&a, 1, fn);
  if (rc != SL_OK) {
    sl_dataset_free(&a.d);
    return rc;
  }
  *d = a.d;
  return SL_OK;
}
