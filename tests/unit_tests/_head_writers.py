"""Real writer processes for the torn-read tests: each saves its own head to one path in a loop.

Two heads that differ in every way a torn read could mix: card (name, header size) and
weights (all 1.0 or all 2.0). A load is *mixed* when its card names one head and its weights
belong to the other (or to neither).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

WRITER = r"""
import sys, torch
from gst_integrations.core.heads.persistence import write_head_file
path, which, ready = sys.argv[1], sys.argv[2], sys.argv[3]
value = 1.0 if which == "A" else 2.0
pad = "x" * (4000 if which == "A" else 10)  # different header sizes
card = {"format": "gst-head", "format_version": 1, "name": which, "instruction": "i " + pad,
        "label_names": ["a", "b"], "in_dim": 16, "out_dim": 8,
        "options": {"family": "linear", "hidden_dim": 32}, "encoder": None, "metrics": {}}
tensors = {"0.weight": torch.full((8, 16), value)}
write_head_file(path, tensors, card)
open(ready, "w").close()
while True:
    write_head_file(path, tensors, card)
"""

EXPECTED = {"A": 1.0, "B": 2.0}


def start_writers(path: Path) -> list[subprocess.Popen]:
    """Two processes saving heads A and B to ``path`` as fast as they can (wait until both run)."""
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    procs = []
    for which in ("A", "B"):
        ready = path.parent / f"ready-{which}"
        procs.append(
            subprocess.Popen([sys.executable, "-c", WRITER, str(path), which, str(ready)], env=env)
        )
    deadline = time.monotonic() + 60
    while not all((path.parent / f"ready-{w}").exists() for w in "AB"):
        if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
            stop_writers(procs)
            raise RuntimeError("the writer processes did not start")
        time.sleep(0.05)
    return procs


def stop_writers(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        p.kill()
    for p in procs:
        p.wait()


def load_many(path: Path, n: int) -> tuple[int, int, list[str], set[str]]:
    """(loads, mixed, errors, names seen) over ``n`` loads of ``path``."""
    from gst_integrations.core.heads.head import load_head

    mixed, errors, seen = 0, [], set()
    for _ in range(n):
        try:
            head = load_head(path, device="cpu")
        except Exception as exc:  # any failure counts: a reader must never see a torn file
            errors.append(f"{type(exc).__name__}: {exc}")
            continue
        name = head.name
        seen.add(name)
        w = head.weight
        if name not in EXPECTED or not (w == EXPECTED[name]).all():
            mixed += 1
    return n, mixed, errors, seen
