"""``python -m tracesite``."""

from tracesite.cli import main

main()
