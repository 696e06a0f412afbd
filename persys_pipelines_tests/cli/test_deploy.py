"""`persys deploy compose|k8s`: the files load into Dagster, and a run launched through them
gets the container / Job a person's run should get, with no Docker daemon and no cluster.

Launches go through the real path: a real `dagster code-server start` with the environment
the generated service (or the chart's user deployment) gives it, then `dagster job launch`
with the generated instance, whose DockerRunLauncher / K8sRunLauncher talk to a fake Docker
Engine / Kubernetes API on 127.0.0.1 (deploy_fakes). The one change to the generated
dagster.yaml: Dagster's DefaultRunCoordinator instead of the queue, so the launch happens in
`dagster job launch` rather than in a daemon (the queue's limits are asserted separately).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest
import yaml

from persys_pipelines.cli import main
from persys_pipelines.lib.deploy import k8s
from persys_pipelines.lib.household.folder import load_household
from persys_pipelines_tests.deploy_fakes import (
    clean_env,
    code_server,
    fake_docker,
    fake_kubernetes,
    make_household,
    unreachable_database,
)

SETTINGS = {"name": "smiths", "max_concurrent_runs": 5,
            "defaults": {"run_limit": 1, "memory": "512Mi", "memory_limit": "2Gi"},
            "persons": {"alice": {"run_limit": 2, "cpu": "500m", "memory": "1Gi",
                                  "memory_limit": "3Gi", "cpu_limit": "1500m"}}}
BACKUP_CONFIG = {"ops": {"take_backup": {"config": {"tier": "core"}}}}


def instance_url(make_database) -> str:
    return make_database("dagster").replace("postgresql://", "postgresql+psycopg2://", 1)


def every_file(folder: Path) -> str:
    return "\n".join(p.read_text() for p in folder.rglob("*") if p.is_file())


def assert_no_secret(text: str, secrets: dict[str, dict[str, str]]) -> None:
    for person, values in secrets.items():
        for name, value in values.items():
            assert value not in text, f"{person}'s {name} leaked"


def launch(home: Path, instance_doc: dict, port: int, location: str, env: dict[str, str]
           ) -> subprocess.CompletedProcess:
    home.mkdir(parents=True, exist_ok=True)
    doc = {**instance_doc, "run_coordinator": {"module": "dagster.core.run_coordinator",
                                               "class": "DefaultRunCoordinator"}}
    (home / "dagster.yaml").write_text(yaml.safe_dump(doc))
    (home / "workspace.yaml").write_text(yaml.safe_dump({"load_from": [{"grpc_server": {
        "host": "127.0.0.1", "port": port, "location_name": location}}]}))
    (home / "run.yaml").write_text(yaml.safe_dump(BACKUP_CONFIG))
    return subprocess.run(
        [sys.executable, "-m", "dagster", "job", "launch", "-w", str(home / "workspace.yaml"),
         "-l", location, "-j", "backup_tier", "-c", str(home / "run.yaml")],
        env={**env, "DAGSTER_HOME": str(home)}, capture_output=True, text=True, timeout=180)


def runs_of(url: str, home: Path, monkeypatch) -> list[dg.DagsterRun]:
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("PERSYS_DAGSTER_PG_URL", url)
    with dg.DagsterInstance.get() as instance:
        return list(instance.get_runs())


@pytest.mark.slow
def test_compose_stack_runs_each_run_in_a_container_of_its_person(tmp_path, make_database,
                                                                   monkeypatch):
    root = tmp_path / "the smiths"  # a space in every host path
    secrets = make_household(root, make_database, settings=SETTINGS)
    out = tmp_path / "stack"
    assert main(["deploy", "compose", "--household", str(root), "--out", str(out)]) == 0

    schema = subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema",
                             "vendor.compose-spec", str(out / "docker-compose.yml")],
                            capture_output=True, text=True)
    assert schema.returncode == 0, schema.stdout + schema.stderr
    assert_no_secret(every_file(out), secrets)

    url = instance_url(make_database)
    monkeypatch.setenv("DAGSTER_HOME", str(out))
    monkeypatch.setenv("PERSYS_DAGSTER_PG_URL", url)
    with dg.DagsterInstance.get() as instance:  # the generated dagster.yaml, as is
        assert type(instance.run_launcher).__name__ == "DockerRunLauncher"
        queue = instance.get_concurrency_config().run_queue_config  # what the daemon dequeues by
        assert queue.max_concurrent_runs == 5
        assert {"key": "dagster/code_location", "value": {"applyLimitPerUniqueValue": True},
                "limit": 2} in queue.tag_concurrency_limits
        assert {"key": "dagster/code_location", "value": "bob", "limit": 1} \
            in queue.tag_concurrency_limits

    stack = yaml.safe_load((out / "docker-compose.yml").read_text())
    assert {"postgres", "code-alice", "code-bob", "webserver", "daemon"} == set(stack["services"])
    service = stack["services"]["code-alice"]
    assert not any("bob" in v for v in service["volumes"])
    env = clean_env(**service["environment"])
    # the container's paths on this machine: /household → root, dagster.yaml's folder → out
    env.update(PERSYS_HOUSEHOLD=str(root), PERSYS_HOUSEHOLD_HOMES=str(tmp_path / "homes"),
               PERSYS_DAGSTER_PG_URL=url, DAGSTER_HOME=str(out))
    for person in ("alice", "bob"):  # every person's location validates as its container runs it
        check = subprocess.run(
            [sys.executable, "-m", "dagster", "definitions", "validate", "-m",
             "persys_pipelines.definitions"], env={**env, "PERSYS_PERSON": person},
            cwd=tmp_path, capture_output=True, text=True, timeout=180)
        assert check.returncode == 0, check.stderr[-2000:]

    with fake_docker() as docker, code_server(env, "alice", tmp_path) as port:
        launched = launch(tmp_path / "launch", yaml.safe_load((out / "dagster.yaml").read_text()),
                          port, "alice", {**env, "DOCKER_HOST": docker.base_url.replace(
                              "http://", "tcp://")})
        assert launched.returncode == 0, launched.stderr[-3000:]
    (create,) = docker.requests
    assert create["Image"] == "persys-pipelines:latest"
    assert create["Cmd"][:3] == ["dagster", "api", "execute_run"]
    names = {e.split("=", 1)[0]: e.split("=", 1)[1] for e in create["Env"]}
    assert names["PERSYS_PERSON"] == "alice" and names["PERSYS_HOUSEHOLD"] == "/household"
    assert {"PERSYS_DAGSTER_PG_URL", "DAGSTER_RUN_JOB_NAME", "PERSYS_HOUSEHOLD_HOMES"} <= set(names)
    assert not set(secrets["alice"]) & set(names)  # secrets come from her file, not the spec
    assert_no_secret(json.dumps(create), secrets)
    host = create["HostConfig"]
    assert host["NetworkMode"] == "smiths-network"
    assert f"{root}/alice/persys.yaml:/household/alice/persys.yaml:ro" in host["Binds"]
    assert f"{root}/alice/secrets.env:/household/alice/secrets.env:ro" in host["Binds"]
    assert any(b.startswith("smiths-home-alice:/var/lib/persys/alice") for b in host["Binds"])
    archive = f"{root}/archives/alice"  # her file:// archive, at the same path inside
    assert any(b.startswith(f"{archive}:{archive}") for b in host["Binds"])
    assert not any("bob" in b for b in host["Binds"])
    assert host["Memory"] == 3 * 2**30 and host["MemoryReservation"] == 2**30
    assert host["NanoCpus"] == 1_500_000_000
    assert create["Labels"]["persys/person"] == "alice"

    (run,) = runs_of(url, tmp_path / "launch", monkeypatch)
    assert run.tags["dagster/code_location"] == "alice"  # what the per-person limit counts


@pytest.mark.slow
def test_k8s_values_launch_a_job_per_run_with_the_persons_secret(tmp_path, make_database,
                                                                 monkeypatch):
    root = tmp_path / "the smiths"
    secrets = make_household(root, make_database, settings=SETTINGS,
                             archive_url="s3://smiths-archive/{person}")
    out = tmp_path / "k8s"
    assert main(["deploy", "k8s", "--household", str(root), "--out", str(out),
                 "--namespace", "family"]) == 0
    assert_no_secret(every_file(out), secrets)
    values = yaml.safe_load((out / "values.yaml").read_text())
    names = [d["name"] for d in values["dagster-user-deployments"]["deployments"]]
    assert names == ["alice", "bob"]
    alice = values["dagster-user-deployments"]["deployments"][0]
    assert alice["envSecrets"] == [{"name": "smiths-alice-secrets"}]
    assert alice["resources"] == {"requests": {"cpu": "500m", "memory": "1Gi"},
                                  "limits": {"cpu": "1500m", "memory": "3Gi"}}
    script = (out / "secrets.sh").read_text()
    assert f"persys deploy secret --household '{root}' --person alice | kubectl" in script

    household = load_household(root)
    context = k8s.chart_container_context(household, values, "alice", "family")
    url = instance_url(make_database)
    with fake_kubernetes(tmp_path) as (cluster, kubeconfig):
        preview = yaml.safe_load((out / "instance-preview.yaml").read_text())
        preview["run_launcher"]["config"].update(load_incluster_config=False,
                                                 kubeconfig_file=str(kubeconfig))
        instance_doc = {"storage": {"custom": {
            "module": "persys_pipelines.defs.instance_storage", "class": "PersysStorage",
            "config": {"postgres_url": {"env": "PERSYS_DAGSTER_PG_URL"}}}}, **preview}
        home = tmp_path / "instance"
        home.mkdir()
        (home / "dagster.yaml").write_text(yaml.safe_dump(instance_doc))
        monkeypatch.setenv("DAGSTER_HOME", str(home))
        monkeypatch.setenv("PERSYS_DAGSTER_PG_URL", url)
        with dg.DagsterInstance.get() as instance:
            assert type(instance.run_launcher).__name__ == "K8sRunLauncher"

        # the pod of alice's user deployment: the chart's env, her Secret as variables
        env = clean_env(**{e["name"]: e["value"] for e in alice["env"]}, **secrets["alice"])
        env.update(PERSYS_HOUSEHOLD=str(root), PERSYS_HOUSEHOLD_HOMES=str(tmp_path / "homes"),
                   PERSYS_DAGSTER_PG_URL=url, DAGSTER_CURRENT_IMAGE="persys-pipelines:latest",
                   DAGSTER_CONTAINER_CONTEXT=json.dumps(context))
        with code_server(env, "alice", tmp_path) as port:
            launched = launch(tmp_path / "launch", instance_doc, port, "alice", env)
            assert launched.returncode == 0, launched.stderr[-3000:]
    (request,) = cluster.requests
    assert request["path"] == "/apis/batch/v1/namespaces/family/jobs"
    job = request["body"]
    assert_no_secret(json.dumps(job), secrets)
    pod = job["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["image"] == "persys-pipelines:latest"
    assert container["args"][:3] == ["dagster", "api", "execute_run"]
    env_names = {e["name"]: e.get("value") for e in container["env"]}
    assert env_names["PERSYS_PERSON"] == "alice"
    assert not set(secrets["alice"]) & set(env_names)
    assert {"secretRef": {"name": "smiths-alice-secrets"}} in container["envFrom"]
    assert container["resources"] == {"requests": {"cpu": "500m", "memory": "1Gi"},
                                      "limits": {"cpu": "1500m", "memory": "3Gi"}}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["persys-config"]["configMap"]["name"] == "smiths-alice-config"
    assert volumes["persys-home"]["persistentVolumeClaim"]["claimName"] == "smiths-alice-home"
    assert job["metadata"]["labels"]["dagster/code-location"] == "alice"


@pytest.mark.parametrize("change, expected", [
    ({"tiers": {"core": {"dsn": None}, "main": {"dsn": "env:MAIN_DATABASE_URL"}}},
     "alice: tiers.core has no dsn"),
    ({"telegram": {"token": "env:NOT_IN_SECRETS", "chat_id": "1"}},
     "reads env:NOT_IN_SECRETS, which"),
    ({"telegram": {"token": "123:plain-text-token", "chat_id": "1"}},
     "telegram.token holds a secret as plain text"),
])
def test_deploy_refuses_what_containers_cannot_run(tmp_path, capsys, change,
                                                   expected, monkeypatch):
    monkeypatch.setenv("NOT_IN_SECRETS", "from the shell, not from her secrets.env")
    root = tmp_path / "h"
    make_household(root, unreachable_database)
    path = root / "alice" / "persys.yaml"
    doc = yaml.safe_load(path.read_text())
    for key, value in change.items():
        if key == "tiers":
            doc["tiers"].update(value)
        else:
            doc[key] = value
    path.write_text(yaml.safe_dump(doc))
    assert main(["deploy", "compose", "--household", str(root), "--out", str(tmp_path / "o")]) != 0
    assert expected in capsys.readouterr().err
    assert not (tmp_path / "o").exists()  # nothing written


def test_k8s_refuses_a_folder_archive(tmp_path, capsys):
    root = tmp_path / "h"
    make_household(root, unreachable_database)
    assert main(["deploy", "k8s", "--household", str(root), "--out", str(tmp_path / "o")]) != 0
    assert "tiers.archive.url is a folder" in capsys.readouterr().err


def test_the_single_person_compose_file_follows_the_compose_specification():
    """The repository's own docker-compose.yml (one person, no household) stays valid too."""
    root = Path(__file__).resolve().parents[2]
    schema = subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema",
                             "vendor.compose-spec", str(root / "docker-compose.yml")],
                            capture_output=True, text=True)
    assert schema.returncode == 0, schema.stdout + schema.stderr


def test_a_persons_secret_goes_to_kubectl_exactly_as_persys_reads_it(tmp_path, capsys):
    root = tmp_path / "h"
    secrets = make_household(root, unreachable_database)
    with (root / "bob" / "secrets.env").open("a") as f:
        f.write("ODD='pa ss#w\\'ord $HOME'\n")  # quotes, a space, #, an escaped quote, $
    assert main(["deploy", "secret", "--household", str(root), "--person", "bob"]) == 0
    secret = yaml.safe_load(capsys.readouterr().out)
    assert secret["metadata"]["name"] == "persys-bob-secrets"
    assert secret["stringData"] == {**secrets["bob"], "ODD": "pa ss#w'ord $HOME"}
