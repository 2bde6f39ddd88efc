/* spikeloop/runlog.h -- the HDF5 run log of an experiment.
 *
 * One file per run:
 *   /config    attributes: every config key -> its value (strings)
 *   /meta      attributes: version, git_revision, seed, threads, ranks (MPI), start_time,
 *              host, command
 *   /metrics   1-D datasets indexed by epoch: epoch, loss, train_accuracy,
 *              val_accuracy, test_accuracy, hidden_rate, seconds; attribute
 *              epochs_complete = number of complete rows
 *   /params/<layer>/<name>       final weights (float32)
 *   /mismatch/<layer>/<param>    per-neuron arrays (float32; refrac int32)
 *   /metrics_nb/...              NeuroBench metrics (spikeloop/nbmetrics.h)
 *   /summary   attributes: test_accuracy, epochs, seconds (+ any put_summary)
 *   /checkpoint          attribute epoch = E: the valid checkpoint is
 *                        /checkpoint/epoch_E (what a resumed run needs;
 *                        the session's contents: spikeloop/session.h)
 *   /checkpoint/.staging a checkpoint being written: never read
 *   /checkpoint/phases/<name>  the results of a finished phase of a
 *                        multi-phase experiment (arrays and counts as in
 *                        a checkpoint)
 *
 * The file is flushed after every epoch, so a run killed mid-way leaves a
 * readable file with every completed epoch. Arrays put with
 * sl_runlog_put_* are staged under /.staging and moved to their final
 * paths only by sl_runlog_finish, which writes /summary last: a file with a
 * /summary group is complete, and no half-written dataset is ever visible
 * under its final name.
 */
#ifndef SPIKELOOP_RUNLOG_H
#define SPIKELOOP_RUNLOG_H

#include <stddef.h>
#include <stdint.h>

#include "spikeloop/config.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sl_runlog sl_runlog;

typedef struct {
  const char *command; /* e.g. "train" or "experiment yinyang_loop" */
  uint64_t seed;
  int threads;
} sl_run_meta;

typedef struct {
  long epoch;
  double loss, train_accuracy, val_accuracy, test_accuracy, hidden_rate, seconds;
} sl_epoch_metrics;

/* Create (truncate) the log at path; write /config from cfg and /meta
 * (library version, git revision, start time UTC ISO-8601, host name
 * added here), and an empty /metrics; flush. meta->command may be NULL ("").
 * Errors: SL_EINVAL (NULL or empty argument), SL_EIO naming the path, errors
 * of sl_config_get_index. On error *out is NULL, and a file that was
 * created (truncated) is removed. */
int sl_runlog_create(sl_runlog **out, const char *path, const sl_config *cfg,
                     const sl_run_meta *meta);

/* Append one row to every /metrics dataset, update epochs_complete, flush.
 * Metric values are stored as given (NaN included). Errors: SL_EINVAL (NULL,
 * log already finished), SL_EIO. */
int sl_runlog_append_epoch(sl_runlog *log, const sl_epoch_metrics *m);

/* Stage a float array at `path` (e.g. "params/hidden0/w_in"; groups are
 * created): cols == 0 means 1-D of length rows. Paths are relative (one
 * leading '/' is ignored), without empty, "." or ".." components, and may not
 * start with config, meta, metrics, summary or .staging. Putting a staged
 * path again replaces it. Values are stored as given (the reader refuses
 * NaN/Inf). Errors: SL_EINVAL (NULL, bad path, path names a staged group,
 * log finished), SL_EIO (e.g. a parent is a dataset). */
int sl_runlog_put_float(sl_runlog *log, const char *path, const float *data,
                        size_t rows, size_t cols);
int sl_runlog_put_int(sl_runlog *log, const char *path, const int32_t *data, size_t n);
/* A 1-D float64 array (counts that float32 would round), as put_float. */
int sl_runlog_put_double(sl_runlog *log, const char *path, const double *data, size_t n);
/* Stage a /summary attribute (scalar or 1-D array); a name put again is
 * replaced. Errors: SL_ENUMERIC (NaN/Inf), SL_EINVAL (NULL, empty name, a
 * name finish writes itself: test_accuracy, epochs, seconds; n == 0; log
 * finished), SL_EIO. */
int sl_runlog_put_summary(sl_runlog *log, const char *name, double value);
int sl_runlog_put_summary_array(sl_runlog *log, const char *name, const double *values, size_t n);
/* A string /summary attribute (variable-length UTF-8); errors as above. */
int sl_runlog_put_summary_string(sl_runlog *log, const char *name, const char *value);

/* Move staged arrays into place, write /summary (test_accuracy, epochs,
 * seconds and staged attributes), flush. Afterwards every write is refused
 * (SL_EINVAL). Errors: SL_ENUMERIC (test_accuracy or seconds not finite),
 * SL_EINVAL (NULL, epochs < 0, already finished) -- these leave the log
 * unchanged, so finish can be called again -- SL_EIO. */
int sl_runlog_finish(sl_runlog *log, double test_accuracy, long epochs, double seconds);

/* Close (NULL is a no-op). Returns the first error of the final flush. */
int sl_runlog_close(sl_runlog *log);

/* ------------------------------------------------------------ checkpoints
 *
 * A checkpoint is a set of named arrays and counts, written at the end of an
 * epoch so that a killed run can continue (sl_run_resume). It is written
 * under /checkpoint/.staging, flushed, renamed to /checkpoint/epoch_E,
 * /checkpoint@epoch set to E and flushed again; only then is the previous
 * checkpoint deleted (and flushed). A kill at any instant between flushes
 * leaves the file as of the last flush: readable, and /checkpoint@epoch
 * naming a complete checkpoint (or none yet). Names are one path component
 * without '/', not starting with '.'. */

/* Start staging the checkpoint of `epoch` (>= 0), discarding one staged
 * before and not committed. Errors: SL_EINVAL (NULL, epoch < 0, finished
 * log), SL_EIO. */
int sl_runlog_ckpt_begin(sl_runlog *log, long epoch);
/* Stage a 1-D array or an int64 count. A name put again is replaced.
 * Errors: SL_EINVAL (NULL, bad name, no checkpoint begun), SL_EIO. */
int sl_runlog_ckpt_put_float(sl_runlog *log, const char *name, const float *data, size_t n);
int sl_runlog_ckpt_put_double(sl_runlog *log, const char *name, const double *data, size_t n);
int sl_runlog_ckpt_put_bytes(sl_runlog *log, const char *name, const uint8_t *data, size_t n);
int sl_runlog_ckpt_put_count(sl_runlog *log, const char *name, int64_t value);
/* Make the staged checkpoint the valid one (the sequence above) and delete
 * the previous one. Errors: SL_EINVAL (NULL, nothing staged), SL_EIO (the
 * previous checkpoint stays valid unless /checkpoint@epoch was flushed). */
int sl_runlog_ckpt_commit(sl_runlog *log);

/* Reopen the log of a killed run for writing, to continue after `epochs`
 * complete epochs (its checkpoint's): /metrics rows past epochs are dropped
 * (the next append writes row `epochs`), staged items and a half-written
 * checkpoint are deleted, and the valid checkpoint stays until the next
 * commit replaces it. Errors: SL_EINVAL (NULL, epochs < 0), SL_EIO (missing,
 * damaged or locked file), SL_EFORMAT (the run finished: /summary exists;
 * fewer than `epochs` complete /metrics rows). */
int sl_runlog_reopen(sl_runlog **out, const char *path, long epochs);

/* ------------------------------------------------------------ reading */
typedef struct sl_runlog_reader sl_runlog_reader;

/* Open for reading. Errors: SL_EIO (missing, not HDF5, truncated, or locked
 * because a running process is still writing it). */
int sl_runlog_open(sl_runlog_reader **out, const char *path);
void sl_runlog_reader_close(sl_runlog_reader *r);

/* Apply every /config attribute with sl_config_set on top of cfg (start from
 * defaults), in table order. cfg is changed only on success. Errors:
 * SL_EFORMAT (no /config, a value that is not a string), errors of
 * sl_config_set (message names the attribute). */
int sl_runlog_read_config(sl_runlog_reader *r, sl_config *cfg);

/* Read a float/int array at `path` whose shape must be exactly rows x cols
 * (cols == 0: 1-D). Errors: SL_EFORMAT (missing: message names the path;
 * wrong shape: names path, expected and found shape; not a dataset; float
 * data read as int or vice versa; integers wider than int32), SL_ENUMERIC
 * (NaN/Inf). On error the contents of data are unspecified. */
int sl_runlog_get_float(sl_runlog_reader *r, const char *path, float *data,
                        size_t rows, size_t cols);
int sl_runlog_get_int(sl_runlog_reader *r, const char *path, int32_t *data, size_t n);

/* A /summary attribute holding one number. Errors: SL_EFORMAT if absent (or
 * no /summary: the run did not finish) or an array of several, SL_ENUMERIC. */
int sl_runlog_get_summary(sl_runlog_reader *r, const char *name, double *value);
/* 1 if the object `path` (a dataset or group, e.g. "params/readout/w_in")
 * exists in the log, else 0 (also for NULL arguments). */
int sl_runlog_exists(sl_runlog_reader *r, const char *path);

/* A string /meta attribute (e.g. "command") into buf[len]. Errors:
 * SL_EFORMAT (absent, not a string), SL_ERANGE (longer than len - 1). */
int sl_runlog_get_meta(sl_runlog_reader *r, const char *name, char *buf, size_t len);
/* Number of complete epochs in /metrics (its attribute epochs_complete).
 * Errors: SL_EFORMAT if absent. */
int sl_runlog_get_epochs(sl_runlog_reader *r, long *epochs);

/* The epoch of the valid checkpoint (/checkpoint@epoch). Errors:
 * SL_EFORMAT (no checkpoint: the message says so; the attribute names a
 * group that is missing: truncated log). */
int sl_runlog_ckpt_epoch(sl_runlog_reader *r, long *epoch);
/* Length of checkpoint array `name` in *n (0 and SL_OK if absent, *found 0). */
int sl_runlog_ckpt_size(sl_runlog_reader *r, const char *name, size_t *n, int *found);
/* Read checkpoint array `name`, which must hold exactly n values (floats:
 * finite), or the count `name`. Errors: SL_EFORMAT (missing, wrong length or
 * type: the message names the path), SL_ENUMERIC, SL_EINVAL (NULL). */
int sl_runlog_ckpt_get_float(sl_runlog_reader *r, const char *name, float *data, size_t n);
int sl_runlog_ckpt_get_double(sl_runlog_reader *r, const char *name, double *data, size_t n);
int sl_runlog_ckpt_get_bytes(sl_runlog_reader *r, const char *name, uint8_t *data, size_t n);
int sl_runlog_ckpt_get_count(sl_runlog_reader *r, const char *name, int64_t *value);

/* ------------------------------------------------------------ phases
 *
 * A multi-phase run (several trainings, characterisations, ...) stores what
 * each finished phase produced, so that a resumed run reads it back instead
 * of running the phase again. A phase is staged like a checkpoint
 * (sl_runlog_phase_begin, then sl_runlog_ckpt_put_*), and
 * sl_runlog_phase_commit flushes it, moves it to /checkpoint/phases/<name>
 * and drops the epoch checkpoint (that of the phase's own training) in one
 * further flush: after a kill, a valid epoch checkpoint belongs to the
 * first phase not stored. */

/* Start staging a phase's results (discarding anything staged before).
 * Errors as sl_runlog_ckpt_begin. */
int sl_runlog_phase_begin(sl_runlog *log);
/* Store the staged results as phase `name` (one path component). Errors:
 * SL_EINVAL (NULL, bad name, nothing staged, a phase of that name already
 * stored), SL_EIO. */
int sl_runlog_phase_commit(sl_runlog *log, const char *name);
/* Make the sl_runlog_ckpt_get_* and _size reads of r take phase `name`'s
 * results; *found is 0 (and reads take the epoch checkpoint) if no such
 * phase is stored. name NULL: back to the epoch checkpoint. Errors:
 * SL_EINVAL (NULL, bad name), SL_ENOMEM. */
int sl_runlog_phase_select(sl_runlog_reader *r, const char *name, int *found);

#ifdef __cplusplus
}
#endif
#endif
