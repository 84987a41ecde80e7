"""How the default scene model drifts with no detector: python docs/scene_law_drift.py [--chains 8].

Starting from the default run's real training images, each chain refits the
scene law to its images and renders the next generation's from it, exactly as
``generator=scene_model`` does, with no detector in between, once with each
colour estimate: ``centre`` (the default: pixels at box centres, where a
neighbour or the background sometimes shows) and ``mask`` (each object's own
pixels, faithful: what is left is finite-sample drift). Per generation and
estimate it prints, for the rarest and the commonest quarter of classes, how
far the fitted class colours are from the real ones (RGB distance) and the
fitted colour spread over the real one, each as the mean over chains with its
95 % interval. The last line is the same as JSON.
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from collapse_sim.reporting.intervals import format_interval, mean_interval
from collapse_sim.scenes.dataset import DetectionSet
from collapse_sim.scenes.law import COLOUR_ESTIMATES, fit_law
from collapse_sim.sources.shapes import ShapesSource


def chain_drift(
    real, generations: int, images: int, rng: np.random.Generator, estimate: str
) -> dict[str, np.ndarray]:
    """Per generation and class: colour error and colour spread ratio of the refitted law."""
    truth, data = real.truth.law, real.train
    error, spread = (
        np.empty((generations, truth.count_mean.size)),
        np.empty((generations, truth.count_mean.size)),
    )
    for g in range(generations):
        law = fit_law(data.images, data.labels, truth.shapes, colour_estimate=estimate)
        error[g] = np.linalg.norm(law.colour_mean - truth.colour_mean, axis=1)
        spread[g] = law.colour_std.mean(1) / truth.colour_std.mean(1)
        rendered, labels = law.render(images, data.image_size, rng)
        data = DetectionSet.made_by(g, rendered, labels, labels, data.names)
    return {"colour_error": error, "colour_spread": spread}


def main() -> dict:
    """Run the chains, print the table, return the summary."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chains", type=int, default=8)
    parser.add_argument("--generations", type=int, default=6)
    parser.add_argument("--images", type=int, default=300, help="images per generation (n_samples)")
    parser.add_argument("--seed", type=int, default=0, help="the world's seed, as the run's seed")
    args = parser.parse_args()
    real = ShapesSource(pool_size=args.images).load(np.random.default_rng(args.seed))
    order = np.argsort(real.truth.class_shares, kind="stable")
    quarter = max(1, len(order) // 4)
    groups = {"rarest": order[:quarter], "commonest": order[-quarter:]}
    summary = {"chains": args.chains, "images": args.images, "seed": args.seed, "generations": []}
    runs = {
        estimate: [
            chain_drift(
                real, args.generations, args.images, np.random.default_rng([args.seed, 99, c]), estimate
            )
            for c in range(args.chains)
        ]
        for estimate in COLOUR_ESTIMATES
    }
    for g in range(args.generations):
        row = {"generation": g}
        for estimate, chains in runs.items():
            for quantity in ("colour_error", "colour_spread"):
                for name, classes in groups.items():
                    values = [chain[quantity][g, classes].mean() for chain in chains]
                    row[f"{quantity}_{name}_{estimate}"] = mean_interval(values)[:3]
            print(
                f"generation {g}, {estimate:>6}: colour error rarest "
                f"{format_interval(*row[f'colour_error_rarest_{estimate}'], digits=3)}, commonest "
                f"{format_interval(*row[f'colour_error_commonest_{estimate}'], digits=3)} RGB levels; "
                f"colour spread / real: rarest "
                f"{format_interval(*row[f'colour_spread_rarest_{estimate}'], digits=3)}, commonest "
                f"{format_interval(*row[f'colour_spread_commonest_{estimate}'], digits=3)}"
            )
        summary["generations"].append(row)
    print(json.dumps(summary))
    return summary


if __name__ == "__main__":
    main()
