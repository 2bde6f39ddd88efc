/* h5.h -- spikeloop's one HDF5 layer (internal, not installed; prefix slh_).
 *
 * Every file format of the library (run logs, recordings, data sets,
 * characterisations, twins, calibration words, chip files) is read and
 * written through these calls, so that they all check, name and fail alike:
 *
 * - Writers return herr_t (< 0 on failure) and raise nothing: the caller
 *   knows which step of its format failed and names it.
 * - Readers take an slh_file (the open file, its name and the caller's name)
 *   and raise SL_EFORMAT / SL_EIO / SL_ENUMERIC / SL_ENOMEM with a message
 *   "<who>: '<file>': <object>...". Object paths are absolute or relative to
 *   the handle given; messages print them as given.
 * - Strings are written as scalar variable-length UTF-8 attributes (h5py
 *   reads them as str), except in the formats that have always had
 *   fixed-length ASCII ones (slh_attr_ascii); readers accept variable- and
 *   fixed-length strings in ASCII or UTF-8 (h5py's and H5LT's defaults).
 * - Files written whole (characterisations, twins, calibration words, chip
 *   truth, data sets) go through slh_write_file: a temporary name, renamed
 *   over the target once closed, so a failed write leaves nothing behind.
 * - Nothing here silences HDF5's error stack (except slh_write_file):
 *   callers run inside H5E_BEGIN_TRY / H5E_END_TRY, as they did before this
 *   layer.
 */
#ifndef SPIKELOOP_IO_H5_H
#define SPIKELOOP_IO_H5_H

#include <hdf5.h>
#include <stddef.h>

/* An open file as the readers see it. */
typedef struct {
  hid_t id;         /* the open file */
  const char *path; /* its name, for messages */
  const char *who;  /* the caller, first word of messages */
} slh_file;

/* ------------------------------------------------------------ files */

/* Open `path` read-only into f (f->who = who). Raises SL_EIO naming the file
 * and the system's reason when it is missing or unreadable, or that it is
 * not HDF5 (or damaged, truncated). */
int slh_open_read(slh_file *f, const char *who, const char *path);

/* Check the root attributes format == `format` and format_version ==
 * `version` (0: any integer), raising SL_EFORMAT with what was found; `what`
 * names the kind of file ("spikeloop recording") when /@format is missing. */
int slh_check_format(const slh_file *f, const char *format, int version, const char *what);

/* Close f->id (if open) and set it to -1. */
void slh_close(slh_file *f);

/* Create (truncate) `path` for writing, in the default (earliest) file
 * format, whose superblock has no "open for writing" flag: a file whose
 * writer was killed after a flush opens without h5clear. The open file, or
 * -1 with SL_EIO raised naming who, the file and the system's reason. */
hid_t slh_create(const char *who, const char *path);

/* Close a file created but not filled and remove it: a failed create
 * leaves no half-written file behind. */
void slh_abandon(hid_t file, const char *path);

/* Flush `file` to disk; SL_OK or raises SL_EIO "<who>: '<path>': cannot flush". */
int slh_flush(hid_t file, const char *who, const char *path);

/* Flush and close `file` (closed even when the flush fails); SL_OK or raises
 * SL_EIO naming the step that failed. */
int slh_flush_close(hid_t file, const char *who, const char *path);

/* What slh_write_file calls to fill the new file: < 0 on failure, with
 * *what set to the step that failed ("/neurons", "root attributes"). */
typedef herr_t (*slh_fill_fn)(hid_t file, const void *arg, const char **what);

/* Write `path` whole or not at all: create "<path>.tmp<pid>", fill(file,
 * arg, &what) it, close (flush) it and rename it over path; on any failure
 * remove it. Runs inside H5E_BEGIN_TRY. SL_OK, or SL_EIO raised as
 * "<who>: cannot write '<path>' (<what>[: <system's reason>])", what being
 * "create", the step fill named, "close" or "rename"; SL_ENOMEM. */
int slh_write_file(const char *who, const char *path, slh_fill_fn fill, const void *arg);

/* ------------------------------------------------------------ writing */

/* Create group `name` under loc, with missing parents, tracking the creation
 * order of its links and attributes (readers list 0, 1, 2, ... not 0, 1,
 * 10). The open group, or -1. */
hid_t slh_group(hid_t loc, const char *name);

/* Create the empty groups names[0..n) under loc, in that order (parents
 * first), with HDF5's default properties: no creation order, as H5LT and
 * h5py make them (the characterisation, twin, calibration and chip files
 * have always had these). 0 or -1. */
herr_t slh_plain_groups(hid_t loc, const char *const *names, size_t n);

/* A link-creation property list that creates missing parents, or -1. */
hid_t slh_lcpl_parents(void);

/* Write attribute obj@name (obj relative to loc; "." for loc itself),
 * replacing one of that name. n == 0: scalar; otherwise 1-D of length n. */
herr_t slh_attr(hid_t loc, const char *obj, const char *name, hid_t file_type, hid_t mem_type,
                hsize_t n, const void *buf);
herr_t slh_attr_str(hid_t loc, const char *obj, const char *name, const char *value);
herr_t slh_attr_int(hid_t loc, const char *obj, const char *name, int value);
herr_t slh_attr_i64(hid_t loc, const char *obj, const char *name, long long value);
herr_t slh_attr_double(hid_t loc, const char *obj, const char *name, double value);
herr_t slh_attr_doubles(hid_t loc, const char *obj, const char *name, const double *v, size_t n);
herr_t slh_attr_ints(hid_t loc, const char *obj, const char *name, const int *v, size_t n);

/* A scalar fixed-length string of strlen(value) + 1 bytes, NUL-terminated
 * ASCII: the string type H5LTset_attribute_string writes (h5py reads it as
 * bytes), kept by the formats that have always had it (characterisation,
 * twin, calibration words, chip truth). New formats use slh_attr_str. */
herr_t slh_attr_ascii(hid_t loc, const char *obj, const char *name, const char *value);

/* Overwrite the existing attribute obj@name in place (type and shape stay).
 * obj must be open: HDF5 1.10 cannot write an attribute opened by name once
 * its object is closed again. */
herr_t slh_attr_update(hid_t obj, const char *name, hid_t mem_type, const void *buf);

/* How slh_dataset stores data. */
enum {
  SLH_PLAIN = 0,   /* contiguous */
  SLH_DEFLATE = 1, /* chunked + deflate, when the filter exists and the data is big */
  SLH_SHUFFLE = 2  /* chunked + shuffle + deflate (integers, spikes) */
};

/* Does this HDF5 have the deflate and shuffle filters? */
int slh_can_deflate(void);

/* Create dataset loc/name (missing parents created) of shape dims[0..rank)
 * and write buf (mem_type; may be NULL when the shape is empty). */
herr_t slh_dataset(hid_t loc, const char *name, hid_t file_type, hid_t mem_type, int rank,
                   const hsize_t *dims, const void *buf, int storage);

/* ------------------------------------------------------------ reading */

/* "(3, 4)" or "(5,)" */
void slh_format_shape(char *buf, size_t len, int rank, const hsize_t *dims);

/* Open group `path` (relative to f's root). Raises SL_EFORMAT when it is
 * missing or not a group. */
int slh_open_group(const slh_file *f, const char *path, hid_t *out);

/* Does object `path` exist? 1 or 0 (a missing parent, a dataset as parent
 * or a read error count as missing). */
int slh_exists(const slh_file *f, const char *path);

/* Open dataset `path`: its type class must be cls (H5T_NO_CLASS: integer or
 * float) and its rank `rank`; its dims are returned. SL_OK with *out open,
 * or raises naming path. */
int slh_open_dataset(const slh_file *f, const char *path, H5T_class_t cls, int rank,
                     hsize_t *dims, hid_t *out);

/* Open dataset `path` of class cls (as slh_open_dataset) whatever its rank,
 * for formats that accept more than one (ModelNet's labels, (N) or (N, 1)):
 * *rank and dims[0 .. *rank) are returned, dims holding H5S_MAX_RANK.
 * Checking them is the caller's. */
int slh_open_dataset_any(const slh_file *f, const char *path, H5T_class_t cls, int *rank,
                         hsize_t *dims, hid_t *out);

/* Raise SL_EFORMAT: path has shape dims, expected want. */
int slh_bad_shape(const slh_file *f, const char *path, int rank, const hsize_t *dims,
                  const hsize_t *want);

/* SL_OK if the file holds the values of dset (named path; n of them, 0:
 * nothing to check); else raises SL_EFORMAT "<path> declares n values but
 * the file holds none (or only some) of them". HDF5 answers a read of a
 * dataset that was never written (or, chunked, only partly) with fill
 * values, so a file of a few hundred bytes could declare gigabytes that a
 * reader would allocate and HDF5 fill (found by test/fuzz). Every writer of
 * the library and h5py write their datasets whole. */
int slh_check_stored(const slh_file *f, hid_t dset, const char *path, size_t n);

/* Read all n elements of the open dataset dset (named path) as mem_type
 * (slh_check_stored first). */
int slh_read(const slh_file *f, hid_t dset, const char *path, hid_t mem_type, size_t n,
             void *buf);

/* Read dataset `path` of class cls and rank `rank`, whatever its dims
 * (returned), as mem_type into a fresh buffer *out (free it) of at least one
 * element. Values convert as HDF5 converts them (any integer width; with
 * cls H5T_NO_CLASS, which takes integers or floats, also between the two);
 * checking dims and values is the caller's. A dataset whose values the file
 * does not hold is refused before allocating (slh_check_stored). */
int slh_read_alloc(const slh_file *f, const char *path, H5T_class_t cls, hid_t mem_type, int rank,
                   hsize_t *dims, void **out);

/* Read dataset `path`, which must be of class cls and exactly of shape
 * dims[0..rank): integers no wider than int32 (cls H5T_INTEGER), floats
 * finite as float32 (cls H5T_FLOAT with a float mem_type). */
int slh_read_exact(const slh_file *f, const char *path, H5T_class_t cls, hid_t mem_type,
                   int rank, const hsize_t *dims, void *buf);

/* Does obj have attribute name? 1, 0, or raises SL_EIO (returned < 0). */
int slh_has_attr(const slh_file *f, hid_t obj, const char *objpath, const char *name);

/* Read attribute obj@name (objpath names obj in messages) as n numbers of
 * mem_type. An integer mem_type needs an integer attribute; a double one
 * accepts either and every value must be finite (SL_ENUMERIC). */
int slh_get_attr(const slh_file *f, hid_t obj, const char *objpath, const char *name,
                 hid_t mem_type, size_t n, void *buf);

/* Read the scalar string attribute obj@name into a fresh string *out. */
int slh_get_attr_str(const slh_file *f, hid_t obj, const char *objpath, const char *name,
                     char **out);

/* Optional attributes: as slh_get_attr and slh_get_attr_str, but a missing
 * attribute is SL_OK, leaving buf as it was, or giving a copy of def. */
int slh_get_attr_opt(const slh_file *f, hid_t obj, const char *objpath, const char *name,
                     hid_t mem_type, size_t n, void *buf);
int slh_get_attr_str_opt(const slh_file *f, hid_t obj, const char *objpath, const char *name,
                         const char *def, char **out);

/* Read the open scalar string attribute attr into a fresh string *out.
 * Returns SL_OK, SL_EFORMAT (not one string), SL_ENOMEM or SL_EIO and raises
 * nothing: for callers that walk attributes and name them themselves. */
int slh_attr_string(hid_t attr, char **out);

#endif
