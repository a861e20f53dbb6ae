"""Loading the zoo's smollm2-135m from its safetensors cache, against building it from the GGUF file.

Goal (issue "Generative language models"): a second load takes well under 2 s and gives identical logits.
Run: `.venv/bin/python bench/zoo_load.py` (builds into a temporary cache first, so the user's cache is untouched).
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import torch


def main() -> None:
    from lumos.zoo import llm

    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as root:
        cache = Path(root) / "zoo" / llm.NAME
        t0 = time.perf_counter()
        llm.build(cache, progress=False)
        build = time.perf_counter() - t0
        loads, logits = [], []
        for _ in range(3):
            t0 = time.perf_counter()
            model, tokenizer = llm.load_smollm2(cache, progress=False)
            loads.append(time.perf_counter() - t0)
            with torch.no_grad():
                logits.append(model(**tokenizer("The capital of France is", return_tensors="pt")).logits)
    same = all(torch.equal(logits[0], other) for other in logits[1:])
    print(f"smollm2-135m on {os.cpu_count()} cores: build from GGUF {build:.1f} s; cached loads "
          f"{', '.join(f'{t:.2f}' for t in loads)} s (best {min(loads):.2f} s, goal < 2 s: "
          f"{'met' if min(loads) < 2 else 'missed'}); logits identical across loads: {same}")


if __name__ == "__main__":
    main()
