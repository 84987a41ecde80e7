"""A tale of tails (Dohmatob et al. 2024): data cut to a model's top-k classes leaves a memoriser an error
floor, the real mass beyond k; fresh real data lets the error fall again."""

import numpy as np
import pytest

import collapse_sim as cs
from collapse_sim.sources.zipf import zipf_probabilities
from collapse_sim.theory import tail_cut_floor, tail_cut_missing_mass

LAW = zipf_probabilities(1000, 1.5, 0.0)  # the experiment's law
Z = 4.0  # four Monte-Carlo standard errors, fixed seeds


@pytest.mark.parametrize(("n_real", "n_synthetic"), [(0, 300), (30, 270), (100, 900)])
def test_the_cut_law_s_missing_mass_matches_a_plain_monte_carlo(n_real, n_synthetic):
    rng = np.random.default_rng(0)
    cut = np.where(np.arange(1000) < 20, LAW, 0.0)
    cut /= cut.sum()
    counts = rng.multinomial(n_real, LAW, size=20_000) + rng.multinomial(n_synthetic, cut, size=20_000)
    missing = (LAW * (counts == 0)).sum(1)
    exact = tail_cut_missing_mass(LAW, top_k=20, n_real=n_real, n_synthetic=n_synthetic)
    assert abs(missing.mean() - exact) < Z * missing.std() / np.sqrt(missing.size)


def test_the_floor_is_the_mass_beyond_k_and_the_limit_of_cut_data():
    assert tail_cut_floor(LAW, 20) == pytest.approx(LAW[20:].sum(), rel=1e-12)
    assert tail_cut_floor(LAW[::-1], 20) == pytest.approx(LAW[20:].sum(), rel=1e-12)  # by rank, not index
    assert tail_cut_missing_mass(LAW, top_k=20, n_real=0, n_synthetic=10**6) == pytest.approx(
        tail_cut_floor(LAW, 20), rel=1e-9
    )


@pytest.mark.parametrize("share", [0.0, 0.1])
def test_a_run_follows_the_exact_expectation_given_each_chain_s_model(share):
    ds = cs.run(["+experiment=tail_cut", "n_samples=1000", f"mixing.real_fraction={share}", "replicates=400"])
    model = ds.class_frequency.isel(generation=0).values  # categorical_fit's law is its data's shares
    n_real = round(share * 1000)
    exact = tail_cut_missing_mass(LAW, top_k=20, n_real=n_real, n_synthetic=1000 - n_real, model=model)
    gap = ds.missing_mass.isel(generation=1).values - exact
    assert abs(gap.mean()) < Z * gap.std() / np.sqrt(gap.size)


def test_cut_data_alone_plateaus_at_the_floor_and_fresh_real_data_goes_below_it():
    floor = tail_cut_floor(LAW, 20)
    overrides = ["+experiment=tail_cut", "n_samples=20000", "replicates=50"]
    alone = cs.run([*overrides, "mixing.real_fraction=0"]).missing_mass.isel(generation=1).values
    mixed = cs.run([*overrides, "mixing.real_fraction=0.1"]).missing_mass.isel(generation=1).values
    # Data of 20 classes misses at least the mass beyond the real top 20, whichever 20 a chain's model
    # kept; at this n almost every chain keeps exactly those.
    assert alone.min() >= floor - 1e-12 and alone.mean() - floor < 1e-3
    exact = tail_cut_missing_mass(LAW, top_k=20, n_real=2000, n_synthetic=18000)
    assert abs(mixed.mean() - exact) < Z * mixed.std() / np.sqrt(mixed.size)
    assert exact < floor / 2 and mixed.max() < floor
