"""Thin click commands. Imports are lazy (Bokeh alone costs ~0.5 s); errors become exit codes here.

Exit codes: 0 success, 1 a content/config/build error, 2 bad usage (click's own).
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click

from tracesite.core.errors import ErrorCollection, TracesiteError
from tracesite.core.safetext import terminal_text

F = TypeVar("F", bound=Callable[..., Any])


def report_errors(errors: list[TracesiteError]) -> None:
    """Print every error, one addressed line each, to stderr (an error's text is one line with
    its control characters escaped: see :func:`~tracesite.core.safetext.terminal_text`)."""
    for err in errors:
        click.echo(terminal_text(str(err)), err=True)


def at_the_edge(func: F) -> F:
    """Turn tracesite errors into addressed lines and exit 1; no traceback unless --verbose."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        ctx = click.get_current_context()
        verbose = bool(ctx.find_root().params.get("verbose"))
        try:
            return func(*args, **kwargs)
        except ErrorCollection as exc:
            report_errors(exc.errors)
            sys.exit(1)
        except TracesiteError as exc:
            report_errors([exc])
            sys.exit(1)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(130)
        except Exception as exc:  # a bug: say so plainly, show the traceback only on request
            if verbose:
                traceback.print_exc()
            click.echo(
                terminal_text(f"internal error: {type(exc).__name__}: {exc} (run with --verbose)"),
                err=True,
            )
            sys.exit(1)

    return wrapper  # type: ignore[return-value]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="tracesite")
@click.option("--verbose", is_flag=True, help="Show tracebacks for internal errors.")
def main(verbose: bool) -> None:
    """tracesite: build websites from LLM token-probability traces."""


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array, one object per trace.")
@click.option(
    "--groups", is_flag=True, help="One row per group of sibling traces (SPEC §16), not per trace."
)
@at_the_edge
def inspect(files: tuple[str, ...], as_json: bool, groups: bool) -> None:
    """Read trace files and print what was understood."""
    from tracesite.commands.inspect import run_inspect

    sys.exit(run_inspect(list(files), as_json=as_json, groups=groups))


@main.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Output HTML file.")
@click.option("--index", default=0, show_default=True, help="Which trace of the file (0-based).")
@click.option(
    "--compare",
    type=click.Path(dir_okay=False),
    help="Compare with this file's trace (B): aligned token by token, coloured by B - A.",
)
@click.option("--compare-index", default=0, show_default=True, help="Which trace of B (0-based).")
@at_the_edge
def render(
    file: str, output: str | None, index: int, compare: str | None, compare_index: int
) -> None:
    """Render one trace to one self-contained HTML file (BokehJS inlined)."""
    from tracesite.commands.render import render_file

    out = render_file(
        Path(file),
        Path(output) if output else None,
        index=index,
        compare=Path(compare) if compare else None,
        compare_index=compare_index,
    )
    click.echo(terminal_text(f"wrote {out}"))


@main.command()
@click.argument("project", default=".", type=click.Path(file_okay=False))
@click.option("-o", "--output", type=click.Path(file_okay=False), help="Output folder.")
@click.option("--base-url", help="Override [site] base_url.")
@click.option("--jobs", "-j", type=click.IntRange(min=1), help="Worker processes (default: cores).")
@click.option("--strict", is_flag=True, help="Fail on warnings too.")
@click.option("--clean", is_flag=True, help="Empty the output folder first.")
@click.option(
    "--executor",
    default="process",
    show_default=True,
    help="Where traces render: process, dask (a local cluster) or dask://HOST:PORT.",
)
@at_the_edge
def build(
    project: str,
    output: str | None,
    base_url: str | None,
    jobs: int | None,
    strict: bool,
    clean: bool,
    executor: str,
) -> None:
    """Build the project in PROJECT (default: current folder) into site/."""
    from tracesite.build.dask_executor import check_executor
    from tracesite.build.pipeline import BuildOptions, build_project

    result = build_project(
        Path(project),
        BuildOptions(
            output=Path(output) if output else None,
            base_url=base_url,
            jobs=jobs,
            strict=strict,
            clean=clean,
            executor=check_executor(executor),
        ),
    )
    sys.exit(0 if result.ok else 1)


@main.command()
@click.argument("project", default=".", type=click.Path(file_okay=False))
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option("--open", "open_browser", is_flag=True, help="Open the site in a browser.")
@click.option("--poll", is_flag=True, help="Poll for changes (network and container file systems).")
@at_the_edge
def serve(project: str, host: str, port: int, open_browser: bool, poll: bool) -> None:
    """Build, serve, watch, rebuild and live-reload the browser."""
    from tracesite.serve.server import serve_project

    serve_project(Path(project), host=host, port=port, open_browser=open_browser, poll=poll)


@main.command()
@click.argument("directory", type=click.Path(file_okay=False))
@at_the_edge
def new(directory: str) -> None:
    """Scaffold a new gallery project in DIRECTORY."""
    from tracesite.commands.new import new_project

    new_project(Path(directory))


@main.command()
@click.argument("project", default=".", type=click.Path(file_okay=False))
@click.option("--remote", default="origin", show_default=True)
@click.option("--branch", default="gh-pages", show_default=True)
@click.option("--message", "-m", help="Commit message.")
@click.option("--cname", help="Custom domain written to CNAME.")
@click.option("--no-build", is_flag=True, help="Publish the existing output folder as it is.")
@click.option(
    "--base-url",
    help="Build with this [site] base_url: where the site is served (https://USER.github.io/REPO/).",
)
@click.option(
    "--force", is_flag=True, help="Publish even when base_url cannot be right for the remote."
)
@at_the_edge
def deploy(
    project: str,
    remote: str,
    branch: str,
    message: str | None,
    cname: str | None,
    no_build: bool,
    base_url: str | None,
    force: bool,
) -> None:
    """Build and push the site to a GitHub Pages branch."""
    from tracesite.deploy.publish import DeployOptions, deploy_project

    deploy_project(
        Path(project),
        DeployOptions(
            remote=remote,
            branch=branch,
            message=message,
            cname=cname,
            build=not no_build,
            base_url=base_url,
            force=force,
        ),
    )
