"""The generation loop with fake components: order of phases, warm starts, exact resume, record-then-prune."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from collapse_sim.api import stack
from collapse_sim.capacity import ChainPlan
from collapse_sim.checkpoints import Checkpoints
from collapse_sim.components import Generator, Metric, RealData, RunContext, Source, Trainer
from collapse_sim.loop import simulate, stream
from collapse_sim.mixing import AccumulateSubsampleMixing, ReplaceMixing
from collapse_sim.samples import Samples
from collapse_sim.simulation import Simulation

CONTEXT = RunContext(Path("."), 0)


class FakeSource(Source):
    provides = frozenset({"fake data"})
    pool_size = 6

    def load(self, rng):
        draw = lambda n, r: Samples.real(x=r.normal(size=(2, n, 1)))  # noqa: E731
        return RealData(draw(6, rng), None, None, draw)


class FakeTrainer(Trainer):
    needs = frozenset({"fake data"})

    def __init__(self, log):
        self.log = log

    def fit(self, data, *, init, rng, generation):
        self.log.append(("fit", len(data), init is not None))
        mean = data["x"].mean(axis=(1, 2))
        # A warm start pulls the new model toward the old one, so it changes results.
        return mean if init is None else 0.5 * (mean + init)


class FakeGenerator(Generator):
    def __init__(self, log):
        self.log = log

    def generate(self, model, data, generation, rng, *, real):
        self.log.append(("generate", generation))
        return Samples.made_by(generation, x=model[:, None, None] + rng.normal(size=(2, 6, 1)))


class FakeMetric(Metric):
    needs = frozenset({"fake data"})

    def measure(self, model, data, real):
        return xr.Dataset(
            {"model": ("replicate", model), "data_mean": ("replicate", data["x"].mean(axis=(1, 2)))}
        )


def make_sim(log, *, mixing, warm_start, generations=6):
    return Simulation(
        source=FakeSource(),
        generator=FakeGenerator(log),
        mixing=mixing,
        trainer=FakeTrainer(log),
        metrics={"fake": FakeMetric()},
        generations=generations,
        n_samples=6,
        seed=3,
        warm_start=warm_start,
        chains=ChainPlan(chains=1, workers=1, vectorised=True),
    )


def test_phases_run_in_order_and_generation_zero_is_real():
    log = []
    finished = []
    for done in simulate(
        make_sim(log, mixing=ReplaceMixing(), warm_start=True, generations=3), CONTEXT, _NoSave()
    ):
        log.append(("done", done.generation))
        finished.append(done)
    assert log[:4] == [("fit", 6, False), ("generate", 0), ("done", 0), ("fit", 6, True)]
    assert [d.generation for d in finished] == [0, 1, 2] and {d.chain for d in finished} == {0}
    ds = stack(finished, vectorised=True)
    assert ds.real_fraction.values.tolist() == [[1.0, 1.0], [0.0, 0.0], [0.0, 0.0]]  # generation, chain


def test_a_generation_is_pruned_only_after_its_caller_has_recorded_it(tmp_path):
    """While the caller holds generation g, g's checkpoint and g - 1's model are still on disk."""
    checkpoints = Checkpoints(tmp_path, history_window=1)
    files = lambda: sorted(p.name for p in (tmp_path / "checkpoints").iterdir())  # noqa: E731
    seen = []
    for done in simulate(make_sim([], mixing=ReplaceMixing(), warm_start=True), CONTEXT, checkpoints):
        seen.append((done.generation, files()))
    assert seen[0] == (0, ["model_00000.pkl", "synthetic_00000.pkl"])
    assert seen[2] == (
        2,
        ["model_00001.pkl", "model_00002.pkl", "synthetic_00001.pkl", "synthetic_00002.pkl"],
    )


class _NoSave:
    def save(self, *args):
        pass

    def prune(self, generation):
        pass


class Crash(RuntimeError):
    pass


@pytest.mark.parametrize("mixing", [ReplaceMixing(), AccumulateSubsampleMixing(n=6)])
@pytest.mark.parametrize("warm_start", [False, True])
def test_resume_equals_uninterrupted(tmp_path, mixing, warm_start):
    window = mixing.history_window
    full = list(
        simulate(
            make_sim([], mixing=mixing, warm_start=warm_start),
            CONTEXT,
            Checkpoints(tmp_path / "a", history_window=window),
        )
    )
    checkpoints = Checkpoints(tmp_path / "b", history_window=window)
    first = []
    with pytest.raises(Crash):
        for done in simulate(make_sim([], mixing=mixing, warm_start=warm_start), CONTEXT, checkpoints):
            if done.generation == 3:  # killed before generation 3 was recorded
                raise Crash
            first.append(done)
    log = []
    second = list(
        simulate(make_sim(log, mixing=mixing, warm_start=warm_start), CONTEXT, checkpoints, start=3)
    )
    assert log[0] == ("fit", 6, warm_start)
    resumed, expected = stack(first + second, vectorised=True), stack(full, vectorised=True)
    assert resumed.sizes["generation"] == 6
    for name in ("model", "data_mean", "real_fraction", "train_size"):
        np.testing.assert_array_equal(resumed[name].values, expected[name].values)


def test_checkpoints_keep_only_the_window(tmp_path):
    for _ in simulate(
        make_sim([], mixing=ReplaceMixing(), warm_start=True),
        CONTEXT,
        Checkpoints(tmp_path, history_window=1),
    ):
        pass
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == [
        "model_00005.pkl",
        "synthetic_00005.pkl",
    ]


def test_streams_differ_by_generation_phase_and_chain_and_chain_zero_is_the_unchained_stream():
    """Phases never share a stream, chains never share one, and chain 0 draws what a one-chain run drew."""
    draws = {
        (g, p, c): stream(0, g, p, c).random()
        for g in (0, 1)
        for p in ("source", "fit", "generate", "mix", "initial")
        for c in (0, 1, 2)
    }
    assert len(set(draws.values())) == len(draws)
    unchained = np.random.default_rng([7, 4, 3]).random(5)  # [seed, generation, phase] as a one-chain run
    np.testing.assert_array_equal(stream(7, 4, "mix", chain=0).random(5), unchained)
