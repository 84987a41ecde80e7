"""Configuration trees as plain data: the groups a simulation is made of, dotted keys, differences.

Readers (stores, sweeps, trackers, reports) use these without Hydra or OmegaConf.
"""

from __future__ import annotations

import json
from typing import Any

COMPONENT_GROUPS = ("source", "generator", "mixing", "trainer")
GROUPS = COMPONENT_GROUPS + ("metrics", "logger", "reward")
# Settings that never change a run's results: plots on or off, the trackers, how many chains run at once
# (each chain is the same whatever runs beside it), how often a toy run writes. A resume may change them.
RESULT_NEUTRAL = ("plots", "logger", "workers", "store_flush_s", "warning")


def flatten_config(tree: Any, prefix: str = "") -> dict[str, Any]:
    """A nested configuration as ``{"mixing.real_fraction": 0.2, ...}``: dotted keys, leaf values."""
    if isinstance(tree, dict):
        out: dict[str, Any] = {}
        for key, value in tree.items():
            out.update(flatten_config(value, f"{prefix}{key}."))
        return out
    return {prefix.rstrip("."): tree}


def config_differences(stored: dict, current: dict) -> list[str]:
    """Dotted keys whose values differ between two configuration trees, the result-neutral settings aside."""
    a, b = flatten_config(stored), flatten_config(current)
    keys = (k for k in a.keys() | b.keys() if k.split(".")[0] not in RESULT_NEUTRAL)
    return sorted(k for k in keys if json.dumps(a.get(k)) != json.dumps(b.get(k)))
