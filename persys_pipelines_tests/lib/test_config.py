"""persys.yaml: every error names the key and the fix; env:/ssm: values resolve."""

from __future__ import annotations

import textwrap

import boto3
import pytest

from persys_pipelines.lib.config import ConfigError, load_config, parse_config
from persys_pipelines.lib.config.text import read_ssm_parameter


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(textwrap.dedent(text), source="test.yaml")
    return info.value.problems


def test_packaged_default_loads(monkeypatch, tmp_path):
    monkeypatch.delenv("PERSYS_CONFIG", raising=False)
    monkeypatch.delenv("PERSYS_HOME", raising=False)
    monkeypatch.chdir(tmp_path)
    cfg = load_config()
    assert cfg.home == tmp_path / ".persys"
    assert "journal_entries" in cfg.tables
    assert cfg.tables["tasks"].only_when == {"status": "done"}
    assert cfg.archive_url == f"file://{tmp_path / '.persys' / 'archive'}"


def test_core_days_above_main_days_names_the_key():
    assert problems("""
        tables:
          journal_entries: {day_column: entry_date, core_days: 400, main_days: 365}
    """) == ["tables.journal_entries.core_days (400) must be <= main_days (365)"]


def test_main_days_above_delete_days():
    (msg,) = problems("""
        tables:
          t: {day_column: d, core_days: 7, main_days: 400, delete_days: 300}
    """)
    assert msg == "tables.t.main_days (400) must be <= delete_days (300)"


def test_unknown_keys_are_errors_with_the_allowed_keys():
    msgs = problems("""
        hom: x
        tiers:
          core: {quota: 500}
        tables:
          t: {day_column: d, core_days: 1, keep_days: 3}
    """)
    assert ("hom: unknown key; allowed keys here: home, timezone, start_date, tiers, tables, "
            "daily, backup, telegram, voice, notify, health, costs, imports") in msgs
    assert any(m.startswith("tiers.core.quota: unknown key; allowed keys here: dsn, quota_mb")
               for m in msgs)
    assert any(m.startswith("tables.t.keep_days: unknown key; allowed keys here: day_column")
               for m in msgs)


def test_missing_environment_variable_names_it(monkeypatch):
    monkeypatch.delenv("CORE_DATABASE_URL", raising=False)
    (msg,) = problems("""
        tiers:
          core: {dsn: env:CORE_DATABASE_URL}
    """)
    assert msg == ("tiers.core.dsn: environment variable CORE_DATABASE_URL is not set; "
                   "export CORE_DATABASE_URL=... or change the value")


def test_env_value_is_read_and_kept_secret(monkeypatch):
    monkeypatch.setenv("CORE_DATABASE_URL", "postgresql://u:hunter2@db.example:5432/postgres")
    cfg = parse_config("tiers:\n  core: {dsn: env:CORE_DATABASE_URL}\n")
    assert cfg.tiers.core.dsn.get_secret_value().endswith("db.example:5432/postgres")
    assert "hunter2" not in repr(cfg) and "hunter2" not in str(cfg.model_dump())


def test_bad_values_say_what_is_wrong():
    msgs = problems("""
        timezone: Mars/Olympus
        start_date: yesterday
        tiers:
          core: {warn_pct: 95, critical_pct: 90}
          archive: {url: ftp://nas/archive}
        tables:
          t: {core_days: -1}
    """)
    assert "timezone ('Mars/Olympus'): is not a time zone name; use one like Europe/London" in msgs
    assert any(m.startswith("start_date ('yesterday'): input should be a valid date") for m in msgs)
    assert ("tiers.archive.url ('ftp://nas/archive'): must start with file:// (a folder) or "
            "s3:// (a bucket)") in msgs
    assert "tables.t.day_column: required key is missing; add it" in msgs
    assert any(m.startswith("tables.t.core_days (-1): input should be greater than or equal to 0")
               for m in msgs)


def test_warn_must_be_below_critical():
    (msg,) = problems("tiers:\n  core: {warn_pct: 95, critical_pct: 90}\n")
    assert msg.startswith("tiers.core.warn_pct (95) must be < critical_pct (90)")


def test_yaml_syntax_error_gives_the_line():
    (msg,) = problems("tables:\n  t: {day_column: d\n")
    assert msg.startswith("not valid YAML at line 3")


def test_persys_config_pointing_nowhere(monkeypatch, tmp_path):
    monkeypatch.setenv("PERSYS_CONFIG", str(tmp_path / "nope.yaml"))
    with pytest.raises(ConfigError, match="PERSYS_CONFIG points to .*nope.yaml, which does not"):
        load_config()


def test_relative_home_is_next_to_the_file_and_persys_home_wins(tmp_path, monkeypatch):
    path = tmp_path / "conf" / "persys.yaml"
    path.parent.mkdir()
    path.write_text("home: state\n")
    monkeypatch.delenv("PERSYS_HOME", raising=False)
    assert load_config(path).home == tmp_path / "conf" / "state"
    monkeypatch.setenv("PERSYS_HOME", str(tmp_path / "elsewhere"))
    assert load_config(path).home == tmp_path / "elsewhere"


def test_ssm_values_are_read_through_boto3(moto_server, monkeypatch):
    ssm = boto3.client("ssm", region_name="eu-west-2", endpoint_url=moto_server)
    ssm.put_parameter(Name="/persys/core_dsn", Value="postgresql://u:s3cret@h/db",
                      Type="SecureString")
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-2")
    read_ssm_parameter.cache_clear()
    cfg = parse_config("tiers:\n  core: {dsn: 'ssm:/persys/core_dsn'}\n")
    assert cfg.tiers.core.dsn.get_secret_value() == "postgresql://u:s3cret@h/db"

    (msg,) = problems("tiers:\n  main: {dsn: 'ssm:/persys/missing'}\n")
    assert msg.startswith("tiers.main.dsn: could not read SSM parameter /persys/missing "
                          "(ParameterNotFound")
