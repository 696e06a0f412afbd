"""An --as-of later than tomorrow purges what is not due yet: refused without --yes."""

from __future__ import annotations

import datetime as dt

import pytest

from persys_pipelines.cli import main

FAR = (dt.date.today() + dt.timedelta(days=400)).isoformat()


@pytest.mark.parametrize("command", [["lifecycle", "run"], ["archive", "purge"]])
def test_a_far_as_of_is_refused_without_yes(cfg, capsys, command):
    assert main([*command, "--as-of", FAR]) == 1
    err = capsys.readouterr().err
    assert f"--as-of {FAR} is later than tomorrow" in err
    assert "cannot be undone" in err and "add --yes" in err and "--dry-run" in err


def test_dry_run_needs_no_yes(cfg, capsys):
    assert main(["archive", "purge", "--as-of", FAR, "--dry-run"]) == 0
    assert "purge: would delete 0 files" in capsys.readouterr().out


def test_yes_goes_ahead(cfg, capsys):
    assert main(["archive", "purge", "--as-of", FAR, "--yes"]) == 0
    assert "purge: deleted 0 files" in capsys.readouterr().out


def test_tomorrow_needs_no_yes(cfg, capsys):
    tomorrow = (cfg.today() + dt.timedelta(days=1)).isoformat()
    assert main(["archive", "purge", "--as-of", tomorrow]) == 0
    assert "purge: deleted 0 files" in capsys.readouterr().out
