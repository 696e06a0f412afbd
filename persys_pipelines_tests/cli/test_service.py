"""`persys service`: the systemd unit text, install/status/uninstall in a tmp folder (systemctl
is never run here), and the docker-compose.yml at the project root."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
import yaml

from persys_pipelines.cli import main
from persys_pipelines.cli import service as service_cli
from persys_pipelines.lib import service as service_lib
from persys_pipelines.lib.pg.tiers import stop_embedded

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def no_systemctl(monkeypatch):
    real = service_cli.subprocess.run

    def refuse(cmd, *args, **kwargs):
        if "systemctl" in str(cmd[0]):
            raise AssertionError(f"systemctl was called: {cmd}")
        return real(cmd, *args, **kwargs)

    monkeypatch.setattr(service_cli.subprocess, "run", refuse)


def _line(text: str, key: str) -> list[str]:
    return [line.split("=", 1)[1] for line in text.splitlines() if line.startswith(f"{key}=")]


def test_units_start_dagster_directly_and_quote_paths_with_spaces(tmp_path):
    project = tmp_path / "my projects" / "persys"
    spec = service_lib.ServiceSpec(project=project, dagster_home=tmp_path / "h 1" / "dagster",
                                   config=tmp_path / "cfg 100%.yaml", persys_home=tmp_path / "h 1",
                                   port=3100, user=True, bin_dir=Path("/opt/venv x/bin"))
    units = service_lib.render_units(spec)
    assert set(units) == set(service_lib.UNITS)
    web, daemon = units[service_lib.WEBSERVER], units[service_lib.DAEMON]
    workspace = str(project / "workspace.yaml")
    # systemd splits ExecStart= like a shell would for these quotes
    assert shlex.split(_line(web, "ExecStart")[0]) == [
        "/opt/venv x/bin/dagster-webserver", "-w", workspace, "-h", "127.0.0.1", "-p", "3100"]
    assert shlex.split(_line(daemon, "ExecStart")[0]) == [
        "/opt/venv x/bin/dagster-daemon", "run", "-w", workspace]
    for text in (web, daemon):
        assert "Restart=on-failure" in text.splitlines()
        assert _line(text, "WorkingDirectory") == [str(project)]
        env = [shlex.split(e)[0] for e in _line(text, "Environment")]
        assert f"DAGSTER_HOME={tmp_path / 'h 1' / 'dagster'}" in env
        assert f"PERSYS_CONFIG={tmp_path / 'cfg 100%%.yaml'}" in env, "% doubled for systemd"
        assert "WantedBy=default.target" in text and "User=" not in text
    system = service_lib.render_units(service_lib.ServiceSpec(
        project=project, dagster_home=tmp_path, config=None, persys_home=tmp_path))
    text = system[service_lib.DAEMON]
    assert "WantedBy=multi-user.target" in text and _line(text, "User")
    assert not any(e.startswith("PERSYS_CONFIG") for e in _line(text, "Environment"))


def test_dry_run_prints_and_writes_nothing(cfg, config_path, tmp_path, capsys):
    target = tmp_path / "units"
    assert main(["service", "install", "--dry-run", "--port", "3005",
                 "--target-dir", str(target)]) == 0
    out = capsys.readouterr().out
    assert f"# {target / service_lib.WEBSERVER}" in out and "-p 3005" in out
    assert "dagster-daemon run -w" in out and f"PERSYS_CONFIG={config_path}" in out
    assert not target.exists()


@pytest.fixture
def stops_the_instance_server(cfg):
    """`service install` prepares the Dagster instance in the embedded server of `home`, which
    keeps running for the service to use: stopped after the test."""
    yield
    stop_embedded(cfg.home)


def test_install_status_uninstall_in_a_folder(cfg, config_path, tmp_path, capsys,
                                              stops_the_instance_server):
    target = tmp_path / "units"
    assert main(["service", "status", "--target-dir", str(target)]) == 1
    assert main(["service", "install", "--user", "--target-dir", str(target)]) == 0
    out = capsys.readouterr().out
    assert "systemctl not called; enable them with: systemctl --user daemon-reload" in out
    assert sorted(p.name for p in target.iterdir()) == sorted(service_lib.UNITS)
    assert (cfg.home / "dagster" / "dagster.yaml").exists()
    assert main(["service", "status", "--target-dir", str(target)]) == 0
    assert "installed" in capsys.readouterr().out
    assert main(["service", "uninstall", "--target-dir", str(target)]) == 0
    assert list(target.iterdir()) == []


def test_docker_compose_names_its_services_and_volumes():
    doc = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = doc["services"]
    assert set(services) == {"postgres", "code", "webserver", "daemon"}
    assert set(doc["volumes"]) >= {"pgdata", "dagster_home", "persys_home"}
    for name, svc in services.items():
        for volume in svc.get("volumes", []):
            source = volume.split(":")[0]
            assert source in doc["volumes"] or source.startswith("."), (name, volume)
    assert "dagster-webserver" in " ".join(services["webserver"]["command"])
    assert services["daemon"]["command"][:2] == ["dagster-daemon", "run"]
    assert "code-server" in services["code"]["command"] or "grpc" in services["code"]["command"]
    assert "postgres" in services["daemon"]["depends_on"]
