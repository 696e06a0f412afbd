"""A household's stack on Dagster's own run launchers, written as files.

`compose` writes a Docker Compose stack shaped like Dagster's `deploy_docker` example
(PostgreSQL, one user-code container per person, webserver, daemon, `DockerRunLauncher`: each
run in its own container); `k8s` writes values for Dagster's official Helm chart (a user
deployment per person, `K8sRunLauncher`, secrets as Kubernetes Secrets, resource requests).
`persons` checks what containers need of each person and says where their files go. Plain
Python: it writes YAML and knows Dagster's configuration keys, not Dagster. May import
lib/household, lib/config, errors.
"""

from __future__ import annotations

from ..errors import PersysError


class DeployError(PersysError):
    """A household cannot run in containers as it is; names the person, key and fix."""

    exit_code = 2
