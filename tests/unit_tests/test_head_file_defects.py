"""Head files under stress: torn reads, hostile cards, non-finite weights, odd names."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest
import torch
from _head_writers import load_many, start_writers, stop_writers
from _views_helpers import make_head

from gst_integrations.core.heads.head import load_head


def test_no_torn_reads_under_two_writing_processes(tmp_path: Path) -> None:
    path = tmp_path / "v.safetensors"
    procs = start_writers(path)
    try:
        loads, mixed, errors, seen = load_many(path, 400)
    finally:
        stop_writers(procs)
    assert errors == [] and mixed == 0, (mixed, errors[:3])
    assert seen == {"A", "B"}  # both writers were really overwriting the file


def _write_raw(path: Path, card: dict | str, tensors: dict[str, torch.Tensor]) -> Path:
    """A head file written around every check: any card, any weights."""
    from safetensors.torch import save_file

    meta = {"format": "gst-head", "gst_card": card if isinstance(card, str) else json.dumps(card)}
    save_file(tensors, str(path), metadata=meta)
    return path


def _card(**over) -> dict:
    card = make_head(d=16, z=8).card
    card = json.loads(json.dumps(card))
    options = over.pop("options", None)
    card.update(over)
    if options:
        card["options"].update(options)
    return card


GOOD = {"0.weight": torch.ones(8, 16)}

BAD_FILES = {
    "hidden_dim_1e12": (_card(options={"family": "mlp", "hidden_dim": 1e12}), GOOD),
    "hidden_dim_int_1e12": (_card(options={"family": "mlp", "hidden_dim": 10**12}), GOOD),
    "hidden_dim_str": (_card(options={"family": "mlp", "hidden_dim": "big"}), GOOD),
    "in_dim_negative": (_card(in_dim=-5), GOOD),
    "in_dim_huge": (_card(in_dim=10**15), GOOD),
    "out_dim_float": (_card(out_dim=8.5), GOOD),
    "in_dim_wrong": (_card(in_dim=17), GOOD),
    "family_unknown": (_card(options={"family": "nope"}), GOOD),
    "no_options": ({k: v for k, v in _card().items() if k != "options"}, GOOD),
    "card_is_a_list": ("[1, 2]", GOOD),
    "card_not_json": ("{not json", GOOD),
    "no_instruction": ({k: v for k, v in _card().items() if k != "instruction"}, GOOD),
    "labels_not_a_list": (_card(label_names=5), GOOD),
    "extra_tensor": (_card(), {**GOOD, "1.weight": torch.ones(2, 2)}),
    "missing_tensor": (_card(), {"other": torch.ones(8, 16)}),
    "nan_weights": (_card(), {"0.weight": torch.full((8, 16), float("nan"))}),
    "inf_weights": (_card(), {"0.weight": torch.full((8, 16), float("inf"))}),
    "int_weights": (_card(), {"0.weight": torch.ones(8, 16, dtype=torch.int64)}),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_every_bad_card_or_weight_is_a_head_file_error(tmp_path: Path, case: str) -> None:
    from gst_integrations.core.errors import HeadFileError

    card, tensors = BAD_FILES[case]
    path = _write_raw(tmp_path / f"{case}.safetensors", card, tensors)
    with pytest.raises(HeadFileError):
        load_head(path, device="cpu")


def _raw_header(path: Path, header: bytes, body: bytes = b"") -> Path:
    path.write_bytes(struct.pack("<Q", len(header)) + header + body)
    return path


def test_malformed_headers_are_head_file_errors(tmp_path: Path) -> None:
    from gst_integrations.core.errors import HeadFileError

    meta = {"format": "gst-head", "gst_card": json.dumps(_card())}
    cases = {
        "length_past_end": struct.pack("<Q", 10**18) + b"{}",
        "header_not_json": struct.pack("<Q", 5) + b"{abc}",
        "offsets_past_end": None,
        "shape_mismatch": None,
        "empty": b"",
    }
    for name, data in cases.items():
        path = tmp_path / f"{name}.safetensors"
        if name == "offsets_past_end":
            h = {
                "__metadata__": meta,
                "0.weight": {"dtype": "F32", "shape": [8, 16], "data_offsets": [0, 512]},
            }
            _raw_header(path, json.dumps(h).encode(), b"\x00" * 100)
        elif name == "shape_mismatch":
            h = {
                "__metadata__": meta,
                "0.weight": {"dtype": "F32", "shape": [8, 16], "data_offsets": [0, 100]},
            }
            _raw_header(path, json.dumps(h).encode(), b"\x00" * 100)
        else:
            path.write_bytes(data)
        with pytest.raises(HeadFileError):
            load_head(path, device="cpu")


ALLOC_PROBE = r"""
import json, resource, sys, torch
from safetensors.torch import save_file
from gst_integrations.core.errors import HeadFileError
from gst_integrations.core.heads.head import load_head
path = sys.argv[1]
card = json.loads(sys.argv[2])
save_file({"0.weight": torch.ones(64, 384)}, path,
          metadata={"format": "gst-head", "gst_card": json.dumps(card)})
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    load_head(path, device="cpu")
    print("LOADED")
except HeadFileError:
    pass
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024)
"""


def test_a_card_cannot_make_the_loader_allocate(tmp_path: Path) -> None:
    """hidden_dim=400000 in a 98 KB file: refused before any module is built (was ~700 MB)."""
    import os
    import subprocess
    import sys

    card = _card(in_dim=384, out_dim=64, options={"family": "mlp", "hidden_dim": 400000})
    env = dict(os.environ, OMP_NUM_THREADS="1")
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])
    out = subprocess.run(
        [sys.executable, "-c", ALLOC_PROBE, str(tmp_path / "h.safetensors"), json.dumps(card)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    lines = out.stdout.split()
    assert "LOADED" not in lines
    assert int(lines[-1]) < 50, f"peak RSS grew by {lines[-1]} MB while refusing the card"


def test_non_finite_weights_are_refused_at_save(tmp_path: Path) -> None:
    from gst_integrations.core.errors import HeadFileError

    head = make_head()
    with torch.no_grad():
        head.module[0].weight[0, 0] = float("nan")
    with pytest.raises(HeadFileError, match="NaN or inf"):
        head.save(tmp_path / "nan")
    assert list(tmp_path.iterdir()) == []


def test_bad_heads_break_only_their_own_view(tmp_path: Path) -> None:
    from gst_integrations.core.errors import HeadFileError
    from gst_integrations.core.heads.store import HeadStore

    store = HeadStore(tmp_path, device="cpu")
    store.save("good", make_head())
    for case in ("hidden_dim_int_1e12", "in_dim_negative", "nan_weights", "card_is_a_list"):
        card, tensors = BAD_FILES[case]
        _write_raw(tmp_path / f"{case}.safetensors", card, tensors)
    assert list(store.cards()) == ["good"]
    errors = store.errors()
    assert sorted(errors) == [
        "card_is_a_list",
        "hidden_dim_int_1e12",
        "in_dim_negative",
        "nan_weights",
    ]
    assert all(msg for msg in errors.values())
    with pytest.raises(HeadFileError):
        store.get("in_dim_negative")


def test_gst_views_prints_the_error_of_a_bad_head(tmp_path: Path, capsys) -> None:
    from gst_integrations.cli.main import main
    from gst_integrations.core.heads.store import HeadStore

    HeadStore(tmp_path, device="cpu").save("good", make_head())
    card, tensors = BAD_FILES["hidden_dim_int_1e12"]
    _write_raw(tmp_path / "broken.safetensors", card, tensors)
    code = main(["views", "--heads", str(tmp_path)])
    out = capsys.readouterr()
    assert code in (0, None)
    text = out.out + out.err
    assert "good" in text and "broken" in text and "Traceback" not in text


def test_long_view_name_is_a_typed_error(tmp_path: Path) -> None:
    from gst_integrations.core.errors import GSTError
    from gst_integrations.core.heads.store import HeadStore

    store = HeadStore(tmp_path, device="cpu")
    with pytest.raises(GSTError, match="too long"):
        store.save("a" * 300, make_head())
    with pytest.raises(GSTError, match="too long"):
        store.get("a" * 300)
    store.save("a" * 200, make_head())  # the longest name allowed still saves
    assert store.names() == ["a" * 200]


KILLED_SAVE = r"""
import os, signal, sys
import gst_integrations.core.heads.persistence as p
sys.path.insert(0, sys.argv[2])
from _views_helpers import make_head

def killed(tensors, tmp, metadata=None):
    with open(tmp, "wb") as fh:
        fh.write(b"partial")
        fh.flush()
    os.kill(os.getpid(), signal.SIGKILL)

p.save_file = killed
make_head().save(sys.argv[1])
"""


def test_a_save_killed_mid_write_leaves_no_orphan(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    from gst_integrations.core.heads.store import HeadStore

    env = dict(os.environ, OMP_NUM_THREADS="1")
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])
    here = str(Path(__file__).resolve().parent)
    target = tmp_path / "v.safetensors"
    done = subprocess.run(
        [sys.executable, "-c", KILLED_SAVE, str(target), here], env=env, timeout=120
    )
    assert done.returncode == -9
    assert [p.name for p in tmp_path.glob(".*.tmp")]  # the killed writer left its temp file
    store = HeadStore(tmp_path, device="cpu")
    store.save("v", make_head())
    assert list(tmp_path.glob(".*.tmp")) == []
    assert store.names() == ["v"]


def test_a_family_that_cannot_be_built_on_meta_still_loads_and_stays_bounded(tmp_path) -> None:
    """A registered builder that reads its tensors' values (``.item()``) cannot run on the
    meta device: it is built for real, but only with dimensions the file's weights bound."""
    from gst_integrations.core.errors import HeadFileError
    from gst_integrations.core.heads.families import HEAD_FAMILIES, register_head_family

    def scaled(in_dim: int, out_dim: int, hidden_dim: int) -> torch.nn.Module:
        lin = torch.nn.Linear(in_dim, out_dim, bias=False)
        float(lin.weight.abs().sum().item())  # a value read: impossible on meta tensors
        return torch.nn.Sequential(lin)

    register_head_family("reads_values", scaled)
    try:
        card = _card(options={"family": "reads_values"})
        path = _write_raw(tmp_path / "ok.safetensors", card, GOOD)
        assert load_head(path, device="cpu").out_dim == 8
        huge = _card(in_dim=400000, options={"family": "reads_values"})
        path = _write_raw(tmp_path / "huge.safetensors", huge, GOOD)
        with pytest.raises(HeadFileError, match="larger than any of its weights"):
            load_head(path, device="cpu")
    finally:
        HEAD_FAMILIES.pop("reads_values", None)
