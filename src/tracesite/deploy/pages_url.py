"""Where GitHub Pages serves a repository's site, and checks of ``base_url`` and custom domains."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from tracesite.core.errors import DeployError

_GITHUB_REMOTE = re.compile(
    r"""^(?:
        (?:https?|git|ssh|git\+ssh)://(?:[^@/]+@)?(?:www\.|ssh\.)?github\.com(?::\d+)?/
      | (?:[^@/:]+@)?github\.com:
    )(?P<owner>[A-Za-z0-9-]+)/(?P<repo>[A-Za-z0-9._-]+?)(?:\.git)?/?$""",
    re.X | re.I,
)
_HOSTNAME = re.compile(r"^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}$")


def pages_url(remote_url: str, cname: str | None = None) -> str | None:
    """The URL GitHub Pages serves a repository's site at, or None for a non-GitHub remote.

    ``https://github.com/Owner/repo.git`` and ``git@github.com:Owner/repo`` give
    ``https://owner.github.io/repo/``; a repository named ``owner.github.io`` is served at the root;
    a custom domain wins over both.
    """
    if cname:
        return f"https://{cname}/"
    m = _GITHUB_REMOTE.match(remote_url.strip())
    if m is None:
        return None
    owner, repo = m.group("owner").lower(), m.group("repo")
    if repo.lower() in (f"{owner}.github.io", f"{owner}.github.com"):
        return f"https://{owner}.github.io/"
    return f"https://{owner}.github.io/{repo}/"


def base_url_mismatch(base_url: str, url: str) -> str | None:
    """Why the configured ``base_url`` does not fit the published ``url``, or None if it does."""
    parts = urlsplit(base_url)
    path = parts.path if parts.scheme else base_url
    want = urlsplit(url)
    norm = "/" + path.strip("/") + "/" if path.strip("/") else "/"
    if norm != want.path:
        return (
            f'[site] base_url is "{base_url}" but the site will be served at {url}; '
            f'set base_url = "{url}" in tracesite.toml so the 404 page and sitemap work there'
        )
    if parts.scheme and (parts.netloc.lower() != want.netloc.lower()):
        return f'[site] base_url "{base_url}" names another host than {url}; set base_url = "{url}"'
    return None


_LOCAL_HOSTS = re.compile(
    r"^(localhost|localhost\.localdomain|.*\.localhost|127(\.\d+){3}|0\.0\.0\.0|\[::1?\])$", re.I
)


def local_host(base_url: str) -> str | None:
    """The host of an absolute ``base_url`` that only this machine can reach (``localhost``,
    ``127.0.0.1``...), or None: a published site's links and og:image would point there."""
    parts = urlsplit(base_url)
    if not parts.scheme or not parts.netloc:
        return None
    host = parts.netloc.rsplit("@", 1)[-1]
    host = host if host.startswith("[") else host.split(":")[0]
    return host if _LOCAL_HOSTS.match(host) else None


def base_url_refusal(base_url: str, url: str | None) -> str | None:
    """Why deploy refuses to publish a site built with ``base_url`` to where it will be served
    (``url``, None when unknown: a remote that is not GitHub's), with the fix; None if it fits."""
    host = local_host(base_url)
    if host is not None:
        problem = f'[site] base_url "{base_url}" points at {host}, this machine only'
    elif url is not None and base_url_mismatch(base_url, url) is not None:
        problem = f'[site] base_url is "{base_url}" but the site will be served at {url}'
    else:
        return None
    target = url or "https://USER.github.io/REPO/"
    return (
        f"{problem}; its 404 page, sitemap and share links would be wrong there. Deploy with "
        f'`tracesite deploy --base-url {target}`, or set base_url = "{target}" under [site] in '
        "tracesite.toml, or pass --force to publish it anyway"
    )


def normalise_cname(cname: str) -> str:
    """A bare domain from ``docs.example.com``, ``https://docs.example.com/`` and the like."""
    domain = re.sub(r"^[a-z]+://", "", cname.strip(), flags=re.I).rstrip("/").lower()
    if not _HOSTNAME.match(domain):
        raise DeployError(
            f"not a domain name: {cname!r} (expected e.g. docs.example.com)", address="--cname"
        )
    return domain
