"""Checks drift-native's ops (built by cuda-check.sh as the drift_ext module) against ATen on every device present.

Values and gradients of the fused preference loss and the tiled sequence log-prob op are compared with the plain
PyTorch composition they replace; on CUDA the op is also timed and its peak memory measured at Qwen2.5-0.5B's
lm-head size (V=151,936, D=896), against the composition that materialises the logits. Writes a JSON report.
"""
import json
import statistics
import sys

import torch
import torch.nn.functional as F

import drift_ext

report = {"torch": torch.__version__, "cuda": torch.version.cuda, "checks": [], "bench": []}
failures = []


def check(name, got, want, tol):
    err = (got.double() - want.double()).abs().max().item() if got.numel() else 0.0
    ok = err <= tol
    report["checks"].append({"name": name, "max_abs_err": err, "tol": tol, "ok": ok})
    print(f"{'ok  ' if ok else 'FAIL'} {name}: max |err| {err:.3g} (tol {tol:g})", flush=True)
    if not ok:
        failures.append(name)


def reference_loss(pc, pr, rc, rr, beta, kind, eps):
    z = (pc - rc) - (pr - rr)
    bz = beta * z
    if kind == 0:
        loss = -(1 - eps) * F.logsigmoid(bz) - eps * F.logsigmoid(-bz)
    elif kind == 1:
        loss = (z - 1 / (2 * beta)) ** 2
    elif kind == 2:
        loss = torch.relu(1 - bz)
    else:
        loss = ((1 - eps) * -F.logsigmoid(bz) + eps * F.logsigmoid(-bz)) / (1 - 2 * eps)
    return loss, beta * (pc - rc), beta * (pr - rr)


def preference_loss_checks(device):
    g = torch.Generator().manual_seed(1)
    for dtype, tol in [(torch.float64, 1e-12), (torch.float32, 2e-5), (torch.bfloat16, 2e-5)]:
        for kind, name in enumerate(["sigmoid", "ipo", "hinge", "robust"]):
            eps = 0.1 if kind in (0, 3) else 0.0
            base = [(torch.randn(64, generator=g, dtype=torch.float64) * 20).to(dtype) for _ in range(4)]
            ours = [t.to(device).detach().clone().requires_grad_() for t in base]
            # The op accumulates in fp32 (fp64 for fp64), so the reference sees the inputs at that precision.
            acc = torch.float64 if dtype == torch.float64 else torch.float32
            refs = [t.to(device).to(acc).detach().clone().requires_grad_() for t in base]
            loss, chosen, rejected = drift_ext.preference_loss(*ours, 0.1, kind, eps)
            rloss, rchosen, rrejected = reference_loss(*refs, 0.1, kind, eps)
            w = torch.linspace(0.5, 1.5, 64, dtype=acc, device=device)
            (loss * w).sum().backward()
            (rloss * w).sum().backward()
            tag = f"preference_loss {name} {str(dtype)[6:]} {device}"
            check(tag + " loss", loss, rloss, tol * max(1.0, rloss.abs().max().item()))
            check(tag + " rewards", torch.cat([chosen, rejected]), torch.cat([rchosen, rrejected]),
                  tol * 10)
            check(tag + " grads", torch.stack([o.grad.to(acc) for o in ours]),
                  torch.stack([r.grad.to(dtype).to(acc) for r in refs]), tol * 10 if dtype != torch.bfloat16 else 1e-2)


def reference_logps(h, w, targets, mask):
    logits = (h @ w.T).float() if h.dtype != torch.float64 else h @ w.T
    lp = torch.log_softmax(logits, -1).gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    return (lp * mask).sum(-1)


def sequence_logps_checks(device):
    g = torch.Generator().manual_seed(2)
    n, t, v, d = 3, 37, 1000, 64
    targets = torch.randint(0, v, (n, t), generator=g)
    mask = torch.rand(n, t, generator=g) > 0.3
    mask[1] = False  # a row with nothing scored: logps 0, count 0
    for dtype, tol, gtol in [(torch.float64, 1e-10, 1e-10), (torch.float32, 2e-4, 2e-5), (torch.bfloat16, 2e-2, 2e-3)]:
        h0 = torch.randn(n, t, d, generator=g, dtype=torch.float64).to(dtype)
        w0 = (torch.randn(v, d, generator=g, dtype=torch.float64) * 0.3).to(dtype)
        for rb, vb in [(4096, 4096), (16, 128)]:
            h, w = (x.to(device).detach().clone().requires_grad_() for x in (h0, w0))
            logps, counts = drift_ext.sequence_logps(h, w, targets.to(device), mask.to(device), rb, vb)
            # bf16: the op promotes tiles to fp32 (CUDA: bf16 GEMM writing fp32), so the reference is fp32 math
            # on the bf16 values.
            acc = torch.float64 if dtype == torch.float64 else torch.float32
            rh, rw = (x.to(device).to(acc).detach().clone().requires_grad_() for x in (h0, w0))
            want = reference_logps(rh, rw, targets.to(device), mask.to(device))
            wts = torch.tensor([1.0, -2.0, 0.5], dtype=acc, device=device)
            (logps * wts).sum().backward()
            (want * wts).sum().backward()
            tag = f"sequence_logps {str(dtype)[6:]} blocks {rb}x{vb} {device}"
            check(tag + " logps", logps, want, tol)
            check(tag + " counts", counts, mask.sum(-1).to(device), 0)
            # bf16 gradients come back rounded to bf16: 2^-8 of their magnitude.
            scale = lambda r: 1.0 if dtype != torch.bfloat16 else r.abs().max().item() * 4
            check(tag + " d hidden", h.grad, rh.grad, gtol * scale(rh.grad))
            check(tag + " d weight", w.grad, rw.grad, gtol * scale(rw.grad))


def bench_sequence_logps(dtype, score_only):
    """Median fused vs unfused time and peak extra memory at N=8, T=512, V=151,936, D=896, all positions scored."""
    dev = "cuda"
    n, t, v, d = 8, 512, 151936, 896
    g = torch.Generator(device=dev).manual_seed(3)
    h = torch.randn(n, t, d, device=dev, generator=g).to(dtype)
    w = (torch.randn(v, d, device=dev, generator=g) * 0.05).to(dtype)
    targets = torch.randint(0, v, (n, t), device=dev, generator=g)
    mask = torch.ones(n, t, dtype=torch.bool, device=dev)

    def fused():
        return drift_ext.sequence_logps(h, w, targets, mask, 4096, 4096)[0]

    def unfused():
        return reference_logps(h, w, targets, mask)

    out = {"dtype": str(dtype)[6:], "mode": "score" if score_only else "train", "shape": [n, t, v, d]}
    for name, fn in [("fused", fused), ("unfused", unfused)]:
        times = []
        for i in range(7):
            h.grad = w.grad = None
            h.requires_grad_(not score_only)
            w.requires_grad_(not score_only)
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            base = torch.cuda.memory_allocated()
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            if score_only:
                with torch.no_grad():
                    fn()
            else:
                fn().sum().backward()
            end.record()
            torch.cuda.synchronize()
            peak = torch.cuda.max_memory_allocated() - base
            if i >= 2:
                times.append(start.elapsed_time(end))
        out[name + "_ms_median"] = statistics.median(times)
        out[name + "_peak_extra_mib"] = peak / 2**20
    out["time_ratio_fused_over_unfused"] = out["fused_ms_median"] / out["unfused_ms_median"]
    out["memory_ratio_fused_over_unfused"] = out["fused_peak_extra_mib"] / out["unfused_peak_extra_mib"]
    report["bench"].append(out)
    print(json.dumps(out), flush=True)


devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
report["devices"] = devices
if torch.cuda.is_available():
    report["gpu"] = torch.cuda.get_device_name(0)
for dev in devices:
    preference_loss_checks(dev)
    sequence_logps_checks(dev)
if torch.cuda.is_available():
    for dtype in (torch.bfloat16, torch.float32):
        for score_only in (False, True):
            bench_sequence_logps(dtype, score_only)
report["failures"] = failures
with open(sys.argv[1], "w") as f:
    json.dump(report, f, indent=2)
print(f"{len(report['checks']) - len(failures)}/{len(report['checks'])} checks passed on {devices}; report {sys.argv[1]}")
sys.exit(1 if failures else 0)
