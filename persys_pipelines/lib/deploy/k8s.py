"""`persys deploy k8s`: values for Dagster's official Helm chart, one user deployment per person.

The chart (`helm repo add dagster https://dagster-io.github.io/helm`, chart `dagster/dagster`)
runs the webserver, the daemon and the instance's PostgreSQL; `runLauncher: K8sRunLauncher`
starts every run as a Kubernetes Job. Each person is a user deployment whose configuration
reaches their Jobs (`includeConfigInLaunchedRuns`): their Secret (made from their secrets.env
by secrets.sh, so no value is in any file written here), persys.yaml from a ConfigMap, a home
volume and resource requests. `chart_container_context` and `chart_instance` say what the
chart renders from these values (its templates `k8sContainerContext`, `_run-launcher.tpl`,
`_concurrency.tpl`), which is what the tests hand to a real code server and K8sRunLauncher.
"""

from __future__ import annotations

import shlex

import yaml

from ..household.folder import Household
from ..household.instance import concurrency
from .compose import person_env
from .persons import CONTAINER_ROOT, DAGSTER_HOME, HOMES, Ready, secret_name

PORT = 3030
PG_SECRET = "dagster-postgresql-secret"


def fullname(household: Household) -> str:
    """The chart's `dagster.fullname` for a release named after the household."""
    name = household.settings.name
    return name if "dagster" in name else f"{name}-dagster"


def _resources(settings) -> dict:
    out: dict = {"requests": {"cpu": settings.cpu, "memory": settings.memory}}
    limits = {k: v for k, v in (("cpu", settings.cpu_limit),
                                ("memory", settings.memory_limit)) if v}
    if limits:
        out["limits"] = limits
    return out


def _image(image: str) -> dict:
    repository, _, tag = image.rpartition(":") if ":" in image.split("/")[-1] else (image, "",
                                                                                    "latest")
    return {"repository": repository, "tag": tag, "pullPolicy": "IfNotPresent"}


def deployment(household: Household, ready: Ready) -> dict:
    prefix, person = household.settings.name, household.person(ready.name)
    mine = f"{CONTAINER_ROOT}/{ready.name}"
    return {
        "name": ready.name,  # the chart names the code location after the deployment
        "image": _image(household.image_of(person)),
        "codeServerArgs": ["-m", "persys_pipelines.definitions"],
        "port": PORT,
        "includeConfigInLaunchedRuns": {"enabled": True},
        "env": [{"name": k, "value": v} for k, v in person_env(ready.name).items()],
        "envSecrets": [{"name": secret_name(prefix, ready.name)}],
        "resources": _resources(person.settings),
        "labels": {"persys/person": ready.name},
        "volumeMounts": [
            {"name": "persys-config", "mountPath": f"{mine}/persys.yaml",
             "subPath": "persys.yaml", "readOnly": True},
            {"name": "persys-home", "mountPath": f"{HOMES}/{ready.name}"},
        ],
        "volumes": [
            {"name": "persys-config", "configMap": {"name": f"{prefix}-{ready.name}-config"}},
            {"name": "persys-home",
             "persistentVolumeClaim": {"claimName": f"{prefix}-{ready.name}-home"}},
        ],
    }


def _camel_limits(household: Household) -> list[dict]:
    return [{"key": x["key"], **({"value": x["value"]} if "value" in x else {}),
             "limit": x["limit"]} for x in concurrency(household)["runs"]["tag_concurrency_limits"]]


def values(household: Household, ready: list[Ready]) -> dict:
    runs = concurrency(household)
    return {
        "global": {"postgresqlSecretName": PG_SECRET, "dagsterHome": DAGSTER_HOME,
                   "serviceAccountName": fullname(household)},
        "postgresql": {"enabled": True, "postgresqlUsername": "dagster",
                       "postgresqlDatabase": "dagster"},
        "generatePostgresqlPasswordSecret": True,
        "runLauncher": {"type": "K8sRunLauncher", "config": {"k8sRunLauncher": {
            "imagePullPolicy": "IfNotPresent", "loadInclusterConfig": True,
            "envConfigMaps": [], "envSecrets": [], "envVars": [],
            "volumeMounts": [], "volumes": [],
            "resources": _resources(household.settings.defaults),
            "labels": {"app.kubernetes.io/part-of": household.settings.name},
        }}},
        "concurrency": {"enabled": True,
                        "pools": {"defaultLimit": 1, "granularity": "run"},
                        "runs": {"maxConcurrentRuns": runs["runs"]["max_concurrent_runs"],
                                 "tagConcurrencyLimits": _camel_limits(household)}},
        "telemetry": {"enabled": False},
        "retention": {"enabled": True, "schedule": {"purgeAfterDays": 90},
                      "sensor": {"purgeAfterDays": {"failure": 30, "skipped": 7,
                                                    "started": -1, "success": -1}}},
        "dagster-user-deployments": {"enabled": True, "enableSubchart": True,
                                     "deployments": [deployment(household, r) for r in ready]},
    }


def manifests(household: Household, ready: list[Ready]) -> list[dict]:
    """What the chart does not make: each person's persys.yaml (ConfigMap) and home (PVC)."""
    prefix, docs = household.settings.name, []
    for r in ready:
        labels = {"app.kubernetes.io/part-of": prefix, "persys/person": r.name}
        docs.append({"apiVersion": "v1", "kind": "ConfigMap",
                     "metadata": {"name": f"{prefix}-{r.name}-config", "labels": labels},
                     "data": {"persys.yaml": (r.folder / "persys.yaml").read_text()}})
        docs.append({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                     "metadata": {"name": f"{prefix}-{r.name}-home", "labels": labels},
                     "spec": {"accessModes": ["ReadWriteOnce"],
                              "resources": {"requests": {"storage": "5Gi"}}}})
    return docs


def secrets_script(household: Household, ready: list[Ready]) -> str:
    """Shell commands that make each person's Secret from their secrets.env: `persys deploy
    secret` reads the file as persys does (quotes and all) and pipes the Secret to kubectl, so
    no value is written to any file."""
    root = shlex.quote(str(household.root))
    lines = ["#!/bin/sh", "# One Kubernetes Secret per person, made from their secrets.env "
             "(persys deploy k8s).", "set -eu", 'NAMESPACE="${NAMESPACE:-default}"']
    for r in ready:
        lines.append(f"persys deploy secret --household {root} --person {r.name} | "
                     "kubectl -n \"$NAMESPACE\" apply -f -")
    return "\n".join(lines) + "\n"


def secret_manifest(household: Household, person: str, values: dict[str, str]) -> dict:
    """The person's Secret (stringData), for kubectl's standard input only."""
    return {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": {"name": secret_name(household.settings.name, person),
                         "labels": {"app.kubernetes.io/part-of": household.settings.name,
                                    "persys/person": person}},
            "stringData": dict(sorted(values.items()))}


# ---------------------------------------------------------------------------------------------
# What the chart renders from the values (for review and for the tests)


def chart_container_context(household: Household, values_doc: dict, name: str,
                            namespace: str = "default") -> dict:
    """The chart's `dagsterUserDeployments.k8sContainerContext` of deployment `name`."""
    dep = next(d for d in values_doc["dagster-user-deployments"]["deployments"]
               if d["name"] == name)
    full = fullname(household)
    k8s: dict = {"image_pull_policy": dep["image"]["pullPolicy"],
                 "env_config_maps": [f"{full}-{name}-user-env"],
                 "env_secrets": [s["name"] for s in dep.get("envSecrets", [])],
                 "volume_mounts": dep["volumeMounts"], "volumes": dep["volumes"],
                 "labels": dep["labels"], "resources": dep["resources"],
                 "namespace": namespace,
                 "service_account_name": values_doc["global"]["serviceAccountName"],
                 "env": dep["env"],
                 "run_k8s_config": {"pod_spec_config": {
                     "automount_service_account_token": True}}}
    return {"k8s": k8s}


def chart_instance(household: Household, values_doc: dict, namespace: str = "default") -> dict:
    """The run launcher and concurrency sections of the dagster.yaml the chart renders."""
    rl = values_doc["runLauncher"]["config"]["k8sRunLauncher"]
    c = values_doc["concurrency"]
    return {
        "run_launcher": {"module": "dagster_k8s", "class": "K8sRunLauncher", "config": {
            "load_incluster_config": rl["loadInclusterConfig"],
            "job_namespace": namespace,
            "image_pull_policy": rl["imagePullPolicy"],
            "service_account_name": values_doc["global"]["serviceAccountName"],
            "dagster_home": values_doc["global"]["dagsterHome"],
            "instance_config_map": f"{fullname(household)}-instance",
            "postgres_password_secret": values_doc["global"]["postgresqlSecretName"],
            "labels": rl["labels"],
            "resources": rl["resources"],
        }},
        "concurrency": {
            "pools": {"default_limit": c["pools"]["defaultLimit"],
                      "granularity": c["pools"]["granularity"]},
            "runs": {"max_concurrent_runs": c["runs"]["maxConcurrentRuns"],
                     "tag_concurrency_limits": c["runs"]["tagConcurrencyLimits"]},
        },
    }


def dump_all(docs: list[dict]) -> str:
    return yaml.safe_dump_all(docs, sort_keys=False, width=100)
