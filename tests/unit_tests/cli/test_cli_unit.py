"""Fast checks of the `gst` plumbing that need no encoder: file reading, tables, dispatch."""

from __future__ import annotations

import sys
import types

import pytest

from gst_integrations.cli.common import table
from gst_integrations.cli.data_files import CLIError, column, load_object, read_rows, read_texts
from gst_integrations.cli.main import main


def test_read_csv_jsonl_and_columns(tmp_path) -> None:
    c = tmp_path / "a.csv"
    c.write_text("text,label\nhello,x\n,y\nbye,z\n")
    texts, labels, rows = read_texts(c, "text", ["label"])
    assert texts == ["hello", "bye"] and labels == {"label": ["x", "z"]} and len(rows) == 2
    j = tmp_path / "a.jsonl"
    j.write_text('{"text": "a", "n": 1}\n\n{"text": "b"}\n')
    rows = read_rows(j)
    assert column(rows, "n", j) == ["1", ""]
    with pytest.raises(CLIError, match="column 'label' not found in .*; columns: text, n"):
        column(rows, "label", j)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("e.csv", "", "is empty"),
        ("h.csv", "text,label\n", "no data rows"),
        ("bad.jsonl", '{"text": 1}\n[1]\n', "line 2: expected a JSON object"),
        ("bad2.jsonl", "{oops\n", "line 1: not valid JSON"),
        ("x.parquet", "data", "unsupported file type"),
    ],
)
def test_bad_files(tmp_path, name, content, message) -> None:
    p = tmp_path / name
    p.write_text(content)
    with pytest.raises(CLIError, match=message):
        read_rows(p)
    with pytest.raises(CLIError, match="file not found"):
        read_rows(tmp_path / "missing.csv")


def test_load_object_from_file_and_module(tmp_path) -> None:
    f = tmp_path / "factory.py"
    f.write_text("def make():\n    return 'llm'\n")
    assert load_object(f"{f}:make")() == "llm"
    assert load_object("os.path:join") is __import__("os").path.join
    for spec, msg in [("nocolon", "expected module:attr"), ("os:nope", "no attribute 'nope'")]:
        with pytest.raises(CLIError, match=msg):
            load_object(spec)


def test_table_aligns_and_cuts() -> None:
    out = table([["a", "x" * 100]], ["name", "value"], max_width=10).splitlines()
    assert out[0].startswith("name  value") and set(out[1]) <= {"-", " "}
    assert out[2] == "a     " + "x" * 9 + "…"


def test_quickstart_forwards_arguments(monkeypatch, capsys) -> None:
    seen = []
    fake = types.ModuleType("gst_integrations.evaluation.quickstart")
    fake.main = lambda argv=None: seen.append(argv) or 0  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "gst_integrations.evaluation.quickstart", fake)
    assert main(["quickstart", "--out", "x"]) == 0
    assert seen == [["--out", "x"]]


def test_errors_are_one_line(tmp_path, capsys) -> None:
    assert main(["views", "--heads", str(tmp_path / "none")]) == 1
    err = capsys.readouterr().err
    assert err.strip() == f"error: head directory not found: {tmp_path / 'none'}"
    assert main(["views", "--heads", str(tmp_path)]) == 0
    assert "no views in" in capsys.readouterr().out
    assert main(["eval"]) == 1
    assert "give --dataset NAME or --data FILE" in capsys.readouterr().err
    assert main(["bench", "--sizes", "1,x"]) == 1
    assert "--sizes" in capsys.readouterr().err


def test_eval_commands_name_the_extra_when_it_is_missing(monkeypatch, capsys) -> None:
    import importlib.util

    real = importlib.util.find_spec

    def find_spec(name: str, *args: object) -> object:
        return None if name == "matplotlib" else real(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    from gst_integrations.cli.common import require_eval_extra

    with pytest.raises(CLIError, match=r"gst-integrations\[eval\]"):
        require_eval_extra("map")
    assert main(["map", "--dataset", "drug-reviews", "--out", "x.png"]) == 1
    assert "gst-integrations[eval]" in capsys.readouterr().err
