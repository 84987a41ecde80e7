"""The generation loop: train, measure, generate, mix. Nothing else lives here."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import xarray as xr

from collapse_sim.components import RunContext
from collapse_sim.metrics.bookkeeping import bookkeeping
from collapse_sim.simulation import Simulation

PHASES = {"source": 0, "fit": 1, "generate": 2, "mix": 3, "initial": 4}


def stream(seed: int, generation: int, phase: str, chain: int = 0) -> np.random.Generator:
    """The random stream of one phase of one generation of one chain; a resumed run replays it exactly.

    Chain 0's streams are ``[seed, generation, phase]`` (a trailing 0 changes
    nothing in numpy's ``SeedSequence``), so a chain's values never depend on
    how many chains run beside it.
    """
    return np.random.default_rng([seed, generation, PHASES[phase], chain])


@dataclass(frozen=True)
class Generation:
    """One finished generation of one chain: what its caller records (and what crosses a worker's pipe)."""

    chain: int
    generation: int
    results: xr.Dataset


def measure(sim: Simulation, model, data, real, wall_time_s: float) -> xr.Dataset:
    """Every metric of one generation plus the bookkeeping, in one dataset."""
    parts = [m.measure(model, data, real) for m in sim.metrics.values()]
    return xr.merge([*parts, bookkeeping(data, wall_time_s)], compat="equals")


def simulate(sim: Simulation, context: RunContext, checkpoints, *, start: int = 0) -> Iterator[Generation]:
    """Yield generations ``start .. sim.generations - 1`` of the chain ``context.chain``, one at a time.

    The caller writes each yielded generation and marks it complete before it
    asks for the next; only then does the loop prune checkpoints.
    """
    chain = context.chain
    real = sim.source.load(stream(sim.seed, 0, "source"))  # the real world, shared by every chain
    sim.setup(dataclasses.replace(context, real=real))
    window = sim.mixing.history_window
    if start == 0:  # generation 0 sees only real data
        history, model = [], None
        data = real.train.subsample(sim.n_samples, stream(sim.seed, 0, "initial", chain))
    else:  # rebuild exactly what the interrupted run had at the start of `start`
        history = checkpoints.history(start)
        model = checkpoints.model(start - 1) if sim.warm_start else None
        data = sim.mixing.mix(real, history[-1], history, stream(sim.seed, start - 1, "mix", chain))
    for g in range(start, sim.generations):
        began = time.perf_counter()
        init = model if sim.warm_start else None
        model = sim.trainer.fit(data, init=init, rng=stream(sim.seed, g, "fit", chain), generation=g)
        synthetic = sim.generator.generate(model, data, g, stream(sim.seed, g, "generate", chain), real=real)
        results = measure(sim, model, data, real, wall_time_s=time.perf_counter() - began)
        # Checkpoint before the caller marks g complete: once it is marked, g + 1 can always resume.
        checkpoints.save(g, synthetic, model if sim.warm_start else None)
        yield Generation(chain, g, results)  # written and marked complete when the caller comes back
        checkpoints.prune(g)
        history = (history + [synthetic])[-window:] if window else history + [synthetic]
        data = sim.mixing.mix(real, synthetic, history, stream(sim.seed, g, "mix", chain))
