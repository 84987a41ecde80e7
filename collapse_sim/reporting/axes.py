"""How every plot draws its axes, so a reader can trust them.

- Generations are whole numbers: their ticks are integers.
- A label names a unit only where there is one (``1``, a plain ratio, is left out).
- **The size of a change is drawn honestly:** a y-axis spans at least a quarter of
  the largest value it shows (``MIN_SPAN``), centred on the data when the data
  span less, and stays inside the variable's valid range. A 2 % change then
  fills at most 8 % of the height: it looks as small as it is, while a change
  that matters still fills the axis.
- One legend per figure, outside the panels, one entry per arm or line kind.
"""

from __future__ import annotations

import numpy as np

MIN_SPAN = 0.25  # of the largest absolute value drawn
FAINT_CHAINS = 40  # more chains than this: the first FAINT_CHAINS are drawn faint, the band holds them all


def integer_generations(ax) -> None:
    """Whole-number ticks on the generation axis."""
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def labelled(name: str, units: str | None) -> str:
    """``name [units]``, or the name alone for a plain ratio (units ``1``) or none."""
    return f"{name} [{units}]" if units and units != "1" else name


def honest_limits(
    values, valid: tuple[float, float] = (-np.inf, np.inf), min_span: float = MIN_SPAN
) -> tuple[float, float] | None:
    """y-limits that span at least ``min_span`` of the largest absolute value, inside ``valid``."""
    finite = np.asarray(values, dtype=float)
    finite = finite[np.isfinite(finite)]
    if not finite.size:
        return None
    low, high = float(finite.min()), float(finite.max())
    span = max(high - low, min_span * max(abs(low), abs(high)))
    if span == 0:
        return None  # all zeros: matplotlib's own limits
    middle = (low + high) / 2
    low, high = middle - span / 2, middle + span / 2
    if low < valid[0]:  # slide inside the valid range, keeping the span where it fits
        low, high = valid[0], min(valid[1], valid[0] + span)
    if high > valid[1]:
        low, high = max(valid[0], valid[1] - span), valid[1]
    pad = 0.05 * (high - low)
    return low - pad if low > valid[0] else low, high + pad if high < valid[1] else high


def apply_honest_limits(ax, values, valid: tuple[float, float] = (-np.inf, np.inf)) -> None:
    """Set ``ax``'s y-limits by ``honest_limits`` of everything it draws (``values``)."""
    limits = honest_limits(values, valid)
    if limits is not None:
        ax.set_ylim(*limits)


def figure_legend(fig, axes, **options) -> None:
    """One legend for the figure, below its panels: each distinct label once."""
    handles, labels = {}, []
    for ax in np.ravel(axes):
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            if label not in handles:
                handles[label] = handle
                labels.append(label)
    if labels:
        fig.legend(
            [handles[label] for label in labels],
            labels,
            loc="lower center",
            ncol=min(len(labels), options.pop("ncol", 5)),
            frameon=False,
            fontsize=options.pop("fontsize", 8),
            **options,
        )
