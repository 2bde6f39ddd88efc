/* spikeloop/replay.h -- the "replay" backend: a recording taken with
 * sl_hw_record (format in spikeloop/recording.h) served back as if the chip
 * were attached, so that loop code can be developed and tested offline.
 *
 * Options ("key=value,..." in sl_backend_setup.options):
 *   file=PATH     the recording (required; PATH may not contain a comma)
 *
 * open reads /setup and /caps and checks the requested network against the
 * recorded one: n_in, n_layers, size[], recurrent[] and dt (relative
 * tolerance 1e-9) must agree, else SL_EINVAL naming the field. Options
 * missing file=: SL_EINVAL. A missing, unreadable, truncated or non-HDF5
 * file: SL_EIO. A recording whose structure is broken (a missing group,
 * dataset or attribute, a wrong shape or type, lengths that disagree, a
 * weight index out of range): SL_EFORMAT naming the object.
 *
 * capabilities: those recorded. write_weights keeps the current weights of
 * every (layer, which); shapes must be the network's (SL_ESHAPE). run finds
 * a recorded run whose input raster (T, B, x) and weights in effect (every
 * layer's w_in and w_rec, or their absence) are equal, byte for byte, to the
 * current request, and serves its observations unchanged. No such run:
 * SL_ENOTFOUND, the message saying what did not match. x must hold 0/1
 * (SL_EINVAL). A served run with non-finite times or membrane values, or
 * spikes out of range: SL_EFORMAT naming the dataset. An identical request
 * recorded several times (a noisy chip asked twice) is served from its
 * recorded runs in turn, in recording order, starting over after the last.
 *
 * read_config keys: "file", "backend" (the recorded backend's name),
 * "created", "runs" (number of recorded runs). Others: SL_ENOTFOUND.
 */
#ifndef SPIKELOOP_REPLAY_H
#define SPIKELOOP_REPLAY_H

#include "spikeloop/backend.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The replay backend's table (registered as "replay"). NULL, with the
 * error set (SL_EUNSUPPORTED), in a build configured with --disable-replay. */
const sl_backend *sl_replay_backend(void);

#ifdef __cplusplus
}
#endif
#endif
