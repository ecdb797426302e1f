"""Built-in tracesite themes (templates and static assets), shipped inside the wheel."""
