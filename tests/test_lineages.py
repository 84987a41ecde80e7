"""lineages=K: K models a chain, each fitting a random share of one pool they all add to; its exact law."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import assert_same_results, build_job, one_paragraph
from scipy.stats import binom

import collapse_sim as cs
from collapse_sim import theory
from collapse_sim.api import stack
from collapse_sim.checkpoints import Checkpoints
from collapse_sim.components import RunContext
from collapse_sim.loop import simulate
from collapse_sim.sources.zipf import zipf_probabilities

ZIPF = ("+experiment=lineages", "plots=false", "source.n_classes=20", "n_samples=40")
CATEGORICAL = (
    "source=zipf",
    "generator=refit_sample",
    "trainer=categorical_fit",
    "metrics=classes",
    "plots=false",
)
LINREG = ("source=linreg", "generator=relabel", "trainer=ols", "metrics=regression", "plots=false")


def pool_step_by_hand(n: int, lineages: int, count: int, chains: int, rng) -> np.ndarray:
    """The next pool count of a class held ``count`` times, drawn as the procedure says: shuffle the pool,
    cut it into K shares, each share's lineage draws n/K labels from its share's frequencies."""
    m = n // lineages
    pool = np.zeros((chains, n), dtype=np.int8)
    pool[:, :count] = 1
    held = rng.permuted(pool, axis=1).reshape(chains, lineages, m).sum(axis=2)
    return rng.binomial(m, held / m).sum(axis=1)


@pytest.mark.parametrize(("n", "lineages"), [(12, 3), (20, 4), (20, 10)])
def test_the_pool_count_moves_as_the_procedure_draws_it(n, lineages):
    step, rng, chains = theory.lineage_count_step(n, lineages), np.random.default_rng(7), 100_000
    counts = np.arange(n + 1)
    for count in (1, n // 3, n - 1):
        drawn = np.bincount(pool_step_by_hand(n, lineages, count, chains, rng), minlength=n + 1) / chains
        se = np.sqrt(step[count] * (1 - step[count]) / chains)
        assert np.all(np.abs(drawn - step[count]) <= 4.5 * se + 1e-12), (count, drawn, step[count])
    np.testing.assert_allclose(step.sum(axis=1), 1.0, atol=1e-12)
    np.testing.assert_allclose(step @ counts, counts, atol=1e-10)  # a martingale
    variance = counts * (1 - counts / n) * (n - lineages) / (n - 1)
    np.testing.assert_allclose(step @ counts**2 - counts**2, variance, atol=1e-9)


def test_one_lineage_is_wright_fisher_and_its_classes_the_known_expectation():
    counts, probs = np.arange(31), zipf_probabilities(20, 1.1, 0.0)
    np.testing.assert_allclose(
        theory.lineage_count_step(30, 1), binom.pmf(counts[None, :], 30, counts[:, None] / 30), atol=1e-13
    )
    curves = theory.lineage_surviving_expected(12, n=30, lineages=1, probs=probs)
    exact = theory.surviving_classes_expected(12, n=30, probs=probs)
    np.testing.assert_allclose(curves["surviving_classes"], exact, rtol=1e-12)
    np.testing.assert_allclose(curves["union_surviving_classes"], exact, rtol=1e-12)


def test_a_run_with_lineages_follows_the_exact_classes_of_a_lineage_and_of_the_pool():
    ds = cs.run([*ZIPF, "lineages=4", "replicates=600", "generations=12"])
    assert ds.surviving_classes.dims == ("generation", "replicate", "lineage")
    assert ds.sizes["lineage"] == 4 and ds.union_surviving_classes.dims == ("generation", "replicate")
    assert "lineage" not in ds.class_frequency.dims  # over classes: the lineages' mean
    # Equal shares partition the pool, so the lineages' mean shares are the pool's: the same classes.
    np.testing.assert_array_equal((ds.class_frequency > 0).sum("class"), ds.union_surviving_classes)
    exact = theory.lineage_surviving_expected(12, n=40, lineages=4, probs=zipf_probabilities(20, 1.1, 0.0))
    for name, expected in exact.items():
        chains = ds[name].mean("lineage") if "lineage" in ds[name].dims else ds[name]
        mean, se = chains.mean("replicate").values, chains.std("replicate", ddof=1).values / np.sqrt(600)
        z = (mean - expected) / se
        assert np.all(np.abs(z[[0, 3, 11]]) < 4), (name, mean, expected)
    # A lineage fits 10 of its pool's 40 labels: far fewer classes.
    assert float(ds.union_surviving_classes.isel(generation=0).mean()) > 2 * float(
        ds.surviving_classes.isel(generation=0).mean()
    )


def test_one_lineage_is_the_ordinary_loop_store_for_store():
    sized = ["source.n_classes=20", "n_samples=40", "replicates=20", "generations=4", "plots=false"]
    one = cs.run([*ZIPF, "replicates=20", "generations=4", "lineages=1"])
    assert "lineage" not in one.dims
    assert_same_results(cs.run([*CATEGORICAL, *sized]), one)


class Crash(RuntimeError):
    pass


def test_a_resumed_run_with_lineages_equals_the_uninterrupted_one(tmp_path):
    overrides = [*ZIPF, "lineages=4", "replicates=30", "generations=6"]
    context = RunContext(Path(tmp_path), 0)
    full = list(simulate(build_job(overrides).sim, context, Checkpoints(tmp_path / "a", history_window=1)))
    checkpoints, first = Checkpoints(tmp_path / "b", history_window=1), []
    with pytest.raises(Crash):
        for done in simulate(build_job(overrides).sim, context, checkpoints):
            if done.generation == 3:  # killed before generation 3 was recorded
                raise Crash
            first.append(done)
    second = list(simulate(build_job(overrides).sim, context, checkpoints, start=3))
    resumed, expected = stack(first + second, vectorised=True), stack(full, vectorised=True)
    for name in ("surviving_classes", "union_surviving_classes", "class_frequency", "entropy"):
        np.testing.assert_array_equal(resumed[name].values, expected[name].values)


@pytest.mark.parametrize(
    ("overrides", "says"),
    [
        ([*ZIPF, "lineages=3"], "lineages: is 3, which does not divide n_samples=40"),
        ([*ZIPF, "lineages=0"], "lineages: must be an integer >= 1"),
        ([*ZIPF, "lineages=4", "generator.n=42"], "generator.n: is 42, which lineages=4 does not divide"),
        (
            [*LINREG, "lineages=2"],
            "lineages: needs a generator that draws new samples from each lineage's model",
        ),
    ],
)
def test_lineages_that_cannot_share_the_pool_are_one_paragraph(tmp_path, app_cli, overrides, says):
    message = one_paragraph(app_cli(*overrides, f"hydra.run.dir={tmp_path}"))
    assert says in message, message
    assert not (tmp_path / "results.zarr").exists()


def test_lineages_in_a_chained_family_are_refused(tmp_path, app_cli):
    message = one_paragraph(app_cli("lineages=2", f"hydra.run.dir={tmp_path}"))
    assert "lineages: is 2, but lineages run only in a vectorised (toy) family" in message


def test_a_sweep_over_lineages_compares_chains_and_keeps_every_lineage(tmp_path, app_cli):
    ran = app_cli(
        "-m", *ZIPF, "generations=3", "replicates=30", "lineages=1,4", f"hydra.sweep.dir={tmp_path}"
    )
    assert ran.returncode == 0, ran.stderr
    assert (tmp_path / "sweep.html").is_file() and "chains" in ran.stdout
    sweep = cs.open_sweep(tmp_path)
    assert sweep.surviving_classes.dims == ("lineages", "generation", "replicate", "lineage")
    one_lineage = sweep.surviving_classes.sel(lineages=1)  # no lineage dimension: the same on each
    assert bool((one_lineage == one_lineage.isel(lineage=0)).all()) and bool(one_lineage.notnull().all())
    table = (tmp_path / "sweep_comparison.csv").read_text().splitlines()
    row = next(line for line in table if line.startswith("surviving_classes,lineages=4,lineages=1,"))
    assert row.split(",")[8:10] == ["30", "30"]  # chains, not chains times lineages


def test_a_run_with_lineages_says_so_in_its_summary_and_on_its_page(tmp_path, app_cli):
    ran = app_cli(*ZIPF, "lineages=4", "replicates=10", "generations=3", f"hydra.run.dir={tmp_path}")
    assert ran.returncode == 0, ran.stderr
    assert "10 chains of 4 lineages" in ran.stdout
    assert "10 chains of 4 lineages each" in (tmp_path / "report.html").read_text()
