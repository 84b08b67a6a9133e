"""Benchmarks: printed figures for views over a vector store (never timed unit tests)."""

from .views import run_view_benchmarks

__all__ = ["run_view_benchmarks"]
