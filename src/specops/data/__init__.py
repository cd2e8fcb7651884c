"""Datasets: the HDF5 file format, generation from solvers, readers for other formats, PyTorch datasets."""
