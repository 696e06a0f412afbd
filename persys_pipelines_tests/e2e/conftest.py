"""e2e set-up: Debian's chromium (`.ci/run` installs it; never installed from here) and a
`persys up` on sample data in a temporary home, always stopped after."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

from persys_pipelines_tests.voice_fakes import BOT_TOKEN, FakeTelegramVoice, fake_telegram_voice

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def persys(*args: str, env: dict, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "persys_pipelines.cli", *args], env=env,
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="session")
def chromium() -> Path:
    """Debian's /usr/bin/chromium (`sudo apt-get install -y chromium`; `.ci/run` does it)."""
    if not CHROMIUM.exists():
        raise RuntimeError(f"{CHROMIUM} is missing: `sudo apt-get install -y chromium`, then "
                           "`make e2e` (`.ci/run` does both)")
    return CHROMIUM


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@dataclass
class Up:
    home: Path
    port: int
    env: dict
    url: str
    pid: int
    config: Path
    telegram: FakeTelegramVoice


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def persys_up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Up]:
    """`persys setup --sample-data` then `persys up --detach` in a fresh home, with the packaged
    default config plus a Telegram bot (a fake on 127.0.0.1); `persys down` afterwards, and a
    check that no process of the tree survived."""
    home = tmp_path_factory.mktemp("e2e") / "home"
    telegram_cm = fake_telegram_voice()
    telegram = telegram_cm.__enter__()
    default = (Path(__file__).resolve().parents[2] / "persys_pipelines"
               / "default_persys.yaml").read_text()
    config = home.parent / "persys.yaml"
    config.write_text(default + "telegram:\n  token: env:E2E_BOT_TOKEN\n  chat_id: '42'\n"
                      f"  base_url: {telegram.base_url}\n")
    env = {**os.environ, "PERSYS_HOME": str(home), "PERSYS_CONFIG": str(config),
           "E2E_BOT_TOKEN": BOT_TOKEN}
    for name in ("DAGSTER_HOME", "CORE_DATABASE_URL", "MAIN_DATABASE_URL"):
        env.pop(name, None)
    setup = persys("setup", "--sample-data", "--days", "60", env=env)
    assert setup.returncode == 0, setup.stdout + setup.stderr
    port = free_port()
    up = persys("up", "--detach", "--port", str(port), env=env)
    tree: list[int] = []
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        pid = int(up.stdout.split("(pid ")[1].split(")")[0])
        tree = [pid, *(p.pid for p in psutil.Process(pid).children(recursive=True))]
        yield Up(home, port, env, f"http://127.0.0.1:{port}", pid, config, telegram)
    finally:
        down = persys("down", env=env, timeout=120)
        telegram_cm.__exit__(None, None, None)
        (ARTIFACTS / "dagster-dev.log").parent.mkdir(exist_ok=True)
        log = home / "run" / "dagster-dev.log"
        if log.exists():
            shutil.copyfile(log, ARTIFACTS / "dagster-dev.log")
    assert down.returncode == 0, down.stdout + down.stderr
    alive = [p for p in tree if psutil.pid_exists(p)
             and psutil.Process(p).status() != psutil.STATUS_ZOMBIE]
    assert not alive, f"left behind: {alive}"
