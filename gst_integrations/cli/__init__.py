"""The ``gst`` command-line tool (``gst --help``); entry point ``gst_integrations.cli.main``."""

from gst_integrations.cli.main import main

__all__ = ["main"]
