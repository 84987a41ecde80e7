"""docs/replications.md: every row names its paper, shows a command and an interval, quotes the closed
forms collapse_sim.theory computes, and its command runs at debug size."""

from __future__ import annotations

import re

import numpy as np
import pytest
from conftest import ROOT
from doc_commands import commands

import collapse_sim as cs
from collapse_sim import theory
from collapse_sim.sources.zipf import zipf_probabilities

PAGE = ROOT / "docs" / "replications.md"
ZIPF = zipf_probabilities(50, 1.1, 2.7)  # Suresh et al.'s law (b = 2.7)
TAILS = zipf_probabilities(1000, 1.5, 0.0)  # +experiment=tail_cut's law


def test_the_page_has_every_row_the_literature_asks_for():
    text = PAGE.read_text()
    papers = (
        "Kazdan",
        "Gerstgrasser",
        "Suresh",
        "Seddik",
        "He, Xu",
        "Ferbach",
        "Drayson",
        "Bertrand",
        "Shumailov",
        "Alemohammad",
    )
    for paper in papers:
        assert paper in text, paper
    rows = [line for line in text.splitlines() if line.startswith("| ") and "python -m collapse_sim" in line]
    assert len(rows) >= 10 and all(re.search(r"\[[-−\d.]+, [-−\d.]+\]", row) for row in rows), rows
    assert "docs/replications.md" in (ROOT / "README.md").read_text()


def _table() -> tuple[list[str], list[dict[str, str]]]:
    lines = PAGE.read_text().split("## The table", 1)[1].split("## Notes", 1)[0].strip().splitlines()
    header = [c.strip() for c in lines[0].strip("| ").split(" | ")]
    return header, [
        dict(zip(header, (c.strip() for c in row.strip("| ").split(" | ")), strict=True)) for row in lines[2:]
    ]


def test_every_row_says_where_its_published_number_stands():
    header, rows = _table()
    assert header[2:5] == ["their number", "where it stands", "their formula at our setting"]
    for row in rows:
        assert row["where it stands"] not in ("", "—"), row["paper"]
    by = {row["paper"]: row for row in rows}
    # What their papers and code publish, not our evaluation of their formulas at our settings.
    assert "qualitative" in by["Gerstgrasser et al. 2024, replace"]["their number"]
    assert "18.24" not in by["Gerstgrasser et al. 2024, replace"]["their number"]
    assert "qualitative" in by["Suresh et al. 2024"]["their number"]
    assert "Corollary 1" in by["Suresh et al. 2024"]["where it stands"]
    unequal = by["He, Xu & Cheng 2025, unequal sizes"]  # their k is real over synthetic: no 0.83 arm
    assert "k = n/m" in unequal["where it stands"] and "0.83" not in " ".join(unequal.values())
    assert "importance" in by["Drayson et al. 2025"]["where it stands"]
    assert (
        "Our idealisation, `mixing=filtered`"
        in by["Drayson et al. 2025"]["ours (chains; mean [95 % interval])"]
    )
    assert "mixing=importance" in by["Drayson et al. 2025"]["command"]
    assert "seeds 0–99" in by["Kazdan et al. 2024, Gaussian, replace"]["where it stands"]


def test_the_exact_values_it_quotes_are_theory_s():
    text = PAGE.read_text()
    kazdan = theory.gaussian_expected(100, n=100, trace_sigma=1.0)["variance"][[0, 9, 49, 99]]
    quoted = [
        " / ".join(f"{v:.3f}" for v in kazdan),
        f"{float(theory.linreg_param_error(50, n=40, dim=10, noise=1.0, mixing='replace')[49]) + 1:.2f}",
        f"{10 / 29 * np.pi**2 / 6 + 1:.3f}",
        " / ".join(f"{theory.filtered_real_share(0.95, tpr=t, fpr=0.05):.4f}" for t in (0.0, 0.9, 0.99)),
        ", ".join(
            f"{theory.weighted_gaussian_stationary(w, n_real=50, n_synthetic=50):.4f}"
            for w in (0.4, 0.5, (np.sqrt(5) - 1) / 2, 0.7, 0.85)
        ),
        f"≥ {theory.surviving_classes_lower_bound(11, n=500, probs=ZIPF)[10]:.2f}",
        f"≥ {theory.suresh_corollary_bound(100, n=500, probs=ZIPF)[10]:.2f} at generation 10, "
        f"≥ {theory.suresh_corollary_bound(100, n=500, probs=ZIPF)[99]:.2f} at 99",
        f"optimum {theory.known_variance_optimum(20, 80):.3f}, naive weight {0.25 / 1.25:.1f}",
        f"optimum {theory.known_variance_optimum(20, 80):.3f} with the variance known, "
        f"{theory.weighted_gaussian_optimum(20, 80):.3f} refitted",
        " / ".join(f"{theory.retraining_rate(pool=20, synthetic=m):.3g}" for m in (10, 20, 40, 80)),
        "floor {:.4f}; generation 1 at n = 100 / 1000 / 10 000 / 100 000: no real data {}".format(
            theory.tail_cut_floor(TAILS, 20),
            " / ".join(
                f"{theory.tail_cut_missing_mass(TAILS, top_k=20, n_real=0, n_synthetic=n):.4f}"
                for n in (100, 1000, 10000, 100000)
            ),
        ),
        *(
            f"({e[1] - e[0]:.4f} → {e[14] - e[0]:.4f})"
            for e in (
                theory.retraining_expected(15, pool=20, synthetic=m, trace_sigma=1.0)["mean_shift_sq"]
                for m in (20, 40)
            )
        ),
    ]
    for value in quoted:
        assert value in text, value


# The text rows' experiments run at debug size in test_configs (the n-gram standing in for tiny_gpt,
# which test_text and test_base run end to end), as mad's does (test_images runs the image family's
# every source and trainer, and mad_fashion at debug size); test_doc_commands builds these very command
# lines.
RUN_ELSEWHERE = (
    *("+experiment=vocabulary_loss", "+experiment=shumailov", "+experiment=mad", "+experiment=mad_fashion"),
)
COMMANDS = sorted({tuple(a) for a in commands(PAGE) if not set(RUN_ELSEWHERE) & set(a)})


def _first_arm(args: tuple[str, ...]) -> list[str]:
    """The command's first job (a sweep's ``key=a,b`` becomes ``key=a``), at debug size: its own
    generations and replicates are left to ``+debug``."""
    sizes = ("generations=", "replicates=")
    return [a.split(",")[0] if "=" in a else a for a in args if a != "-m" and not a.startswith(sizes)]


@pytest.mark.parametrize("args", COMMANDS, ids=[" ".join(a) for a in COMMANDS])
def test_each_row_s_command_runs_at_debug_size(args):
    ds = cs.run([*_first_arm(args), "+debug=default"])
    assert ds.sizes["generation"] == 3 and ds.sizes["replicate"] >= 2
    assert all(np.isfinite(ds[v].values).all() for v in ds.data_vars if ds[v].dtype.kind == "f")
