"""Methods whose API may still change, as in ``cleanlab.experimental``.

:mod:`core.experimental.label_issues_batched` finds label issues in data read in chunks
(memory-mapped ``.npy`` files, Zarr or HDF5 arrays), for data that does not fit in memory.
"""
