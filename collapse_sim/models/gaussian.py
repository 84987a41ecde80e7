"""Gaussian mixtures, vectorised over replicates (a Gaussian is the one-component case)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr


def _matrix_sqrt(cov: np.ndarray) -> np.ndarray:
    """Symmetric square root of stacked PSD matrices; robust to collapsed (zero) variance."""
    if cov.shape[-1] == 1:
        return np.sqrt(np.clip(cov, 0.0, None))
    values, vectors = np.linalg.eigh(cov)
    root = np.sqrt(np.clip(values, 0.0, None))
    return np.einsum("...ij,...j,...kj->...ik", vectors, root, vectors)


def _log_normaliser(chol: np.ndarray) -> np.ndarray:
    """The log normalising constant of a Gaussian with Cholesky factor ``chol (..., d, d)``."""
    d = chol.shape[-1]
    return -np.log(np.diagonal(chol, axis1=-2, axis2=-1)).sum(-1) - 0.5 * d * np.log(2 * np.pi)


@dataclass(frozen=True)
class GaussianMixtureModel:
    """``weights (R, K)``, ``means (R, K, d)``, ``covs (R, K, d, d)`` for R replicates."""

    weights: np.ndarray
    means: np.ndarray
    covs: np.ndarray

    field = "x"  # the name of its samples in ``Samples.fields``
    sampling_options = ("temperature", "top_p")

    @classmethod
    def single(cls, means: np.ndarray, covs: np.ndarray) -> GaussianMixtureModel:
        """One Gaussian per replicate: ``means (R, d)``, ``covs (R, d, d)``."""
        weights = np.ones((means.shape[0], 1))
        return cls(weights, means[:, None], covs[:, None])

    @property
    def replicates(self) -> int:
        """Number of replicates."""
        return self.weights.shape[0]

    @property
    def mean(self) -> np.ndarray:
        """Overall mean ``(R, d)``."""
        return np.einsum("rk,rki->ri", self.weights, self.means)

    @property
    def cov(self) -> np.ndarray:
        """Overall covariance ``(R, d, d)`` (law of total covariance)."""
        if self.weights.shape[1] == 1:
            return self.covs[:, 0]
        second = self.covs + np.einsum("rki,rkj->rkij", self.means, self.means)
        m = self.mean
        return np.einsum("rk,rkij->rij", self.weights, second) - np.einsum("ri,rj->rij", m, m)

    def log_density(self, x: np.ndarray) -> np.ndarray:
        """Log density of points ``x (R, m, d)`` under each replicate's mixture, shape ``(R, m)`` (nats)."""
        shared = np.broadcast_to(self.covs[:, :1], self.covs.shape)
        if self.covs.shape[1] > 1 and np.array_equal(self.covs, shared):
            return self._shared_kernel_log_density(x)
        return self._per_component_log_density(x)

    def _per_component_log_density(self, x: np.ndarray) -> np.ndarray:
        """``log_density`` for any covariances: each component whitens the points itself."""
        d = self.means.shape[-1]
        chol = np.linalg.cholesky(self.covs)  # (R, K, d, d)
        whiten = np.linalg.inv(chol)  # |L^-1 (x - mu)|^2 is the Mahalanobis distance

        def quadratic(chunk: slice) -> np.ndarray:
            offsets = x[:, chunk, None, :] - self.means[:, None]
            if d == 1:  # a product, not an einsum: KDE test sets are large
                return (offsets[..., 0] * whiten[:, None, :, 0, 0]) ** 2
            return (np.einsum("rkij,rmkj->rmki", whiten, offsets) ** 2).sum(-1)

        return self._log_sum_exp(_log_normaliser(chol), x.shape[1], quadratic)

    def _shared_kernel_log_density(self, x: np.ndarray) -> np.ndarray:
        """``log_density`` when every component of a replicate has the same covariance (a KDE's kernel):
        points and means are whitened once per replicate, not once per component."""
        chol = np.linalg.cholesky(self.covs[:, 0])  # (R, d, d)
        whiten = np.linalg.inv(chol)
        # Coordinate by coordinate: (R, chunk, K) temporaries, not (R, chunk, K, d) summed over a short
        # last axis (ten times slower in 2-D), adding the squares in the order that sum takes.
        points = np.einsum("rij,rmj->irm", whiten, x)
        means = np.einsum("rij,rkj->irk", whiten, self.means)

        def quadratic(chunk: slice) -> np.ndarray:
            total = None
            for coordinate_points, coordinate_means in zip(points, means, strict=True):
                offsets = coordinate_points[:, chunk, None] - coordinate_means[:, None]
                offsets *= offsets
                total = offsets if total is None else np.add(total, offsets, out=total)
            return total

        return self._log_sum_exp(_log_normaliser(chol)[:, None], x.shape[1], quadratic)

    def _log_sum_exp(self, normaliser: np.ndarray, points: int, quadratic) -> np.ndarray:
        """log sum_k w_k exp(normaliser_k - quadratic / 2) for ``points`` points, 256 at a time
        (``quadratic(chunk)``: the chunk's Mahalanobis distances, ``(R, chunk, K)``)."""
        with np.errstate(divide="ignore"):  # a component of weight 0 adds nothing
            log_weights = np.log(self.weights) + normaliser  # (R, K)
        out = np.empty((self.weights.shape[0], points))
        for start in range(0, points, 256):  # (R, 256, K, d) temporaries at most
            chunk = slice(start, start + 256)
            terms = log_weights[:, None] - 0.5 * quadratic(chunk)
            top = terms.max(axis=-1, keepdims=True)  # log-sum-exp by hand: scipy's is 7x slower here
            out[:, chunk] = top[..., 0] + np.log(np.exp(terms - top).sum(axis=-1))
        return out

    def marginal_tail_mass(self, center: np.ndarray, scale: np.ndarray, ks) -> np.ndarray:
        """Probability that a coordinate lies more than ``k*scale`` from ``center``, per k.

        ``center`` and ``scale`` are ``(R, d)``; exact per coordinate, averaged
        over coordinates; shape ``(R, len(ks))``.
        """
        sd = np.sqrt(np.clip(np.diagonal(self.covs, axis1=-2, axis2=-1), 1e-300, None))[..., None]
        ks = np.asarray(ks, dtype=float)
        offset = (center[:, None, :, None] - self.means[..., None]) / sd  # (R, K, d, 1)
        reach = ks * scale[:, None, :, None] / sd  # (R, K, d, len(ks))
        outside = ndtr(offset - reach) + ndtr(-offset - reach)
        per_coordinate = np.einsum("rk,rkdj->rdj", self.weights, outside)
        return per_coordinate.mean(axis=1)

    def sample(
        self,
        n: int,
        rng: np.random.Generator,
        *,
        temperature: float = 1.0,
        top_p: float | None = None,
    ) -> np.ndarray:
        """Draw ``n`` points per replicate, shape ``(R, n, d)``.

        ``temperature`` scales each covariance by T and sharpens the component
        weights to ``w^(1/T)``; ``top_p`` keeps only the central ``top_p`` of
        each component's mass (radius truncation), cutting the tails.
        """
        r, k, d = self.means.shape
        z = rng.standard_normal((r, n, d))
        if top_p is not None and top_p < 1.0:
            # Radius from the chi distribution truncated to its lower top_p quantile.
            from scipy import stats  # only for top-p sampling: scipy.stats is slow to import

            radius = np.sqrt(stats.chi2.ppf(rng.uniform(0.0, top_p, size=(r, n)), d))
            norm = np.linalg.norm(z, axis=-1, keepdims=True)
            z *= radius[..., None] / np.where(norm > 0, norm, 1.0)
        root = _matrix_sqrt(self.covs) * np.sqrt(temperature)
        if k == 1:
            if d == 1:
                return self.means[:, :, :] + root[:, :, 0] * z
            return self.means + np.einsum("rij,rnj->rni", root[:, 0], z)
        weights = self.weights ** (1.0 / temperature)
        cumulative = np.cumsum(weights / weights.sum(axis=1, keepdims=True), axis=1)
        u = rng.uniform(size=(r, n, 1))
        component = np.minimum((u > cumulative[:, None, :]).sum(-1), k - 1)
        rows = np.arange(r)[:, None]
        return self.means[rows, component] + np.einsum("rnij,rnj->rni", root[rows, component], z)
