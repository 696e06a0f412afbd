"""The embedded default: started on demand, attached to by a second process, stopped by down."""

from __future__ import annotations

import subprocess
import sys

import psycopg

from persys_pipelines.cli import main
from persys_pipelines.handles import resolve_tiers
from persys_pipelines.lib.config import load_config
from persys_pipelines.lib.pg.tiers import embedded_running, embedded_uri


def test_second_process_attaches_and_down_stops(tmp_path, monkeypatch, capsys):
    home = tmp_path / "home"
    monkeypatch.setenv("PERSYS_HOME", str(home))
    monkeypatch.delenv("PERSYS_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)  # no persys.yaml here: the packaged default, embedded tiers
    assert embedded_running(home) is None

    started = subprocess.run(
        [sys.executable, "-m", "persys_pipelines.cli", "setup"],
        capture_output=True, text=True, timeout=120, check=True,
    )
    assert "core: created journal_entries" in started.stdout
    pid = embedded_running(home)
    assert pid is not None, "the server keeps running after the first process exits"

    tiers = resolve_tiers(load_config())
    assert embedded_running(home) == pid, "attached, not started twice"
    assert tiers["core"].embedded and "/persys_core?" in tiers["core"].dsn
    with psycopg.connect(embedded_uri(home, "persys_main")) as conn:
        assert conn.execute("select to_regclass('persys.ledger') is not null").fetchone()[0]

    assert main(["down"]) == 0
    assert "stopped the embedded PostgreSQL" in capsys.readouterr().out
    assert embedded_running(home) is None
    assert main(["down"]) == 0
    assert "was not running" in capsys.readouterr().out
