/* spikeloop/pointcloud.h -- point clouds for PointNet-style classifiers
 * (lib/data/pointcloud.c): procedural shapes and ModelNet40 in PointNet's
 * HDF5 layout.
 *
 * In memory a set of clouds is an sl_dataset, so splitting and shuffling
 * work as for any data set: n rows of dim = 3 P floats, each row the P
 * points of one cloud, point-major with x, y, z interleaved
 * (x0 y0 z0 x1 y1 z1 ...); y the class labels; n_classes set. The
 * coordinates have no unit: "normalised" below means centred at the mean of
 * the cloud's points and scaled so that the farthest point is at distance 1
 * (the unit sphere, as PointNet's pc_normalize).
 */
#ifndef SPIKELOOP_POINTCLOUD_H
#define SPIKELOOP_POINTCLOUD_H

#include <stddef.h>
#include <stdint.h>
#include "spikeloop/dataset.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Centre the cloud xyz (P points, 3 P floats, in place) at the mean of its
 * points and scale it so that max_i |p_i| = 1 (sums in double). A cloud whose
 * points all coincide is only centred (all zero); NULL or P = 0 is a no-op. */
void sl_pointcloud_normalise(float *xyz, size_t P);

/* ------------------------------------------------------------ procedural shapes */

/* Classes of sl_shapes_generate, in label order (sl_shapes_class_name):
 *  0 sphere       unit sphere surface
 *  1 cube         surface of the cube [-1, 1]^3
 *  2 cylinder     radius 1, height 2, with both caps
 *  3 cone         base radius 1, height 2, with the base disk
 *  4 torus        surface, major radius 1, tube radius 0.35
 *  5 pyramid      square base 2 x 2 and height 1, with the base
 *  6 ellipsoid    surface, semi-axes 1, 0.6, 0.35
 *  7 capsule      radius 0.5, straight part 2 long, hemispherical ends
 *  8 disk         flat filled disk of radius 1
 *  9 helix        3 turns of radius 1 over a height of 3 (a curve)
 * 10 octahedron   surface of |x| + |y| + |z| = 1
 * 11 tetrahedron  surface of the regular tetrahedron
 * Points are uniform over each surface's area (over the helix's length). */
#define SL_SHAPES_CLASSES 12

/* Poses: NONE keeps every shape in its own frame; ANY rotates each cloud by
 * a uniformly random 3-D rotation; UPRIGHT rotates it about the y axis only,
 * by a uniform angle, after its points are drawn (so y of every point is
 * that of the NONE cloud from the same stream when noise and dropout are 0):
 * ModelNet40's convention, upright objects of any heading. */
enum { SL_SHAPES_ROTATE_NONE = 0, SL_SHAPES_ROTATE_ANY = 1, SL_SHAPES_ROTATE_UPRIGHT = 2 };

typedef struct {
  size_t n_points;  /* points per cloud, >= 2; default 512 */
  double noise;     /* sd of the gaussian jitter added to each coordinate of the
                       normalised cloud (so relative to the unit sphere), >= 0;
                       default 0.01 */
  double dropout;   /* in [0, 1): each cloud drops a fraction f ~ U(0, dropout) of
                       its points (at most P - 2), replaced by copies of kept
                       points; default 0.1 */
  double scale_min; /* each axis of the shape is scaled by its own factor */
  double scale_max; /* ~ U(scale_min, scale_max), 0 < min <= max; default 0.8, 1.2 */
  int rotate;       /* the pose of each cloud, an SL_SHAPES_ROTATE_*; default ANY */
} sl_shapes_params;

/* The defaults above, by value; edit the fields and pass a pointer. */
sl_shapes_params sl_shapes_params_default(void);

/* SL_SHAPES_CLASSES. */
size_t sl_shapes_num_classes(void);

/* The name of class k ("sphere", "cube", ... as listed above), NULL for
 * k >= SL_SHAPES_CLASSES. */
const char *sl_shapes_class_name(size_t k);

/* n clouds of p->n_points points into *d (overwritten, not freed; zeroed on
 * error): dim = 3 P, n_classes = SL_SHAPES_CLASSES, cloud i of class
 * i % SL_SHAPES_CLASSES (balanced). Each cloud: P points sampled on its
 * shape, the per-axis scale, the rotation, normalised, the jitter, the
 * dropout (then the points shuffled) and normalised again, so every cloud is
 * centred and has max |p| = 1 (to float rounding).
 * Cloud i draws from its own stream of the counter-seeded generator
 * (seed, i): the set is a pure function of (n, *p, seed), bit for bit
 * whatever the number of threads, and cloud i is the same in any n > i.
 * p NULL means the defaults.
 * Errors: SL_EINVAL (NULL d; n_points < 2 or too large; noise negative or
 * not finite; dropout outside [0, 1); scale_min <= 0, scale_max < scale_min
 * or not finite; rotate not one of the poses), SL_ENOMEM. */
int sl_shapes_generate(sl_dataset *d, size_t n, const sl_shapes_params *p, uint64_t seed);

/* ------------------------------------------------------------ ModelNet40 */

/* ModelNet40 as PointNet distributes it (modelnet40_ply_hdf5_2048): HDF5
 * files each with
 *   /data   float32 (N, P_file, 3)  x, y, z of P_file = 2048 points per cloud
 *   /label  uint8   (N, 1)          class 0 .. 39
 *   /normal float32 (N, P_file, 3)  optional, ignored
 * The loader also takes /data of float64 (converted to float32; a value
 * beyond float range becomes infinite and is rejected), /label of rank 1
 * (N) and of any integer type, signed or not. Extra datasets are ignored. */
typedef struct {
  size_t n_points;  /* points kept per cloud, 1 .. P_file; default 1024 */
  int sample;       /* 0: the first n_points of each cloud, in file order;
                       1: n_points distinct points drawn at random (in random
                       order): cloud i of the concatenation draws from stream
                       (seed, i) of the counter-seeded generator, so the
                       choice is a pure function of seed, the files and their
                       order. Default 0. */
  uint64_t seed;    /* for sample = 1; default 0 */
  int normalise;    /* 1: normalise each cloud after the choice of points
                       (sl_pointcloud_normalise); 0: file coordinates as they
                       are. Default 1. */
  size_t n_classes; /* labels must lie in [0, n_classes); becomes d->n_classes;
                       1 .. INT32_MAX, default 40 */
} sl_modelnet_params;

/* The defaults above, by value. */
sl_modelnet_params sl_modelnet_params_default(void);

/* Load and concatenate ModelNet-style files into *d (overwritten, not freed;
 * zeroed on error): n = the clouds of all files in order, dim =
 * 3 p->n_points, n_classes = p->n_classes, labels as int32.
 * paths is either
 * - a comma-separated list of HDF5 files ("a.h5,b.h5"; blanks around the
 *   names are dropped, an empty name is an error), or
 * - one text file whose name ends in ".txt" (PointNet's train_files.txt,
 *   test_files.txt): one HDF5 path per line; blank lines and lines starting
 *   with '#' are skipped, blanks around a path dropped. A relative path is
 *   resolved against the list file's folder; if nothing is there, the file
 *   of the same base name in that folder is used, so PointNet's own lists,
 *   which hold paths relative to the PointNet repository
 *   ("data/modelnet40_ply_hdf5_2048/ply_data_train0.h5"), work from the
 *   folder they ship in.
 * Every coordinate in a file is checked (not only the points kept).
 * p NULL means the defaults.
 * Errors (the message names the file, and the dataset or the list line):
 * SL_EINVAL: NULL d or paths, an empty name in paths, n_classes 0 or beyond
 *   int32, sample or normalise not 0 or 1, n_points 0 or larger than a
 *   file's P_file;
 * SL_EIO: a file missing or unreadable, not HDF5, damaged or truncated (the
 *   list file too);
 * SL_EFORMAT: a missing /data or /label; /data not floating-point, not of
 *   rank 3 or its last dimension not 3; /label not integer, not of shape (N)
 *   or (N, 1); data and label counts differ; a label outside
 *   [0, n_classes); a NaN or infinite coordinate; a list file listing no
 *   files;
 * SL_ENOMEM.
 * No HDF5 identifier is left open on any path. */
int sl_modelnet_load(sl_dataset *d, const char *paths, const sl_modelnet_params *p);

/* Write d in the layout above: /data float32 (n, P, 3) with P = dim / 3,
 * /label uint8 (n, 1) (nothing else, as PointNet's files). The file is
 * written under a temporary name and renamed, so a failed save leaves no
 * file. Data the loader would reject is not saved.
 * Errors: SL_EINVAL (NULL argument or arrays, dim 0 or not a multiple of 3,
 * a label outside [0, n_classes) or above 255), SL_ENUMERIC (a NaN or
 * infinite coordinate), SL_EIO (cannot write; the message names the file
 * and the step), SL_ENOMEM. */
int sl_modelnet_save(const sl_dataset *d, const char *path);

#ifdef __cplusplus
}
#endif
#endif
