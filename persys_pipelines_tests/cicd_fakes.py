"""A Gitea API on 127.0.0.1 answered from a real git repository, a tiny Dagster project in a
real repository (persys's checkout stands in for it), and a real dagster-webserver on it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx

from persys_pipelines.lib.processes import stop_tree
from persys_pipelines_tests.deploy_fakes import free_port
from persys_pipelines_tests.http_fakes import FakeHandler, serving

GIT_ENV = {"GIT_AUTHOR_NAME": "Dev", "GIT_AUTHOR_EMAIL": "dev@example.org",
           "GIT_COMMITTER_NAME": "Dev", "GIT_COMMITTER_EMAIL": "dev@example.org"}
WORKSPACE = "load_from:\n  - python_file: {relative_path: defs.py, location_name: tinyproj}\n"


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, **GIT_ENV}, check=True)
    return done.stdout.strip()


def project_source(*assets: str, broken: bool = False) -> str:
    body = "".join(f"\n@dg.asset\ndef {a}() -> int:\n    return 1\n" for a in assets)
    tail = f"\ndefs = dg.Definitions(assets=[{', '.join(assets)}])\n"
    return "import dagster as dg\n" + body + (tail if not broken else "\ndefs = dg.Definitions(" \
                                                                     "assets=[missing_asset])\n")


def commit(dev: Path, source: str, message: str) -> str:
    (dev / "defs.py").write_text(source)
    git(dev, "add", "-A")
    git(dev, "commit", "-q", "-m", message)
    git(dev, "push", "-q", "origin", "HEAD:main")
    return git(dev, "rev-parse", "HEAD")


def make_repositories(tmp: Path) -> tuple[Path, Path, Path]:
    """(bare origin, a developer's clone, the home server's checkout) with one commit."""
    origin, dev, checkout = tmp / "origin.git", tmp / "dev", tmp / "checkout"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(origin)], check=True)
    subprocess.run(["git", "clone", "-q", str(origin), str(dev)], check=True,
                   capture_output=True)
    git(dev, "checkout", "-q", "-b", "main")
    (dev / "workspace.yaml").write_text(WORKSPACE)
    commit(dev, project_source("first"), "first asset")
    subprocess.run(["git", "clone", "-q", "-b", "main", str(origin), str(checkout)],
                   check=True)
    return origin, dev, checkout


@dataclass
class FakeGitea:
    base_url: str = ""
    statuses: dict[str, tuple[str, list[tuple[str, str]]]] = field(default_factory=dict)
    calls: int = 0


@contextmanager
def fake_gitea(origin: Path, repo: str, token: str) -> Iterator[FakeGitea]:
    state = FakeGitea()

    class Handler(FakeHandler):
        def do_GET(self) -> None:  # noqa: N802
            state.calls += 1
            url = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            if self.headers.get("Authorization") != f"token {token}":
                self.reply_json(401, {"message": "token is required"})
                return
            path = url.path.removeprefix(f"/api/v1/repos/{repo}")
            if path == "/commits":
                log = git(origin, "log", query.get("sha", "main"), f"-n{query.get('limit', 30)}",
                          "--format=%H%x1f%an%x1f%B%x1e")
                rows = [r.strip("\n").split("\x1f") for r in log.split("\x1e") if r.strip()]
                self.reply_json(200, [{"sha": sha, "html_url": f"{state.base_url}/c/{sha}",
                                       "commit": {"message": msg, "author": {"name": who}}}
                                      for sha, who, msg in rows])
            elif path == "/tags":
                refs = git(origin, "for-each-ref", "refs/tags",
                           "--format=%(refname:short) %(objectname)")
                self.reply_json(200, [{"name": n, "commit": {"sha": s}}
                                      for n, s in (r.split() for r in refs.splitlines())])
            elif path.startswith("/commits/") and path.endswith("/status"):
                sha = path.split("/")[2]
                overall, contexts = state.statuses.get(sha, ("pending", []))
                self.reply_json(200, {"state": overall, "statuses": [
                    {"context": c, "status": s} for c, s in contexts]})  # Gitea says `status`
            else:
                self.reply_json(404, {"message": "not found"})

    with serving(Handler) as state.base_url:
        yield state


@contextmanager
def webserver(project: Path, tmp: Path) -> Iterator[str]:
    """dagster-webserver on the project's workspace.yaml; yields its GraphQL URL."""
    port, home = free_port(), tmp / "webserver-home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PERSYS_", "DAGSTER_"))}
    env["DAGSTER_HOME"] = str(home)
    log = tmp / "webserver.log"
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "dagster_webserver", "-w",
                                 "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
                                cwd=project, env=env, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            assert proc.poll() is None, log.read_text()[-3000:]
            try:
                if httpx.get(f"{base}/server_info", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        else:
            raise AssertionError("webserver did not start: " + log.read_text()[-3000:])
        yield f"{base}/graphql"
    finally:
        stop_tree(proc.pid, grace=30)  # its children (a webserver's code server) too
        proc.wait()


def asset_names(graphql_url: str) -> set[str]:
    body = httpx.post(graphql_url, json={"query": "{ assetNodes { assetKey { path } } }"},
                      timeout=30).json()
    return {"/".join(n["assetKey"]["path"]) for n in body["data"]["assetNodes"]}

