"""`make install` puts `persys` on the PATH: a link in BINDIR that runs from any folder, and
says so when BINDIR is not on the PATH; `make uninstall` takes it away."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_make_install_links_persys_into_a_folder_on_the_path(tmp_path: Path) -> None:
    bindir = tmp_path / "my bin"
    env = {**os.environ, "PATH": "/usr/bin:/bin"}
    # -o: the virtualenv the suite runs in is the one `make` made; do not rebuild it here
    done = subprocess.run(["make", "-s", "-o", ".venv/.installed", "install",
                           f"BINDIR={bindir}"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{bindir} is not on your PATH" in done.stdout
    assert (bindir / "persys").is_symlink()
    env["PATH"] = f"{bindir}:/usr/bin:/bin"
    helped = subprocess.run(["persys", "--help"], cwd=tmp_path, env=env, capture_output=True,
                            text=True, timeout=120)
    assert helped.returncode == 0 and "persys init" not in helped.stderr
    assert "init" in helped.stdout and "schedules" in helped.stdout
    subprocess.run(["make", "-s", "uninstall", f"BINDIR={bindir}"], cwd=ROOT, env=env,
                   check=True, timeout=60)
    assert not (bindir / "persys").exists()
