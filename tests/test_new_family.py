"""A family is its own files: a throwaway one, written in this test's folder, runs and is summarised,
reported and range-checked without editing the package (nothing central lists it)."""

from __future__ import annotations

import textwrap

import numpy as np
from families import families
from scipy import stats

import collapse_sim as cs
from collapse_sim.reporting.run import summary_table

COMPONENTS = '''
"""A coin family: flips of a biased coin, refitted and re-flipped each generation."""

import numpy as np
from scipy import stats

from collapse_sim.components import Generator, Metric, RealData, Source, Trainer, data_of
from collapse_sim.metrics import NON_NEGATIVE, SHARE, Figure, measured, variable
from collapse_sim.samples import Samples


class CoinSource(Source):
    provides = data_of("coin") | {"vectorised replicates"}

    def __init__(self, *, heads: float, pool_size: int, replicates: int) -> None:
        self.heads, self.pool_size, self.replicates = heads, pool_size, replicates

    def draw(self, n, rng):
        return Samples.real(flip=(rng.random((self.replicates, n, 1)) < self.heads).astype(float))

    def load(self, rng):
        return RealData(self.draw(self.pool_size, rng), None, self.heads, self.draw)


class CoinTrainer(Trainer):
    needs = data_of("coin")

    def fit(self, data, *, init, rng, generation):
        return data["flip"].mean(axis=(1, 2))  # each chain's share of heads


class CoinGenerator(Generator):
    needs = data_of("coin")

    def __init__(self, *, n: int) -> None:
        self.n = n

    def generate(self, model, data, generation, rng, *, real):
        flips = rng.random((len(model), self.n, 1)) < model[:, None, None]
        return Samples.made_by(generation, flip=flips.astype(float))


class CoinMetric(Metric):
    needs = data_of("coin")

    def measure(self, model, data, real):
        return measured({
            "heads": variable(("replicate",), model, units="1", description="fitted share of heads",
                              valid=SHARE, key=1),
            "heads_error": variable(("replicate",), np.abs(model - real.truth), units="1",
                                    description="distance to the true share", valid=NON_NEGATIVE, key=2),
            "sides": variable(("replicate", "side"), np.c_[model, 1 - model], units="1",
                              description="share of each side in the fitted coin", valid=SHARE,
                              figure=Figure("heatmap", title="the fitted coin's sides",
                                            caption="Each side's share of the fitted coin ({chains}).")),
        }, coords={"side": ["heads", "tails"]})
'''

CONFIGS = {
    "source/coin.yaml": "_target_: coin_lab.CoinSource\nheads: 0.97\npool_size: ${n_samples}\n"
    "replicates: ${replicates}\n",
    "trainer/coin_fit.yaml": "_target_: coin_lab.CoinTrainer\n",
    "generator/coin_flip.yaml": "_target_: coin_lab.CoinGenerator\nn: ${n_samples}\n",
    "metrics/coin.yaml": "coin:\n  _target_: coin_lab.CoinMetric\n",
    "experiment/coin_collapse.yaml": textwrap.dedent(
        """\
        # @package _global_
        defaults:
          - override /source: coin
          - override /generator: coin_flip
          - override /mixing: replace
          - override /trainer: coin_fit
          - override /metrics: coin
        name: coin_collapse
        generations: 12
        n_samples: 20
        replicates: 6
        """
    ),
}


def test_a_family_written_outside_the_package_runs_and_is_summarised_reported_and_range_checked(
    tmp_path, monkeypatch, app_cli
):
    (tmp_path / "coin_lab.py").write_text(COMPONENTS)
    for name, text in CONFIGS.items():
        (tmp_path / "conf" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "conf" / name).write_text(text)
    monkeypatch.syspath_prepend(str(tmp_path))
    run_dir = tmp_path / "run"
    ran = app_cli(
        "--config-dir", str(tmp_path / "conf"), "+experiment=coin_collapse", f"hydra.run.dir={run_dir}"
    )
    assert ran.returncode == 0, ran.stderr
    # summarised: the key variables, in their declared order, before the bookkeeping
    rows = [line.split("│")[1].strip() for line in ran.stdout.splitlines() if line.startswith("│")]
    assert rows == ["heads", "heads_error", "real_fraction", "train_size"]
    ds = cs.open_run(run_dir)
    assert ds.heads.attrs["valid_max"] == 1 and ds.heads.attrs["key"] == 1
    # range-checked: six chains near 1 would put a Student-t bound above 1; it stops at the valid range
    row = next(r for r in summary_table(ds) if r["name"] == "heads")
    late = ds.heads.isel(generation=-1).values
    unclipped = late.mean() + stats.t.ppf(0.975, 5) * late.std(ddof=1) / np.sqrt(6)
    assert unclipped > 1 and row["last"][2] == 1.0 and row["first"][2] <= 1
    # reported: the page and the plot name the family's variables
    page = (run_dir / "report.html").read_text()
    assert "heads_error" in page and (run_dir / "curves.png").stat().st_size > 5_000
    # and its own figure, as it declared it: drawn, captioned and on the page, with no package edit
    assert (run_dir / "sides.png").stat().st_size > 5_000
    assert "<figcaption>Each side's share of the fitted coin (mean of 6 chains)." in page
    # and the package's own family list (derived from its config folders) does not know it
    assert not any("coin" in str(f) for f in families().values())
