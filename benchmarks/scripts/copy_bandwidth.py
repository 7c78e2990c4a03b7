#!/usr/bin/env python3
"""The memory bandwidth of a large copy on this machine: a 1 GiB fp32 tensor copied into another, best of 5, counted
as bytes read plus bytes written per second. Prints: COPY_BANDWIDTH gb_s=X (GB = 1e9 bytes)."""
import time

import torch

a = torch.ones(256 * 1024 * 1024, dtype=torch.float32)
b = torch.empty_like(a)
best = float("inf")
for _ in range(5):
    t = time.perf_counter()
    b.copy_(a)
    best = min(best, time.perf_counter() - t)
print(f"COPY_BANDWIDTH gb_s={2 * a.numel() * 4 / best / 1e9:.2f} threads={torch.get_num_threads()}")
