"""persys's own checkout on the home server, kept at the tracked branch's head.

On a new commit: `git fetch` and a fast-forward merge (pull), then `dagster definitions
validate` in the checkout; if it passes, each code location is reloaded through the
webserver's GraphQL API (`reloadRepositoryLocation`), so the next run uses the new code. If
validation fails the checkout is reset to the commit it had, nothing is reloaded, and the
result says why (the sensor alerts). A checkout with local changes, or whose branch cannot be
fast-forwarded, is left exactly as it is.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import httpx

from ..errors import scrub

RELOAD = """
mutation Reload($name: String!) {
  reloadRepositoryLocation(repositoryLocationName: $name) {
    __typename
    ... on WorkspaceLocationEntry {
      locationOrLoadError { __typename ... on PythonError { message } }
    }
    ... on PythonError { message }
    ... on RepositoryLocationNotFound { message }
    ... on ReloadNotSupported { message }
    ... on UnauthorizedError { message }
  }
}
"""


@dataclass(frozen=True)
class Update:
    status: str  # unchanged, updated, rolled back, refused, reload failed
    old: str
    new: str
    detail: str = ""

    @property
    def alarming(self) -> bool:
        return self.status in ("rolled back", "refused", "reload failed")


def git(checkout: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(checkout), *args], capture_output=True, text=True,
                          timeout=300)
    if done.returncode != 0:
        raise RuntimeError(f"git {args[0]}: {scrub(done.stderr.strip())[-300:]}")
    return done.stdout.strip()


def validate_definitions(checkout: Path) -> tuple[bool, str]:
    """`dagster definitions validate` of the checkout's workspace.yaml, in a new process."""
    done = subprocess.run([sys.executable, "-m", "dagster", "definitions", "validate", "-w",
                           "workspace.yaml"], cwd=checkout, capture_output=True, text=True,
                          timeout=600)
    tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-6:])
    return done.returncode == 0, scrub(tail)


def reload_location(graphql_url: str, name: str, timeout_s: float = 60) -> str | None:
    """Ask the webserver to reload a code location; None when it did, else why not."""
    try:
        response = httpx.post(graphql_url, json={"query": RELOAD, "variables": {"name": name}},
                              timeout=timeout_s)
        body = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        return f"{graphql_url} did not answer ({type(exc).__name__})"
    result = (body.get("data") or {}).get("reloadRepositoryLocation") or {}
    if result.get("__typename") != "WorkspaceLocationEntry":
        return f"{name}: {result.get('__typename') or body.get('errors')}: " \
               f"{result.get('message', '')}".strip()
    loaded = result.get("locationOrLoadError") or {}
    if loaded.get("__typename") == "PythonError":
        return f"{name} failed to load: {loaded.get('message', '')[:300]}"
    return None


def _marker(checkout: Path) -> Path:
    """The last commit that validated (and was reloaded), inside .git: never committed."""
    return Path(git(checkout, "rev-parse", "--absolute-git-dir")) / "persys-validated"


def update(checkout: Path, remote: str, branch: str, graphql_url: str,
           locations: list[str]) -> Update:
    """Pull, validate, reload; roll back on a failed validation. Never raises.

    A process killed after the pull and before the reload leaves the checkout at a commit that
    is not the validated one (the marker says which was): the next call validates and reloads
    it then, rather than taking it for "unchanged".
    """
    try:
        old = git(checkout, "rev-parse", "HEAD")
        marker = _marker(checkout)
        validated = marker.read_text().strip() if marker.is_file() else None
        if git(checkout, "status", "--porcelain", "--untracked-files=no"):
            return Update("refused", old, old, f"{checkout} has local changes; commit or stash "
                                               "them, then it updates on the next commit")
        git(checkout, "fetch", "--quiet", remote, branch)
        new = git(checkout, "rev-parse", "FETCH_HEAD")
        if new != old:
            git(checkout, "merge", "--ff-only", "--quiet", "FETCH_HEAD")
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
        head = locals().get("old", "?")
        return Update("refused", head, head, f"could not pull {remote}/{branch}: {exc}")
    if new == validated:
        return Update("unchanged", old, new)
    good = validated or old
    ok, output = validate_definitions(checkout)
    if not ok:
        git(checkout, "reset", "--hard", "--quiet", good)
        return Update("rolled back", good, new, output)
    marker.write_text(new + "\n")
    problems = [p for p in (reload_location(graphql_url, name) for name in locations) if p]
    if problems:
        return Update("reload failed", good, new, "; ".join(problems))
    return Update("updated", good, new, f"reloaded {', '.join(locations)}")
