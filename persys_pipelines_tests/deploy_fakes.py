"""Stand-ins at the wire for the deploy tests, and a household on the test's databases.

- A Docker Engine API on 127.0.0.1 (`DOCKER_HOST=tcp://…`): docker-py, as DockerRunLauncher
  uses it, creates and starts containers there; every create request is kept.
- A Kubernetes API server on 127.0.0.1 (a kubeconfig pointing at it): the kubernetes client,
  as K8sRunLauncher uses it, creates Jobs there; every Job body is kept.
- `make_household`: a household folder whose persons' tiers are the fixture's databases and
  whose secrets live in each person's secrets.env only.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from persys_pipelines.lib.processes import stop_tree
from persys_pipelines_tests.conftest import DEFAULT_TABLES
from persys_pipelines_tests.http_fakes import FakeHandler, serving


@dataclass
class Recorded:
    base_url: str = ""
    requests: list[dict] = field(default_factory=list)


@contextmanager
def fake_docker() -> Iterator[Recorded]:
    state = Recorded()

    class Handler(FakeHandler):
        def _body(self) -> dict:
            length = int(self.headers.get("Content-Length", 0) or 0)
            return json.loads(self.rfile.read(length) or b"{}")

        def do_GET(self) -> None:  # noqa: N802
            if self.path.endswith("/version"):
                self.reply_json(200, {"ApiVersion": "1.45", "Version": "27.0.0"})
            elif "/containers/" in self.path and self.path.endswith("/json"):
                cid = self.path.split("/containers/")[1].split("/")[0]
                self.reply_json(200, {"Id": cid, "Name": f"/{cid}", "State": {}})
            elif self.path.endswith("/_ping"):
                self.reply(200, b"OK", "text/plain")
            else:
                self.reply_json(404, {"message": f"not faked: GET {self.path}"})

        def do_POST(self) -> None:  # noqa: N802
            if "/containers/create" in self.path:
                state.requests.append(self._body())
                self.reply_json(201, {"Id": f"c{len(state.requests)}", "Warnings": []})
            elif self.path.endswith("/start"):
                self.reply(204, b"", "text/plain")
            else:
                self.reply_json(404, {"message": f"not faked: POST {self.path}"})

    with serving(Handler) as state.base_url:
        yield state


@contextmanager
def fake_kubernetes(tmp: Path) -> Iterator[tuple[Recorded, Path]]:
    """(recorded Job bodies, kubeconfig file)."""
    state = Recorded()

    class Handler(FakeHandler):
        def do_POST(self) -> None:  # noqa: N802
            length = int(self.headers.get("Content-Length", 0) or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            if self.path.startswith("/apis/batch/v1/namespaces/") and self.path.endswith("/jobs"):
                state.requests.append({"path": self.path, "body": body})
                self.reply_json(201, body)
            else:
                self.reply_json(404, {"kind": "Status", "message": f"not faked: {self.path}"})

    with serving(Handler) as state.base_url:
        kubeconfig = tmp / "kubeconfig"
        kubeconfig.write_text(yaml.safe_dump({
            "apiVersion": "v1", "kind": "Config", "current-context": "fake",
            "clusters": [{"name": "fake", "cluster": {"server": state.base_url}}],
            "users": [{"name": "fake", "user": {"token": "fake-token"}}],
            "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "fake"}}],
        }))
        yield state, kubeconfig


# ---------------------------------------------------------------------------------------------
# A household on the test's databases


def unreachable_database(label: str) -> str:
    """A DSN nothing connects to: for checks that only read the configuration."""
    return f"postgresql://{label}:pw-of-{label}@db.invalid:5432/{label}"


def person_yaml(name: str, home: Path, archive: Path, **extra) -> dict:
    doc = {
        "home": str(home), "timezone": "Europe/London", "start_date": "2023-01-01",
        "tiers": {"core": {"dsn": "env:CORE_DATABASE_URL", "quota_mb": 500},
                  "main": {"dsn": "env:MAIN_DATABASE_URL"},
                  "archive": {"url": f"file://{archive}", "encryption_key": "env:ARCHIVE_KEY"}},
        "tables": DEFAULT_TABLES,
        "telegram": {"token": "env:TELEGRAM_BOT_TOKEN", "chat_id": f"chat-{name}"},
        "notify": {"telegram": True},
    }
    doc.update(extra)
    return doc


def make_household(root: Path, make_database, persons: tuple[str, ...] = ("alice", "bob"),
                   settings: dict | None = None, telegram: dict | None = None,
                   archive_url: str | None = None, **extra) -> dict[str, dict[str, str]]:
    """Write the household; returns each person's secrets (name → value) for the asserts."""
    import base64

    root.mkdir(parents=True, exist_ok=True)
    if settings is not None:
        (root / "household.yaml").write_text(yaml.safe_dump(settings))
    secrets = {}
    for i, name in enumerate(persons):
        folder = root / name
        folder.mkdir()
        home = root.parent / "homes" / name  # pgserver refuses a home with a space
        base_url = (telegram or {}).get(name, "https://api.telegram.org")
        doc = person_yaml(name, home, root / "archives" / name, **extra)
        doc["telegram"]["base_url"] = base_url
        if archive_url:
            doc["tiers"]["archive"]["url"] = archive_url.format(person=name)
        (folder / "persys.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
        secrets[name] = {
            "CORE_DATABASE_URL": make_database(f"{name}_core"),
            "MAIN_DATABASE_URL": make_database(f"{name}_main"),
            "ARCHIVE_KEY": f"k{i}:" + base64.b64encode(bytes([i + 1]) * 32).decode(),
            "TELEGRAM_BOT_TOKEN": f"{100 + i}:secret-token-of-{name}",
        }
        (folder / "secrets.env").write_text(
            "".join(f"{k}='{v}'\n" for k, v in secrets[name].items()))
    return secrets


# ---------------------------------------------------------------------------------------------
# A real code server, started as the person's container starts it


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PERSYS_", "DAGSTER_")) or k.startswith("PERSYS_TEST_")}
    env.update(extra)
    return env


@contextmanager
def code_server(env: dict[str, str], location: str, cwd: Path) -> Iterator[int]:
    """`dagster code-server start -m persys_pipelines.definitions` on 127.0.0.1; its port."""
    port = free_port()
    log = cwd / f"code-server-{location}.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "dagster", "code-server", "start", "-h", "127.0.0.1", "-p",
             str(port), "-m", "persys_pipelines.definitions", "--location-name", location],
            env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            check = subprocess.run([sys.executable, "-m", "dagster", "api", "grpc-health-check",
                                    "-p", str(port), "--host", "127.0.0.1"], env=env,
                                   capture_output=True)
            if check.returncode == 0:
                break
            assert proc.poll() is None, log.read_text()[-3000:]
            time.sleep(0.5)
        else:
            raise AssertionError("code server did not start: " + log.read_text()[-3000:])
        yield port
    finally:
        stop_tree(proc.pid, grace=30)  # its children (a webserver's code server) too
        proc.wait()
