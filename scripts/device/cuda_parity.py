"""Checks drift-native's ops (built by cuda-check.sh as the drift_ext module) against ATen on every device present.

Values and gradients of the fused preference loss and the tiled sequence log-prob op are compared with the plain
PyTorch composition they replace; the RMSprop step with torch.optim.RMSprop and, across devices, with itself (bitwise);
and a whole DPO step made of drift's ops (log-probs of policy and reference, loss, clipping, RMSprop over fp32 masters)
with the same step written in plain PyTorch. On CUDA the log-prob op is timed and its peak memory measured at
Qwen2.5-0.5B's lm-head size (V=151,936, D=896) against the composition that materialises the logits, and the RMSprop
step at Qwen2.5-0.5B's 494M parameters against torch.optim.RMSprop. Writes a JSON report.
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
    for dtype, tol, gtol in [(torch.float64, 1e-10, 1e-10), (torch.float32, 2e-4, 2e-5), (torch.bfloat16, 2e-2, 2e-3),
                             (torch.float16, 2e-2, 2e-3)]:
        h0 = torch.randn(n, t, d, generator=g, dtype=torch.float64).to(dtype)
        w0 = (torch.randn(v, d, generator=g, dtype=torch.float64) * 0.3).to(dtype)
        # 16x127: tiles whose rows are not a multiple of 4 columns, the CUDA kernels' scalar path.
        for rb, vb in [(4096, 4096), (16, 128), (16, 127)]:
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
            # bf16 / fp16 gradients come back rounded (and the tile's gradient is rounded before its GEMMs on CUDA):
            # 2^-8 of their magnitude for bf16.
            scale = lambda r: 1.0 if dtype not in (torch.bfloat16, torch.float16) else r.abs().max().item() * 4
            check(tag + " d hidden", h.grad, rh.grad, gtol * scale(rh.grad))
            check(tag + " d weight", w.grad, rw.grad, gtol * scale(rw.grad))
            # The weight's gradient a range of tiles at a time (what the trainer's LmHeadGradient makes at the
            # update), from a forward on the detached weight: the rows of w.grad, bitwise.
            scored = mask.reshape(-1).nonzero().squeeze(1).to(device)
            h2 = h0.to(device).detach().clone().requires_grad_()
            logps2, _, lse = drift_ext.sequence_logps_and_lse(h2, w.detach(), targets.to(device), mask.to(device),
                                                              scored, rb, vb)
            grad_logps = wts.to(logps2.dtype)
            (logps2 * grad_logps).sum().backward()
            check(tag + " d hidden, weight detached", h2.grad, h.grad, 0)
            tile = min(vb, v)
            for start, rows in [(0, tile), (tile, v - tile)]:
                part = drift_ext.sequence_logps_weight_grad(h2.detach(), w.detach(), targets.to(device),
                                                            mask.to(device), scored, lse, grad_logps, rb, vb, start,
                                                            rows)
                check(tag + f" weight grad rows {start}+{rows}", part, w.grad[start:start + rows], 0)


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
    if dtype == torch.bfloat16 and not score_only:
        # Where the fused op's time goes, kernel by kernel (one more forward + backward, profiled).
        from torch.profiler import ProfilerActivity, profile
        h.grad = w.grad = None
        with profile(activities=[ProfilerActivity.CUDA]) as prof:
            fused().sum().backward()
            torch.cuda.synchronize()
        table = prof.key_averages().table(sort_by="cuda_time_total", row_limit=14, max_name_column_width=70)
        out["profile"] = table
        print(table, flush=True)
    out["time_ratio_fused_over_unfused"] = out["fused_ms_median"] / out["unfused_ms_median"]
    out["memory_ratio_fused_over_unfused"] = out["fused_peak_extra_mib"] / out["unfused_peak_extra_mib"]
    report["bench"].append(out)
    print(json.dumps(out), flush=True)


def rmsprop_reference(grad, m, v, lr, scale, alpha, eps, wd):
    """torch.optim.RMSprop (no momentum, not centered) on the fp32 master, the gradient widened and scaled."""
    m = m.clone()
    m.grad = grad.float() * scale
    opt = torch.optim.RMSprop([m], lr=lr, alpha=alpha, eps=eps, weight_decay=wd, foreach=False)
    opt.state[m]["step"] = torch.tensor(0.0)
    opt.state[m]["square_avg"] = v.clone()
    opt.step()
    return m.detach(), opt.state[m]["square_avg"]


def rmsprop_checks(devices):
    g = torch.Generator().manual_seed(4)
    n = 100_003  # not a multiple of any block size
    for dtype in (torch.float32, torch.bfloat16):
        for lr, scale, wd in [(1e-3, 1.0, 0.0), (3e-4, 0.37, 0.01)]:
            m0 = torch.randn(n, generator=g)
            v0 = torch.rand(n, generator=g) * 1e-4
            grad0 = (torch.randn(n, generator=g) * 1e-2).to(dtype)
            results = {}
            for dev in devices:
                m = m0.to(dev).clone()
                w = m if dtype == torch.float32 else m.to(dtype)
                v = v0.to(dev).clone()
                for _ in range(3):  # three steps on one gradient: the state feeds back
                    drift_ext.rmsprop_step(w, grad0.to(dev), m, v, lr, scale, 0.99, 1e-8, wd)
                results[dev] = (w.cpu(), m.cpu(), v.cpu())
                rm, rv = m0.clone(), v0.clone()
                for _ in range(3):
                    rm, rv = rmsprop_reference(grad0, rm, rv, lr, scale, 0.99, 1e-8, wd)
                tag = f"rmsprop_step {str(dtype)[6:]} lr {lr} scale {scale} wd {wd} {dev}"
                # torch.optim rounds addcmul / addcdiv in another order: a few ulps of the master.
                check(tag + " master", m.cpu(), rm, 4e-7 * max(1.0, rm.abs().max().item()))
                check(tag + " square_avg", v.cpu(), rv, 1e-6 * rv.abs().max().item())
                if dtype != torch.float32:
                    check(tag + " weight = bf16(master)", w.cpu().float(), m.cpu().to(dtype).float(), 0)
            if "cuda" in results:
                for i, name in enumerate(["weight", "master", "square_avg"]):
                    a, b = results["cpu"][i], results["cuda"][i]
                    same = torch.equal(a.view(torch.int32) if a.dtype == torch.float32 else a.view(torch.int16),
                                       b.view(torch.int32) if b.dtype == torch.float32 else b.view(torch.int16))
                    tag = f"rmsprop_step {str(dtype)[6:]} lr {lr} scale {scale} wd {wd} cuda == cpu bitwise {name}"
                    check(tag, torch.tensor(0.0 if same else 1.0), torch.tensor(0.0), 0)


class TinyPolicy:
    """A tied-embedding model small enough to check a whole step: h = x + tanh(x W1^T), x = E[ids], logits = h E^T."""

    def __init__(self, device, dtype, seed):
        g = torch.Generator().manual_seed(seed)
        self.masters = [torch.randn(512, 64, generator=g) * 0.5, torch.randn(64, 64, generator=g) * 0.2]
        self.masters = [m.to(device) for m in self.masters]
        self.weights = [m if dtype == torch.float32 else m.to(dtype) for m in self.masters]
        self.frozen = [w.detach().clone() for w in self.weights]
        self.square_avg = [torch.zeros_like(m) for m in self.masters]

    @staticmethod
    def hidden(weights, ids):
        emb, w1 = weights
        x = emb[ids]
        return x + torch.tanh(x @ w1.T)


def dpo_batch(device):
    g = torch.Generator().manual_seed(5)
    n, t, prompt = 4, 20, 6
    ids = torch.randint(0, 512, (2 * n, t), generator=g)  # chosen rows, then rejected rows
    ids[n:, :prompt] = ids[:n, :prompt]                    # a pair shares its prompt
    mask = torch.zeros(2 * n, t, dtype=torch.bool)
    mask[:, prompt:] = True
    mask[1, 15:] = False                                   # padding after a short completion
    mask[n + 2, 12:] = False
    return ids.to(device), mask.to(device)


def dpo_step(policy, ids, mask, fused, beta=0.1, max_norm=1.0, lr=1e-3, alpha=0.99, eps=1e-8):
    """One DPO step; returns (loss, fp32 gradients, masters after the update)."""
    n = ids.size(0) // 2
    targets, scored = ids[:, 1:], mask[:, 1:]

    def logps(weights):
        h = TinyPolicy.hidden(weights, ids)[:, :-1]
        if fused:
            return drift_ext.sequence_logps(h, weights[0], targets, scored, 16, 128)[0]
        # fp32 math on the model's values, as the op computes (its logits are fp32 whatever the weights).
        logits = h.float() @ weights[0].float().T
        lp = torch.log_softmax(logits, -1).gather(-1, targets.unsqueeze(-1)).squeeze(-1)
        return (lp * scored).sum(-1)

    for w in policy.weights:
        w.requires_grad_(True)
        w.grad = None
    with torch.no_grad():
        ref = logps(policy.frozen)
    pol = logps(policy.weights)
    if fused:
        loss = drift_ext.preference_loss(pol[:n], pol[n:], ref[:n], ref[n:], beta, 0, 0.0)[0].mean()
    else:
        loss = -F.logsigmoid(beta * ((pol[:n] - ref[:n]) - (pol[n:] - ref[n:]))).mean()
    loss.backward()
    grads = [w.grad.detach().float() for w in policy.weights]
    norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads]))
    scale = min(1.0, max_norm / (norm.item() + 1e-6))
    for w in policy.weights:
        w.requires_grad_(False)
    if fused:
        for w, m, v in zip(policy.weights, policy.masters, policy.square_avg):
            drift_ext.rmsprop_step(w, w.grad, m, v, lr, scale, alpha, eps, 0.0)
    else:
        for i, (w, m) in enumerate(zip(policy.weights, policy.masters)):
            new_m, new_v = rmsprop_reference(w.grad, m, policy.square_avg[i], lr, scale, alpha, eps, 0.0)
            m.copy_(new_m)
            policy.square_avg[i].copy_(new_v)
            if w.data_ptr() != m.data_ptr():
                w.copy_(m)
    return loss.detach(), grads, [m.clone() for m in policy.masters]


def dpo_step_checks(device):
    """drift's whole step against the plain PyTorch step, from one start and one batch, fp32 and bf16 compute.

    RMSprop's first update is about lr * sign(g) / sqrt(1 - alpha) whatever |g|, so masters after a step are compared
    only with a step that saw the same gradient; the gradients themselves are compared before the update."""
    ids, mask = dpo_batch(device)
    # The loss is fp32 math on the same values either way; bf16 gradients are rounded to bf16 (2^-8).
    for dtype, tol, gtol in [(torch.float32, 1e-5, 1e-5), (torch.bfloat16, 1e-5, 3e-2)]:
        ours, plain = TinyPolicy(device, dtype, 6), TinyPolicy(device, dtype, 6)
        # Step 1 moves the policy off the reference, so step 2's loss and gradients are not the trivial ones at z = 0.
        dpo_step(ours, ids, mask, fused=True)
        for w, p in zip(plain.weights + plain.masters + plain.square_avg, ours.weights + ours.masters + ours.square_avg):
            w.copy_(p)
        loss, grads, _ = dpo_step(ours, ids, mask, fused=True)
        rloss, rgrads, _ = dpo_step(plain, ids, mask, fused=False)
        tag = f"dpo step {str(dtype)[6:]} {device}"
        check(tag + " loss", loss, rloss, tol)
        check(tag + " loss moved off log 2 by step 1", torch.tensor(float(abs(loss.item() - 0.6931471805599453) > 1e-4)),
              torch.tensor(1.0), 0)
        for name, gr, rg in zip(["d embedding (tied lm-head)", "d w1"], grads, rgrads):
            check(f"{tag} {name}", gr, rg, gtol * rg.abs().max().item())


def bench_rmsprop():
    """One RMSprop step over Qwen2.5-0.5B's 494M parameters in bf16 over fp32 masters: drift's kernel against
    torch.optim.RMSprop (foreach) on the masters plus the copy back to bf16. Medians of 5 after 2."""
    dev, n = "cuda", 494_032_768
    m = torch.randn(n, device=dev) * 0.02
    w = m.to(torch.bfloat16)
    grad = (torch.randn(n, device=dev) * 1e-3).to(torch.bfloat16)
    v = torch.zeros(n, device=dev)
    out = {"params": n}

    def ours():
        drift_ext.rmsprop_step(w, grad, m, v, 1e-6, 0.5, 0.99, 1e-8, 0.0)

    p = torch.nn.Parameter(m.clone())
    opt = torch.optim.RMSprop([p], lr=1e-6, alpha=0.99, eps=1e-8, foreach=True)

    def torch_step():
        p.grad = grad.float().mul_(0.5)
        opt.step()
        w.copy_(p.detach())
        p.grad = None

    for name, fn in [("drift", ours), ("torch_foreach", torch_step)]:
        times = []
        for i in range(7):
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            base = torch.cuda.memory_allocated()
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            end.record()
            torch.cuda.synchronize()
            if i >= 2:
                times.append(start.elapsed_time(end))
        out[name + "_ms_median"] = statistics.median(times)
        out[name + "_peak_extra_mib"] = (torch.cuda.max_memory_allocated() - base) / 2**20
    out["time_ratio_drift_over_torch"] = out["drift_ms_median"] / out["torch_foreach_ms_median"]
    report["bench"].append({"rmsprop": out})
    print(json.dumps({"rmsprop": out}), flush=True)
    del m, w, grad, v, p, opt
    torch.cuda.empty_cache()


devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
report["devices"] = devices
if torch.cuda.is_available():
    report["gpu"] = torch.cuda.get_device_name(0)
for dev in devices:
    preference_loss_checks(dev)
    sequence_logps_checks(dev)
    dpo_step_checks(dev)
rmsprop_checks(devices)
if torch.cuda.is_available():
    for dtype in (torch.bfloat16, torch.float32):
        for score_only in (False, True):
            bench_sequence_logps(dtype, score_only)
    bench_rmsprop()
report["failures"] = failures
with open(sys.argv[1], "w") as f:
    json.dump(report, f, indent=2)
print(f"{len(report['checks']) - len(failures)}/{len(report['checks'])} checks passed on {devices}; report {sys.argv[1]}")
sys.exit(1 if failures else 0)
