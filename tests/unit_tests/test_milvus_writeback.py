"""``stores.milvus`` without a server: lazy pymilvus import and the install hint.

The real write-back runs against Milvus Lite in tests/integration_tests/milvus.
"""

from __future__ import annotations

import subprocess
import sys

import pytest


def test_the_package_imports_without_loading_pymilvus() -> None:
    code = (
        "import sys, gst_integrations.stores.milvus as m; "
        "sys.exit(1 if 'pymilvus' in sys.modules else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_missing_pymilvus_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    from gst_integrations.stores.milvus import write_view_to_milvus

    monkeypatch.setitem(sys.modules, "pymilvus", None)  # import pymilvus -> ImportError
    with pytest.raises(ImportError, match=r"pip install 'gst-integrations\[milvus\]'"):
        write_view_to_milvus(object(), "view", object(), "name", show_progress=False)
