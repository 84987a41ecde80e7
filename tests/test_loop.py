"""The generation loop with fake components: order of phases, warm starts, exact resume."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from collapse_sim.build import Simulation
from collapse_sim.capacity import ChainPlan
from collapse_sim.checkpoints import Checkpoints
from collapse_sim.loop import simulate, stream
from collapse_sim.mixing import AccumulateSubsampleMixing, ReplaceMixing
from collapse_sim.protocols import RealData
from collapse_sim.samples import Samples
from collapse_sim.store import MemoryStore


class FakeSource:
    family = "fake"

    def load(self, rng):
        draw = lambda n, r: Samples.real(x=r.normal(size=(2, n, 1)))  # noqa: E731
        return RealData(draw(6, rng), None, None, draw)


class FakeTrainer:
    family = "fake"

    def __init__(self, log):
        self.log = log

    def fit(self, data, *, init, rng, generation):
        self.log.append(("fit", len(data), init is not None))
        mean = data["x"].mean(axis=(1, 2))
        # A warm start pulls the new model toward the old one, so it changes results.
        return mean if init is None else 0.5 * (mean + init)


class FakeGenerator:
    def __init__(self, log):
        self.log = log

    def generate(self, model, data, generation, rng, *, real):
        self.log.append(("generate", generation))
        return Samples.made_by(generation, x=model[:, None, None] + rng.normal(size=(2, 6, 1)))


class FakeMetric:
    families = ("fake",)

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
    store = MemoryStore(3)
    simulate(
        make_sim(log, mixing=ReplaceMixing(), warm_start=True, generations=3),
        store,
        _NoSave(),
        on_generation=lambda g: log.append(("done", g)),
    )
    assert log[:4] == [("fit", 6, False), ("generate", 0), ("done", 0), ("fit", 6, True)]
    ds = store.dataset()
    assert ds.real_fraction.values.tolist() == [1.0, 0.0, 0.0]
    assert store.completed == {(0, None), (1, None), (2, None)}  # (generation, chain); one vectorised chain


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
    full = MemoryStore(6)
    simulate(
        make_sim([], mixing=mixing, warm_start=warm_start),
        full,
        Checkpoints(tmp_path / "a", history_window=mixing.history_window),
        on_generation=lambda g: None,
    )

    def crash_after_two(g):
        if g == 2:
            raise Crash

    first = MemoryStore(6)
    checkpoints = Checkpoints(tmp_path / "b", history_window=mixing.history_window)
    with pytest.raises(Crash):
        simulate(
            make_sim([], mixing=mixing, warm_start=warm_start),
            first,
            checkpoints,
            on_generation=crash_after_two,
        )
    second = MemoryStore(6)
    log = []
    simulate(
        make_sim(log, mixing=mixing, warm_start=warm_start),
        second,
        checkpoints,
        start=3,
        on_generation=lambda g: None,
    )
    assert log[0] == ("fit", 6, warm_start)
    resumed = xr.concat([first.dataset().sel(generation=[0, 1, 2]), second.dataset()], dim="generation")
    expected = full.dataset()
    for name in ("model", "data_mean", "real_fraction", "train_size"):
        np.testing.assert_array_equal(resumed[name].values, expected[name].values)


def test_checkpoints_keep_only_the_window(tmp_path):
    simulate(
        make_sim([], mixing=ReplaceMixing(), warm_start=True),
        MemoryStore(6),
        Checkpoints(tmp_path, history_window=1),
        on_generation=lambda g: None,
    )
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == [
        "model_00005.pkl",
        "synthetic_00005.pkl",
    ]


def test_streams_differ_by_generation_and_phase():
    draws = {
        (g, p): stream(0, g, p).random()
        for g in (0, 1)
        for p in ("source", "fit", "generate", "mix", "initial")
    }
    assert len(set(draws.values())) == len(draws)
    assert stream(7, 4, "mix").random() == stream(7, 4, "mix").random()
