"""Closed-form expectations for the toy families, to check simulations against.

Generation 0 is fitted on ``n`` real samples; generation g >= 1 on data made
by the model of generation g-1 (mixed with real data where the policy says).
"""

from __future__ import annotations

import numpy as np
from scipy.special import digamma


def gaussian_expected(
    generations: int,
    *,
    n: int,
    trace_sigma: float,
    ddof: int = 0,
    temperature: float = 1.0,
    n_real: int = 0,
    real_weight: float | None = None,
) -> dict[str, np.ndarray]:
    """Exact ``E[variance]`` and ``E[mean_shift^2]`` of refitted Gaussians.

    Each generation fits mean and covariance to ``n_real`` fresh real samples
    plus ``n_s = n - n_real`` samples from the previous fit with covariance
    scaled by ``temperature`` T. ``n_real = 0`` is the replace loop (Shumailov
    et al. 2024); ``n_real > 0`` the fresh-data loop (Alemohammad et al. 2023).
    ``real_weight`` w gives the real part that share of the weight in a
    weighted fit (``mixing=weighted``, He et al. 2025); None pools the samples,
    w = n_real / n. ``variance`` is the trace of the fitted covariance,
    ``trace_sigma`` = tr Σ that of the real one.

    The fitted mean is w x̄_r + (1 - w) x̄_s, so its error e obeys, with M = E|e|²
    and V = E tr(fitted covariance),

        M_g = w² tr Σ / n_r + (1 - w)² (M_{g-1} + T V_{g-1} / n_s),

    and the weighted covariance (ddof 0) is w S_r + (1 - w) S_s plus the
    between-part term w (1 - w) (x̄_r - x̄_s)(x̄_r - x̄_s)ᵀ:

        V_g = w tr Σ (n_r - 1)/n_r + (1 - w) T V_{g-1} (n_s - 1)/n_s
              + w (1 - w) (tr Σ / n_r + M_{g-1} + T V_{g-1} / n_s),

    divided for ``ddof=1`` by 1 - w²/n_r - (1 - w)²/n_s (n/(n-1) when pooled).
    Generation 0 fits ``n`` real samples: M_0 = tr Σ / n, V_0 = tr Σ (n-1)/(n-ddof).
    """
    n_r, n_s, t, s = n_real, n - n_real, temperature, trace_sigma
    w = n_r / n if real_weight is None else float(real_weight)
    real_noise = w**2 / n_r if n_r else 0.0  # a part with no samples has no weight to carry
    synthetic_noise = (1 - w) ** 2 / n_s if n_s else 0.0
    correction = 1.0 - real_noise - synthetic_noise if ddof else 1.0
    v = np.empty(generations)
    u = np.empty(generations)
    v[0], u[0] = s * (n - 1) / (n - ddof), s / n
    for g in range(1, generations):
        previous = t * v[g - 1]
        u[g] = real_noise * s + (1 - w) ** 2 * u[g - 1] + synthetic_noise * previous
        within = w * s * (1 - 1 / n_r if n_r else 0.0) + (1 - w) * previous * (1 - 1 / n_s if n_s else 0.0)
        between = w * (1 - w) * (s / max(n_r, 1) + u[g - 1] + previous / max(n_s, 1))
        v[g] = (within + between) / correction
    return {"variance": v, "mean_shift_sq": u}


def weighted_gaussian_stationary(
    real_weight: float, *, n_real: int, n_synthetic: int, trace_sigma: float = 1.0, ddof: int = 0
) -> float:
    """The stationary ``E[mean_shift^2]`` of the weighted loop (:func:`gaussian_expected` as generations
    grow), mean and covariance both refitted; infinite for ``real_weight = 0``."""
    if real_weight <= 0:
        return float("inf")
    return _weighted_fixed_point(real_weight, n_real, n_synthetic, trace_sigma, ddof)


def _weighted_fixed_point(w: float, n_r: int, n_s: int, s: float, ddof: int) -> float:
    # The recursions of gaussian_expected (T = 1) with M and V at rest: a 2x2 linear system.
    a = 1 - (w**2 / n_r + (1 - w) ** 2 / n_s) if ddof else 1.0
    system = np.array(
        [
            [1 - (1 - w) ** 2, -((1 - w) ** 2) / n_s],
            [-w * (1 - w), a - (1 - w) * (n_s - 1) / n_s - w * (1 - w) / n_s],
        ]
    )
    rhs = [w**2 * s / n_r, w * s * (n_r - 1) / n_r + w * (1 - w) * s / n_r]
    return float(np.linalg.solve(system, rhs)[0])


def known_variance_optimum(n_real: int, n_synthetic: int) -> float:
    """The real weight minimising the stationary error of the mean when only the mean is refitted
    (He et al. 2025): M*(w) ∝ (w²/n_r + (1 - w)²/n_s) / (w (2 - w)), least where w² + k w - k = 0,
    ``k = n_r / n_s``: w* = (√(k² + 4k) - k) / 2, 1/φ for equal sizes."""
    k = n_real / n_synthetic
    return (np.sqrt(k * k + 4 * k) - k) / 2


def weighted_gaussian_optimum(n_real: int, n_synthetic: int, *, ddof: int = 0) -> float:
    """The real weight minimising :func:`weighted_gaussian_stationary` (mean and variance refitted)."""
    from scipy.optimize import minimize_scalar

    def error(w: float) -> float:
        return _weighted_fixed_point(w, n_real, n_synthetic, 1.0, ddof)

    return float(minimize_scalar(error, bounds=(1e-3, 1.0), method="bounded", options={"xatol": 1e-7}).x)


def gaussian_fixed_point(
    *, n: int, n_real: int, trace_sigma: float, ddof: int = 0, temperature: float = 1.0
) -> dict[str, float]:
    """Limit of :func:`gaussian_expected` as generations grow (needs ``n_real > 0`` or T > 1)."""
    k, t, s = n_real, temperature, trace_sigma
    a = (n - k) * t * (n - 1) / n / (n - ddof)
    b = k * (n - k) / n / (n - ddof)
    c = k * s * (n - 1) / n / (n - ddof)
    system = np.array([[1 - a, -b], [-(n - k) * t / n**2, 1 - ((n - k) / n) ** 2]])
    v, u = np.linalg.solve(system, [c, k * s / n**2])
    return {"variance": float(v), "mean_shift_sq": float(u)}


def gaussian_log_variance(
    generations: int, *, n: int, sigma2: float, ddof: int = 0, temperature: float = 1.0
) -> np.ndarray:
    """``E[log variance]`` of a refitted 1-D Gaussian under replace.

    Each refit multiplies the variance by ``T * chi2_{n-1} / (n - ddof)``, so
    log-variance is a random walk with drift ``psi((n-1)/2) + log 2 - log(n-ddof)``
    (plus ``log T``), negative even for the unbiased fit: almost every chain collapses.
    """
    g = np.arange(generations)
    drift = digamma((n - 1) / 2) + np.log(2) - np.log(n - ddof)
    return np.log(sigma2) + (g + 1) * drift + g * np.log(temperature)


def gini_simpson_expected(generations: int, *, n: int, probs: np.ndarray) -> np.ndarray:
    """``E[1 - sum p_i^2]`` of the training data under faithful categorical refits.

    Refitting frequencies and resampling ``n`` labels is Wright-Fisher drift:
    the chance that two draws differ shrinks by ``1 - 1/n`` per generation.
    """
    h = 1.0 - float(np.sum(np.asarray(probs) ** 2))
    return h * (1 - 1 / n) ** (np.arange(generations) + 1)


def surviving_classes_expected(generations: int, *, n: int, probs: np.ndarray) -> np.ndarray:
    """``E[number of classes the training data still holds]`` under faithful categorical refits, exactly.

    A class's count follows its own Markov chain: generation 0 holds Bin(n, p)
    of it, and each refit-and-resample draws Bin(n, count / n). Its chance of
    being present at generation g is one minus the mass at 0 of that chain
    after g steps; the expectation sums it over classes (Suresh et al. 2024
    study the same chain: a class seen k times is lost after about 2k log(n/k)
    generations).
    """
    from scipy.stats import binom

    counts = np.arange(n + 1)
    step = binom.pmf(counts[None, :], n, counts[:, None] / n)  # (from, to)
    state = binom.pmf(counts[None, :], n, np.asarray(probs, dtype=float)[:, None])  # (class, count)
    present = np.empty(generations)
    for g in range(generations):
        present[g] = float((1.0 - state[:, 0]).sum())
        state = state @ step
    return present


def surviving_classes_lower_bound(generations: int, *, n: int, probs: np.ndarray) -> np.ndarray:
    """Suresh et al.'s (2024) lower bound on ``E[classes the training data still holds]``.

    A class seen c times in the real data is still present at generation
    g >= 1 with probability at least 1 - exp(-c / g); averaged over
    c ~ Bin(n, p) that is 1 - (1 - p (1 - exp(-1/g)))^n. Generation 0 is exact
    (the real sample's classes).
    """
    probs = np.asarray(probs, dtype=float)
    bound = np.empty(generations)
    bound[0] = float((1.0 - (1.0 - probs) ** n).sum())
    for g in range(1, generations):
        bound[g] = float((1.0 - (1.0 - probs * (1.0 - np.exp(-1.0 / g))) ** n).sum())
    return bound


def lineage_count_step(n: int, lineages: int) -> np.ndarray:
    """The transition ``(n + 1, n + 1)`` of one class's count in a chain's pool of ``n`` when ``lineages``
    lineages each fit their random share of ``m = n / K`` (a frequency refit) and add ``m`` draws.

    Given the pool holds c of the class, lineage j's share holds h_j of them, the shares a random split
    (lineage by lineage, h_j ~ Hypergeometric(n - j m, c - h_1 - ... - h_(j-1), m)), and it adds
    Bin(m, h_j / m). The next count is the sum over lineages; it is a martingale (its mean is c) with
    variance c (1 - c/n) (n - K) / (n - 1), so more lineages drift less (K = 1 is Wright-Fisher,
    Bin(n, c / n); K = n copies the pool). The sum is built lineage by lineage over (count left to
    share, count drawn so far), the second in Fourier space, where adding a binomial draw is a product.
    """
    from scipy.stats import binom, hypergeom

    m, counts, freqs = n // lineages, np.arange(n + 1), n // 2 + 1
    # state[c, r, w]: from pool count c, the chance that r are still to share, with the drawn count's
    # distribution as its discrete Fourier transform over w.
    state = np.zeros((n + 1, n + 1, freqs), dtype=complex)
    state[counts, counts, :] = 1.0
    for j in range(lineages):
        nxt = np.zeros_like(state)
        for h in range(m + 1):
            shared = hypergeom.pmf(h, n - j * m, counts[h:], m)  # share holds h, for r = h .. n left
            drawn = np.fft.rfft(binom.pmf(np.arange(m + 1), m, h / m), n + 1)
            nxt[:, : n + 1 - h, :] += shared[None, :, None] * state[:, h:, :] * drawn[None, None, :]
        state = nxt
    return np.clip(np.fft.irfft(state[:, 0, :], n + 1, axis=1), 0.0, None)  # rounding below 0 is 0


def lineage_surviving_expected(
    generations: int, *, n: int, lineages: int, probs: np.ndarray
) -> dict[str, np.ndarray]:
    """``E[classes in a lineage's training data]`` and ``E[classes in the pool]`` (the union of the
    lineages'), generation by generation, for faithful categorical refits under replace, exactly.

    Generation 0's pool is n real labels (a class's count Bin(n, p)); each generation its count moves by
    ``lineage_count_step``. A lineage's share of m = n / K holds the class unless the split leaves it
    none: chance Hypergeometric(n, c, m) = 0. With one lineage both are ``surviving_classes_expected``.
    """
    from scipy.stats import binom, hypergeom

    counts, m = np.arange(n + 1), n // lineages
    step = lineage_count_step(n, lineages)
    in_share = 1.0 - hypergeom.pmf(0, n, counts, m)
    state = binom.pmf(counts[None, :], n, np.asarray(probs, dtype=float)[:, None])  # (class, pool count)
    per_lineage, union = np.empty(generations), np.empty(generations)
    for g in range(generations):
        union[g] = float((1.0 - state[:, 0]).sum())
        per_lineage[g] = float((state @ in_share).sum())
        state = state @ step
    return {"surviving_classes": per_lineage, "union_surviving_classes": union}


def suresh_corollary_bound(generations: int, *, n: int, probs: np.ndarray) -> np.ndarray:
    """Suresh et al.'s (2024) Corollary 1: ``E[classes still held at generation g] >= sum_i (1 -
    exp(-n p_i g_(g+1)))`` with g_1 = 1 and g_(k+1) = 1 - exp(-g_k).

    Their generation k is the k-th fitted model; ours counts from the real sample (generation 0 is
    their k = 1). g_k lies between 1/k and 2/k, so this is far tighter than averaging 1 -
    exp(-c/g) over the counts (``surviving_classes_lower_bound``): at n = 500 and 50 classes it sits
    within 4 % of the exact expectation at every generation.
    """
    probs = np.asarray(probs, dtype=float)
    bound, g = np.empty(generations), 1.0
    for generation in range(generations):
        bound[generation] = float((1.0 - np.exp(-n * probs * g)).sum())
        g = 1.0 - np.exp(-g)
    return bound


def tail_cut_floor(probs: np.ndarray, top_k: int) -> float:
    """The real probability beyond a law's ``top_k`` likeliest classes: the error floor a memoriser keeps
    when it learns only from data cut to those classes (Dohmatob et al. 2024, "A tale of tails")."""
    return float(np.sort(np.asarray(probs, dtype=float))[::-1][top_k:].sum())


def tail_cut_missing_mass(
    probs: np.ndarray, *, top_k: int, n_real: int, n_synthetic: int, model: np.ndarray | None = None
) -> np.ndarray | float:
    """Expected real probability of the classes absent from a training set of ``n_real`` samples of the
    real law ``probs`` and ``n_synthetic`` samples of a model's law cut to its ``top_k`` likeliest classes:
    Σᵢ pᵢ (1 − pᵢ)^n_real (1 − qᵢ)^n_synthetic, q the cut law renormalised (a memoriser's test error).

    ``model``: the model's class probabilities, one row per chain, cut as ``generator.top_k`` cuts them
    (ties to the lower class): the exact expectation given each chain's model. ``None``: the paper's
    idealisation, the real law itself cut, whose limit in ``n_synthetic`` is ``tail_cut_floor``.
    """
    from collapse_sim.draws import shape_probabilities

    probs = np.asarray(probs, dtype=float)
    law = probs[None] if model is None else np.asarray(model, dtype=float)
    cut = shape_probabilities(law, top_k=top_k)
    with np.errstate(divide="ignore"):
        log_absent = n_real * np.log1p(-probs) + n_synthetic * np.log1p(-cut)
    expected = (probs * np.exp(log_absent)).sum(axis=1)
    return float(expected[0]) if model is None else expected


def generations_to_loss(n: int) -> np.ndarray:
    """``E[generations until a class is lost | it is lost]`` for a class held ``k = 1 .. n-1`` times, exactly.

    The count's chain (see :func:`surviving_classes_expected`) ends at 0 with
    probability h_k = 1 - k/n (the count is a martingale); with m_k = E[T 1{lost}],
    first-step analysis gives m = Q m + h over the transient counts Q, and the
    answer is m_k / h_k: close to 2k ln(n/k) / (1 - k/n) (Kimura's diffusion
    limit), about linear in k, as Suresh et al. (2024) find.
    """
    from scipy.stats import binom

    counts = np.arange(1, n)
    transient = binom.pmf(counts[None, :], n, counts[:, None] / n)
    lost = 1.0 - counts / n
    return np.linalg.solve(np.eye(n - 1) - transient, lost) / lost


def linreg_param_error(generations: int, *, n: int, dim: int, noise: float, mixing: str) -> np.ndarray:
    """``E[|w_hat - w*|^2]`` for OLS on a fixed Gaussian design relabelled by the previous fit.

    ``replace`` adds one round of label noise per generation (linear growth);
    ``accumulate`` averages over all rounds, so the error stays below pi^2/6
    times the first one (Gerstgrasser et al. 2024).
    """
    first = noise**2 * dim / (n - dim - 1)
    rounds = np.arange(1, generations + 1)
    if mixing == "replace":
        return first * rounds
    if mixing == "accumulate":
        return first * np.cumsum(1.0 / rounds**2)
    raise ValueError(f"mixing must be 'replace' or 'accumulate', got {mixing!r}")


def strong_collapse_error(n: int, *, dim: int, noise: float, synthetic: int, distance: float) -> float:
    """``E||w_hat - w*||^2`` of least squares on n samples, ``synthetic`` of them labelled by w* + delta
    (``||delta|| = distance``), x ~ N(0, I_d), label noise ``noise`` (Dohmatob et al. 2025), exactly.

    w_hat - w* = W^-1 X_s' X_s delta + W^-1 X' eps with W = X'X. The noise adds
    noise^2 d / (n - d - 1). By exchangeability E[W^-1 X_s' X_s] = (s/n) I, and
    E||W^-1 X_s' X_s delta||^2 = s a + s (s - 1) b, where n a + n (n - 1) b = distance^2 (all
    synthetic) and a = E[||W^-1 x_1||^2 (x_1' delta)^2] = distance^2 (n - 2)(d + 2) /
    ((n - d - 1) n (n + 2)) (Sherman-Morrison, with x_1's length and direction and the partial
    Wishart pieces independent). For a share p = s/n this tends to p^2 distance^2 + (noise^2 d +
    p (1 - p)(d + 1) distance^2) / n: the floor p^2 distance^2 stays however large n grows.
    """
    s, d, gap = synthetic, dim, distance**2
    a = gap * (n - 2) * (d + 2) / ((n - d - 1) * n * (n + 2))
    return gap * s * (s - 1) / (n * (n - 1)) + a * s * (n - s) / (n - 1) + noise**2 * d / (n - d - 1)


def retraining_expected(
    generations: int, *, pool: int, synthetic: int, trace_sigma: float, ddof: int = 0
) -> dict[str, np.ndarray]:
    """Exact ``E[variance]`` and ``E[mean_shift^2]`` under iterative retraining (``mixing=retrain``): each
    generation fits a Gaussian to the same real pool D (``pool`` = N samples) and ``synthetic`` = M samples
    of the previous fit; generation 0 fits D alone.

    With ρ = M / (N + M), e_t = μ_t − mean(D) and the fit's sum of squares split into D's, the synthetic
    set's and the gap between their means, S_t = E[tr Σ_t] and V_t = E|e_t|² follow exactly
    S_{t+1} = (tr Σ (N−1) + (M−1) S_t + NM/(N+M) (V_t + S_t/M)) / (N + M − ddof),
    V_{t+1} = ρ² (V_t + S_t / M), from S_0 = tr Σ (N−1)/(N−ddof), V_0 = 0; and
    E[mean_shift^2] = tr Σ / N + V_t, since e_t has mean 0 given D. The pair approaches its fixed point
    geometrically, at the spectral radius of that linear map (``retraining_rate``: about ρ = λ/(1 + λ)
    for λ = M/N), whatever λ.
    """
    step, added = _retraining_map(pool, synthetic, ddof)
    moments = np.array([trace_sigma * (pool - 1) / (pool - ddof), 0.0])  # (S_0, V_0)
    variance, shift = [], []
    for _ in range(generations):
        variance.append(moments[0])
        shift.append(trace_sigma / pool + moments[1])
        moments = step @ moments + added * trace_sigma
    return {"variance": np.array(variance), "mean_shift_sq": np.array(shift)}


def retraining_rate(*, pool: int, synthetic: int, ddof: int = 0) -> float:
    """The geometric rate at which iterative retraining's expected moments (``retraining_expected``)
    approach their fixed point: the spectral radius of their linear map, about λ/(1 + λ) for λ = M/N."""
    step, _ = _retraining_map(pool, synthetic, ddof)
    return float(np.abs(np.linalg.eigvals(step)).max())


def _retraining_map(n: int, m: int, ddof: int) -> tuple[np.ndarray, np.ndarray]:
    """(S, V) -> step @ (S, V) + added x tr Σ: one generation of ``retraining_expected``'s recurrence."""
    rho, total = m / (n + m), n + m - ddof
    step = np.array([[(m - 1 + n / (n + m)) / total, n * m / (n + m) / total], [rho**2 / m, rho**2]])
    return step, np.array([(n - 1) / total, 0.0])


def kde_variance_expected(
    generations: int, *, n: int, trace_sigma: float, dim: int, bandwidth: float | None = None, factor=None
) -> np.ndarray:
    """E[trace of a Gaussian KDE's covariance] per generation under replace, ``n`` samples a generation.

    The KDE of n points has covariance S + K: S the points' maximum-likelihood
    covariance, K the kernel's. n draws from a model of covariance C have
    E[tr S] = a tr C, a = (n - 1) / n. With a fixed bandwidth h (K = h^2 I):

        E T_{g+1} = a E T_g + d h^2,   T_0 = a tr(Sigma) + d h^2,
        E T_g = T* + a^g (T_0 - T*),   T* = n d h^2,

    so the estimate collapses toward n d h^2 when that is below T_0 and
    inflates toward it when above. With a rule's ``factor`` f (Scott, Silverman:
    K = f^2 times the points' covariance, ddof 1), tr K = f^2 n/(n-1) tr S, and

        E T_g = (a + f^2)^(g + 1) tr(Sigma):

    geometric growth whenever f^2 > 1/n, as both rules give.
    """
    a, g = (n - 1) / n, np.arange(generations)
    if factor is not None:
        return (a + factor**2) ** (g + 1) * trace_sigma
    kernel = dim * bandwidth**2
    fixed_point = n * kernel
    return fixed_point + a**g * (a * trace_sigma + kernel - fixed_point)


def curated_gaussian_precision(
    generations: int, *, n: int, sigma2: float, scale: float, beta: float, ddof: int = 0
) -> np.ndarray:
    """``E[1 / variance]`` of a refitted 1-D Gaussian under replace, its samples curated by the quadratic
    reward r(x) = -scale (x - t)^2 with many candidates (k -> infinity, Ferbach et al. 2024).

    Many candidates make the kept samples the model N(m, v) tilted by exp(r / beta),
    a Gaussian of precision 1/v + a, a = 2 scale / beta, and mean
    (m/v + a t) / (1/v + a): each generation adds a to the precision the samples
    carry, and pulls the mean toward t. The refit's variance is that of the
    tilted law times chi2_{n-1} / (n - ddof), so its precision is
    lambda_g = (n - ddof) (lambda_{g-1} + a) / chi2_{n-1}, and with
    E[1 / chi2_{n-1}] = 1 / (n - 3), exactly

        E lambda_g = c (E lambda_{g-1} + a),   E lambda_0 = c / sigma2,   c = (n - ddof) / (n - 3):

    the precision grows linearly (the variance falls as 1/(g a)) and the mean
    reaches t: collapse onto the reward's maximiser.
    """
    if n <= 3:
        raise ValueError(f"E[1/variance] is finite only for n > 3, got n={n}")
    c, a = (n - ddof) / (n - 3), 2.0 * scale / beta
    precision = np.empty(generations)
    precision[0] = c / sigma2
    for g in range(1, generations):
        precision[g] = c * (precision[g - 1] + a)
    return precision


def filtered_real_share(synthetic_share: float, *, tpr: float, fpr: float) -> float:
    """The chance that a sample which passed the detector is real (``mixing=filtered``).

    A candidate is synthetic with probability s and passes with probability
    1 - tpr if synthetic, 1 - fpr if real, so by Bayes' rule a kept sample is real with
    probability (1 - s)(1 - fpr) / ((1 - s)(1 - fpr) + s (1 - tpr)); n kept samples are
    independent, so E[real_fraction] is exactly that, with variance q (1 - q) / n.
    """
    real, synthetic = (1 - synthetic_share) * (1 - fpr), synthetic_share * (1 - tpr)
    return real / (real + synthetic)


def detector_separation(auc: float) -> float:
    """The gap between synthetic and real candidates' mean detector logits (unit normal spreads) that
    gives the detector ``auc``: √2 Φ⁻¹(auc); 0 for a useless detector."""
    from scipy.stats import norm

    return float(np.sqrt(2.0) * norm.ppf(auc))


def importance_weight(logits: np.ndarray, separation: float, alpha: float) -> np.ndarray:
    """Drayson et al.'s (2025) resampling weight (1 - p_AI)^alpha, with p_AI the detector's probability
    that a candidate is machine-made: the logistic of its logit, centred between the two kinds."""
    from scipy.special import expit

    return expit(-(np.asarray(logits, dtype=float) - separation / 2.0)) ** alpha


def importance_real_share(
    synthetic_share: float, *, auc: float, alpha: float, upsample: float, max_repeats: int
) -> float:
    """The expected real share of ``mixing=importance``'s training set, for a large pool.

    A pool of P candidates (each synthetic with probability s) is laid out with ``max_repeats``
    copies of each, and ``upsample`` P copies are drawn without replacement, each with probability
    proportional to its weight w (``importance_weight``). That is successive sampling: a copy of
    weight w is drawn with probability 1 - exp(-w t) (Rosén 1972), where t solves
    r ((1 - s) E_real[1 - e^(-wt)] + s E_synthetic[1 - e^(-wt)]) = upsample, so the real share is
    r (1 - s) E_real[1 - e^(-wt)] / upsample. Logits are N(0, 1) for real candidates and N(d, 1) for
    synthetic ones, d = ``detector_separation(auc)``; the expectations are Gauss-Hermite sums. It is at
    most r (1 - s) / upsample, whatever the detector: the cap on repeats bounds what it can recover.
    """
    from scipy.optimize import brentq

    separation = detector_separation(auc)
    nodes, weights = np.polynomial.hermite_e.hermegauss(80)
    weights = weights / weights.sum()
    real = importance_weight(nodes, separation, alpha)
    synthetic = importance_weight(nodes + separation, separation, alpha)

    def drawn(log_t: float, w: np.ndarray) -> float:
        return float((weights * -np.expm1(-w * np.exp(log_t))).sum())

    def excess(log_t: float) -> float:
        share = (1 - synthetic_share) * drawn(log_t, real) + synthetic_share * drawn(log_t, synthetic)
        return max_repeats * share - upsample

    log_t = brentq(excess, -80.0, 200.0)
    return max_repeats * (1 - synthetic_share) * drawn(log_t, real) / upsample


def chosen(config: dict, group: str, cls: type) -> bool:
    """Whether the group's ``_target_`` is ``cls`` or a subclass of it (a user's extension counts)."""
    from collapse_sim.settings import import_target

    target = import_target(f"{group}._target_", config[group]["_target_"])
    return isinstance(target, type) and issubclass(target, cls)


class Components:
    """A resolved configuration's components, each built from its class alone (no Hydra) when first read.

    The closed forms read their settings as the components hold them (``mixing.real_fraction``,
    ``generator.options["temperature"]``), never as strings in another group's config: a setting renamed
    in a class or its config fails loudly here instead of silently dropping a theory curve.
    """

    def __init__(self, config: dict) -> None:
        self.config = config
        self.generations, self.n_samples = int(config["generations"]), int(config["n_samples"])
        self._built: dict[str, object] = {}

    def part(self, group: str):
        """The group's component, checked (``settings.check_component``) and built once; a source with
        one replicate (the closed forms read one chain's truth)."""
        if group not in self._built:
            from collapse_sim.components import ROLES
            from collapse_sim.settings import check_component

            node = dict(self.config[group]) | ({"replicates": 1} if group == "source" else {})
            cls = check_component(group, node, ROLES[group])
            self._built[group] = cls(**{k: v for k, v in node.items() if not k.startswith("_")})
        return self._built[group]

    @property
    def source(self):
        """The source, with one replicate."""
        return self.part("source")

    @property
    def generator(self):
        """The generator."""
        return self.part("generator")

    @property
    def mixing(self):
        """The mixing policy."""
        return self.part("mixing")

    @property
    def trainer(self):
        """The trainer."""
        return self.part("trainer")


def expected_curves(config: dict) -> dict[str, np.ndarray]:
    """The theory curves (expected means over replicates) that apply to a resolved config: what its
    trainer declares (``Trainer.expected_curves``); none for a curated run (a reward changes every
    closed form the trainers know)."""
    from collapse_sim.settings import import_target

    if config.get("reward"):
        return {}
    return import_target("trainer._target_", config["trainer"]["_target_"]).expected_curves(config)
