"""The figures variables declare (``variables.Figure``), drawn by their kind; no variable is named here.

``draw_figures`` writes a run's declared figures beside its store: a heatmap
of shares over a class dimension, one line a generation over bins, one line a
class over generations, the training images with their labels. Kept text
(``passages``) is listed on the page instead (``reporting.html``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr
from PIL import Image, ImageDraw

from collapse_sim.reporting.axes import integer_generations
from collapse_sim.reporting.classes import rarest_quarter
from collapse_sim.variables import Figure, declaring, figures, over


def _mean_over_chains(da: xr.DataArray) -> xr.DataArray:
    return da.mean("replicate", keep_attrs=True) if "replicate" in da.dims else da


def heatmap(ds: xr.Dataset, name: str, figure: Figure, path: Path, plt) -> Path:
    """Shares over the variable's class dimension (rows) by generation (columns), log10 colour scale; a
    class with no share at all is white."""
    freq = _mean_over_chains(ds[name])
    dim = over(freq)
    freq = freq.transpose(dim, "generation")
    fig, ax = plt.subplots(figsize=(8, max(3, 0.22 * min(freq.sizes[dim], 25) + 1)))
    gens = freq.generation.values
    # A share of zero has no logarithm: it is drawn as none (white), not as a small share.
    shares = np.ma.masked_invalid(np.ma.masked_less_equal(freq.values.astype(float), 0.0))
    colours = plt.get_cmap("viridis").with_extremes(bad="white")
    image = ax.imshow(
        np.ma.log10(shares),
        aspect="auto",
        origin="lower",
        cmap=colours,
        extent=(gens[0] - 0.5, gens[-1] + 0.5, -0.5, freq.sizes[dim] - 0.5),
    )
    ax.set_xticks(gens[:: max(1, len(gens) // 12)])
    labels = [str(c) for c in freq[dim].values]
    step = max(1, len(labels) // 25)  # at most 25 labels, each readable
    ax.set_yticks(range(0, len(labels), step), labels[::step], fontsize=8)
    ax.set(xlabel="generation", ylabel=dim)
    ax.set_title(figure.title, fontsize=9)  # too long for the colour bar
    fig.colorbar(image, label="log10 share (white: none)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def draw_histograms(ax, shares: xr.DataArray, figure: Figure, plt) -> None:
    """One line a generation (colours from early to late) over the variable's bins, the mean over
    chains; a bin is labelled by its left edge."""
    shares = _mean_over_chains(shares)
    dim = over(shares)
    left = np.asarray(shares[dim].values, dtype=float)
    width = left[1] - left[0] if len(left) > 1 else 1.0
    colours = plt.get_cmap("viridis")(np.linspace(0, 0.9, shares.sizes["generation"]))
    for colour, g in zip(colours, shares.generation.values, strict=True):
        ax.step(
            left + width / 2, shares.sel(generation=g).values, where="mid", color=colour, label=f"gen {g}"
        )
    ax.set_xlabel(figure.x_label or dim, fontsize=8)
    ax.set_ylabel(figure.y_label or shares.attrs.get("units", ""), fontsize=8)
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=7, ncols=2)


def histogram(ds: xr.Dataset, name: str, figure: Figure, path: Path, plt) -> Path:
    """``draw_histograms`` on one panel, titled with the run's name and chains."""
    fig, ax = plt.subplots(figsize=(6.5, 4))
    draw_histograms(ax, ds[name], figure, plt)
    chains = ds.sizes.get("replicate", 1)
    ax.set_title(f"{ds.attrs.get('name', 'run')}: {figure.title} ({chains} chains)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def class_lines(ds: xr.Dataset, name: str, figure: Figure, path: Path, plt) -> Path:
    """The variable of every class over generations, the rarest quarter drawn bold, the ``overall``
    variable dashed; the axis starts at 0, so each class's size is honest."""
    rare = set(rarest_quarter(ds))
    values = _mean_over_chains(ds[name])
    dim = over(values)
    fig, ax = plt.subplots(figsize=(8.5, 4))
    for label in values[dim].values:
        bold = str(label) in rare
        ax.plot(
            ds.generation, values.sel({dim: label}), lw=2.5 if bold else 1, label=f"{label}{' (rare)' * bold}"
        )
    drawn = [values]
    if figure.overall and figure.overall in ds:
        overall = _mean_over_chains(ds[figure.overall])
        ax.plot(ds.generation, overall, "k--", label=figure.overall)
        drawn.append(overall)
    chains = ds.sizes.get("replicate", 1)
    ax.set(xlabel="generation", ylabel=figure.title + (f" (mean of {chains} chains)" if chains > 1 else ""))
    finite = [float(d.max()) for d in drawn if np.isfinite(d).any()]
    top = max(finite) if finite else 0.0
    high = float(ds[name].attrs.get("valid_max", np.inf))
    ax.set_ylim(0, min(high, max(0.05, 1.1 * top)))
    integer_generations(ax)
    ax.legend(fontsize=8, ncol=1, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)  # beside
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _tile(folder: Path, count: int, zoom: int, names: list[str]) -> Image.Image | None:
    files = sorted((folder / "images" / "train").glob("*.png"))[:count]
    if not files:
        return None
    tiles = []
    for file in files:
        image = Image.open(file).convert("RGB")
        image = image.resize((image.width * zoom, image.height * zoom), Image.NEAREST)
        pen = ImageDraw.Draw(image)
        label_file = folder / "labels" / "train" / (file.stem + ".txt")
        for line in label_file.read_text().splitlines() if label_file.exists() else []:
            c, x, y, w, h = map(float, line.split())
            box = [
                (x - w / 2) * image.width,
                (y - h / 2) * image.height,
                (x + w / 2) * image.width,
                (y + h / 2) * image.height,
            ]
            pen.rectangle(box, outline=(255, 255, 255), width=1)
            pen.text(
                (box[0] + 2, box[1] + 1),
                names[int(c)] if int(c) < len(names) else str(int(c)),
                fill=(255, 255, 255),
            )
        tiles.append(image)
    strip = Image.new(
        "RGB", (sum(t.width for t in tiles) + 4 * (len(tiles) - 1), tiles[0].height), (255, 255, 255)
    )
    x = 0
    for tile in tiles:
        strip.paste(tile, (x, 0))
        x += tile.width + 4
    return strip


def labelled_images(
    ds: xr.Dataset, name: str, figure: Figure, path: Path, plt, count: int = 6
) -> Path | None:
    """Training images of the first and the last generation with their labels, from the first chain's
    generation folders (a YOLO dataset layout: images/train, labels/train); None where none was kept."""
    ranking = declaring(ds, "ranks_classes")  # its class dimension names the labels' class numbers
    names = [str(c) for c in ds[over(ds[ranking[0]])].values] if ranking else []
    first, last = int(ds.generation[0]), int(ds.generation[-1])
    run_dir = path.parent
    root = run_dir / "chain_00" if "replicate" in ds.dims else run_dir  # the first chain's images
    root = root if (root / "generations").is_dir() else run_dir
    folders = [root / "generations" / f"{g:03d}" for g in (first, last)]
    # trainer=yolo writes the whole training set; trainer=yolo_fast its first images only
    strips = [
        _tile(next((f / d for d in ("dataset", "sample") if (f / d).is_dir()), f), count, 3, names)
        for f in folders
    ]
    if any(s is None for s in strips):
        return None
    fig, axes = plt.subplots(2, 1, figsize=(2 * count, 4.8))
    for ax, strip, g in zip(axes, strips, (first, last), strict=True):
        ax.imshow(np.asarray(strip))
        ax.set_title(f"generation {g}: {figure.title}", fontsize=9)
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


DRAWN = {
    "heatmap": heatmap,
    "histogram": histogram,
    "class_lines": class_lines,
    "labelled_images": labelled_images,
}


def draw_figures(ds: xr.Dataset, folder: Path, plt) -> list[Path]:
    """Every figure the run's variables declare (except listed text), as ``<file>.png`` in ``folder``."""
    drawn = []
    for name, figure in figures(ds):
        if figure.kind in DRAWN:
            path = DRAWN[figure.kind](ds, name, figure, Path(folder) / f"{figure.file}.png", plt)
            drawn += [path] if path else []
    return drawn
