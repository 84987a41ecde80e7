"""How a metric declares its variables: units, description, valid range, key rank.

Each variable declares, where the metric makes it, its ``units``, a one-line
``description``, its valid range as CF conventions spell it (``valid_min``,
``valid_max``: intervals drawn or printed for it are kept inside that range),
and whether it is a key variable: ``key`` is its rank in the run's summary,
plots, report and trackers (1 first; the bookkeeping of every run comes last,
from 90). Summaries, reports, trackers and tests read these attributes, never
a list of names.

A variable also declares what the run's page makes of it beyond the curves of
the key variables: a ``Figure`` (a heatmap over its class dimension, a
histogram a generation over its bins, a line a class, labelled training
images, kept passages), a ``Rarest`` series (the rarest quarter of the classes,
summed or averaged), that its shares rank the classes (``ranks_classes``), or a
column in the table of what each generation trained on (``table``). These are
stored as attributes too, so a report drawn from a store years later needs no
metric's code.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import xarray as xr

SHARE, NON_NEGATIVE = (0.0, 1.0), (0.0, None)
# How a declared figure is drawn (collapse_sim.reporting.figures): shares over a class dimension, generation
# by generation; one line a generation over a dimension of bins; one line a class over generations; the
# first and last generation's training images with their labels; kept text, listed on the page.
FIGURE_KINDS = ("heatmap", "histogram", "class_lines", "labelled_images", "passages")


@dataclass(frozen=True)
class Figure:
    """A figure a variable makes on its run's page (and its sweep's, for a histogram).

    ``kind``: one of ``FIGURE_KINDS``. ``caption`` may name ``{chains}`` (``mean of 4 chains``, or ``one
    chain``). ``file``: the PNG's name without ``.png`` (the variable's name by default). ``x_label`` and
    ``y_label`` label a histogram's axes; ``overall``: the variable ``class_lines`` draws dashed beside
    the classes (their overall mean, say).
    """

    kind: str
    title: str
    caption: str
    file: str = ""
    x_label: str = ""
    y_label: str = ""
    overall: str = ""

    def __post_init__(self) -> None:
        if self.kind not in FIGURE_KINDS:
            raise ValueError(f"a figure's kind is one of {', '.join(FIGURE_KINDS)}, got {self.kind!r}")


@dataclass(frozen=True)
class Rarest:
    """A summary series of a variable over a class dimension: its value for the rarest quarter of the
    classes (ranked by the variable that declares ``ranks_classes``), ``sum`` or ``mean`` of them, named
    ``name`` in summaries, plots and sweeps, printed with ``format``."""

    combine: str
    name: str
    description: str
    format: str = "{:.3f}"


def variable(
    dims,
    values,
    *,
    units: str,
    description: str,
    valid: tuple[float | None, float | None] | None = None,
    key: int | None = None,
    figure: Figure | None = None,
    rarest: Rarest | None = None,
    ranks_classes: bool = False,
    table: bool = False,
) -> xr.Variable:
    """A data variable with its units, description, valid range (``SHARE``, ``NON_NEGATIVE``, or
    ``(low, high)`` with None for no bound), for a key variable its rank in summaries, and what the
    run's page makes of it (``figure``, ``rarest``, ``ranks_classes``, ``table``; see the module)."""
    attrs: dict = {"units": units, "description": description}
    low, high = valid or (None, None)
    attrs |= {} if low is None else {"valid_min": low}
    attrs |= {} if high is None else {"valid_max": high}
    attrs |= {} if key is None else {"key": key}
    attrs |= {} if figure is None else {f"figure_{k}": v for k, v in asdict(figure).items() if v}
    attrs |= {} if rarest is None else {f"rarest_{k}": v for k, v in asdict(rarest).items()}
    attrs |= {"ranks_classes": 1} if ranks_classes else {}
    attrs |= {"table": 1} if table else {}
    own = [d for d in ((dims,) if isinstance(dims, str) else dims) if d != "replicate"]
    if own and (figure or rarest or ranks_classes):  # its classes or bins, whatever a store adds around it
        attrs["over"] = own[-1]
    return xr.Variable(dims, values, attrs=attrs)


def measured(variables: dict, **dataset) -> xr.Dataset:
    """A generation's variables (made by ``variable``) as a dataset; ``dataset``: its coords."""
    return xr.Dataset(variables, **dataset)


def figures(ds: xr.Dataset, kind: str | None = None) -> list[tuple[str, Figure]]:
    """(name, figure) of every variable that declares one (of ``kind``), in the dataset's order."""
    found = []
    for name, da in ds.data_vars.items():
        declared = {k.removeprefix("figure_"): v for k, v in da.attrs.items() if k.startswith("figure_")}
        if declared and (kind is None or declared["kind"] == kind):
            found.append((str(name), Figure(**{"file": str(name)} | declared)))
    return found


def rarest_series(ds: xr.Dataset) -> list[tuple[str, Rarest]]:
    """(variable, its declared ``Rarest``) of every variable that declares one, in the dataset's order."""
    return [
        (
            str(name),
            Rarest(**{k.removeprefix("rarest_"): v for k, v in da.attrs.items() if k.startswith("rarest_")}),
        )
        for name, da in ds.data_vars.items()
        if "rarest_combine" in da.attrs
    ]


def over(da: xr.DataArray) -> str:
    """The dimension a declared figure or series runs over (its classes or bins), as the variable was
    declared: a store adds ``generation``, a sweep its swept settings, around it."""
    return da.attrs["over"]


def declaring(ds: xr.Dataset, attribute: str) -> list[str]:
    """The variables that declare ``attribute`` (``ranks_classes``, ``table``), in the dataset's order."""
    return [str(name) for name, da in ds.data_vars.items() if da.attrs.get(attribute)]


def key_variables(ds: xr.Dataset) -> list[str]:
    """The dataset's key variables in their declared order (``key`` rank, then name)."""
    ranked = [(int(da.attrs["key"]), name) for name, da in ds.data_vars.items() if "key" in da.attrs]
    return [name for _, name in sorted(ranked)]
