"""How many chains a run has, how many run at once, and whether they fit this machine.

A toy family draws its ``replicates`` as one vectorised chain. Any other
family (detection) runs ``replicates`` separate chains; ``workers`` of them at
once, each in its own process with ``trainer.threads`` torch threads. Memory
is checked before any work against what the machine has available now:

- a chain in its own process needs its trainer's and its generator's
  ``chain_bytes`` (the peak RSS of a chain process apart from its data,
  measured for each; ``components.Trainer`` holds the default) plus its
  samples, at the source's ``sample_bytes`` each: the real pool and test set,
  and ``n_samples`` for each synthetic set it keeps;
- a vectorised chain needs its arrays: ``replicates`` x (pool + test +
  ``n_samples`` x the synthetic sets kept) x the sample width x 8 bytes, times
  ``ARRAY_OVERHEAD`` for the fits' temporaries.
"""

from __future__ import annotations

from dataclasses import dataclass

from collapse_sim.devices import available_cores
from collapse_sim.errors import ConfigError

ARRAY_OVERHEAD = 4
HEADROOM = 0.9  # leave a tenth of the available memory to everything else


@dataclass(frozen=True)
class ChainPlan:
    """``chains`` independent loops, ``workers`` at once, ``vectorised`` when one loop carries them all."""

    chains: int
    workers: int
    vectorised: bool


def available_memory() -> int:
    """Bytes of memory available now."""
    import psutil

    return int(psutil.virtual_memory().available)


def plan_chains(source, trainer, generator, mixing, resolved: dict) -> ChainPlan:
    """Chains and workers for a run, or a ConfigError naming ``workers`` or ``replicates``."""
    replicates, workers = resolved["replicates"], resolved["workers"]
    # Synthetic sets a chain holds at once: the mixing policy's window (every generation when
    # unbounded), plus the training set and the set being made.
    kept_sets = (mixing.history_window or resolved["generations"]) + 2
    if "vectorised replicates" in source.provides:  # the toy families: one loop over arrays
        if workers not in ("auto", 1):
            raise ConfigError(
                "workers",
                f"is {workers}, but source={resolved['source']['_target_'].rsplit('.', 1)[-1]} runs its "
                f"{replicates} replicates vectorised in one process; leave workers=auto (or 1)",
            )
        _check_memory("replicates", _vectorised_bytes(resolved, kept_sets), 1, replicates)
        return ChainPlan(chains=1, workers=1, vectorised=True)
    threads = trainer.threads
    cores = available_cores()
    slots = max(1, cores // threads)
    if workers == "auto":
        workers = min(replicates, slots)
    elif workers > replicates:
        raise ConfigError(
            "workers",
            f"is {workers} but the run has only replicates={replicates} chains; "
            f"use workers={replicates} or fewer (or auto)",
        )
    elif workers > slots:
        raise ConfigError(
            "workers",
            f"is {workers}, and each chain trains with trainer.threads={threads}, which needs "
            f"{workers * threads} cores; this machine gives {cores}. Use workers={slots} or fewer (or auto)",
        )
    per_chain = _chain_bytes(source, trainer, generator, resolved["n_samples"], kept_sets)
    _check_memory("workers" if workers > 1 else "replicates", per_chain, workers, replicates)
    return ChainPlan(chains=replicates, workers=workers, vectorised=False)


def _chain_bytes(source, trainer, generator, n_samples: int, kept_sets: int) -> float:
    samples = source.pool_size + source.test_size + n_samples * kept_sets
    return trainer.chain_bytes + generator.chain_bytes + samples * source.sample_bytes


def _vectorised_bytes(resolved: dict, kept_sets: int) -> float:
    source = resolved["source"]
    samples = source.get("pool_size", resolved["n_samples"]) + source.get("test_size", 0)
    samples += resolved["n_samples"] * kept_sets
    width = (source.get("dim") or 1) + 1
    return resolved["replicates"] * samples * width * 8 * ARRAY_OVERHEAD


def _check_memory(key: str, per_chain: float, at_once: int, replicates: int) -> None:
    available = available_memory()
    needed = per_chain * at_once
    if needed > HEADROOM * available:
        what = (
            f"{at_once} chains at once need about {needed / 1e9:.1f} GB"
            if key == "workers"
            else f"replicates={replicates} needs about {needed / 1e9:.1f} GB"
        )
        advice = "lower workers" if key == "workers" else "lower replicates or n_samples"
        raise ConfigError(
            key,
            f"{what} of memory (estimated before any work) but this machine has "
            f"{available / 1e9:.1f} GB available; {advice}",
        )
