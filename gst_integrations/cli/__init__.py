"""The ``gst`` command-line tool (``gst --help``).

Entry point ``gst_integrations.cli.main:main``; one module per command in
``gst_integrations.cli.commands``. ``python -m gst_integrations.cli`` runs it too.
"""
