"""LLM answers kept on disk, so that rerunning a labelling job asks the LLM nothing.

Answers are keyed by (prompt version, stage, LLM, instruction, prompt hash) in SQLite (WAL).
Each is stored reduced to what parsing reads (``prompts.reduce_answer``: the first non-empty
line, at most about 1 KB), never in full: an LLM that rambles for 100 KB costs 1 KB here.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
import time
from pathlib import Path

from gst_integrations.core.labels.prompts import PROMPT_VERSION, reduce_answer


def prompt_hash(prompt: str) -> str:
    """SHA-256 of a prompt (the cache key's last part)."""
    return hashlib.sha256(prompt.encode("utf-8")).hexdigest()


class AnswerCache:
    """LLM answers in SQLite (WAL), shared by threads through one locked connection."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(
            str(path), timeout=30.0, check_same_thread=False, isolation_level=None
        )
        with self._lock:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.execute(
                "CREATE TABLE IF NOT EXISTS answers ("
                " version TEXT NOT NULL, stage TEXT NOT NULL, llm TEXT NOT NULL,"
                " instruction TEXT NOT NULL, prompt_sha256 TEXT NOT NULL,"
                " answer TEXT NOT NULL, created REAL NOT NULL,"
                " PRIMARY KEY (version, stage, llm, instruction, prompt_sha256))"
            )

    def get(self, stage: str, llm: str, instruction: str, prompt: str) -> str | None:
        """The cached (reduced) answer to ``prompt``, or None."""
        with self._lock:
            row = self._conn.execute(
                "SELECT answer FROM answers WHERE version=? AND stage=? AND llm=?"
                " AND instruction=? AND prompt_sha256=?",
                (PROMPT_VERSION, stage, llm, instruction, prompt_hash(prompt)),
            ).fetchone()
        # Entries written before answers were reduced are reduced on the way out.
        return None if row is None else reduce_answer(str(row[0]))

    def put(self, stage: str, llm: str, instruction: str, prompt: str, answer: str) -> None:
        """Store (or replace) the answer to ``prompt``, reduced to what parsing reads."""
        row = (PROMPT_VERSION, stage, llm, instruction, prompt_hash(prompt))
        with self._lock:
            self._conn.execute(
                "INSERT OR REPLACE INTO answers VALUES (?, ?, ?, ?, ?, ?, ?)",
                (*row, reduce_answer(answer), time.time()),
            )

    def close(self) -> None:
        with self._lock:
            self._conn.close()
