"""The ``model.patching`` section of a run configuration (plain data; a leaf module like ``config.py``).

Multigrid patching (MG-TFNO) wraps the run's model in ``specops.models.MultigridPatching``
(docs/mgtfno.md); ``specops.pipeline.patching`` reads this section.
"""

from __future__ import annotations

from dataclasses import dataclass

from specops.values import ConfigError


@dataclass
class PatchingConfig:
    """Multigrid patching around the model (MG-TFNO, ``specops.models.MultigridPatching``): ``patches`` per
    axis, ``levels`` coarse views, ``padding`` overlap (fraction of the grid), ``periodic`` (null: the data
    file's boundary), ``sequential`` patches. Unset keys come from a patched preset, else mean no patching."""

    patches: int | list[int] | None = None
    levels: int | None = None
    padding: float | None = None
    periodic: bool | None = None
    sequential: bool = False

    def __post_init__(self) -> None:
        counts = [self.patches] if isinstance(self.patches, int) else self.patches or []
        rules = {
            "patches": (all(c >= 1 for c in counts), f"positive counts, got {self.patches}"),
            "levels": (self.levels is None or self.levels >= 0, f"0 or more, got {self.levels}"),
            "padding": (self.padding is None or 0 <= self.padding < 1, f"in [0, 1), got {self.padding}"),
        }
        for key, (ok, expected) in rules.items():
            if not ok:
                raise ConfigError(f"model.patching.{key} must be {expected}")
