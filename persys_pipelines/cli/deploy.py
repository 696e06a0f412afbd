"""`persys deploy compose|k8s --household DIR --out DIR`: a household's stack, as files.

Both check the household first (persons kept apart, tiers with a dsn, every secret in the
person's secrets.env, no secret as plain text in persys.yaml) and write nothing when a check
fails. See docs/household.md for what to run next.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import yaml

from ..lib.deploy import compose, k8s
from ..lib.deploy.persons import ready_persons
from .household import add_household_arg, household_of, write_yaml


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("deploy", help="a household's stack on Dagster's Docker or Kubernetes "
                                      "run launchers")
    dsub = p.add_subparsers(dest="deploy_command", required=True, metavar="TARGET")
    c = dsub.add_parser("compose", help="docker-compose.yml, dagster.yaml (DockerRunLauncher) "
                                        "and workspace.yaml")
    k = dsub.add_parser("k8s", help="values.yaml for Dagster's Helm chart (K8sRunLauncher), "
                                    "the persons' ConfigMaps and volumes, secrets.sh")
    k.add_argument("--namespace", default="default", help="the namespace of the release")
    for parser, handler in ((c, run_compose), (k, run_k8s)):
        add_household_arg(parser)
        parser.add_argument("--out", required=True, help="folder to write the files into")
        parser.set_defaults(handler=handler, household_wide=True)
    s = dsub.add_parser("secret", help="print one person's Kubernetes Secret (from their "
                                       "secrets.env) for `| kubectl apply -f -`")
    add_household_arg(s)
    s.add_argument("--person", required=True, help="whose Secret")
    s.set_defaults(handler=run_secret, household_wide=True)


def run_compose(args: argparse.Namespace) -> int:
    household = household_of(args)
    ready = ready_persons(household, folders_allowed=True)
    out = Path(args.out).expanduser().resolve()
    write_yaml(out / "docker-compose.yml", compose.compose_document(household, ready),
               "The household on DockerRunLauncher (persys deploy compose): every run in its "
               "own container.\nStart: POSTGRES_PASSWORD=<letters and digits> docker compose "
               "up -d (UI on http://127.0.0.1:3000)")
    write_yaml(out / "dagster.yaml", compose.dagster_yaml(household),
               "The household's one instance (persys deploy compose).")
    write_yaml(out / "workspace.yaml", compose.workspace(ready),
               "One code location per person, each served by its own container.")
    print(f"wrote {out}/docker-compose.yml, dagster.yaml, workspace.yaml for "
          f"{', '.join(r.name for r in ready)}")
    print(f"next: build the image (docker build -t {household.settings.image} <persys "
          "checkout>), then in that folder: POSTGRES_PASSWORD=$(openssl rand -hex 24) "
          "docker compose up -d")
    return 0


def run_k8s(args: argparse.Namespace) -> int:
    household = household_of(args)
    ready = ready_persons(household, folders_allowed=False)
    out = Path(args.out).expanduser().resolve()
    values = k8s.values(household, ready)
    write_yaml(out / "values.yaml", values,
               "Values for Dagster's Helm chart (persys deploy k8s): one user deployment per "
               "person, K8sRunLauncher.\nhelm upgrade --install "
               f"{household.settings.name} dagster/dagster -n <namespace> -f values.yaml "
               "--set postgresql.postgresqlPassword=<letters and digits>")
    (out / "manifests.yaml").write_text(
        "# Each person's persys.yaml (ConfigMap) and home (PVC): kubectl apply -f "
        "manifests.yaml\n" + k8s.dump_all(k8s.manifests(household, ready)))
    script = out / "secrets.sh"
    script.write_text(k8s.secrets_script(household, ready))
    script.chmod(0o755)
    write_yaml(out / "instance-preview.yaml", k8s.chart_instance(household, values,
                                                                 args.namespace),
               "For review: the run launcher and run limits the chart renders into its "
               "dagster.yaml from values.yaml.\nNot applied by anything.")
    (out / "container-context-preview.yaml").write_text(
        "# For review: what each person's runs get (the chart's container context).\n"
        + yaml.safe_dump({r.name: k8s.chart_container_context(household, values, r.name,
                                                              args.namespace)
                          for r in ready}, sort_keys=False, width=100))
    print(f"wrote {out}/values.yaml, manifests.yaml, secrets.sh and previews for "
          f"{', '.join(r.name for r in ready)}")
    print(f"next: NAMESPACE={args.namespace} {script}; kubectl -n {args.namespace} apply -f "
          f"{out}/manifests.yaml; helm upgrade --install {household.settings.name} "
          f"dagster/dagster -n {args.namespace} -f {out}/values.yaml "
          "--set postgresql.postgresqlPassword=$(openssl rand -hex 24)")
    return 0


def run_secret(args: argparse.Namespace) -> int:
    """The Secret goes to standard output only, for a pipe into kubectl; refused on a terminal
    so that it is not shown on the screen by mistake."""
    import sys

    from ..lib.errors import UsageError
    from ..lib.household.person import read_secrets

    household = household_of(args)
    person = household.person(args.person)
    if sys.stdout.isatty():
        raise UsageError("persys deploy secret prints secret values: pipe it into kubectl "
                         "(| kubectl -n NAMESPACE apply -f -), it does not print to a terminal")
    sys.stdout.write(yaml.safe_dump(k8s.secret_manifest(household, person.name,
                                                        read_secrets(person))))
    return 0
