"""Atomic writes into the output folder, URL collision checks, and the record of what was written.

Each file is written to a temporary name and renamed into place, so every file in the output is
always complete. Pages are written before the index and stale files are removed last, so a build
killed half-way leaves the previous site usable. A marker file records that tracesite owns the
folder and what it wrote (for safe ``--clean`` and stale-file removal).
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from tracesite.core.errors import BuildError
from tracesite.core.safetext import utf8

MARKER = ".tracesite-build"
TMP_PREFIX = ".tmp-"


def check_output_dir(output: Path, project: Path, content: Path) -> None:
    """Refuse an output folder that would overwrite or delete the user's own files."""
    out = output.resolve()
    home = Path.home().resolve()
    forbidden = {
        Path("/"): "the file-system root",
        home: "the home folder",
        project.resolve(): "the project",
    }
    forbidden[content.resolve()] = "the content folder"
    for place, what in forbidden.items():
        if out == place:
            raise BuildError(f"refusing to write the site into {what}", path=str(output))
    for place, what in (
        (project.resolve(), "the project"),
        (content.resolve(), "the content folder"),
    ):
        if place.is_relative_to(out):
            raise BuildError(f"refusing an output folder that contains {what}", path=str(output))
    if out.is_relative_to(content.resolve()):
        raise BuildError("refusing an output folder inside the content folder", path=str(output))
    if out.exists() and not out.is_dir():
        raise BuildError("output exists and is not a folder", path=str(output))
    if out.is_dir() and not (out / MARKER).is_file() and any(out.iterdir()):
        raise BuildError(
            "output folder is not empty and was not written by tracesite "
            f"(no {MARKER} marker); choose another folder or empty it yourself",
            path=str(output),
        )


#: Errors after which no further write can succeed: the rest of the build is not written.
_DISK_FULL = (errno.ENOSPC, errno.EDQUOT)


def write_error(exc: OSError, shown: str) -> str:
    """``no space left on device writing site/traces/x/index.html``: the OS's reason, what."""
    reason = exc.strerror or type(exc).__name__
    return f"{reason[:1].lower()}{reason[1:]} writing {shown}"


class SiteWriter:
    """Writes site files atomically and remembers them; one instance per build.

    A write that fails (a full disk, a name too long for the file system, a folder made
    read-only) is a :class:`BuildError` naming the file, and the previous site is kept whole:
    the failed file keeps its old version, :meth:`finish` removes nothing and leaves the
    record marked incomplete, so the next build rewrites what this one could not. After a
    full disk, further writes are not attempted; :meth:`finish` reports how many were left.
    """

    def __init__(self, root: Path, *, clean: bool = False, label: str = "") -> None:
        self.root = root
        self.label = label or str(root)  # how messages name the folder ("site")
        self.failed: list[str] = []  # site paths whose write failed or was not attempted
        self.disk_full: BuildError | None = None
        self.not_tried = 0  # writes skipped after a full disk
        self.clean = clean
        self.written: dict[str, str] = {}  # site path -> sha1 of content
        self.sources: dict[str, str] = {}  # site path -> what produced it (for collision errors)
        self.changed: list[str] = []
        self.keys: dict[str, str] = {}  # site path -> key of the inputs it was rendered from
        self.previous, self.previous_keys = self._read_marker()
        if clean:  # rewrite everything; whatever this build does not write goes at the end
            self.owned = set(self.previous)
            self.previous, self.previous_keys = {}, {}
        else:
            self.owned = set(self.previous)
        # Until finish(), the record says only which files tracesite owns, not their digests:
        # a build killed half-way may have replaced some of them, and the next build must not
        # trust the old digests for those (nor refuse the folder as foreign).
        pending = {"generator": "tracesite", "complete": False, "owned": sorted(self.owned)}
        try:
            root.mkdir(parents=True, exist_ok=True)
            atomic_write(root / MARKER, json.dumps(pending, indent=0).encode("utf-8"))
        except OSError as exc:
            raise BuildError(write_error(exc, self.shown(MARKER))) from None
        self._real_root = root.resolve()
        self._inside_dirs: set[Path] = set()

    def _inside(self, folder: Path) -> bool:
        """Whether ``folder`` really is inside the output folder (no symlink on the way leads
        out); asked once per folder of a build."""
        if folder not in self._inside_dirs:
            if not folder.resolve().is_relative_to(self._real_root):
                return False
            self._inside_dirs.add(folder)
        return True

    def shown(self, rel: str) -> str:
        """A site path as messages name it: ``site/traces/x/index.html``."""
        return f"{self.label.rstrip('/')}/{rel}"

    def _read_marker(self) -> tuple[dict[str, str], dict[str, str]]:
        marker = read_marker(self.root)
        if marker is None:
            return {}, {}
        if not marker.complete:
            self._sweep_temporaries()
            return dict.fromkeys(marker.owned, ""), {}  # a killed build: owned, digests unknown
        return marker.files, marker.keys

    def _sweep_temporaries(self) -> None:
        """Remove half-written files a killed build left (only ever our own ``.tmp-*.part``)."""
        for tmp in self.root.rglob(f"{TMP_PREFIX}*.part"):
            if tmp.is_file() and not tmp.is_symlink():
                tmp.unlink(missing_ok=True)

    def unchanged(self, rel: str, key: str, source: str = "") -> bool:
        """True (and the file kept) when ``rel`` was last rendered from inputs with this key.

        Lets a rebuild skip rendering pages whose inputs did not change (the key covers them
        all: cached heatmap, note, neighbours, config, theme). The caller renders otherwise and
        passes ``key`` to :meth:`write`.
        """
        if self.previous_keys.get(rel) != key or rel not in self.previous:
            return False
        if not (self.root / rel).is_file():
            return False
        if source:
            self.claim(rel, source)
        self.written[rel] = self.previous[rel]
        self.keys[rel] = key
        return True

    def claim(self, rel: str, source: str) -> None:
        """Reserve a site path for a source; two sources for one URL is an error naming both."""
        other = self.sources.get(rel)
        if other is not None and other != source:
            raise BuildError(f"this and {other} both write {rel}", path=source)
        self.sources[rel] = source

    def write(self, rel: str, data: str | bytes, source: str = "", key: str = "") -> None:
        """Write ``rel`` (a site path with / separators) atomically, skipping unchanged files."""
        if source:
            self.claim(rel, source)
        if key:
            self.keys[rel] = key
        raw = utf8(data) if isinstance(data, str) else data
        digest = hashlib.sha1(raw, usedforsecurity=False).hexdigest()
        target = self.root / rel
        if digest and self.previous.get(rel) == digest and target.is_file():
            self.written[rel] = digest
            return
        if self.disk_full is not None:  # reported once, counted in finish()
            self.failed.append(rel)
            self.not_tried += 1
            return
        try:
            if not self._inside(target.parent):
                raise BuildError(
                    f"refusing to write {self.shown(rel)}: a folder on its way is a symlink "
                    "out of the output folder",
                    path=source,
                )
            atomic_write(target, raw)
        except OSError as exc:
            self.failed.append(rel)
            err = BuildError(write_error(exc, self.shown(rel)), path=source)
            if exc.errno in _DISK_FULL:
                self.disk_full = err
            raise err from None
        except BuildError:
            self.failed.append(rel)
            raise
        self.written[rel] = digest
        self.changed.append(rel)

    def finish(self) -> list[str]:
        """Remove files of the previous build that this build did not write; write the marker.

        After a failed write nothing is removed and the record stays incomplete (every file
        it names owned, no digest trusted); raises a BuildError saying how many files a full
        disk left unwritten."""
        if self.failed:
            return self._finish_incomplete()
        removed = []
        stale = set(self.owned) - set(self.written)
        if self.clean:  # --clean: nothing but what this build wrote stays
            stale |= {
                p.relative_to(self.root).as_posix()
                for p in self.root.rglob("*")
                if (p.is_file() or p.is_symlink()) and p.name != MARKER
            } - set(self.written)
        for rel in sorted(stale):
            target = self.root / rel
            if target.is_symlink():
                target.unlink()
                removed.append(rel)
            elif target.is_file() and target.resolve().is_relative_to(self.root.resolve()):
                target.unlink()
                removed.append(rel)
                _prune_empty_dirs(target.parent, self.root)
        marker = {
            "generator": "tracesite",
            "complete": True,
            "files": dict(sorted(self.written.items())),
            "keys": dict(sorted(self.keys.items())),
        }
        self._write_marker(marker)
        return removed

    def _finish_incomplete(self) -> list[str]:
        owned = sorted(self.owned | set(self.written) | set(self.failed))
        self._write_marker({"generator": "tracesite", "complete": False, "owned": owned})
        if self.disk_full is not None and self.not_tried:
            raise BuildError(
                f"{self.not_tried} more file(s) not written after the disk was full; the previous "
                f"version of each is kept in {self.label}",
                path=self.disk_full.path,
            )
        return []

    def _write_marker(self, marker: dict[str, object]) -> None:
        try:
            atomic_write(self.root / MARKER, json.dumps(marker, indent=0).encode("utf-8"))
        except OSError as exc:
            raise BuildError(write_error(exc, self.shown(MARKER))) from None


def atomic_write(target: Path, data: bytes | Iterable[bytes]) -> None:
    """Write ``data`` (bytes, or chunks of them) to ``target`` so that readers only ever see the
    old file or the whole new one: a temporary file in the same folder, renamed into place.

    The one atomic write of tracesite: site files, the render cache and the stat index all use it.
    Creates the folder when it is missing.
    """
    # ".tmp-*" and no ".html" ending: a leftover of a killed build is never taken for a page
    try:
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=TMP_PREFIX, suffix=".part")
    except FileNotFoundError:  # the first file in this folder
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=TMP_PREFIX, suffix=".part")
    try:
        with os.fdopen(fd, "wb") as fh:
            if isinstance(data, bytes):
                fh.write(data)
            else:
                for chunk in data:
                    fh.write(chunk)
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@dataclass(frozen=True)
class Marker:
    """What the marker file of an output folder says: tracesite wrote it, and was it finished."""

    complete: bool
    files: dict[str, str]  # site path -> sha1 of its bytes (complete builds only)
    keys: dict[str, str]  # site path -> key of the inputs it was rendered from
    owned: tuple[str, ...]  # site paths tracesite wrote (for an incomplete build)


def read_marker(root: Path) -> Marker | None:
    """The marker of the folder ``root`` (None: no marker, so tracesite did not write it)."""
    try:
        data = json.loads((root / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    if data.get("complete") is False:
        owned = tuple(str(p) for p in data.get("owned", []) if isinstance(p, str))
        return Marker(complete=False, files={}, keys={}, owned=owned)
    tables = []
    for name in ("files", "keys"):
        table = data.get(name, {})
        tables.append({str(k): str(v) for k, v in table.items()} if isinstance(table, dict) else {})
    return Marker(complete=True, files=tables[0], keys=tables[1], owned=tuple(tables[0]))


def _prune_empty_dirs(folder: Path, root: Path) -> None:
    while folder != root and folder.is_relative_to(root):
        try:
            folder.rmdir()
        except OSError:
            return
        folder = folder.parent
