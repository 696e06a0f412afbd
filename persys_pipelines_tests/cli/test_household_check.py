"""`persys household check|workspace` and `--household/--person`: what keeps persons apart is
checked before anything runs, every problem named with both persons and the fix; the local
workspace (one code location per person) validates with plain `dagster`."""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml

from persys_pipelines.cli import main
from persys_pipelines_tests.cli.test_household_runs import persys
from persys_pipelines_tests.deploy_fakes import clean_env, make_household, unreachable_database


def edit(path, **changes) -> None:
    doc = yaml.safe_load(path.read_text())
    for dotted, value in changes.items():
        node, *keys = [doc, *dotted.split("__")]
        for key in keys[:-1]:
            node = node.setdefault(key, {})
        node[keys[-1]] = value
    path.write_text(yaml.safe_dump(doc))


def check(root, capsys) -> tuple[int, str]:
    code = main(["household", "check", "--household", str(root)])
    return code, capsys.readouterr().out


@pytest.mark.slow
def test_a_sound_household_passes_and_its_workspace_validates(tmp_path, make_database, capsys,
                                                              monkeypatch):
    root = tmp_path / "h"
    make_household(root, make_database, settings={"persons": {"bob": {"run_limit": 3}}})
    code, out = check(root, capsys)
    assert code == 0 and "ok: 2 persons" in out and "bob" in out
    out_dir = tmp_path / "dagster"
    assert main(["household", "workspace", "--household", str(root), "--out",
                 str(out_dir)]) == 0
    ws = yaml.safe_load((out_dir / "workspace.yaml").read_text())
    assert [x["python_file"]["location_name"] for x in ws["load_from"]] == ["alice", "bob"]
    env = clean_env(DAGSTER_HOME=str(out_dir), PERSYS_DAGSTER_PG_URL=make_database(
        "dagster").replace("postgresql://", "postgresql+psycopg2://", 1))
    done = subprocess.run([sys.executable, "-m", "dagster", "definitions", "validate", "-w",
                           str(out_dir / "workspace.yaml")], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    said = done.stdout + done.stderr
    assert "code location alice" in said and "code location bob" in said, said[-1500:]


@pytest.mark.parametrize("person, changes, expected", [
    ("bob", {"tiers__main__dsn": "env:SHARED_MAIN"}, "alice and bob share the database"),
    ("bob", {"tiers__archive__url": "file://{root}/archives/alice/sub"}, "one inside the other"),
    ("bob", {"telegram__chat_id": "chat-alice"}, "share a Telegram chat"),
    ("bob", {"home": "{root}/../homes/alice"}, "share the home"),
])
def test_what_two_persons_share_is_refused(tmp_path, capsys, monkeypatch,
                                           person, changes, expected):
    root = tmp_path / "h"
    secrets = make_household(root, unreachable_database)
    monkeypatch.setenv("SHARED_MAIN", secrets["alice"]["MAIN_DATABASE_URL"])
    edit(root / person / "persys.yaml",
         **{k: v.format(root=root) for k, v in changes.items()})
    code, out = check(root, capsys)
    assert code == 1 and expected in out, out
    assert all(v not in out for s in secrets.values() for v in s.values())  # no secret shown


def test_secrets_from_one_shared_environment_and_ssm_outside_the_prefix(tmp_path, make_database,
                                                                       capsys, monkeypatch):
    root = tmp_path / "h"
    make_household(root, unreachable_database, settings={"ssm_prefix": "/persys/{person}/"})
    monkeypatch.setenv("ELEVEN_KEY", "one key for everyone")
    for person in ("alice", "bob"):
        edit(root / person / "persys.yaml", voice__elevenlabs__api_key="env:ELEVEN_KEY")
    code, out = check(root, capsys)
    assert code == 1 and "share the variable ELEVEN_KEY from the shared environment" in out
    assert "secrets.env" in out


def test_person_arguments_are_checked(tmp_path, capsys):
    root = tmp_path / "h"
    make_household(root, unreachable_database)
    (root / "Carol Smith").mkdir()
    (root / "Carol Smith" / "persys.yaml").write_text("timezone: Europe/London\n")
    assert persys("--household", str(root), "--person", "alice", "status") != 0
    err = capsys.readouterr().err
    assert "'Carol Smith' is not a person's name" in err and "carol-smith" in err
    (root / "Carol Smith" / "persys.yaml").unlink()
    assert persys("--household", str(root), "status") != 0
    assert "add --person NAME (persons: alice, bob)" in capsys.readouterr().err
    assert persys("--household", str(root), "--person", "dave", "status") != 0
    assert "no person 'dave' (persons: alice, bob)" in capsys.readouterr().err
