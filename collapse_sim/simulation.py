"""What the loop runs: the chosen components and the top-level settings (no Hydra, no builder)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from collapse_sim.capacity import ChainPlan
from collapse_sim.components import Component, Generator, Metric, Mixing, RunContext, Source, Trainer


@dataclass(frozen=True)
class Simulation:
    """Everything the loop needs: components and the top-level settings."""

    source: Source
    generator: Generator
    mixing: Mixing
    trainer: Trainer
    metrics: dict[str, Metric]
    generations: int
    n_samples: int
    seed: int
    warm_start: bool
    chains: ChainPlan
    choices: dict[str, str] = field(default_factory=dict)  # the option chosen in each group

    def setup(self, context: RunContext) -> None:
        """Hand the chain's context to every component (one that needs nothing of the run ignores it)."""
        for _, component in self.components():
            component.setup(context)

    def components(self) -> Iterator[tuple[str, Component]]:
        """Each component with its config key (``source``, ..., ``metrics.<name>``)."""
        yield from (("source", self.source), ("generator", self.generator), ("mixing", self.mixing))
        yield "trainer", self.trainer
        for name, metric in self.metrics.items():
            yield f"metrics.{name}", metric
