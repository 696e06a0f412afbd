"""One line of `persys doctor`: what was checked, ok/WARN/FAIL, and the detail or the fix."""

from __future__ import annotations

from dataclasses import dataclass

OK, WARN, FAIL = "ok", "WARN", "FAIL"


@dataclass(frozen=True)
class Finding:
    item: str
    status: str = OK  # OK, WARN or FAIL
    detail: str = ""

    @property
    def ok(self) -> bool:
        """Nothing to fix (a WARN is worth reading, but does not fail `doctor`)."""
        return self.status != FAIL
