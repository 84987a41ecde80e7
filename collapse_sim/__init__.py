"""collapse_sim: declarative simulations of model collapse.

``open_run`` and ``open_sweep`` read results as xarray Datasets; importing the
package stays light (no torch, no ultralytics).
"""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["collapse_rate", "open_run", "open_sweep", "run", "__version__"]


def __getattr__(name: str):
    # Lazy, so `import collapse_sim` does not pull in xarray/zarr until needed.
    if name == "open_run":
        from collapse_sim.store import open_run

        return open_run
    if name == "open_sweep":
        from collapse_sim.sweep import open_sweep

        return open_sweep
    if name == "collapse_rate":
        from collapse_sim.rates import collapse_rate

        return collapse_rate
    if name == "run":
        from collapse_sim.api import run

        return run
    raise AttributeError(f"module 'collapse_sim' has no attribute {name!r}")
