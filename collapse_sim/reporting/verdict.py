"""The run's warning, stated: the first generation at which a class's value fell below generation 0's by
more than a tolerated drop, with a stated confidence over chains; or that none did.

The run's ``warning`` settings (their defaults are in ``conf/config.yaml``) name the variable watched
(per class, or one value), the drop tolerated and the confidence. A class has fallen at generation g
when the interval of its change since generation 0 (each chain's own change; Student t over chains at
that confidence) lies wholly below minus the drop. A sweep states it for each arm and the smallest swept
value that held every class.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import xarray as xr

from collapse_sim.reporting.intervals import MIN_CHAINS, format_interval, mean_interval, plural


@dataclass(frozen=True)
class Fall:
    """One class's change since generation 0: its mean and interval over chains."""

    label: str
    mean: float
    low: float
    high: float


@dataclass(frozen=True)
class Verdict:
    """What the warning found: the first generation with a class fallen (None: none fell), and its falls."""

    variable: str
    drop: float
    confidence: float
    chains: int
    last: int
    generation: int | None
    falls: tuple[Fall, ...] = ()
    per_class: bool = True  # False: the variable is one value a chain

    @property
    def held(self) -> bool:
        """Whether every class stayed within the drop for the whole run (and could be tested)."""
        return self.generation is None and self.chains >= MIN_CHAINS

    def sentence(self) -> str:
        """The verdict in one sentence."""
        level, chains = f"{self.confidence:.0%}", plural(self.chains, "chain")
        if self.chains < MIN_CHAINS:
            return (
                f"warning: {chains} {'gives' if self.chains == 1 else 'give'} no interval, so no fall of "
                f"{self.variable} is stated; run "
                f"replicates={MIN_CHAINS} or more"
            )
        if self.generation is None:
            what = f"no class's {self.variable}" if self.per_class else self.variable
            return (
                f"warning: {what} fell more than {self.drop:g} below generation 0 with {level} confidence in "
                f"generations 1-{self.last} ({chains})"
            ).replace(f"warning: {self.variable} fell", f"warning: {self.variable} did not fall")
        falls = "; ".join(
            f"{f.label + ' ' if f.label else ''}{format_interval(f.mean, f.low, f.high, signed=True)}"
            for f in self.falls
        )
        return (
            f"warning: at generation {self.generation} {self.variable} fell more than {self.drop:g} below "
            f"generation 0 ({level} interval over {chains}): {falls}"
        )


def settings_of(ds: xr.Dataset) -> dict | None:
    """The ``warning`` settings of a run (its config) or a sweep (every job's, ``open_sweep`` keeps them);
    None for a store written before runs had them."""
    own = (ds.attrs.get("config") or {}).get("warning") or ds.attrs.get("warning")  # a run's, or a sweep's
    return dict(own) if own else None


def verdict(ds: xr.Dataset, settings: dict | None = None) -> Verdict | None:
    """The warning of a run's results (chains along ``replicate``), or None when the run does not record
    the variable watched over two generations or more."""
    settings = settings or settings_of(ds)
    if not settings:
        return None
    name = settings["variable"]
    if name not in ds.data_vars or "generation" not in ds[name].dims or ds.sizes["generation"] < 2:
        return None
    da = ds[name] if "replicate" in ds[name].dims else ds[name].expand_dims(replicate=[0])
    change = (da - da.isel(generation=0)).transpose("generation", "replicate", ...)
    shape = (change.sizes["generation"], change.sizes["replicate"], -1)
    values = np.asarray(change.values, dtype=float).reshape(shape)
    extra = [d for d in change.dims if d not in ("generation", "replicate")]
    labels = [str(v) for v in change[extra[-1]].values] if extra else [""]
    chains, confidence, drop = values.shape[1], float(settings["confidence"]), float(settings["drop"])
    last = int(ds.generation.values[-1])
    found = dict(
        variable=name, drop=drop, confidence=confidence, chains=chains, last=last, per_class=bool(extra)
    )
    if chains < MIN_CHAINS:
        return Verdict(**found, generation=None)
    for g in range(1, values.shape[0]):
        falls = [f for f in (_fall(values[g, :, c], labels[c], confidence) for c in range(len(labels))) if f]
        fallen = tuple(f for f in falls if f.high < -drop)
        if fallen:
            return Verdict(**found, generation=int(ds.generation.values[g]), falls=fallen)
    return Verdict(**found, generation=None)


def _fall(changes: np.ndarray, label: str, confidence: float) -> Fall | None:
    mean, low, high, n = mean_interval(changes, confidence=confidence)
    return Fall(label, mean, low, high) if n >= MIN_CHAINS else None


def sweep_verdicts(ds: xr.Dataset, arms: str | None) -> list[str]:
    """Each arm's warning along the swept dimension ``arms``, then the smallest swept value that held every
    class (for a numeric sweep); nothing when the runs do not record the variable watched."""
    swept = [d for d in ds.attrs.get("swept", [arms]) if d not in ("replicate", "seed")]
    if arms is None or arms not in ds.dims or len(swept) > 1:  # one swept setting: arms along it
        return []
    settings = settings_of(ds)
    if not settings:
        return []
    said, held = [], []
    for value in ds[arms].values:
        found = verdict(ds.sel({arms: value}), settings)
        if found is None:
            return []
        said.append(f"{arms}={value}: {found.sentence().removeprefix('warning: ')}")
        if found.held:
            held.append(value)
    if np.issubdtype(ds[arms].dtype, np.number):
        said.append(
            f"the smallest {arms} that kept every class within {settings['drop']:g} of generation 0 for the "
            f"whole run: {min(held):g}"
            if held
            else f"no {arms} in this sweep kept every class within {settings['drop']:g} of generation 0"
        )
    return said
