"""spikeloop -- Python side of the spikeloop library.

spikeloop.plot draws the figures of HDF5 run logs with h5py, NumPy and
matplotlib only (python3 -m spikeloop.plot LOG.h5); it does not need the C
extension. Importing this package imports nothing else.
"""
