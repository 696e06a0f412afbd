"""`persys up` on a taken port fails at once; `persys down` works with unrelated env: unset."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import yaml

from persys_pipelines.cli import main
from persys_pipelines.lib.pg.tiers import embedded_running, embedded_server


def test_up_on_a_taken_port_says_so_at_once(tmp_path: Path, capsys) -> None:
    config = tmp_path / "persys.yaml"
    config.write_text(yaml.safe_dump({"home": str(tmp_path / "home")}))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        started = time.monotonic()
        code = main(["up", "--config", str(config), "--port", str(port)])
        elapsed = time.monotonic() - started
    err = capsys.readouterr().err
    assert code == 1 and elapsed < 5
    assert f"port {port} on 127.0.0.1 is already in use" in err
    assert "--port" in err
    assert embedded_running(tmp_path / "home") is None  # nothing was started


def test_down_with_an_unrelated_env_value_unset(tmp_path: Path, monkeypatch, capsys,
                                                caplog) -> None:
    """telegram.token: env:TELEGRAM_BOT_TOKEN not exported: `down` still stops the server."""
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    home = tmp_path / "home"
    config = tmp_path / "persys.yaml"
    config.write_text(yaml.safe_dump({
        "home": str(home),
        "telegram": {"token": "env:TELEGRAM_BOT_TOKEN", "chat_id": "42"},
        "notify": {"telegram": True},
    }))
    embedded_server(home)
    try:
        assert main(["down", "--config", str(config)]) == 0
    finally:
        if embedded_running(home):
            main(["down", "--config", str(config)])
    out, err = capsys.readouterr()
    assert "stopped the embedded PostgreSQL" in out
    assert "TELEGRAM_BOT_TOKEN is not set" in caplog.text and "ignored" in caplog.text
    assert "persys:" not in err
    assert embedded_running(home) is None

    assert main(["status", "--config", str(config)]) == 2  # other commands still refuse
    assert "TELEGRAM_BOT_TOKEN is not set" in capsys.readouterr().err
