"""A household person's code location: their persys.yaml and secrets, then the usual
Definitions (persys_pipelines/definitions.py does the same from PERSYS_HOUSEHOLD and
PERSYS_PERSON, which is how the containers and Kubernetes pods load a person)."""

from __future__ import annotations

import dagster as dg

from ...lib.config import load_config
from ...lib.household.folder import load_household
from ...lib.household.person import activate


def person_definitions(root: str, name: str) -> dg.Definitions:
    """Everything of one person, loaded with their secrets in this process's environment
    (a code location is its own process, so no other person's are there)."""
    from ...definitions import build_definitions

    household = load_household(root)
    path = activate(household, household.person(name))
    return build_definitions(load_config(path), str(path))
