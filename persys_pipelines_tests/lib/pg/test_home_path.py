"""A home the embedded PostgreSQL cannot start under (pgserver hands it to the shell unquoted)
is refused at load, saying why and which path would work."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from persys_pipelines.lib.config import ConfigError, load_config
from persys_pipelines.lib.pg.tiers import embedded_running

ROOT = Path(__file__).parents[3]


def test_setup_with_a_space_and_an_apostrophe_in_home_is_refused(tmp_path: Path) -> None:
    """`persys setup` for real: without the check pgserver fails with a shell syntax error."""
    home = tmp_path / "x" / "my persys's home"
    config = tmp_path / "persys.yaml"
    config.write_text(yaml.safe_dump({"home": str(home)}))
    env = {**os.environ, "PERSYS_CONFIG": str(config), "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-m", "persys_pipelines.cli", "setup"], env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert f"home ({str(home)!r}): the path holds a space, an apostrophe" in result.stderr
    assert "pgserver" in result.stderr and "unquoted" in result.stderr
    assert str(tmp_path / "x" / "my_persys_s_home") in result.stderr
    assert not home.exists() and embedded_running(home) is None


def test_persys_home_is_checked_too(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("PERSYS_HOME", str(tmp_path / "with space"))
    config = tmp_path / "persys.yaml"
    config.write_text("timezone: Europe/London\n")
    with pytest.raises(ConfigError) as info:
        load_config(config)
    assert info.value.problems[0].startswith(f"PERSYS_HOME ({str(tmp_path / 'with space')!r})")


def test_an_ordinary_home_still_loads(tmp_path: Path) -> None:
    config = tmp_path / "persys.yaml"
    config.write_text(yaml.safe_dump({"home": str(tmp_path / "my-persys_home.2")}))
    assert load_config(config).home == tmp_path / "my-persys_home.2"
