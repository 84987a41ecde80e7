"""Intervals wherever a number is reported: run summaries, sweep comparisons, plots."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import xarray as xr
from rich.console import Console
from scipy import stats

import collapse_sim as cs
from collapse_sim.metrics.detection import AP_BY_CLASS
from collapse_sim.metrics.detection_data import CLASS_SHARES
from collapse_sim.reporting.intervals import band, mean_interval, welch_difference
from collapse_sim.reporting.run import plot_run, summarize, summary_table
from collapse_sim.reporting.sweep import comparisons, plot_dose_response, plot_sweep
from collapse_sim.sweep import fold_seeds
from collapse_sim.variables import variable


def test_mean_interval_is_students_t():
    values = np.random.default_rng(0).normal(3.0, 2.0, 12)
    mean, low, high, n = mean_interval(values)
    expected = stats.t.interval(0.95, 11, loc=values.mean(), scale=stats.sem(values))
    assert n == 12 and mean == pytest.approx(values.mean())
    assert (low, high) == pytest.approx(expected)
    assert np.isnan(mean_interval([1.0])[1]) and mean_interval([np.nan, 2.0, 4.0])[3] == 2
    assert np.isnan(mean_interval([2.0, 4.0])[1])  # two chains: no interval (it would be +- 12.7 half-ranges)


def test_no_interval_leaves_a_variable_s_valid_range(tmp_path):
    """Shares near 1 with one low chain: Student t alone would reach above 1 and below 0."""
    values = np.array([[0.99, 1.0, 0.98, 0.2], [0.02, 0.0, 0.01, 0.9]])
    ds = _chains(values)
    ds.map50.attrs.update(valid_min=0.0, valid_max=1.0)
    assert mean_interval(values[0])[2] > 1 and mean_interval(values[1])[1] < 0  # unclipped
    mean, low, high = band(ds.map50)
    assert (high <= 1).all() and (low >= 0).all() and high[0] == 1 and low[1] == 0
    row = next(r for r in summary_table(ds) if r["name"] == "map50")
    assert row["first"][2] == 1.0 and row["last"][1] == 0.0
    assert np.isfinite(row["rate"]).all() and row["rate"][0] == pytest.approx(np.mean(values[1] - values[0]))


def test_welch_difference_matches_the_unequal_variance_formula():
    rng = np.random.default_rng(1)
    a, b = rng.normal(1.0, 1.0, 8), rng.normal(0.0, 3.0, 20)
    difference, low, high = welch_difference(a, b)
    va, vb = a.var(ddof=1) / 8, b.var(ddof=1) / 20
    dof = (va + vb) ** 2 / (va**2 / 7 + vb**2 / 19)
    half = stats.t.ppf(0.975, dof) * np.sqrt(va + vb)
    assert difference == pytest.approx(a.mean() - b.mean())
    assert (low, high) == pytest.approx((difference - half, difference + half))


def declared(dims, values, declaration: dict) -> xr.Variable:
    """A class variable as the detection metrics declare it (``declaration``), with the dims a store or a
    sweep gives it."""
    attrs = variable(
        dims[-1:], values[(0,) * (values.ndim - 1)], units="1", description="", **declaration
    ).attrs
    return xr.Variable(dims, values, attrs)


def _chains(values: np.ndarray) -> xr.Dataset:
    """A detection-like store: map50 and rarest-quarter shares for several chains."""
    generations, chains = values.shape
    shares = np.tile(np.array([0.5, 0.3, 0.15, 0.05]), (generations, chains, 1))
    return xr.Dataset(
        {
            "map50": (("generation", "replicate"), values, {"units": "1", "key": 2}),
            "map50_95": (("generation", "replicate"), values / 2, {"units": "1", "key": 1}),
            "label_precision": (("generation", "replicate"), np.ones_like(values), {"units": "1", "key": 17}),
            "class_frequency": declared(("generation", "replicate", "class"), shares, CLASS_SHARES),
            "ap50_95": declared(("generation", "replicate", "class"), shares * 2, AP_BY_CLASS),
        },
        coords={"generation": np.arange(generations), "class": ["a", "b", "c", "d"]},
        attrs={"name": "chains"},
    )


def test_summary_gives_mean_interval_and_chain_count(tmp_path):
    values = np.array([[0.5, 0.6, 0.55, 0.65], [0.3, 0.35, 0.25, 0.3]])
    console = Console(file=open(tmp_path / "out.txt", "w"), width=200)
    text = summarize(_chains(values), tmp_path / "results.zarr", console)
    mean, low, high, _ = mean_interval(values[1])
    row = next(line for line in text.splitlines() if "map50 " in line)
    assert f"{mean:.4g} [{low:.3g}, {high:.3g}]" in row and "-48%" in row and row.rstrip(" │").endswith("4")
    assert "4 chains" in text
    assert "rarest quarter (d): share of training labels (together) 5.00% [5.00%, 5.00%]" in text


def test_run_plots_leave_out_what_never_moves(tmp_path):
    values = np.array([[0.5, 0.6, 0.55], [0.3, 0.35, 0.25], [0.2, 0.3, 0.1]])
    (curves, *_) = plot_run(_chains(values), tmp_path)
    from PIL import Image

    width, height = Image.open(curves).size
    assert height < 1200 and width < 1400  # a grid that fits a screen, not a column of panels
    # map50 moves; label precision (always 1) and the constant rarest-quarter share and AP do not.
    ds = _chains(values)
    from collapse_sim.reporting.run import varies

    assert varies(ds.map50) and not varies(ds.label_precision)


def test_pooling_seeds_with_replicates_keeps_every_chain():
    ds = xr.Dataset(
        {"map50": (("seed", "mixing", "generation", "replicate"), np.arange(24.0).reshape(2, 2, 3, 2))},
        coords={"seed": [0, 1], "mixing": ["accumulate", "replace"], "generation": [0, 1, 2]},
    )
    pool = fold_seeds(ds)
    assert dict(pool.sizes) == {"mixing": 2, "generation": 3, "replicate": 4}
    assert sorted(pool.map50.sel(mixing="replace", generation=2).values) == [10.0, 11.0, 22.0, 23.0]
    # Each chain keeps its seed: seed 1's chains are its two replicates.
    assert pool.seed.values.tolist() == [0, 0, 1, 1]
    seed_1 = pool.map50.where(pool.seed == 1, drop=True).sel(mixing="replace", generation=2)
    assert seed_1.values.tolist() == [22.0, 23.0]


def test_a_detection_sweep_compares_the_rarest_quarter_chosen_at_generation_0():
    rng = np.random.default_rng(0)
    shares = np.array([0.5, 0.3, 0.15, 0.05])  # the rarest quarter: class d
    frequency = np.broadcast_to(shares, (2, 3, 4, 4)).copy()  # mode, generation, replicate, class
    frequency[:, -1, :, 3] = 0.0  # gone by the last generation, so only generation 0 can name it
    ap = rng.uniform(0.4, 0.6, (2, 3, 4, 4))
    ap[1, -1, :, 3] += 0.3
    dims = ("mode", "generation", "replicate", "class")
    ds = xr.Dataset(
        {
            "class_frequency": declared(dims, frequency, CLASS_SHARES),
            "ap50_95": declared(dims, ap, AP_BY_CLASS),
        },
        coords={"mode": ["none", "correct"], "generation": [0, 1, 2], "class": list("abcd")},
    )
    row = next(r for r in comparisons(ds) if r["variable"] == "rare_ap50_95")
    expected = welch_difference(ap[1, -1, :, 3], ap[0, -1, :, 3])
    assert row["arm"] == "mode=correct" and row["chains_arm"] == 4
    assert [row["difference"], row["low"], row["high"]] == pytest.approx(expected)


@pytest.mark.slow
def test_a_sweep_report_compares_arms_with_intervals_and_chain_counts(tmp_path, app_cli, capsys):
    from collapse_sim.report import main as report

    sweep = tmp_path / "sweep"
    args = ["-m", "+experiment=zipf_tail", "+debug=default", "mixing=replace,accumulate", "seed=0,1"]
    result = app_cli(*args, "plots=false", f"hydra.sweep.dir={sweep}")
    assert result.returncode == 0, result.stderr
    report([str(sweep)])
    printed = capsys.readouterr().out
    assert "each arm minus the reference, 95 % Welch interval" in printed
    assert "mixing=accumulate" in printed and "4 vs 4" in printed
    rows = list(csv.DictReader(open(sweep / "sweep_comparison.csv")))
    store = xr.open_zarr(sweep / "sweep.zarr")
    last = store.isel(generation=-1)
    row = next(r for r in rows if r["variable"] == "entropy")
    assert row["reference"] == "mixing=replace"  # options keep the command's order: first = reference
    expected = welch_difference(
        last.entropy.sel(mixing="accumulate").values, last.entropy.sel(mixing="replace").values
    )
    assert [float(row[k]) for k in ("difference", "low", "high")] == pytest.approx(expected)
    assert row["chains_arm"] == row["chains_reference"] == "4"
    assert "comparison" in store.attrs
    # The README's analysis runs as written on a sweep with a seed, with the chains the report counted.
    import matplotlib.pyplot as plt

    sw = cs.open_sweep(sweep)
    lines = sw.entropy.mean("replicate").plot(hue="mixing")  # the README's line, for this family's variable
    plt.close("all")
    assert len(lines) == 2 and sw.sizes["replicate"] == 4 and sw.seed.values.tolist() == [0, 0, 1, 1]


def test_a_numeric_sweep_reports_rates_with_welch_intervals_and_draws_the_dose_response(tmp_path):
    """Four doses of real data, 4 chains each: the more real data, the slower map50 falls."""
    rng = np.random.default_rng(3)
    doses, generations = [0.0, 0.1, 0.2, 0.5], np.arange(5)
    slopes = -0.1 * (1 - np.array(doses))[:, None] + rng.normal(0, 0.01, (4, 4))  # dose, chain
    values = 0.8 + slopes[:, None, :] * generations[None, :, None] + rng.normal(0, 0.005, (4, 5, 4))
    ds = xr.Dataset(
        {"map50": (("real_fraction", "generation", "replicate"), values, {"units": "1", "key": 2})},
        coords={"real_fraction": doses, "generation": generations},
    )
    rows = [r for r in comparisons(ds) if r["variable"] == "map50"]
    assert [r["arm"] for r in rows] == ["real_fraction=0.1", "real_fraction=0.2", "real_fraction=0.5"]
    fitted = [np.polyfit(generations, values[d, :, c], 1)[0] for d in range(4) for c in range(4)]
    fitted = np.reshape(fitted, (4, 4))
    expected = welch_difference(fitted[3], fitted[0])
    assert [rows[-1]["rate_difference"], rows[-1]["rate_low"], rows[-1]["rate_high"]] == pytest.approx(
        expected
    )
    assert rows[-1]["rate_low"] > 0  # half the real data halves the fall, beyond the interval
    assert plot_dose_response(ds, tmp_path).stat().st_size > 5_000
    assert plot_dose_response(ds.assign_coords(real_fraction=["a", "b", "c", "d"]), tmp_path) is None


def test_a_sweep_names_a_variable_at_its_k_and_leaves_out_what_never_changes(tmp_path):
    rng = np.random.default_rng(3)
    dims = ("mixing", "generation", "replicate")
    ds = xr.Dataset(
        {
            "tail_mass": (("k", *dims), rng.uniform(0.04, 0.06, (2, 2, 6, 5)), {"units": "1", "key": 1}),
            "real_fraction": (dims, np.zeros((2, 6, 5)), {"units": "1", "key": 2}),  # the same in every arm
        },
        coords={"k": [2.0, 3.0], "mixing": ["replace", "accumulate"], "generation": np.arange(6)},
        attrs={"swept": ["mixing"]},
    )
    assert {r["variable"] for r in comparisons(ds)} == {"tail_mass[k=2]"}
    assert [p.name for p in plot_sweep(ds, tmp_path)] == ["sweep_tail_mass.png"]


def test_a_dose_response_rate_axis_is_scaled_to_the_variable_and_shows_zero(tmp_path, monkeypatch):
    import matplotlib.pyplot as plt

    generations = np.arange(10)  # a level of 1 drifting by about 1e-5 a generation: negligible
    values = 1 + 1e-5 * generations[None, :, None] + np.zeros((3, 10, 4))
    values += np.random.default_rng(0).normal(0, 1e-6, values.shape)
    ds = xr.Dataset(
        {"variance": (("real_fraction", "generation", "replicate"), values, {"units": "1", "key": 1})},
        coords={"real_fraction": [0.0, 0.2, 0.5], "generation": generations},
    )
    drawn = {}
    saved = plt.Figure.savefig
    with pytest.MonkeyPatch.context() as patch:  # read the figure as it is written
        patch.setattr(
            plt.Figure, "savefig", lambda fig, *a, **k: drawn.update(fig=fig) or saved(fig, *a, **k)
        )
        plot_dose_response(ds, tmp_path)
    rate_axis = drawn["fig"].axes[1]
    low, high = rate_axis.get_ylim()
    # At least ±(a quarter of the level over the run) per generation: the 1e-5 slope stays near zero.
    assert low <= -0.25 / 9 and high >= 0.25 / 9
    assert any(list(line.get_ydata()) == [0, 0] for line in rate_axis.get_lines())  # the zero line
    assert rate_axis.yaxis.get_offset_text().get_text() == ""


def test_a_dose_response_runs_along_the_numeric_setting_with_most_values(tmp_path, monkeypatch):
    import matplotlib.pyplot as plt

    from collapse_sim.reporting.captions import sweep_caption
    from collapse_sim.reporting.sweep import dose_setting

    rng = np.random.default_rng(5)
    dims = ("mixing", "n_samples", "real_fraction", "generation", "replicate")
    ds = xr.Dataset(
        {"param_error": (dims, rng.uniform(0.1, 0.2, (2, 4, 2, 3, 5)), {"units": "1", "key": 1})},
        coords={
            "mixing": ["fresh", "fraction"],
            "n_samples": [20, 100, 1000, 10000],
            "real_fraction": [0.9, 1.0],
        },
        attrs={"swept": ["mixing", "n_samples", "real_fraction"]},  # open_sweep's order: alphabetical
    )
    assert dose_setting(ds) == ("n_samples", {"mixing": "fresh", "real_fraction": 0.9})
    drawn = []
    saved = plt.Figure.savefig
    monkeypatch.setattr(plt.Figure, "savefig", lambda fig, *a, **k: drawn.append(fig) or saved(fig, *a, **k))
    plot_dose_response(ds, tmp_path)
    assert drawn[0].axes[0].get_xscale() == "log"  # 20 to 10 000: two decades and more
    caption = sweep_caption(tmp_path / "dose_response.png", ds, "mixing")
    assert "against n_samples, with mixing=fresh, real_fraction=0.9:" in caption


def test_an_axis_draws_a_change_as_large_as_it_is():
    from collapse_sim.reporting.axes import honest_limits, labelled

    low, high = honest_limits([1.00, 1.02])  # +2 %: a sliver of an axis that spans a quarter of 1.02
    assert (1.02 - 1.00) / (high - low) < 0.08 and low < 1.0 < 1.02 < high
    low, high = honest_limits([0.2, 0.9], valid=(0.0, 1.0))  # a change that matters fills the axis
    assert (0.9 - 0.2) / (high - low) > 0.85
    low, high = honest_limits([0.99, 1.0], valid=(0.0, 1.0))  # a share near 1 stays inside [0, 1]
    assert high == 1.0 and high - low >= 0.25
    assert honest_limits([0.0, 0.0]) is None and honest_limits([np.nan]) is None
    assert labelled("gini_simpson", "1") == "gini_simpson" and labelled("entropy", "nats") == "entropy [nats]"


def test_an_arm_whose_chains_all_agree_still_gets_a_welch_interval_without_a_warning():
    import warnings

    arm, constant = np.array([0.3, 0.5, 0.4, 0.6]), np.full(4, 0.1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        difference, low, high = welch_difference(arm, constant)
    half = 3.182446 * arm.std(ddof=1) / 2  # t(0.975, 3) times the arm's standard error alone
    assert difference == pytest.approx(0.35) and (low, high) == pytest.approx((0.35 - half, 0.35 + half))


def test_captions_name_only_the_chains_drawn():
    """More chains than are drawn faint: the caption and the title say how many are, not every one."""
    from collapse_sim.reporting.axes import FAINT_CHAINS
    from collapse_sim.reporting.captions import run_caption

    many = _chains(np.linspace(0.3, 0.6, 2 * (FAINT_CHAINS + 10)).reshape(2, -1))
    caption = run_caption("curves.png", many)
    assert f"the first {FAINT_CHAINS} of the {FAINT_CHAINS + 10} chains faint" in caption
    assert "each of the" not in caption
    assert "each of the 4 chains faint" in run_caption("curves.png", _chains(np.ones((2, 4))))


def test_a_sweep_caption_says_seeds_pooled_only_where_seeds_were_swept():
    from collapse_sim.reporting.captions import sweep_caption

    values = np.zeros((2, 3, 4))
    ds = xr.Dataset(
        {"variance": (("mixing", "generation", "replicate"), values)}, coords={"mixing": ["a", "b"]}
    )
    alone = sweep_caption("sweep_variance.png", ds, "mixing")
    assert "the mean of its 4 chains and its 95 % interval" in alone and "seeds" not in alone
    seeded = ds.expand_dims(seed=[0, 1])
    assert "the mean of its 8 chains (seeds pooled)" in sweep_caption("sweep_variance.png", seeded, "mixing")
    folded = sweep_caption("sweep_variance.png", fold_seeds(seeded), "mixing")  # as open_sweep gives it
    assert "the mean of its 8 chains (seeds pooled)" in folded
