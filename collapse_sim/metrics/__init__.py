"""Metrics: each component returns one generation's variables as an ``xarray.Dataset``, its variables
declared with ``variable`` (``collapse_sim.variables``, re-exported here for the metrics that use it)."""

from __future__ import annotations

from collapse_sim.variables import NON_NEGATIVE, SHARE, Figure, Rarest, key_variables, measured, variable

__all__ = ["NON_NEGATIVE", "SHARE", "Figure", "Rarest", "key_variables", "measured", "variable"]
