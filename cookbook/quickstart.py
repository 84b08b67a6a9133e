"""Quickstart, the main job: one corpus embedded once, two instruction views.

Embeds the 495 drug reviews once into an embedded, persistent Chroma collection with the
offline all-MiniLM-L6-v2, fits a "condition" and a "satisfaction" view from a 30%
annotated sample, and prints one query's top results under the generic vectors and each
view side by side, with the view-switch time against what re-encoding would cost.

    python cookbook/quickstart.py [--workdir DIR] [--query TEXT]

Same as ``gst quickstart`` (or ``make quickstart``); a rerun finds the vectors in Chroma.
"""

from __future__ import annotations

import sys

from gst_integrations.evaluation.quickstart import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
