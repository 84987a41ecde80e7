"""How real and synthetic data combine into the next generation's training set.

Real samples always come first, so generators that reuse the training inputs
(``relabel``) see the real design points.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from collapse_sim.checks import positive_int
from collapse_sim.components import Mixing, RealData, data_of
from collapse_sim.errors import ConfigError
from collapse_sim.samples import Samples


def _check_fraction(real_fraction: float) -> float:
    if not 0.0 <= real_fraction <= 1.0:
        raise ConfigError("real_fraction", f"must be in [0, 1], got {real_fraction!r}")
    return float(real_fraction)


class ReplaceMixing(Mixing):
    """Train only on the newest synthetic set (the classic collapse loop)."""

    history_window = 1

    def mix(self, real: RealData, synthetic: Samples, history, rng) -> Samples:
        """The newest synthetic set, unchanged."""
        return synthetic


class AccumulateMixing(Mixing):
    """Keep the real data and every synthetic set so far (data grows each generation)."""

    history_window = None

    def mix(self, real: RealData, synthetic: Samples, history: list[Samples], rng) -> Samples:
        """Real pool followed by all synthetic sets, oldest first."""
        return real.train.concat([real.train, *history])


class AccumulateSubsampleMixing(Mixing):
    """Accumulate, then draw ``n`` samples uniformly so the training size stays fixed."""

    history_window = None

    def __init__(self, *, n: int) -> None:
        self.n = n

    def mix(self, real: RealData, synthetic: Samples, history: list[Samples], rng) -> Samples:
        """A uniform subsample of real plus all synthetic data."""
        pool = real.train.concat([real.train, *history])
        return pool.subsample(min(self.n, len(pool)), rng)


class _RealShareMixing(Mixing):
    """``real_fraction`` of ``n`` real samples (from ``_real``), the rest newest synthetic."""

    history_window = 1

    def __init__(self, *, n: int, real_fraction: float = 0.2) -> None:
        self.n = n
        self.real_fraction = _check_fraction(real_fraction)

    def _real(self, real: RealData, k: int, rng: np.random.Generator) -> Samples:
        raise NotImplementedError

    def mix(self, real: RealData, synthetic: Samples, history, rng: np.random.Generator) -> Samples:
        """Real samples first, then a random subset of the newest synthetic set."""
        n_real = round(self.real_fraction * self.n)
        parts = [self._real(real, n_real, rng), synthetic.subsample(self.n - n_real, rng)]
        return synthetic.concat(parts)


class FractionMixing(_RealShareMixing):
    """A fixed share ``real_fraction`` of ``n`` from the real pool, the rest newest synthetic."""

    def _real(self, real: RealData, k: int, rng: np.random.Generator) -> Samples:
        if k > len(real.train):
            raise ConfigError(
                "real_fraction",
                f"asks for {k} real samples but the real pool holds {len(real.train)} "
                "(raise source.pool_size)",
            )
        return real.train.subsample(k, rng)  # a new random subset of the fixed pool


class FreshMixing(_RealShareMixing):
    """A share ``real_fraction`` of ``n`` drawn as *new* real samples every generation."""

    def _real(self, real: RealData, k: int, rng: np.random.Generator) -> Samples:
        return real.draw(k, rng)


class RetrainMixing(Mixing):
    """Iterative retraining as Bertrand et al. (ICLR 2024) set it: each generation trains on the whole real
    pool and ``synthetic_per_real`` (their λ) synthetic samples per real one, from the newest model.

    The generator must draw at least λ x ``source.pool_size`` samples (``generator.n``); a random subset
    of them is kept, which is itself an independent sample of the model.
    """

    history_window = 1

    def __init__(self, *, synthetic_per_real: float = 1.0) -> None:
        number = isinstance(synthetic_per_real, int | float) and not isinstance(synthetic_per_real, bool)
        if not (number and synthetic_per_real > 0):
            raise ConfigError(
                "synthetic_per_real",
                f"must be a number > 0 (synthetic samples per real one, Bertrand et al.'s λ), got "
                f"{synthetic_per_real!r}",
            )
        self.synthetic_per_real = float(synthetic_per_real)

    def synthetic_count(self, pool: int) -> int:
        """Synthetic samples in a training set beside a real pool of ``pool``."""
        return max(1, round(self.synthetic_per_real * pool))

    def check(self, sim) -> None:
        """The generator draws enough samples for λ per real one (one without ``n`` is not checked)."""
        pool, drawn = sim.source.pool_size, getattr(sim.generator, "n", None)
        wanted = self.synthetic_count(pool)
        if drawn is not None and drawn < wanted:
            raise ConfigError(
                "generator.n",
                f"is {drawn} but mixing=retrain keeps {wanted} synthetic samples a generation "
                f"(synthetic_per_real={self.synthetic_per_real:g} x source.pool_size={pool}); "
                f"set generator.n={wanted} or more",
            )

    def mix(self, real: RealData, synthetic: Samples, history, rng: np.random.Generator) -> Samples:
        """The whole real pool, then a random subset of the newest synthetic set."""
        kept = synthetic.subsample(self.synthetic_count(len(real.train)), rng)
        return synthetic.concat([real.train, kept])


class WeightedMixing(FreshMixing):
    """Fresh real samples (``real_fraction`` of ``n``, as ``fresh``) that carry ``real_weight`` of the
    total training weight, the newest synthetic samples the rest (He, Xu & Cheng 2025).

    A fitter then combines an estimate from the real part with one from the
    synthetic part in proportions ``real_weight`` and 1 - ``real_weight``;
    ``real_weight = real_fraction`` is ``fresh``, sample for sample.
    ``collapse_sim.theory.weighted_gaussian_optimum`` gives the weight that
    minimises the Gaussian mean's error (1/φ ≈ 0.618 for equal sizes).
    """

    needs = frozenset({"sample weights"})  # a trainer that fits weighted samples

    def __init__(self, *, n: int, real_fraction: float = 0.5, real_weight: float = 0.618) -> None:
        super().__init__(n=n, real_fraction=real_fraction)
        if not 0.0 <= real_weight <= 1.0:
            raise ConfigError("real_weight", f"must be in [0, 1], got {real_weight!r}")
        self.real_weight = float(real_weight)
        n_real = round(self.real_fraction * n)
        if (n_real == 0 and self.real_weight > 0) or (n_real == n and self.real_weight < 1):
            raise ConfigError(
                "real_weight",
                f"is {self.real_weight} but real_fraction={self.real_fraction} of n={n} leaves "
                f"{n_real} real and {n - n_real} synthetic samples to carry it; choose a real_fraction "
                "that keeps both parts, or real_weight 0 or 1",
            )

    def mix(self, real: RealData, synthetic: Samples, history, rng: np.random.Generator) -> Samples:
        """Fresh real samples, then newest synthetic ones, weighted ``real_weight`` : 1 - ``real_weight``."""
        mixed = super().mix(real, synthetic, history, rng)
        n_real, w = round(self.real_fraction * self.n), self.real_weight
        each = np.where(np.arange(len(mixed)) < n_real, w / max(n_real, 1), (1 - w) / max(self.n - n_real, 1))
        return mixed.with_weights(np.broadcast_to(each, mixed.origin.shape))


def _synthetic_candidates(history: list, k: int, rng: np.random.Generator):
    """``k`` samples drawn uniformly from the synthetic sets in ``history`` (repeated if they hold fewer)."""
    pool = history[0].concat(history)
    copies = -(-k // len(pool))
    return (pool.concat([pool] * copies) if copies > 1 else pool).subsample(k, rng)


def _check_probabilities(**values: float) -> None:
    """Each named setting must be a probability."""
    for key, value in values.items():
        if not 0.0 <= value <= 1.0:
            raise ConfigError(key, f"must be a probability in [0, 1], got {value!r}")


def _check_window(window) -> None:
    """``window``: how many of the latest generations' samples a scraped pool draws from (null = all)."""
    if window is not None and not (isinstance(window, int) and not isinstance(window, bool) and window >= 1):
        raise ConfigError(
            "window", f"must be null (every generation's output) or an integer >= 1, got {window!r}"
        )


class FilteredMixing(Mixing):
    """Web-scraped data through a detector that drops model output: our idealisation of Drayson et al.

    Each candidate sample is model output with probability ``synthetic_share``
    (drawn from the previous generations' samples: the last ``window``
    generations, null = all) and real otherwise (a new real draw). A detector
    drops a synthetic candidate with probability ``tpr`` and a real one with
    probability ``fpr``; candidates are scraped until ``n`` pass, and those are
    the next training set. The kept samples are independent, each real with
    probability ``theory.filtered_real_share`` =
    (1 - s)(1 - fpr) / ((1 - s)(1 - fpr) + s (1 - tpr)), so ``real_fraction``
    is its mean over the ``n``. It acts on provenance only: any family.
    """

    def __init__(
        self, *, n: int, synthetic_share: float = 0.5, tpr: float = 0.9, fpr: float = 0.05, window=None
    ) -> None:
        _check_probabilities(synthetic_share=synthetic_share, tpr=tpr, fpr=fpr)
        _check_window(window)
        from collapse_sim.theory import filtered_real_share

        self.n, self.window, self.history_window = n, window, window
        self.synthetic_share, self.tpr, self.fpr = float(synthetic_share), float(tpr), float(fpr)
        passing = (1 - self.synthetic_share) * (1 - self.fpr) + self.synthetic_share * (1 - self.tpr)
        if passing <= 0:
            raise ConfigError(
                "tpr",
                f"with fpr={self.fpr} and synthetic_share={self.synthetic_share} the detector drops every "
                "candidate; nothing would be left to train on",
            )
        self.real_share = filtered_real_share(self.synthetic_share, tpr=self.tpr, fpr=self.fpr)

    def mix(self, real: RealData, synthetic, history: list, rng: np.random.Generator):
        """``n`` samples that passed the detector: each real with probability ``real_share``, real first."""
        kept_real = rng.binomial(self.n, self.real_share, size=synthetic.replicates)  # per chain
        candidates = synthetic.concat([real.draw(self.n, rng), _synthetic_candidates(history, self.n, rng)])
        slot = np.arange(self.n)
        # Per chain: its first kept_real real candidates, then synthetic ones to make n.
        index = np.where(slot < kept_real[:, None], slot, self.n + slot - kept_real[:, None])
        return candidates.take(index)


class ImportanceMixing(Mixing):
    """Drayson et al.'s (2025) importance resampling of a scraped pool by a detector's score.

    A pool of ``n / upsample`` candidates is scraped, each model output with
    probability ``synthetic_share`` (drawn from the last ``window``
    generations' samples; null = all) and real otherwise. A detector of the
    given ``auc`` scores each (logits N(0, 1) for real candidates, N(d, 1) for
    synthetic ones, d = √2 Φ⁻¹(auc)); each candidate is weighted
    (1 - p_AI)^``alpha`` and laid out ``max_repeats`` times, and ``n`` copies
    are drawn without replacement in proportion to their weights (their
    ``importance_sampling``: alpha 10, upsample 1.5, at most 3 repeats). The
    expected real share is ``theory.importance_real_share``; with a perfect
    detector it reaches at most max_repeats (1 - s) / upsample. Acts on
    provenance only: any family.
    """

    def __init__(
        self,
        *,
        n: int,
        synthetic_share: float = 0.95,
        auc: float = 0.9,
        alpha: float = 10.0,
        upsample: float = 1.5,
        max_repeats: int = 3,
        window=None,
    ) -> None:
        from collapse_sim.theory import detector_separation, importance_real_share

        _check_probabilities(synthetic_share=synthetic_share)
        if not 0.5 <= auc < 1.0:
            raise ConfigError(
                "auc",
                f"must be in [0.5, 1): 0.5 is a detector that cannot tell, near 1 a perfect one; got {auc!r}",
            )
        if alpha < 0:
            raise ConfigError("alpha", f"must be >= 0 (0 ignores the detector), got {alpha!r}")
        positive_int("max_repeats", max_repeats)
        if not 0.0 < upsample < max_repeats:
            raise ConfigError(
                "upsample",
                f"must be above 0 and below max_repeats={max_repeats} (the pool's copies must outnumber "
                f"the draws), got {upsample!r}",
            )
        _check_window(window)
        self.n, self.window, self.history_window = n, window, window
        self.synthetic_share, self.auc, self.alpha = float(synthetic_share), float(auc), float(alpha)
        self.upsample, self.max_repeats = float(upsample), max_repeats
        self.pool = max(1, round(n / self.upsample))
        self.separation = detector_separation(self.auc)
        self.real_share = importance_real_share(
            self.synthetic_share,
            auc=self.auc,
            alpha=self.alpha,
            upsample=self.upsample,
            max_repeats=max_repeats,
        )

    def mix(self, real: RealData, synthetic, history: list, rng: np.random.Generator):
        """``n`` draws from each chain's scored pool: real candidates at their slot, synthetic ones after."""
        from collapse_sim.theory import importance_weight

        pool, chains = self.pool, synthetic.replicates
        candidates = synthetic.concat([real.draw(pool, rng), _synthetic_candidates(history, pool, rng)])
        is_synthetic = rng.random((chains, pool)) < self.synthetic_share
        logits = rng.normal(size=(chains, pool)) + self.separation * is_synthetic
        weight = np.repeat(importance_weight(logits, self.separation, self.alpha), self.max_repeats, axis=1)
        # Weighted draws without replacement (successive sampling) as the n largest keys log(u) / w
        # (Efraimidis and Spirakis 2006); a weight that underflows to 0 is drawn last.
        keys = np.log(rng.random(weight.shape)) / np.maximum(weight, np.finfo(float).tiny)
        drawn = np.argsort(-keys, axis=1)[:, : self.n] // self.max_repeats
        return candidates.take(np.where(np.take_along_axis(is_synthetic, drawn, axis=1), pool + drawn, drawn))


class VerifiedMixing(Mixing):
    """A verifier checks synthetic images before they are trained on (Feng et al., 2025).

    ``budget`` images of each synthetic set are checked (null: all). With
    ``mode=select`` a checked image whose labels are exactly its true objects
    (every object found with the right class at IoU >= ``iou``, nothing extra)
    is kept with probability ``phi``, any other with probability ``psi``:
    ``phi=1, psi=0`` is a perfect screen, ``phi=psi`` one that cannot tell.
    With ``mode=correct`` a human fixes the labels of the checked images (wrong
    boxes removed, missed objects added from the true objects) and keeps them
    all. ``mode=none`` is nobody checking: every image passes as labelled (the
    control both are measured against). Unchecked images pass as they are. The next training set is
    ``real_fraction`` of ``n`` from the real pool plus up to the rest from the
    images that passed; it shrinks when too few pass.
    """

    history_window = 1
    needs = data_of("detection")  # it checks labels against the true objects
    MODES = ("none", "select", "correct")

    def __init__(
        self,
        *,
        n: int,
        phi: float = 1.0,
        psi: float = 0.0,
        real_fraction: float = 0.0,
        iou: float = 0.5,
        mode: str = "select",
        budget: int | None = None,
    ) -> None:
        _check_probabilities(phi=phi, psi=psi, iou=iou)
        if mode not in self.MODES:
            raise ConfigError(
                "mode",
                "must be none (no check), select (keep or drop checked images) or correct (fix their "
                f"labels), got {mode!r}",
            )
        if budget is not None and not (isinstance(budget, int) and budget >= 0):
            raise ConfigError(
                "budget", f"must be null (check every image) or an integer >= 0, got {budget!r}"
            )
        self.n, self.phi, self.psi, self.iou = n, float(phi), float(psi), float(iou)
        self.mode, self.budget = mode, budget
        self.real_fraction = _check_fraction(real_fraction)

    def check(self, sim) -> None:
        """A check compares labels with the true objects, which a user's unlabelled images lack."""
        if self.mode != "none" and sim.source.unlabelled_size:
            raise ConfigError(
                "mixing.mode",
                f"{self.mode} checks pseudo-labels against the images' true objects, and the images of "
                "source.unlabelled have none; for the human-labelled share of each round use "
                "mixing.real_fraction (labelled train images mixed in), or mixing.mode=none",
            )

    def mix(self, real: RealData, synthetic, history, rng: np.random.Generator):
        """Real share first, then the synthetic images that passed the check (or were never checked)."""
        from collapse_sim.scenes.quality import images_correct

        checked = np.full(len(synthetic), self.mode != "none")  # none: nobody checks, every image passes
        if checked.any() and self.budget is not None and self.budget < len(synthetic):  # the checker's images
            checked[:] = False
            checked[rng.permutation(len(synthetic))[: self.budget]] = True
        if self.mode == "correct":
            pairs = zip(synthetic.labels, synthetic.truth, checked, strict=True)
            labels = tuple(truth if check else label for label, truth, check in pairs)
            passed = dataclasses.replace(synthetic, labels=labels)
        else:
            keep = rng.random(len(synthetic)) < np.where(
                images_correct(synthetic, iou=self.iou), self.phi, self.psi
            )
            passed = synthetic.take(np.flatnonzero(keep | ~checked))
        n_real = round(self.real_fraction * self.n)
        parts = [real.train.subsample(n_real, rng), passed.subsample(min(len(passed), self.n - n_real), rng)]
        mixed = synthetic.concat(parts)
        if not len(mixed):
            raise RuntimeError(
                f"the verifier (phi={self.phi}, psi={self.psi}) kept none of {len(synthetic)} "
                "synthetic images and mixing.real_fraction is 0: nothing is left to train on"
            )
        return mixed
