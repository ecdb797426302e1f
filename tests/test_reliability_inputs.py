"""Issue 17, points 2 and 5: nothing outside the project reaches the site, and every input
(``tracesite.toml``, tags, the gallery intro, content file names) gets the same care.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import native_trace
from htmlcheck import parse
from tracesite.build.pipeline import BuildOptions, build_project
from tracesite.core.config import load_config
from tracesite.core.errors import ConfigError, ErrorCollection, TracesiteError

CLI = Callable[..., subprocess.CompletedProcess[str]]
SECRET = "ROOT:x:0:0:the secret outside the project"


def _site_text(site: Path) -> str:
    return "\n".join(
        p.read_bytes().decode("utf-8", "replace") for p in site.rglob("*") if p.is_file()
    )


# -- symlinks out of content/ -----------------------------------------------------------------------


def test_symlinks_out_of_content_are_refused_with_a_warning(
    make_project: Callable[..., Path], tmp_path: Path, cli: CLI
) -> None:
    proj = make_project({"content/good.json": native_trace(8, seed=1)})
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "passwd.png").write_text(SECRET)
    (outside / "env.json").write_text('{"tracesite": 1, "model": "' + SECRET + '", "tokens": []}')
    (outside / "note.md").write_text(f"# {SECRET}\n")
    (proj / "content/passwd.png").symlink_to(outside / "passwd.png")
    (proj / "content/env.json").symlink_to(outside / "env.json")
    (proj / "content/leak.md").symlink_to(outside / "note.md")
    (proj / "content/inside.png").write_bytes(b"\x89PNG")
    (proj / "content/alias.png").symlink_to("inside.png")  # a link inside content/ is fine
    r = cli("build", cwd=proj)
    assert r.returncode == 0, r.stderr
    assert SECRET not in _site_text(proj / "site")
    for name in ("passwd.png", "env.json", "leak.md"):
        assert f"warning: content/{name}: a symlink to " in r.stderr, r.stderr
        assert "outside the content folder; left out of the site" in r.stderr
    assert (proj / "site/alias.png").read_bytes() == b"\x89PNG"
    assert not (proj / "site/traces/env").exists()


def test_a_symlinked_theme_file_out_of_the_theme_is_refused(
    make_project: Callable[..., Path], tmp_path: Path
) -> None:
    proj = make_project(
        {
            "content/good.json": native_trace(8, seed=1),
            "tracesite.toml": '[build]\ntheme = "mine"\n',
            "themes/mine/static/ok.css": "body {}",
        }
    )
    secret = tmp_path / "secret.css"
    secret.write_text(SECRET)
    (proj / "themes/mine/static/leak.css").symlink_to(secret)
    result = build_project(proj, BuildOptions(jobs=1, quiet=True))
    assert result.ok
    assert SECRET not in _site_text(proj / "site")
    assert (proj / "site/assets/theme/ok.css").is_file()
    assert any("themes/mine/static/leak.css" in str(w) for w in result.warnings)


def test_stale_file_removal_never_follows_a_link_out_of_the_site(
    make_project: Callable[..., Path], tmp_path: Path
) -> None:
    proj = make_project({f"content/t{i}.json": native_trace(8, seed=i) for i in range(3)})
    assert build_project(proj, BuildOptions(jobs=1, quiet=True)).ok
    outside = tmp_path / "outside"
    (outside / "t2").mkdir(parents=True)
    (outside / "t2/index.html").write_text("keep me")
    site_t2 = proj / "site/traces/t2"
    (site_t2 / "index.html").unlink()
    site_t2.rmdir()
    site_t2.symlink_to(outside / "t2", target_is_directory=True)
    (proj / "content/t2.json").unlink()  # its page is stale now: removal must not follow
    for clean in (False, True):
        build_project(proj, BuildOptions(jobs=1, quiet=True, clean=clean))
        assert (outside / "t2/index.html").read_text() == "keep me"


# -- tags, the intro, names -------------------------------------------------------------------------


def test_tags_differing_only_in_case_or_punctuation_share_one_page(
    make_project: Callable[..., Path],
) -> None:
    proj = make_project(
        {
            "content/a.json": native_trace(8, seed=1),
            "content/a.md": "---\ntags: [LLM, math]\n---\nA\n",
            "content/b.json": native_trace(8, seed=2),
            "content/b.md": "---\ntags: [llm, Math!]\n---\nB\n",
            "content/c.json": native_trace(8, seed=3),
            "content/c.md": "---\ntags: [Llm, LLM]\n---\nC\n",
        }
    )
    result = build_project(proj, BuildOptions(jobs=1, quiet=True))
    assert result.ok, [str(e) for e in result.errors]
    warnings = [str(w) for w in result.warnings]
    assert any(w.startswith("content/b.md: tag 'llm' is shown as 'LLM'") for w in warnings), (
        warnings
    )
    assert any(w.startswith("content/b.md: tag 'Math!' is shown as 'math'") for w in warnings)
    assert any("content/c.md" in w and "share one tag page" in w for w in warnings), warnings
    assert any(w.startswith("content/c.md: tag 'Llm' is shown as 'LLM'") for w in warnings)
    tag_pages = sorted(p.parent.name for p in (proj / "site/tags").glob("*/index.html"))
    assert tag_pages == ["llm", "math"], tag_pages
    llm = parse(proj / "site/tags/llm/index.html")
    assert sum("traces/" in link for link in llm.links()) >= 2


def test_a_tag_too_long_for_a_file_name_is_an_addressed_error(
    make_project: Callable[..., Path], cli: CLI
) -> None:
    proj = make_project(
        {
            "content/good.json": native_trace(8, seed=1),
            "content/long.json": native_trace(8, seed=2),
            "content/long.md": "---\ntitle: t\ntags: [" + "x" * 400 + "]\n---\nbody\n",
        }
    )
    r = cli("build", cwd=proj)
    assert r.returncode == 1
    assert "content/long.md:3: front matter: tags: a tag is at most 100 characters" in r.stderr
    assert (proj / "site/traces/good/index.html").is_file()


def test_a_content_file_where_tracesite_writes_its_own_is_an_error(
    make_project: Callable[..., Path],
) -> None:
    proj = make_project(
        {
            "content/good.json": native_trace(8, seed=1),
            "content/assets/search-index.js": "alert('mine')",
            "content/assets/theme/style.css": "body{display:none}",
        }
    )
    result = build_project(proj, BuildOptions(jobs=1, quiet=True))
    messages = [str(e) for e in result.errors]
    assert any(
        m == "content/assets/search-index.js: this and tracesite both write assets/search-index.js"
        for m in messages
    ), messages
    assert any(m.startswith("content/assets/theme/style.css: this and tracesite") for m in messages)
    assert "alert('mine')" not in (proj / "site/assets/search-index.js").read_text()
    assert "display:none" not in (proj / "site/assets/theme/style.css").read_text()


# -- tracesite.toml ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("toml", "address", "message"),
    [
        ('[site]\nbase_url = "//evil.example/"\n', "site.base_url", "no //"),
        ('[site]\nbase_url = "\\\\\\\\evil.example"\n', "site.base_url", "backslashes"),
        ('[site]\nbase_url = "javascript:alert(1)"\n', "site.base_url", "https://host/path/"),
        ('[site]\nbase_url = "https://x.example//evil/"\n', "site.base_url", "no //"),
        ('[build]\ntheme = "../../../../etc"\n', "build.theme", "a folder under themes/"),
        ("[heatmap]\nlow_confidence = 1" + "0" * 400 + "\n", "heatmap.low_confidence", "64-bit"),
    ],
)
def test_odd_config_values_are_addressed_errors(
    tmp_path: Path, toml: str, address: str, message: str
) -> None:
    (tmp_path / "tracesite.toml").write_text(toml, encoding="utf-8")
    with pytest.raises(TracesiteError) as info:
        load_config(tmp_path)
    errors = list(info.value) if isinstance(info.value, ErrorCollection) else [info.value]
    assert any(e.address == address and message in e.message for e in errors), [
        str(e) for e in errors
    ]


@pytest.mark.parametrize(
    "toml",
    ["x = " + "[" * 5000, "[heatmap]\ncolumns = 1" + "0" * 5000 + "\n"],
    ids=["nested-5000-deep", "int-of-5000-digits"],
)
def test_unreadable_config_is_an_addressed_error(tmp_path: Path, toml: str, cli: CLI) -> None:
    (tmp_path / "content").mkdir()
    (tmp_path / "tracesite.toml").write_text(toml, encoding="utf-8")
    r = cli("build", cwd=tmp_path)
    assert r.returncode == 1
    assert "internal error" not in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert "tracesite.toml: " in r.stderr


def test_a_base_url_given_on_the_command_line_is_checked_too(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path, base_url="//evil.example/")
    assert info.value.address == "--base-url"


@pytest.mark.parametrize("base_url", ["/", "/repo/", "repo", "https://u.github.io/repo/"])
def test_ordinary_base_urls_are_accepted(tmp_path: Path, base_url: str) -> None:
    (tmp_path / "tracesite.toml").write_text(f'[site]\nbase_url = "{base_url}"\n')
    assert load_config(tmp_path).site.base_url == base_url
