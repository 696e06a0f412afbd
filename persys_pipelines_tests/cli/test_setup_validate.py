"""`persys setup --validate` reports a wrong-length key and an only_when column the table lacks
as FAIL lines with the fix; the key itself is never printed."""

from __future__ import annotations

import base64

from persys_pipelines import handles as setup_lib
from persys_pipelines.cli import main
from persys_pipelines.lib.config import load_config
from persys_pipelines_tests.conftest import DEFAULT_TABLES, write_config

SHORT_KEY = base64.b64encode(b"sixteen byte key").decode()  # 16 bytes, AES-256 needs 32


def test_a_16_byte_key_is_a_fail_line_naming_the_key(tmp_path, tier_dsns, capsys):
    path = write_config(tmp_path / "persys.yaml", tier_dsns, tmp_path / "home", tiers={
        "core": {"dsn": tier_dsns["core"]}, "main": {"dsn": tier_dsns["main"]},
        "archive": {"url": f"file://{tmp_path / 'archive'}", "encryption_key": f"k1:{SHORT_KEY}"},
    })
    assert main(["setup", "--validate", "--config", str(path)]) == 1
    out = capsys.readouterr().out
    (line,) = [x for x in out.splitlines() if x.startswith("FAIL")]
    assert "tiers.archive.encryption_key: decodes to 16 bytes, AES-256 needs 32" in line
    assert "os.urandom(32)" in line and SHORT_KEY not in out and SHORT_KEY[:8] not in out
    assert "0 ok, 1 failed" in out

    assert main(["status", "--config", str(path)]) == 2  # every command refuses it at load
    err = capsys.readouterr().err
    assert "tiers.archive.encryption_key" in err and SHORT_KEY[:8] not in err


def test_a_listed_key_that_is_not_base64_names_its_position(tmp_path, tier_dsns, capsys):
    good = base64.b64encode(bytes(32)).decode()
    path = write_config(tmp_path / "persys.yaml", tier_dsns, tmp_path / "home", tiers={
        "archive": {"encryption_key": [f"a:{good}", "b:not*base64*secret"]},
    })
    assert main(["setup", "--validate", "--config", str(path)]) == 1
    out = capsys.readouterr().out
    assert "FAIL  config" in out and "tiers.archive.encryption_key[1]: not base64" in out
    assert "secret" not in out and "encryption_key[0]" not in out


def test_only_when_on_a_missing_column_is_a_fail_line(tmp_path, tier_dsns, capsys):
    tables = {**DEFAULT_TABLES, "tasks": {**DEFAULT_TABLES["tasks"],
                                          "only_when": {"state": "done"}}}
    path = write_config(tmp_path / "persys.yaml", tier_dsns, tmp_path / "home", tables=tables)
    setup_lib.setup_tiers(load_config(path))
    assert main(["setup", "--validate", "--config", str(path)]) == 1
    fails = [x for x in capsys.readouterr().out.splitlines() if x.startswith("FAIL")]
    assert fails and all(x.startswith(("FAIL  core: tasks", "FAIL  main: tasks")) for x in fails)
    assert "tables.tasks.only_when: table tasks has no column 'state'" in fails[0]
    assert "fix or remove only_when in persys.yaml" in fails[0]
