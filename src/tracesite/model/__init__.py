"""The data model: a Trace (tokens, logprobs, alternatives, metadata) and its statistics in
``trace``, and the small summary a build keeps of each trace in ``summary``. Frozen, documented,
numpy inside; imports only ``core``.

Nothing is imported here, so the build can read cached summaries without loading numpy.
"""
