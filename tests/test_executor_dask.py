"""``--executor dask``: the same site, byte for byte, from a real Dask LocalCluster (two worker
processes, reached by its ``dask://`` address) as from the process pool (render ids aside, which
differ between any two renders); clear errors for a scheduler that cannot be reached and for an
unknown executor."""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

import distributed
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from tracesite.build.pipeline import BuildOptions, build_project
from tracesite.build.writer import MARKER
from tracesite.cli import main
from tracesite.core.errors import BuildError

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from synth_rollouts import step_table

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.timeout(300)


def _project(root: Path) -> Path:
    """API responses (three OpenAI JSON files) and a rollout Parquet table of 40 rows."""
    content = root / "content"
    (content / "api").mkdir(parents=True)
    for name in ("paris-responses.json", "perplexity-explained.json", "pizza-toppings.json"):
        shutil.copy(REPO / "content" / "openai" / name, content / "api" / name)
    (content / "rollouts").mkdir()
    pq.write_table(step_table(40, 60, seed=3, group=8), content / "rollouts" / "step1.parquet")
    (root / "tracesite.toml").write_text('[site]\ntitle = "dask test"\n', encoding="utf-8")
    return root


# Bokeh's model ids ("p1234"), document uuids and the heatmap's random element ids differ per
# render, whichever the executor (two process-pool builds differ in them too: test_build.py's
# test_same_site_whatever_the_jobs); every other byte must match.
_RENDER_IDS = re.compile(rb"(p\d{3,}|[0-9a-f]{8,}(?:-[0-9a-f]{4,})*)")


def _files(out: Path) -> dict[str, bytes]:
    """Every file of a site but the build marker; in pages, render ids normalised."""
    got = {}
    for p in sorted(out.rglob("*")):
        if p.is_file() and p.name != MARKER:
            data = p.read_bytes()
            got[p.relative_to(out).as_posix()] = (
                _RENDER_IDS.sub(b"ID", data) if p.suffix == ".html" else data
            )
    return got


def _build(project: Path, out: Path, executor: str) -> dict[str, bytes]:
    opts = BuildOptions(output=out, jobs=2, quiet=True, executor=executor)
    res = build_project(project, opts)
    assert res.ok, res.diagnostics
    assert res.n_traces >= 43
    return _files(out)


def test_dask_cluster_builds_the_same_site_as_the_process_pool(tmp_path: Path) -> None:
    a = _project(tmp_path / "a")
    b = tmp_path / "b"
    shutil.copytree(a, b)  # separate caches: each build renders every trace itself
    by_process = _build(a, tmp_path / "site-process", "process")
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        address = cluster.scheduler_address.removeprefix("tcp://")
        with distributed.Client(cluster) as client:
            by_dask = _build(b, tmp_path / "site-dask", f"dask://{address}")
            assert len(client.scheduler_info()["workers"]) == 2
    assert any(k.startswith("rollouts/") or "r00039" in k for k in by_process)
    assert by_dask.keys() == by_process.keys()
    different = [k for k in by_process if by_process[k] != by_dask[k]]
    assert different == []


def test_unreachable_scheduler_is_a_clear_error_naming_the_address(tmp_path: Path) -> None:
    project = _project(tmp_path / "p")
    opts = BuildOptions(output=tmp_path / "site", quiet=True, executor="dask://127.0.0.1:9")
    with pytest.raises(BuildError, match=r"tcp://127\.0\.0\.1:9"):
        build_project(project, opts)


def test_cli_rejects_an_unknown_executor(tmp_path: Path) -> None:
    project = _project(tmp_path / "p")
    result = CliRunner().invoke(main, ["build", str(project), "--executor", "ray"])
    assert result.exit_code != 0
    assert "dask://HOST:PORT" in result.output
