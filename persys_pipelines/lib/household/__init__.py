"""A household: several persons on one home server, each with their own persys.yaml.

A household is a folder with one sub-folder per person (`<dir>/<person>/persys.yaml`, the
person's secrets in `<dir>/<person>/secrets.env`) and an optional `<dir>/household.yaml`
(image, run limits, resources, the archive root and SSM prefix every person must stay under).
Each person becomes one Dagster code location over one shared instance; nothing here knows
Dagster. `folder` reads the folder, `person` makes one person the process's configuration,
`checks` proves that no two persons share a tier, archive, key, secret or notifier, and
`instance` writes the shared dagster.yaml and a workspace.yaml. May import lib/config, dsn,
errors.
"""

from __future__ import annotations

from ..errors import PersysError


class HouseholdError(PersysError):
    """The household folder, a person or their isolation is wrong; says which and the fix."""

    exit_code = 2
