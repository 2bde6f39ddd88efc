/* spikeloop/nir.h -- networks as NIR graphs (lib/io/nir.c): the
 * Neuromorphic Intermediate Representation's HDF5 form, read and written.
 *
 * The file (as the reference `nir` package writes it):
 *   /version                 string
 *   /node                    the graph: type = "NIRGraph", nodes/<name>/...,
 *                            edges (E, 2) strings "from", "to"
 *   /node/nodes/<name>/type  string; the node's parameters are datasets
 *                            beside it (any float or integer type, 0-d
 *                            scalars or arrays); groups (metadata,
 *                            input_type, output_type) are ignored
 * Node types read: Input (shape), Output (shape), Affine (weight, bias),
 * Linear (weight), Scale (scale), Flatten (start_dim, end_dim), Threshold
 * (threshold), LIF (tau, r, v_leak, v_threshold[, v_reset]), CubaLIF
 * (tau_mem, tau_syn, r, v_leak, v_threshold[, v_reset][, w_in]), IF (r,
 * v_threshold[, v_reset]), LI (tau, r, v_leak), CubaLI (tau_mem, tau_syn,
 * r, v_leak[, w_in]) and nested NIRGraph (an edge to a subgraph enters
 * its Input node, one from it leaves its Output node; "sub.node" names a
 * node inside). Weights are (out, in): y = W x. Times are in seconds.
 *
 * What becomes a spikeloop network: Input -> synapses -> spiking layer ->
 * ... -> synapses -> integrator -> Output, where "synapses" is a chain of
 * Linear / Affine (zero bias) / Scale / Flatten nodes (composed into one
 * matrix), a spiking layer a CubaLIF, LIF or IF node, optionally with a
 * cycle of synapses back to itself (its recurrent weights), and the
 * integrator a CubaLI or LI node. A graph of any other shape is refused
 * with the node that does not fit.
 *
 * Parameters (dt = net.dt; k = 1, or 1 - exp(-dt/tau_mem) if
 * neuron.scale_input): spikeloop's discrete neuron is the exact-decay
 * discretisation of NIR's CubaLIF with the synaptic input scaled to
 *   gain = (w_in dt / tau_syn) (r dt / tau_mem) / k,
 * the product of NIR's two Euler input factors. Export writes
 * r = k tau_mem / dt and w_in = gain tau_syn / dt, so export -> import
 * gives back the same gain. LIF and LI (no synapse) get tau_syn = dt/1000
 * (the current is the input of the step), IF tau_mem = 1e30 (no leak). A
 * negative r*w_in flips the sign of the layer's incoming weights. Missing
 * v_reset is 0, missing w_in 1 (the reference reader's defaults).
 * Export also writes a group /spikeloop (ignored by other readers): its
 * attributes are the run's configuration (every key, as the run log's
 * /config), refrac/<node> the per-neuron refractory steps.
 */
#ifndef SPIKELOOP_NIR_H
#define SPIKELOOP_NIR_H

#include "spikeloop/config.h"
#include "spikeloop/net.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Write net as a NIR graph to path (whole or not at all), with cfg as the
 * /spikeloop configuration. Errors: SL_EINVAL (NULL), SL_EIO, SL_ENOMEM. */
int sl_nir_write(const char *path, sl_net *net, const sl_config *cfg);

/* If the file has a /spikeloop group (written by sl_nir_write), apply its
 * configuration attributes onto cfg (sl_config_set, in file order) and set
 * *found = 1; else leave cfg and set *found = 0. Errors: SL_EIO,
 * SL_EFORMAT (not a NIR file; an attribute that is not a string), errors
 * of sl_config_set (the message names the attribute). */
int sl_nir_read_config(const char *path, sl_config *cfg, int *found);

/* Read the NIR graph at path into a new network *out, discretised with
 * cfg's net.dt, neuron.scale_input, neuron.reset, ...; cfg's net.hidden
 * and net.recurrent are set to the graph's layers (and, if set_nominal,
 * neuron.* / readout.* time constants and voltages to the first hidden
 * layer's and the readout's means). Errors (messages name the file, the
 * node and the field): SL_EIO (missing, not HDF5, unreadable),
 * SL_EFORMAT (no /version or /node, a node without type, a missing field,
 * a field that is not numeric, an edge naming a node that does not exist,
 * shapes that do not agree, a graph that is not a chain spikeloop runs),
 * SL_EUNSUPPORTED (a node type not read, e.g. Conv2d), SL_ENUMERIC
 * (non-finite values), SL_EINVAL (parameters no neuron can have, e.g. a
 * time constant <= 0), SL_ENOMEM. */
int sl_nir_read(const char *path, sl_config *cfg, int set_nominal, sl_net **out);

#ifdef __cplusplus
}
#endif
#endif
