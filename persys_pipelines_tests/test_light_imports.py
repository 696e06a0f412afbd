"""Loading the definitions (what the code server, the daemon's sensor ticks and the CLI do)
does not import pandas, pyarrow, numpy or matplotlib: they load when an asset computes with
them, so the code server stays small (bench/footprint.py)."""

from __future__ import annotations

import os
import subprocess
import sys

HEAVY = ("pandas", "pyarrow", "numpy", "matplotlib")


def test_definitions_load_without_the_heavy_libraries(config_path):
    probe = ("import sys, persys_pipelines.definitions as d; "
             "assert d.defs.resolve_all_job_defs(); "
             f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))")
    env = {**os.environ, "PERSYS_CONFIG": str(config_path)}
    out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "", f"imported at load: {out.stdout.strip()}"


def test_a_lazy_library_loads_on_first_use():
    probe = ("import sys; from persys_pipelines.lib.archive import format as f; "
             "assert 'pyarrow' not in sys.modules; "
             "print(f.column_for('n', 'integer').arrow_type, 'pyarrow' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["int32", "True"]
