"""The numbers of docs/replications.md: python docs/replications.py [--only NAME ...].

Runs every row's commands in memory (``collapse_sim.run``, the same configs as
the command line), at full size, and prints each row's numbers with their 95 %
Student-t intervals over chains, the wall time of its commands, and the
matrix-multiply peak measured first (the machine's speed varies from day to
day: judge wall times by it). JSON last.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

import numpy as np

import collapse_sim as cs
from collapse_sim import theory
from collapse_sim.reporting.intervals import format_interval, mean_interval
from collapse_sim.sources.zipf import zipf_probabilities

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
from step_profile import matmul_peak_gflops  # noqa: E402

GOLDEN = (np.sqrt(5) - 1) / 2


def run(overrides: str):
    """The results of the command line with these overrides, run in memory."""
    return cs.run(shlex.split(overrides))


def mean_interval3(values) -> tuple[float, float, float]:
    """Mean and 95 % Student-t interval over chains."""
    return mean_interval(values)[:3]


def at(da, generation: int) -> str:
    """Mean [95 % interval] over chains at one generation."""
    return format_interval(*mean_interval3(da.isel(generation=generation).values), digits=3)


def stationary(da, last: int = 10) -> tuple[float, float, float]:
    """Each chain's mean over the last ``last`` generations, then the mean and interval over chains."""
    return mean_interval3(da.isel(generation=slice(-last, None)).mean("generation").values)


def kazdan_gaussian() -> dict:
    """Kazdan et al. 2024: mean fitted variance at iterations 1/10/50/100 (our generations 0/9/49/99)."""
    out, generations = {}, [0, 9, 49, 99]
    expected = theory.gaussian_expected(100, n=100, trace_sigma=1.0)["variance"][generations]
    out["theory_replace"] = [round(float(v), 3) for v in expected]
    for mixing, chains in (("replace", 100), ("replace", 10000), ("accumulate", 100), ("accumulate", 1000)):
        ds = run(
            f"+experiment=gaussian_collapse trainer.ddof=0 mixing={mixing} "
            f"generations=100 replicates={chains}"
        )
        out[f"{mixing}_{chains}"] = [at(ds.variance, g) for g in generations]
    return out


def gerstgrasser() -> dict:
    """Gerstgrasser et al. 2024: test error grows linearly under replace, stays bounded under accumulate."""
    out = {}
    for mixing in ("replace", "accumulate"):
        ds = run(f"+experiment=linreg_accumulate mixing={mixing}")
        expected = theory.linreg_param_error(50, n=40, dim=10, noise=1.0, mixing=mixing) + 1.0
        out[mixing] = {
            "test_mse_g0": at(ds.test_mse, 0),
            "test_mse_g49": at(ds.test_mse, 49),
            "theory_g49": round(float(expected[49]), 3),
        }
    return out


def suresh() -> dict:
    """Suresh et al. 2024: surviving symbols of Zipf-Mandelbrot laws; the time to lose a symbol seen k
    times."""
    out = {}
    for shift in (2.7, 5.0):
        ds = run(f"+experiment=zipf_tail source.shift={shift}")
        probs = zipf_probabilities(50, 1.1, shift)
        expected = theory.surviving_classes_expected(100, n=500, probs=probs)
        loose = theory.surviving_classes_lower_bound(100, n=500, probs=probs)
        corollary = theory.suresh_corollary_bound(100, n=500, probs=probs)
        out[f"shift_{shift}"] = {
            "surviving_g0": at(ds.surviving_classes, 0),
            "surviving_g10_g99": [at(ds.surviving_classes, g) for g in (10, 99)],
            "exact_g0": round(float(expected[0]), 2),
            "exact_g10_g99": [round(float(expected[g]), 2) for g in (10, 99)],
            "corollary_g10_g99": [round(float(corollary[g]), 2) for g in (10, 99)],
            "per_count_bound_g10_g99": [round(float(loose[g]), 2) for g in (10, 99)],
        }
    loss = theory.generations_to_loss(500)
    out["generations_to_loss_n500"] = {k: round(float(loss[k - 1]), 1) for k in (1, 2, 4, 8, 16, 32)}
    return out


def suresh_their_setting() -> dict:
    """Suresh et al. 2024 at their notebook's setting: alphabet 1000, n = 1000, Zipf-Mandelbrot (a, b) =
    (1, 2.7) and (2, 5), ten generations (their k = 1..10 is our generation 0..9)."""
    out = {}
    for exponent, shift in ((1.0, 2.7), (2.0, 5.0)):
        ds = run(
            f"+experiment=zipf_tail source.n_classes=1000 n_samples=1000 source.exponent={exponent} "
            f"source.shift={shift} generations=10 replicates=500"
        )
        probs = zipf_probabilities(1000, exponent, shift)
        expected = theory.surviving_classes_expected(10, n=1000, probs=probs)
        corollary = theory.suresh_corollary_bound(10, n=1000, probs=probs)
        out[f"a_{exponent:g}_b_{shift:g}"] = {
            "surviving_g0_g4_g9": [at(ds.surviving_classes, g) for g in (0, 4, 9)],
            "exact_g0_g4_g9": [round(float(expected[g]), 2) for g in (0, 4, 9)],
            "corollary_g0_g4_g9": [round(float(corollary[g]), 2) for g in (0, 4, 9)],
        }
    return out


def seddik() -> dict:
    """Seddik et al. 2024: purely synthetic training collapses; enough real data in the mix prevents it."""
    out = {}
    for label, extra in (("replace", ""), ("fresh_0.05", " mixing=fresh mixing.real_fraction=0.05")):
        ds = run(f"+experiment=zipf_tail{extra}")
        out[label] = {
            "surviving_g0": at(ds.surviving_classes, 0),
            "surviving_g99": at(ds.surviving_classes, 99),
        }
    return out


def he() -> dict:
    """He, Xu & Cheng 2025: the weight on fresh real data that minimises the mean's error is 1/phi."""
    out = {
        "optimum_known_variance": round(theory.known_variance_optimum(50, 50), 4),
        "optimum_refitted_variance": round(theory.weighted_gaussian_optimum(50, 50), 4),
    }
    for weight in (0.4, 0.5, GOLDEN, 0.7, 0.85):
        ds = run(f"+experiment=golden_ratio mixing.real_weight={weight:.4g}")
        mean, low, high = stationary(ds.mean_shift_sq)
        exact = theory.weighted_gaussian_stationary(weight, n_real=50, n_synthetic=50)
        out[f"w_{weight:.3f}"] = {"mse": format_interval(mean, low, high, digits=4), "exact": round(exact, 5)}
    # Unequal sizes, k = n_real / n_synthetic = 0.25 as in their code: the optimum beside the naive
    # weight k / (1 + k), the real share of the pooled samples.
    out["optimum_20_real_80_synthetic"] = round(theory.weighted_gaussian_optimum(20, 80), 4)
    for weight in (0.39, 0.2):
        ds = run(f"+experiment=golden_ratio mixing.real_fraction=0.2 mixing.real_weight={weight}")
        exact = theory.weighted_gaussian_stationary(weight, n_real=20, n_synthetic=80)
        out[f"20_80_w_{weight}"] = {
            "mse": format_interval(*stationary(ds.mean_shift_sq), digits=4),
            "exact": round(exact, 5),
        }
    return out


def ferbach() -> dict:
    """Ferbach et al. 2024: curation raises the reward and collapses the variance; real data bounds it."""
    out = {}
    for fraction in (0.0, 0.2, 0.5):
        ds = run(f"+experiment=curation mixing.real_fraction={fraction}")
        out[f"real_fraction_{fraction}"] = {
            name: [at(ds[name], 0), at(ds[name], 19)] for name in ("reward_mean", "variance", "mean_shift")
        }
    return out


def filtered() -> dict:
    """A contaminated pool through a detector: the real share kept, the classes kept."""
    out = {}
    for tpr in (0.0, 0.9, 0.99):
        ds = run(f"+experiment=filtered_web mixing.tpr={tpr}")
        kept = ds.real_fraction.isel(generation=slice(1, None)).values
        out[f"tpr_{tpr}"] = {
            "real_fraction": format_interval(*mean_interval3(kept.mean(axis=0)), digits=4),
            "closed_form": round(theory.filtered_real_share(0.95, tpr=tpr, fpr=0.05), 4),
            "surviving_g29": at(ds.surviving_classes, 29),
        }
    for auc in (0.5, 0.9, 0.99):  # Drayson et al.'s own method on the same web
        ds = run(f"+experiment=filtered_web mixing=importance ~mixing.tpr ~mixing.fpr mixing.auc={auc}")
        kept = ds.real_fraction.isel(generation=slice(1, None)).values
        out[f"importance_auc_{auc}"] = {
            "real_fraction": format_interval(*mean_interval3(kept.mean(axis=0)), digits=4),
            "closed_form": round(
                theory.importance_real_share(0.95, auc=auc, alpha=10, upsample=1.5, max_repeats=3), 4
            ),
            "surviving_g29": at(ds.surviving_classes, 29),
        }
    return out


def dohmatob() -> dict:
    """Dohmatob et al. 2025, strong model collapse: a share p of labels from a fixed wrong model leaves
    least squares an error floor p^2 ||delta||^2 however large n grows."""
    out = {}
    for share in (0.0, 0.01, 0.1):
        for n in (100, 1000, 10000):
            ds = run(f"+experiment=strong_collapse n_samples={n} mixing.real_fraction={1 - share:g}")
            error = ds.param_error.isel(generation=slice(1, None)).mean("generation").values
            exact = theory.strong_collapse_error(
                n, dim=10, noise=1.0, synthetic=n - round((1 - share) * n), distance=1.0
            )
            out[f"p_{share:g}_n_{n}"] = {
                "param_error": format_interval(*mean_interval3(error), digits=3),
                "exact": round(exact, 5),
            }
    return out


def dohmatob_tails() -> dict:
    """Dohmatob et al. 2024, a tale of tails: data cut to a model's top 20 classes leaves a memoriser the
    real mass beyond them; fresh real data lets the error fall again."""
    law = zipf_probabilities(1000, 1.5, 0.0)
    out = {"floor": round(theory.tail_cut_floor(law, 20), 4)}
    for share in (0.0, 0.02, 0.1):
        for n in (100, 1000, 10000, 100000):
            ds = run(f"+experiment=tail_cut n_samples={n} mixing.real_fraction={share:g}")
            n_real = round(share * n)
            out[f"real_{share:g}_n_{n}"] = {
                "missing_mass": at(ds.missing_mass, 1),
                "cut_real_law": round(
                    theory.tail_cut_missing_mass(law, top_k=20, n_real=n_real, n_synthetic=n - n_real), 4
                ),
            }
    return out


def bertrand() -> dict:
    """Bertrand et al. 2024: retraining on the real data and λ synthetic samples per real one; the fit's
    squared distance from the real data's own fit grows to a fixed point at the rate λ/(1 + λ)."""
    out = {}
    for lam in (0.5, 1.0, 2.0, 4.0):
        ds = run(f"+experiment=iterative_retraining mixing.synthetic_per_real={lam:g}")
        grown = ds.mean_shift_sq - ds.mean_shift_sq.isel(generation=0)  # chain by chain
        m = round(lam * ds.attrs["config"]["n_samples"])
        exact = theory.retraining_expected(15, pool=20, synthetic=m, trace_sigma=1.0)["mean_shift_sq"]
        out[f"lambda_{lam:g}"] = {
            "generation_1": at(grown, 1),
            "generation_14": at(grown, 14),
            "exact": [round(float(exact[g] - exact[0]), 4) for g in (1, 14)],
            "rate": round(theory.retraining_rate(pool=20, synthetic=m), 4),
        }
    return out


def hodel_west() -> dict:
    """An ecosystem of K lineages sharing one pool (after Hodel & West 2025; the setting is ours): the
    classes a lineage holds and its pool holds, at generation 20 and 299, beside the exact law."""
    probs, out = zipf_probabilities(50, 1.1, 0.0), {}
    for k in (1, 2, 5, 25):
        ds = run(f"+experiment=lineages lineages={k}")
        exact = theory.lineage_surviving_expected(300, n=100, lineages=k, probs=probs)
        arm = {}
        for name in ("surviving_classes", "union_surviving_classes"):
            values = ds[name] if name in ds else ds["surviving_classes"]  # one lineage: the pool is its data
            values = values.mean("lineage") if "lineage" in values.dims else values  # each chain's mean
            arm[name] = [at(values, g) for g in (20, 299)]
            arm[f"{name}_exact"] = [round(float(exact[name][g]), 3) for g in (20, 299)]
        out[f"lineages_{k}"] = arm
    curves = {k: theory.lineage_surviving_expected(300, n=100, lineages=k, probs=probs) for k in LINEAGES}
    best = [max(LINEAGES, key=lambda k: curves[k]["surviving_classes"][g]) for g in range(300)]
    out["best_lineages_exact"] = {g: k for g, k in enumerate(best) if g == 0 or k != best[g - 1]}
    return out


LINEAGES = (1, 2, 4, 5, 10, 20, 25, 50)  # the divisors of the pool of 100 whose best generation is found


def shumailov_gaussian() -> dict:
    """Shumailov et al. 2024: unbiased refits keep E[variance] at 1 while almost every chain collapses."""
    ds = run("+experiment=gaussian_collapse")
    curves = theory.expected_curves(ds.attrs["config"])
    last = ds.variance.isel(generation=-1)
    return {
        "mean_variance_g199": at(ds.variance, 199),
        "theory_mean": round(float(curves["variance"][-1]), 3),
        "median_variance_g199": round(float(last.median()), 3),
        "theory_typical": round(float(curves["variance_geometric_mean"][-1]), 3),
        "share_below_half": format_interval(*mean_interval3((last.values < 0.5).astype(float)), digits=3),
    }


def shumailov_text() -> dict:
    """Shumailov et al. 2024, text: held-out bits per character rise and rare words vanish under replace."""
    out = {}
    for mixing in ("replace", "fraction mixing.real_fraction=0.1"):
        ds = run(f"+experiment=vocabulary_loss trainer=ngram replicates=4 mixing={mixing}")
        out[mixing.split()[0]] = {
            name: [at(ds[name], 0), at(ds[name], -1)] for name in ("test_bits_per_char", "rare_word_recall")
        }
    return out


def kazdan_kde() -> dict:
    """Kazdan et al. 2024: KDE refits, test negative log-likelihood and variance."""
    out = {}
    for bandwidth in (0.05, 0.2, "scott"):
        ds = run(f"+experiment=kde_collapse trainer.bandwidth={bandwidth}")
        out[str(bandwidth)] = {name: [at(ds[name], 0), at(ds[name], 39)] for name in ("variance", "test_nll")}
    return out


MAD_ARMS = {  # Alemohammad et al.'s three loops, and their sampling bias in the fully synthetic one
    "fully synthetic": "",
    "fixed real set": "mixing=fraction mixing.real_fraction=0.5",
    "fresh data": "mixing=fresh mixing.real_fraction=0.5",
    "sampling bias (guidance 1)": "generator.guidance=1",
    "sampling bias (guidance 3)": "generator.guidance=3",
}


def alemohammad() -> dict:
    """Alemohammad et al. 2024 ("go MAD"): a DDPM on its own digits; precision, recall and FID at
    generations 0, 1 and 5 in each loop."""
    out = {}
    for arm, extra in MAD_ARMS.items():
        ds = run(f"+experiment=mad {extra}")
        out[arm] = {name: [at(ds[name], g) for g in (0, 1, 5)] for name in ("precision", "recall", "fid")}
    return out


FASHION_MEASURES = (
    *("precision", "density", "recall", "coverage", "fid", "memorised_share", "precision_not_copied"),
)


def alemohammad_fashion() -> dict:
    """Alemohammad et al. 2024 at λ = 1 on larger images (Fashion-MNIST at 14x14, 1,000 a generation): each
    measure at generations 0, 1 and 4 in the fully synthetic loop and with half fresh data."""
    out = {}
    for arm, extra in (("fully synthetic", ""), ("fresh data", "mixing=fresh mixing.real_fraction=0.5")):
        ds = run(f"+experiment=mad_fashion {extra}")
        out[arm] = {name: [at(ds[name], g) for g in (0, 1, 4)] for name in FASHION_MEASURES}
    return out


ROWS = {
    f.__name__: f
    for f in (
        kazdan_gaussian,
        gerstgrasser,
        suresh,
        suresh_their_setting,
        seddik,
        he,
        ferbach,
        filtered,
        dohmatob,
        dohmatob_tails,
        bertrand,
        hodel_west,
        shumailov_gaussian,
        shumailov_text,
        kazdan_kde,
        alemohammad,
        alemohammad_fashion,
    )
}


def main(only: list[str]) -> dict:
    """Run the rows, print each as it ends, and return everything."""
    results = {"matmul_peak_gflops": round(matmul_peak_gflops("cpu"), 1), "rows": {}}
    print(f"matmul peak: {results['matmul_peak_gflops']} GFLOP/s", flush=True)
    for name, row in ROWS.items():
        if only and name not in only:
            continue
        began = time.perf_counter()
        numbers = row()
        numbers["wall_s"] = round(time.perf_counter() - began, 1)
        results["rows"][name] = numbers
        print(name, json.dumps(numbers, indent=1), flush=True)
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", default=[], choices=sorted(ROWS), help="rows to run")
    print(json.dumps(main(parser.parse_args().only)))
