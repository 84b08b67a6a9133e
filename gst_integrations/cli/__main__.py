"""``python -m gst_integrations.cli``: the ``gst`` command."""

import sys

from gst_integrations.cli.main import main

sys.exit(main())
