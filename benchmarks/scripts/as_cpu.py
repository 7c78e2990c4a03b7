"""Runs a Python benchmark (argv[1], its arguments after it) with ATen's oneDNN off, as pip's torch runs on a CPU
without AVX-512: there ATen's bf16 device check fails and bf16 matmuls go to ATen's own GEMM, not to oneDNN. With
AS_CPU=avx2, bench-env.sh runs the Python sides through this (and caps ATen, MKL and oneDNN at AVX2 by their own
switches); on a real AVX2 CPU none of it is needed."""
import runpy
import sys

import torch

torch.backends.mkldnn.enabled = False
script = sys.argv[1]
sys.argv = sys.argv[1:]
runpy.run_path(script, run_name="__main__")
