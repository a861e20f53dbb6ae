"""Peak memory of a perturbation method on a model with a very wide output: KernelSHAP with 500 model
evaluations of one 12-feature input, on a linear model of 500 to 50,000 outputs (a vocabulary-sized head),
lumos against Captum's KernelShap on the same model, batch size and target.

lumos applies the readout (the target's logit) where the outputs are produced, so it keeps one float per
evaluated row; a method that keeps whole output rows grows with rows x outputs.

Run: .venv/bin/python bench/readout_memory.py   (prints a Markdown section for RESULTS.md)

Each measurement runs in a fresh process, once, without a warm-up (a warm-up leaves freed pages with the
allocator, which then hides the run's own growth); its peak is the growth of the resident set over the run
(the kernel's high-water mark, reset just before the run through /proc/self/clear_refs). What matters is the
growth from 500 to 50,000 outputs: each library's own working set is in both rows.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

N_FEATURES, N_EVALS, BATCH = 12, 500, 64


def _rss_kb(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field):
                return int(line.split()[1])
    raise RuntimeError(field)


def run_one(library: str, n_classes: int) -> dict:
    import numpy as np
    import torch

    torch.manual_seed(0)
    layer = torch.nn.Linear(N_FEATURES, n_classes)
    x = np.linspace(0.5, 1.7, N_FEATURES).astype(np.float32)
    if library == "lumos":
        import lumos
        from lumos.models import TabularTorchAdapter

        adapter = TabularTorchAdapter(layer, class_names=[f"c{i}" for i in range(n_classes)],
                                      background=np.zeros((1, N_FEATURES)))
        method = lumos.KernelSHAP(adapter, n_evals=N_EVALS, batch_size=BATCH)
        run = lambda: method.attribute(x, target=0).values  # noqa: E731
    else:
        from captum.attr import KernelShap

        method = KernelShap(lambda t: layer(t))
        xt = torch.from_numpy(x)[None]
        run = lambda: method.attribute(xt, baselines=0.0, target=0, n_samples=N_EVALS,  # noqa: E731
                                       perturbations_per_eval=BATCH).detach()
    with torch.inference_mode():
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # reset the high-water mark
        before = _rss_kb("VmRSS:")
        t0 = time.perf_counter()
        run()
        seconds = time.perf_counter() - t0
        peak = _rss_kb("VmHWM:")
    return {"library": library, "n_classes": n_classes, "peak_growth_mb": (peak - before) / 1024,
            "seconds": seconds}


def main() -> None:
    if len(sys.argv) == 3:
        print(json.dumps(run_one(sys.argv[1], int(sys.argv[2]))))
        return
    rows = []
    for n_classes in (500, 50_000):
        for library in ("lumos", "captum"):
            out = subprocess.run([sys.executable, __file__, library, str(n_classes)], capture_output=True,
                                 text=True, check=True)
            rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    by = {(r["library"], r["n_classes"]): r for r in rows}
    print(f"## Readout memory (KernelSHAP, {N_EVALS} evaluations, {N_FEATURES} features, batch {BATCH})\n")
    print("| outputs | lumos peak growth MB | Captum peak growth MB | ratio lumos / Captum | lumos s | Captum s |")
    print("| --- | --- | --- | --- | --- | --- |")
    for n_classes in (500, 50_000):
        a, b = by[("lumos", n_classes)], by[("captum", n_classes)]
        ratio = a["peak_growth_mb"] / b["peak_growth_mb"] if b["peak_growth_mb"] > 0 else float("nan")
        print(f"| {n_classes:,} | {a['peak_growth_mb']:.1f} | {b['peak_growth_mb']:.1f} | {ratio:.2f} | "
              f"{a['seconds']:.3f} | {b['seconds']:.3f} |")


if __name__ == "__main__":
    main()
