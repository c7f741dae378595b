"""Benchmark of gradstep against micrograd, PyTorch and the pure-float floor: `python -m bench`."""
