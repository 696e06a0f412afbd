"""`persys deploy compose`: the household as a Docker Compose stack on `DockerRunLauncher`.

Shaped like Dagster's `deploy_docker` example: a PostgreSQL service holds the one instance,
one user-code container per person serves their code location over gRPC, the webserver and the
daemon load the workspace of those locations, and the daemon starts every run in a new
container of the person's image (`DockerRunLauncher`). What a person's runs get comes from
their code location's container context (`DAGSTER_CONTAINER_CONTEXT`): their persys.yaml and
secrets.env mounted read-only, their home volume, their file:// store folders, their memory
and CPU limits, and the household variables naming them. No secret value is in any file
written here: the instance password comes from POSTGRES_PASSWORD when the stack starts.
"""

from __future__ import annotations

import json

from ..household.folder import SETTINGS_FILE, Household
from ..household.instance import URL_ENV, instance_document
from ..household.person import HOMES_ENV, HOUSEHOLD_ENV, PERSON_ENV
from .persons import CONTAINER_ROOT, DAGSTER_HOME, HOMES, Ready, memory_bytes, nano_cpus

GRPC_PORT = 4000
PG_URL = "postgresql+psycopg2://dagster:${POSTGRES_PASSWORD}@postgres:5432/dagster"
PASSWORD = "${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD (letters and digits only)}"
WORKSPACE = "/opt/dagster/app/workspace.yaml"
DAGSTER_YAML = f"./dagster.yaml:{DAGSTER_HOME}/dagster.yaml:ro"


def network(household: Household) -> str:
    return f"{household.settings.name}-network"


def home_volume(household: Household, person: str) -> str:
    return f"{household.settings.name}-home-{person}"


def person_env(person: str) -> dict[str, str]:
    """The variables that make a container this person's (names and paths, no secret)."""
    return {HOUSEHOLD_ENV: CONTAINER_ROOT, PERSON_ENV: person, HOMES_ENV: HOMES}


def person_volumes(household: Household, ready: Ready) -> list[str]:
    """Only this person's files: never the household folder, which holds everyone's."""
    mine = f"{CONTAINER_ROOT}/{ready.name}"
    volumes = [f"{ready.folder / 'persys.yaml'}:{mine}/persys.yaml:ro"]
    if (ready.folder / "secrets.env").is_file():
        volumes.append(f"{ready.folder / 'secrets.env'}:{mine}/secrets.env:ro")
    if (household.root / SETTINGS_FILE).is_file():
        volumes.append(f"{household.root / SETTINGS_FILE}:{CONTAINER_ROOT}/{SETTINGS_FILE}:ro")
    volumes.append(f"{home_volume(household, ready.name)}:{HOMES}/{ready.name}")
    volumes += [f"{folder}:{folder}" for folder in ready.folders]
    return volumes


def container_context(household: Household, ready: Ready) -> dict:
    """What each of the person's run containers gets (Dagster merges it over the launcher's)."""
    person = household.person(ready.name).settings
    kwargs: dict = {"volumes": person_volumes(household, ready),
                    "labels": {"persys/person": ready.name}}
    if person.memory_limit:
        kwargs["mem_limit"] = memory_bytes(person.memory_limit)
    kwargs["mem_reservation"] = memory_bytes(person.memory)
    if person.cpu_limit:
        kwargs["nano_cpus"] = nano_cpus(person.cpu_limit)
    return {"docker": {"env_vars": [f"{k}={v}" for k, v in person_env(ready.name).items()],
                       "container_kwargs": kwargs}}


def run_launcher(household: Household) -> dict:
    return {"module": "dagster_docker", "class": "DockerRunLauncher",
            "config": {"env_vars": [URL_ENV], "network": network(household)}}


def dagster_yaml(household: Household) -> dict:
    return instance_document(household, run_launcher(household))


def workspace(ready: list[Ready]) -> dict:
    return {"load_from": [{"grpc_server": {"host": f"code-{r.name}", "port": GRPC_PORT,
                                           "location_name": r.name}} for r in ready]}


def literal(value: str) -> str:
    """A value Compose must not interpolate (a folder named `$HOME stuff`): `$` → `$$`."""
    return value.replace("$", "$$")


def _code_service(household: Household, ready: Ready) -> dict:
    person = household.person(ready.name)
    image = household.image_of(person)
    limits: dict = {}
    if person.settings.memory_limit:
        limits["memory"] = person.settings.memory_limit.replace("i", "").lower()
    if person.settings.cpu_limit:
        limits["cpus"] = str(nano_cpus(person.settings.cpu_limit) / 1e9)
    return {
        "image": image,
        "command": ["dagster", "code-server", "start", "-h", "0.0.0.0", "-p", str(GRPC_PORT),
                    "-m", "persys_pipelines.definitions", "--location-name", ready.name],
        "restart": "unless-stopped",
        "environment": {**person_env(ready.name), "DAGSTER_HOME": DAGSTER_HOME,
                        URL_ENV: PG_URL, "DAGSTER_CURRENT_IMAGE": image,
                        "DAGSTER_CONTAINER_CONTEXT": literal(json.dumps(
                            container_context(household, ready), sort_keys=True))},
        "volumes": [*map(literal, person_volumes(household, ready)), DAGSTER_YAML],
        "networks": ["persys"],
        "healthcheck": {"test": ["CMD", "dagster", "api", "grpc-health-check", "-p",
                                 str(GRPC_PORT)], "interval": "30s", "retries": 5},
        "deploy": {"resources": {
            "reservations": {"memory": person.settings.memory.replace("i", "").lower()},
            **({"limits": limits} if limits else {})}},
    }


def _dagster_service(household: Household, command: list[str], codes: list[str]) -> dict:
    return {
        "image": household.settings.image,
        "command": command,
        "restart": "unless-stopped",
        "environment": {"DAGSTER_HOME": DAGSTER_HOME, URL_ENV: PG_URL},
        "volumes": [DAGSTER_YAML,
                    f"./workspace.yaml:{WORKSPACE}:ro",
                    # the daemon starts (and the webserver stops) each run's container
                    "/var/run/docker.sock:/var/run/docker.sock"],
        "networks": ["persys"],
        "depends_on": {"postgres": {"condition": "service_healthy"},
                       **{c: {"condition": "service_started"} for c in codes}},
    }


def compose_document(household: Household, ready: list[Ready]) -> dict:
    codes = [f"code-{r.name}" for r in ready]
    services: dict = {"postgres": {
        "image": "postgres:16",
        "restart": "unless-stopped",
        "environment": {"POSTGRES_USER": "dagster", "POSTGRES_PASSWORD": PASSWORD,
                        "POSTGRES_DB": "dagster"},
        "volumes": ["pgdata:/var/lib/postgresql/data"],
        "networks": ["persys"],
        "healthcheck": {"test": ["CMD", "pg_isready", "-U", "dagster"], "interval": "10s",
                        "retries": 10},
    }}
    for r in ready:
        services[f"code-{r.name}"] = _code_service(household, r)
    web = _dagster_service(household, ["dagster-webserver", "-h", "0.0.0.0", "-p", "3000",
                                       "-w", WORKSPACE], codes)
    web["ports"] = ["127.0.0.1:3000:3000"]
    services["webserver"] = web
    services["daemon"] = _dagster_service(household, ["dagster-daemon", "run", "-w",
                                                      WORKSPACE], codes)
    return {
        "name": household.settings.name,
        "services": services,
        "networks": {"persys": {"name": network(household), "driver": "bridge"}},
        "volumes": {"pgdata": {}, **{home_volume(household, r.name):
                                     {"name": home_volume(household, r.name)} for r in ready}},
    }
