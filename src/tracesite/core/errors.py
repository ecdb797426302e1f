"""One small error hierarchy; every user-facing error carries its address.

The CLI prints each error as ``path: address: message`` (one line each, all of them) and exits 1.
An error's text is always one line a terminal shows as it is: control characters, separators and
bidi overrides (in a file name, say) are written as escapes (:func:`terminal_text`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from tracesite.core.safetext import terminal_text


class TracesiteError(Exception):
    """Base of every error tracesite reports to a user.

    ``path`` is the file (as given), ``address`` a JSON path (``$.choices[0].logprobs``), a line
    (``4``) or a key (``heatmap.columns``); either may be empty.
    """

    def __init__(self, message: str, *, path: str = "", address: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.path = str(path)
        self.address = str(address)

    def located(self, path: str) -> TracesiteError:
        """Return this error with ``path`` filled in when it has none yet."""
        if not self.path:
            self.path = str(path)
        return self

    def __str__(self) -> str:
        if self.path and self.address.isdigit():  # a line number: "content/run3.md:4: message"
            return terminal_text(f"{self.path}:{self.address}: {self.message}")
        parts = [p for p in (self.path, self.address) if p]
        parts.append(self.message)
        return terminal_text(": ".join(parts))


class TraceReadError(TracesiteError):
    """A trace file could not be read: bad bytes, bad JSON, an unknown or broken format.

    Readers raise only this type (fuzz-tested), never a bare Python exception.
    """


class NotATraceError(TraceReadError):
    """A JSON document in which no trace can be found anywhere (not a broken trace): the build
    skips it with a warning (an error with ``--strict``), as a file that is not content."""


class ConfigError(TracesiteError):
    """``tracesite.toml`` has a syntax error, an unknown key or a value of the wrong type."""


class NoteError(TracesiteError):
    """A Markdown note has bad front matter or a bad ``trace`` block."""


class BuildError(TracesiteError):
    """A site cannot be built: URL collisions, template errors, unsafe output folders."""


class DeployError(TracesiteError):
    """Publishing failed or was refused (size limits, symlinks, git errors)."""


class ErrorCollection(TracesiteError):
    """Several errors found in one pass; raised after collecting them all."""

    def __init__(self, errors: Iterable[TracesiteError]) -> None:
        self.errors: list[TracesiteError] = list(errors)
        super().__init__(f"{len(self.errors)} error(s)")

    def __iter__(self) -> Iterator[TracesiteError]:
        return iter(self.errors)

    def __str__(self) -> str:
        return "\n".join(str(e) for e in self.errors)


class Diagnostics:
    """The one sink for a run's warnings and errors: every stage reports here, in order, and the
    caller (the CLI, the dev server's overlay, a test) reads them once the run is over.

    A stage never raises for a problem with one input; it reports it here and goes on, so every
    problem is found in one pass and everything else is built.
    """

    def __init__(self) -> None:
        self.errors: list[TracesiteError] = []
        self.warnings: list[TracesiteError] = []

    def error(self, exc: TracesiteError) -> None:
        self.errors.append(exc)

    def warn(self, exc: TracesiteError) -> None:
        self.warnings.append(exc)

    @property
    def ok(self) -> bool:
        return not self.errors
