/* spikeloop/spikeloop.h -- the whole public API of spikeloop.
 *
 * spikeloop trains spiking neural networks in the loop with imperfect
 * neuromorphic hardware: a LIF simulator with per-neuron mismatch,
 * surrogate-gradient backpropagation through time, data sets, encoders,
 * configuration and HDF5 run logs, hardware backends behind one interface
 * (ideal simulator, BrainScaleS-2-style emulator, memristor crossbar,
 * replay of recordings, plugins) and training in the loop. Every exported name starts with sl_.
 */
#ifndef SPIKELOOP_SPIKELOOP_H
#define SPIKELOOP_SPIKELOOP_H

#include "spikeloop/error.h"
#include "spikeloop/version.h"
#include "spikeloop/neurons.h"
#include "spikeloop/surrogate.h"
#include "spikeloop/lif.h"
#include "spikeloop/events.h"
#include "spikeloop/net.h"
#include "spikeloop/loss.h"
#include "spikeloop/optim.h"
#include "spikeloop/dataset.h"
#include "spikeloop/yinyang.h"
#include "spikeloop/encode.h"
#include "spikeloop/idx.h"
#include "spikeloop/pointcloud.h"
#include "spikeloop/shd.h"
#include "spikeloop/config.h"
#include "spikeloop/runlog.h"
#include "spikeloop/nir.h"
#include "spikeloop/nbmetrics.h"
#include "spikeloop/fromconfig.h"
#include "spikeloop/train.h"
#include "spikeloop/session.h"
#include "spikeloop/memest.h"
#include "spikeloop/backend.h"
#include "spikeloop/registry.h"
#include "spikeloop/loop.h"
#include "spikeloop/recording.h"
#include "spikeloop/bss2.h"
#include "spikeloop/replay.h"
#include "spikeloop/memristor.h"
#include "spikeloop/charac.h"
#include "spikeloop/fit.h"
#include "spikeloop/xbar.h"
#include "spikeloop/calibrate.h"
#include "spikeloop/cim.h"
#include "spikeloop/cam.h"
#include "spikeloop/ann.h"
#include "spikeloop/ternary.h"
#include "spikeloop/semantic.h"
#include "spikeloop/dynexit.h"
#include "spikeloop/resnet.h"
#include "spikeloop/pointnet.h"
#include "spikeloop/search.h"
#include "spikeloop/dist.h"

#endif
