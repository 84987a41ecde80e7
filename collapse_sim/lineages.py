"""An ecosystem of models: ``lineages=K`` lineages in every chain, each training on its share of one pool.

Every generation the chain's training pool (``n_samples``, as the mixing
policy made it) is split at random into K equal shares; each lineage fits its
own model to its share and draws ``1/K`` of the generator's count
(``Generator.share``) for the chain's next pool, which mixing then treats as
usual.
``lineages=1`` is the ordinary loop, untouched.

Inside the trainer, generator and metrics the K lineages of R chains are
``R * K`` rows (chain-major), so every vectorised family runs unchanged; the
loop, mixing and checkpoints see the chain's pool of R rows. Metrics record
each lineage's values along a ``lineage`` dimension (a variable over classes or
bins: the lineages' mean), and a metric of the training data alone
(``Metric.data_only``) also records its values for the pool, the union of the
lineages' data, as ``union_<name>``. The closed form for the
categorical family is ``theory.lineage_surviving_expected``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import xarray as xr

from collapse_sim.components import Generator, Metric, RealData, RunContext, Trainer
from collapse_sim.errors import ConfigError
from collapse_sim.samples import Samples


def rows_per_lineage(samples: Samples, lineages: int) -> Samples:
    """``(R, K m)`` samples as ``(R K, m)``: chain r's j-th block of m becomes row ``r K + j``."""
    r, n = samples.replicates, len(samples)
    m = n // lineages

    def split(values):
        return None if values is None else values.reshape(r * lineages, m, *values.shape[2:])

    fields = {k: split(v) for k, v in samples.fields.items()}
    return Samples(fields, split(samples.origin), split(samples.weights))


def pooled(samples: Samples, lineages: int) -> Samples:
    """``(R K, m)`` samples as ``(R, K m)``: each chain's lineages laid end to end (``rows_per_lineage``
    undone)."""
    rk, m = samples.replicates, len(samples)

    def join(values):
        return None if values is None else values.reshape(rk // lineages, lineages * m, *values.shape[2:])

    fields = {k: join(v) for k, v in samples.fields.items()}
    return Samples(fields, join(samples.origin), join(samples.weights))


def _repeat_rows(value, chains: int, lineages: int):
    """A real-world object with each chain's row repeated for its lineages (arrays whose first axis is the
    chains; dataclasses and samples field by field); anything else as it is."""
    if isinstance(value, np.ndarray):
        return np.repeat(value, lineages, axis=0) if value.ndim and value.shape[0] == chains else value
    if isinstance(value, Samples):
        weights = None if value.weights is None else np.repeat(value.weights, lineages, axis=0)
        fields = {k: np.repeat(v, lineages, axis=0) for k, v in value.fields.items()}
        return Samples(fields, np.repeat(value.origin, lineages, axis=0), weights)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        old = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
        new = {k: _repeat_rows(v, chains, lineages) for k, v in old.items()}
        return dataclasses.replace(value, **{k: v for k, v in new.items() if v is not old[k]})
    return value


def real_per_lineage(real: RealData, lineages: int) -> RealData:
    """The chains' real world seen by each lineage: every chain's real data and truth repeated for its K
    lineages; ``draw`` gives each lineage its own new samples."""
    chains = real.train.replicates

    def draw(n: int, rng: np.random.Generator) -> Samples:
        return rows_per_lineage(real.draw(n * lineages, rng), lineages)

    return RealData(
        train=_repeat_rows(real.train, chains, lineages),
        test=None if real.test is None else _repeat_rows(real.test, chains, lineages),
        truth=_repeat_rows(real.truth, chains, lineages),
        draw=draw,
    )


@dataclass(frozen=True)
class LineageModels:
    """The K lineages' models of every chain (``model``: one row a lineage) and the shares they fit."""

    model: object
    shares: Samples


class _Ecosystem:
    """What the three wrappers share: K, and the real world as the lineages see it."""

    def __init__(self, lineages: int) -> None:
        self.lineages = lineages
        self.real: RealData | None = None
        self._of: RealData | None = None

    def context(self, context: RunContext) -> RunContext:
        """The chain's context with its real data repeated for the lineages (made once a run)."""
        if context.real is not None and context.real is not self._of:
            self._of, self.real = context.real, real_per_lineage(context.real, self.lineages)
        return dataclasses.replace(context, real=self.real)


class LineageTrainer(Trainer):
    """The chosen trainer, fitting each lineage's random share of its chain's pool."""

    def __init__(self, inner: Trainer, ecosystem: _Ecosystem) -> None:
        self.inner, self.ecosystem = inner, ecosystem
        self.needs, self.provides = inner.needs, inner.provides
        self.device, self.threads, self.chain_bytes = inner.device, inner.threads, inner.chain_bytes
        self.sampling_options = inner.sampling_options

    def setup(self, context: RunContext) -> None:
        """The chosen trainer's setup, with the lineages' real world."""
        self.inner.setup(self.ecosystem.context(context))

    def check(self, sim) -> None:
        """The chosen trainer's checks."""
        self.inner.check(sim)

    def fit(self, data: Samples, *, init=None, rng=None, generation: int = 0) -> LineageModels:
        """Shuffle each chain's pool, cut it into K shares, and fit one model a share."""
        shares = rows_per_lineage(data.subsample(len(data), rng), self.ecosystem.lineages)
        start = None if init is None else init.model
        return LineageModels(self.inner.fit(shares, init=start, rng=rng, generation=generation), shares)


class LineageGenerator(Generator):
    """The chosen generator run on every lineage's model, each adding 1/K of its chain's next pool."""

    def __init__(self, inner: Generator, ecosystem: _Ecosystem) -> None:
        self.inner, self.ecosystem = inner, ecosystem
        self.shared = inner.share(ecosystem.lineages)  # draws 1/K a model; None: keep the first 1/K
        self.needs, self.provides = inner.needs, inner.provides
        self.chain_bytes, self.row_tokens, self.options = inner.chain_bytes, inner.row_tokens, inner.options

    def setup(self, context: RunContext) -> None:
        """The chosen generator's setup, with the lineages' real world."""
        for generator in {id(g): g for g in (self.inner, self.shared) if g is not None}.values():
            generator.setup(self.ecosystem.context(context))

    def check(self, sim) -> None:
        """The chosen generator's checks; it must draw from the model (a lineage's samples are then
        interchangeable, so any 1/K of them are a fair draw of that size)."""
        if "model sampling" not in self.inner.needs:
            raise ConfigError(
                "lineages",
                "needs a generator that draws new samples from each lineage's model "
                f"(generator=refit_sample); {type(self.inner).__name__} does not",
            )
        self.inner.check(sim)

    def generate(self, model: LineageModels, data, generation: int, rng: np.random.Generator, *, real=None):
        """Each lineage's share of its chain's next pool, laid end to end per chain."""
        k, real = self.ecosystem.lineages, self.ecosystem.real
        if self.shared is not None:
            return pooled(self.shared.generate(model.model, model.shares, generation, rng, real=real), k)
        made = self.inner.generate(model.model, model.shares, generation, rng, real=real)
        if len(made) % k:
            raise ConfigError(
                "generator.n",
                f"is {len(made)}, which lineages={k} does not divide: each lineage adds an equal share of "
                f"the chain's next pool; choose a multiple of {k}",
            )
        return pooled(made.take(np.arange(len(made) // k)), k)


class LineageMetric(Metric):
    """The chosen metric for each lineage (a ``lineage`` dimension) and, for a metric of the training data
    alone, for the pool too (``union_<name>``)."""

    def __init__(self, inner: Metric, ecosystem: _Ecosystem) -> None:
        self.inner, self.ecosystem = inner, ecosystem
        self.needs, self.provides, self.data_only = inner.needs, inner.provides, inner.data_only

    def setup(self, context: RunContext) -> None:
        """The chosen metric's setup, with the lineages' real world."""
        self.inner.setup(self.ecosystem.context(context))

    def check(self, sim) -> None:
        """The chosen metric's checks."""
        self.inner.check(sim)

    def measure(self, model: LineageModels, data, real: RealData) -> xr.Dataset:
        """Each lineage's values on its own share; the pool's, for a metric of the data alone."""
        k = self.ecosystem.lineages
        per_lineage = by_lineage(self.inner.measure(model.model, model.shares, self.ecosystem.real), k)
        if not self.inner.data_only:
            return per_lineage
        union = self.inner.measure(None, data, real)
        union = union[[n for n, v in union.data_vars.items() if v.dims == ("replicate",)]]  # the rest: above
        drawn = ("figure_", "rarest_", "ranks_")  # a key variable stays one; its figures are the lineages'
        for da in union.data_vars.values():
            da.attrs = {k: v for k, v in da.attrs.items() if not k.startswith(drawn)}
            da.attrs["description"] = f"the union of the lineages' training data: {da.attrs['description']}"
        return xr.merge([per_lineage, union.rename({n: f"union_{n}" for n in union.data_vars})])


def by_lineage(ds: xr.Dataset, lineages: int) -> xr.Dataset:
    """A dataset over ``R K`` rows as one over chains: a value a row gets a ``lineage`` dimension; a
    variable over classes or bins is each chain's mean over its lineages (a lineage dimension would
    multiply its size by K)."""
    out = {}
    for name, da in ds.data_vars.items():
        if "replicate" not in da.dims:
            out[name] = da.variable
            continue
        da = da.transpose("replicate", ...)
        values = da.values.reshape(da.sizes["replicate"] // lineages, lineages, *da.shape[1:])
        if da.ndim == 1:
            out[name] = xr.Variable(("replicate", "lineage"), values, attrs=da.attrs)
        else:
            attrs = da.attrs | {"description": f"{da.attrs['description']} (the mean over the lineages)"}
            out[name] = xr.Variable(da.dims, values.mean(axis=1), attrs=attrs)
    coords = {c: v for c, v in ds.coords.items() if "replicate" not in v.dims}
    coords["lineage"] = np.arange(lineages)  # a sweep over K aligns its arms by lineage, padding with NaN
    return xr.Dataset(out, coords=coords, attrs=ds.attrs)


def each_chain(ds: xr.Dataset) -> xr.Dataset:
    """Each chain's mean over its lineages (variables without a ``lineage`` dimension as they are): lineages
    share their chain's pool, so chains, not lineages, are the independent replicates of a summary."""
    if "lineage" not in ds.dims:
        return ds
    return ds.map(lambda v: v.mean("lineage", keep_attrs=True) if "lineage" in v.dims else v, keep_attrs=True)


def with_lineages(parts: dict, metrics: dict, lineages: int, n_samples: int) -> tuple[dict, dict]:
    """The components of a run with ``lineages`` lineages a chain sharing pools of ``n_samples`` (as they
    are for one)."""
    if isinstance(lineages, bool) or not isinstance(lineages, int) or lineages < 1:
        raise ConfigError("lineages", f"must be an integer >= 1 (1: the ordinary loop), got {lineages!r}")
    if lineages == 1:
        return parts, metrics
    if n_samples % lineages:
        raise ConfigError(
            "lineages",
            f"is {lineages}, which does not divide n_samples={n_samples}: every lineage trains on an equal "
            f"share of its chain's pool; choose n_samples a multiple of {lineages}",
        )
    if "vectorised replicates" not in parts["source"].provides:
        raise ConfigError(
            "lineages",
            f"is {lineages}, but lineages run only in a vectorised (toy) family, whose chains are rows of "
            "one array (source=zipf, gaussian, gmm or linreg)",
        )
    ecosystem = _Ecosystem(lineages)
    parts = parts | {
        "trainer": LineageTrainer(parts["trainer"], ecosystem),
        "generator": LineageGenerator(parts["generator"], ecosystem),
    }
    return parts, {name: LineageMetric(metric, ecosystem) for name, metric in metrics.items()}
