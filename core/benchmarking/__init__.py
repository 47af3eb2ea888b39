"""Tools for benchmarking label-error detection on data with known, synthetic noise.

:mod:`core.benchmarking.noise` mirrors ``cleanlab.benchmarking.noise_generation``: it
builds noise matrices with a chosen trace and flips labels to match them.
"""
