"""Heavy libraries imported when first used, not when a module that may use them is imported.

    pd = lazy_module("pandas")  # instead of `import pandas as pd`

Loading the definitions (the code server, every sensor tick's process, the CLI) imports most of
lib/, yet pandas, pyarrow, numpy and matplotlib are needed only inside the assets that compute
with them: imported eagerly they were ~1.5 s and ~100 MB of every such process. Annotations
stay as written (`from __future__ import annotations` keeps them unevaluated).
"""

from __future__ import annotations

import importlib
from types import ModuleType


class LazyModule:
    """Stands for module `name`; the first attribute access imports it."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._module: ModuleType | None = None

    def __getattr__(self, attr: str):
        if attr.startswith("__") and attr.endswith("__"):
            raise AttributeError(attr)  # copy/pickle probes must not import the module
        module = self._module
        if module is None:
            module = self._module = importlib.import_module(self._name)
        return getattr(module, attr)

    def __repr__(self) -> str:
        state = "loaded" if self._module is not None else "not loaded yet"
        return f"<lazy module {self._name!r} ({state})>"


def lazy_module(name: str) -> LazyModule:
    return LazyModule(name)
