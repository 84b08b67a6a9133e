"""Every `gst` command run in-process on a small real corpus, and bad input that must fail cleanly.

The corpus is a seeded, condition-stratified sample of 90 drug reviews: the same texts that
`gst map --dataset drug-reviews --limit 90` picks, so the vector cache encodes them once.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gst_integrations.cli.main import main
from gst_integrations.evaluation.jobs import stratified_limit
from gst_integrations.evaluation.report import DEFAULT_METHOD

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]

N = 90
FAKE_LLM = """
import re

RULES = [("birth control", ("birth control", "period", "pill", "bleeding")),
         ("depression", ("depress",)), ("acne", ("acne", "skin", "face")),
         ("pain", ("pain",)), ("sleep", ("sleep", "insomnia"))]

def topic(text):
    low = text.lower()
    for name, words in RULES:
        if any(w in low for w in words):
            return name
    return "other"

def text_of(prompt):
    # the summary prompt quotes the text in <text>; its retry prompt starts "Text: ..."
    if "<text>" in prompt:
        return prompt.rsplit("<text>", 1)[1]
    return prompt.split("Text:", 1)[-1]

def answer(prompt):
    if "Categories:" in prompt:
        text = text_of(prompt)
        cats = re.findall(r"^(\\d+)\\. (.+)$", prompt, re.M)
        for num, name in cats:
            if name.strip().lower() == topic(text):
                return num
        return cats[0][0]
    if "GROUP:" in prompt:
        group = prompt.split("GROUP:", 1)[1].split("OTHER:", 1)[0]
        return max((n for n, _ in RULES), key=group.count) if group.strip() else "other"
    return "about " + topic(text_of(prompt))

def make_llm():
    return answer
"""


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def assert_clean_error(code: int, err: str, *needles: str) -> None:
    assert code != 0
    assert "Traceback" not in err
    lines = [ln for ln in err.splitlines() if ln.startswith("error: ")]
    assert lines, err
    for needle in needles:
        assert needle in lines[-1], lines[-1]


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory, drug_reviews) -> dict[str, Path]:
    """CSV + JSONL files of the sample, a fitted head and an embedded Chroma collection."""
    root = tmp_path_factory.mktemp("cli")
    corpus = drug_reviews.subset(stratified_limit(drug_reviews.facets["condition"], N, 0))
    csv_path = root / "reviews.csv"
    with csv_path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "text", "condition", "rating"])
        f = corpus.facets
        for i, t in enumerate(corpus.texts):
            w.writerow([corpus.ids[i], t, f["condition"][i], f["rating"][i]])
    jsonl = root / "reviews.jsonl"
    jsonl.write_text(
        "\n".join(
            json.dumps({"text": t, "stars": r})
            for t, r in zip(corpus.texts, corpus.facets["rating"], strict=True)
        ),
        encoding="utf-8",
    )
    heads, chroma = root / "heads", root / "chroma"
    assert main(["fit", "--instruction", "Which condition is the patient treating?",
                 "--name", "condition", "--heads", heads, "--data", csv_path,
                 "--label-col", "condition"]) == 0  # fmt: skip
    assert main(["embed", "--chroma-path", chroma, "--collection", "reviews",
                 "--data", csv_path, "--id-col", "id"]) == 0  # fmt: skip
    return {"root": root, "csv": csv_path, "jsonl": jsonl, "heads": heads, "chroma": chroma}


def store_args(work: dict[str, Path]) -> list[str]:
    return ["--chroma-path", str(work["chroma"]), "--collection", "reviews",
            "--heads", str(work["heads"])]  # fmt: skip


def test_fit_from_a_stored_collection(work, capsys) -> None:
    heads = work["root"] / "heads-from-store"
    code, out, err = run(capsys, "fit", "--instruction", "Which condition is treated?",
                         "--name", "cond-stored", "--heads", heads, "--chroma-path",
                         work["chroma"], "--collection", "reviews",
                         "--label-key", "condition")  # fmt: skip
    assert code == 0, err
    assert "saved view 'cond-stored'" in out and "recorded by the collection" in out
    code, _, err = run(capsys, "fit", "--instruction", "x", "--name", "v", "--heads", heads,
                       "--chroma-path", work["chroma"], "--collection", "reviews",
                       "--label-key", "nope")  # fmt: skip
    assert code == 1 and "metadata key 'nope'" in err


def test_fit_jsonl_and_views_table(work, capsys) -> None:
    code, out, _ = run(capsys, "fit", "--instruction", "How satisfied is the patient?",
                       "--name", "rating", "--heads", work["heads"], "--data", work["jsonl"],
                       "--label-col", "stars")  # fmt: skip
    assert code == 0
    assert "saved view 'rating'" in out and "negative, neutral, positive" in out
    assert "val_auc" in out and "feasibility: probe accuracy" in out
    code, out, _ = run(capsys, "views", "--heads", work["heads"])
    assert code == 0
    assert "condition" in out and "Which condition is the patient treating?" in out
    assert "rating" in out and "all-MiniLM-L6-v2" in out and "val_auc=" in out
    code, out, _ = run(capsys, "views", "--heads", work["heads"], "--json")
    data = json.loads(out)
    by_name = {v["name"]: v for v in data["views"]}
    assert set(by_name) >= {"condition", "rating"}
    assert "Birth Control" in by_name["condition"]["label_names"]
    assert "val_auc" in by_name["condition"]["metrics"]


def test_views_lists_corrupt_head(work, capsys, tmp_path) -> None:
    heads = tmp_path / "heads"
    heads.mkdir()
    (heads / "broken.safetensors").write_bytes(b"not a head")
    (heads / "condition.safetensors").write_bytes(
        (work["heads"] / "condition.safetensors").read_bytes()
    )
    code, out, _ = run(capsys, "views", "--heads", heads)
    assert code == 0
    assert "broken" in out and "UNREADABLE" in out
    assert "Which condition is the patient treating?" in out


def test_query_results_table(work, capsys) -> None:
    code, out, _ = run(capsys, "query", *store_args(work), "--view", "condition",
                       "I could not sleep at all", "-k", "3")  # fmt: skip
    assert code == 0
    rows = [ln for ln in out.splitlines() if ln[:2] in ("1 ", "2 ", "3 ")]
    assert len(rows) == 3 and "condition=" in rows[0]
    code, out, _ = run(capsys, "query", *store_args(work), "--view", "condition", "acne",
                       "--where", '{"rating": "positive"}', "--json")  # fmt: skip
    hits = json.loads(out)
    assert code == 0 and len(hits) == 5
    assert all(h["metadata"]["rating"] == "positive" and h["view"] == "condition" for h in hits)


def test_map_from_collection_and_dataset(work, capsys) -> None:
    png = work["root"] / "map.png"
    code, out, _ = run(capsys, "map", *store_args(work), "--view", "condition",
                       "--color-by", "condition", "--out", png)  # fmt: skip
    assert code == 0 and f"{N} points" in out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    png2 = work["root"] / "dataset-map.png"
    code, out, _ = run(capsys, "map", "--dataset", "drug-reviews", "--facet", "condition",
                       "--color-by", "rating", "--limit", N, "--out", png2)  # fmt: skip
    assert code == 0 and "coloured by 'rating'" in out
    assert png2.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png2.stat().st_size > 10_000


def test_eval_fast_writes_markdown_and_json(work, capsys) -> None:
    out_dir = work["root"] / "eval"
    code, out, _ = run(capsys, "eval", "--data", work["csv"], "--label-col", "condition",
                       "--facet-b-col", "rating", "--fast", "--out", out_dir)  # fmt: skip
    assert code == 0
    md = (out_dir / "eval-reviews.md").read_text()
    for method in ("generic", "logistic probe (baseline)", DEFAULT_METHOD, "head: lda_mix"):
        assert f"| {method} |" in md and f"| {method} |" in out
    assert "instruction-prefixed" not in md and "paper" not in md  # --fast skips them
    # joint retrieval: generic, the views, the blends and the probes' reference, one table
    assert "| reference: probe posteriors, both facets |" in md
    assert "| blend condition*0.5+rating*0.5 |" in md
    report = json.loads((out_dir / "eval-reviews.json").read_text())
    assert report["facets"] == ["condition", "rating"]
    assert 0.0 <= report["scores"][DEFAULT_METHOD]["condition"]["triplet"] <= 1.0
    assert report["family_choice"][DEFAULT_METHOD]["condition"][0]["chosen"]
    assert "| blend auto (weights chosen on the guide) |" in md


def test_fit_from_category_names(work, capsys, tmp_path) -> None:
    """``gst fit --categories``: no labels, names only (or a JSON of descriptions), on texts
    or on a stored collection; the summary says what the label-free gate saw."""
    heads = tmp_path / "heads"
    names = "Birth Control,Depression,Acne,Pain,Anxiety"
    code, out, err = run(capsys, "fit", "--instruction", "Which condition is treated?",
                         "--name", "cond-names", "--heads", heads, "--data", work["csv"],
                         "--categories", names)  # fmt: skip
    assert code == 0, err
    assert "saved view 'cond-names'" in out and "zero-label from 5 category names:" in out
    assert "categories (5): Birth Control (" in out
    described = tmp_path / "cats.json"
    described.write_text(json.dumps({"Acne": "pimples on the face", "Pain": None}))
    code, out, err = run(capsys, "fit", "--instruction", "Which condition is treated?",
                         "--name", "cond-stored", "--heads", heads, "--chroma-path",
                         work["chroma"], "--collection", "reviews",
                         "--categories", described)  # fmt: skip
    assert code == 0, err
    assert "zero-label from 2 category names" in out
    code, _, err = run(capsys, "fit", "--instruction", "x", "--name", "v", "--heads", heads,
                       "--data", work["csv"], "--categories", "Acne")  # fmt: skip
    assert_clean_error(code, err, "at least two names")
    code, _, err = run(capsys, "fit", "--instruction", "x", "--name", "v", "--heads", heads,
                       "--data", work["csv"], "--categories", "Acne,Pain",
                       "--label-col", "condition")  # fmt: skip
    assert_clean_error(code, err, "without labels")


def test_fit_with_llm_labels(work, capsys, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("GST_CACHE_DIR", str(tmp_path / "cache"))
    factory = tmp_path / "fake_llm.py"
    factory.write_text(FAKE_LLM, encoding="utf-8")
    code, out, err = run(capsys, "fit", "--instruction", "Which condition is treated?",
                         "--name", "llm-condition", "--heads", tmp_path / "heads",
                         "--data", work["csv"], "--llm", f"{factory}:make_llm",
                         "--sample", 60, "--clusters", 5)  # fmt: skip
    assert code == 0, err
    assert "LLM labels:" in out and "saved view 'llm-condition'" in out
    assert "birth control" in out.lower()


def test_bench_prints_table(capsys, monkeypatch) -> None:
    """The real store benchmark at a toy size (the re-encoding rate is stubbed)."""
    from gst_integrations.evaluation import bench as bench

    rate = {"texts": 10, "seconds": 1.0, "per_second": 10.0}
    monkeypatch.setattr(bench, "measure_encode_rate", lambda *a, **k: rate)
    code, out, err = run(capsys, "bench", "--sizes", "3000", "--device", "cpu")
    assert code == 0, err
    assert "| 3,000 |" in out and "view switch cold" in out and "machine:" in out
    assert "refresh, no change" in out and "base matrix" in out


def test_help_and_usage_errors(capsys) -> None:
    code, out, _ = run(capsys, "--help")
    assert code == 0 and "query" in out and "map" in out
    code, _, err = run(capsys, "fit", "--name", "x")
    assert code == 2 and "required" in err and "Traceback" not in err


# -- bad input: a readable one-line error, a non-zero exit, no traceback ---------------------
def test_missing_file(work, capsys, tmp_path) -> None:
    code, _, err = run(capsys, "fit", "--instruction", "x", "--name", "v", "--heads", tmp_path,
                       "--data", tmp_path / "nope.csv", "--label-col", "label")  # fmt: skip
    assert_clean_error(code, err, "file not found", "nope.csv")


@pytest.mark.parametrize("content", ["", "text,label\n"])
def test_empty_file(capsys, tmp_path, content) -> None:
    data = tmp_path / "empty.csv"
    data.write_text(content)
    code, _, err = run(capsys, "fit", "--instruction", "x", "--name", "v", "--heads", tmp_path,
                       "--data", data, "--label-col", "label")  # fmt: skip
    assert_clean_error(code, err, "empty.csv")


def test_missing_label_column(work, capsys, tmp_path) -> None:
    code, _, err = run(capsys, "fit", "--instruction", "x", "--name", "v", "--heads", tmp_path,
                       "--data", work["csv"], "--label-col", "label")  # fmt: skip
    assert_clean_error(code, err, "column 'label' not found", "condition")
    code, _, err = run(capsys, "eval", "--data", work["csv"], "--label-col", "condition",
                       "--facet-b-col", "nope")  # fmt: skip
    assert_clean_error(code, err, "column 'nope' not found")


def test_unknown_view(work, capsys) -> None:
    code, _, err = run(capsys, "query", *store_args(work), "--view", "nope", "anything")
    assert_clean_error(code, err, "unknown view 'nope'", "condition")
    code, _, err = run(capsys, "map", *store_args(work), "--view", "nope", "--color-by",
                       "rating", "--out", work["root"] / "x.png")  # fmt: skip
    assert_clean_error(code, err, "unknown view 'nope'")
    code, _, err = run(capsys, "query", *store_args(work), "--view", "conditon", "anything")
    assert_clean_error(code, err, "unknown view 'conditon' (did you mean 'condition'?)")
    code, _, err = run(capsys, "map", *store_args(work), "--view", "Condition", "--color-by",
                       "rating", "--out", work["root"] / "x.png")  # fmt: skip
    assert_clean_error(code, err, "unknown view 'Condition' (did you mean 'condition'?)")


def test_no_weight_loading_bar_when_the_cli_loads_the_encoder(work) -> None:
    """A fresh `gst query` process loads the encoder: our bars may show, transformers' not."""
    env = {**os.environ, "GST_PROGRESS": "1", "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-m", "gst_integrations.cli", "query", *store_args(work),
         "--view", "condition", "I could not sleep at all", "-k", "2"],
        capture_output=True, text=True, env=env, timeout=300, cwd=work["root"],
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "2 result(s)" in proc.stdout
    assert "Loading weights" not in proc.stderr


def test_unknown_dataset_collection_and_field(work, capsys) -> None:
    code, _, err = run(capsys, "eval", "--dataset", "imdb", "--fast")
    assert_clean_error(code, err, "unknown dataset 'imdb'", "drug-reviews")
    code, _, err = run(capsys, "map", "--dataset", "imdb", "--facet", "x", "--out", "x.png")
    assert_clean_error(code, err, "unknown dataset 'imdb'")
    args = store_args(work)
    args[3] = "missing"
    code, _, err = run(capsys, "query", *args, "--view", "condition", "q")
    assert_clean_error(code, err, "no collection 'missing'", "reviews")
    code, _, err = run(capsys, "map", *store_args(work), "--view", "condition", "--color-by",
                       "colour", "--out", work["root"] / "y.png")  # fmt: skip
    assert_clean_error(code, err, "no metadata field 'colour'", "rating")
    code, _, err = run(capsys, "query", *store_args(work), "--view", "condition", "q",
                       "--where", "{bad")  # fmt: skip
    assert_clean_error(code, err, "--where is not valid JSON")


def test_bad_llm_factory(work, capsys, tmp_path) -> None:
    code, _, err = run(capsys, "fit", "--instruction", "x", "--name", "v", "--heads", tmp_path,
                       "--data", work["csv"], "--llm", "no_such_module_xyz:make")  # fmt: skip
    assert_clean_error(code, err, "cannot import 'no_such_module_xyz'")
