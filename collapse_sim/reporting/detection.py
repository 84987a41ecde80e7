"""Detection extras for the run report: the rarest classes' fate, per-class AP, sample images."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr
from PIL import Image, ImageDraw

from collapse_sim.reporting.axes import integer_generations


def rarest_quarter(ds: xr.Dataset) -> list[str]:
    """The rarest quarter of classes (at least one) by their share in generation 0's real data."""
    shares = ds["class_frequency"].isel(generation=0)
    shares = shares.mean([d for d in shares.dims if d != "class"])  # over chains (and arms of a sweep)
    k = max(1, int(np.ceil(shares.sizes["class"] / 4)))
    order = np.argsort(shares.values, kind="stable")[:k]
    return [str(c) for c in shares["class"].values[order]]


RARE_SERIES = {
    "rare_share": ("class_frequency", "sum", "share of training labels (together)", "{:.2%}"),
    "rare_ap50_95": ("ap50_95", "mean", "mean AP50-95 on the real test set", "{:.3f}"),
    "rare_recall": ("recall", "mean", "mean recall on the real test set", "{:.3f}"),
}


def rare_class_series(ds: xr.Dataset):
    """(name, per-chain series) for the rarest quarter's share of the training labels and its test AP."""
    if "class_frequency" not in ds or "ap50_95" not in ds:
        return
    rare = rarest_quarter(ds)
    for name, (variable, combine, description, _) in RARE_SERIES.items():
        if variable not in ds:
            continue
        series = getattr(ds[variable].sel({"class": rare}), combine)("class")
        series = series if "replicate" in series.dims else series.expand_dims(replicate=[0])
        series.attrs = {
            "units": "1",
            "description": f"rarest quarter ({', '.join(rare)}): {description}",
            "valid_min": 0.0,
            "valid_max": 1.0,
        }
        yield name, series


def rare_class_lines(ds: xr.Dataset) -> list[str]:
    """One line each for the rarest quarter's training share and test AP, first vs last generation.

    With several chains each value is their mean with its 95 % interval.
    """
    from collapse_sim.reporting.intervals import mean_interval, valid_range

    lines = []
    for name, series in rare_class_series(ds):
        fmt = RARE_SERIES[name][3]
        values = []
        for generation in (0, -1):
            mean, low, high, n = mean_interval(series.isel(generation=generation).values, valid_range(series))
            bounds = f" [{fmt.format(low)}, {fmt.format(high)}]" if np.isfinite(low) else ""
            values.append((mean, fmt.format(mean) + bounds if np.isfinite(mean) else "n/a"))
        (first, first_text), (last, last_text) = values
        change = f" ({(last - first) / first:+.0%})" if first and np.isfinite(last) else ""
        chains = f", {series.sizes['replicate']} chains" if series.sizes["replicate"] > 1 else ""
        lines.append(f"{series.attrs['description']} {first_text} -> {last_text}{change}{chains}")
    return lines


def plot_class_ap(ds: xr.Dataset, path: Path, plt) -> Path:
    """AP50-95 of every class over generations, the rarest quarter drawn bold."""
    rare = set(rarest_quarter(ds))
    fig, ax = plt.subplots(figsize=(8.5, 4))
    ap = ds["ap50_95"].mean("replicate") if "replicate" in ds["ap50_95"].dims else ds["ap50_95"]
    overall = ds["map50_95"].mean("replicate") if "replicate" in ds["map50_95"].dims else ds["map50_95"]
    for name in ds["class"].values:
        series = ap.sel({"class": name})
        ax.plot(
            ds.generation,
            series,
            lw=2.5 if str(name) in rare else 1,
            label=str(name) + (" (rare)" if str(name) in rare else ""),
        )
    ax.plot(ds.generation, overall, "k--", label="mAP50-95")
    chains = ds.sizes.get("replicate", 1)
    ylabel = "AP50-95 on the real test set" + (f" (mean of {chains} chains)" if chains > 1 else "")
    ax.set(xlabel="generation", ylabel=ylabel)
    top = float(np.nanmax([ap.max(), overall.max()])) if np.isfinite(ap).any() else 0.0
    ax.set_ylim(0, min(1.0, max(0.05, 1.1 * top)))  # a share: from 0, so each class's size is honest
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


def plot_samples(ds: xr.Dataset, run_dir: Path, plt, count: int = 6) -> Path | None:
    """Training images of the first and the last generation, with their labels."""
    names = [str(c) for c in ds["class"].values]
    first, last = int(ds.generation[0]), int(ds.generation[-1])
    root = Path(run_dir) / "chain_00" if "replicate" in ds.dims else Path(run_dir)  # the first chain's images
    root = root if (root / "generations").is_dir() else Path(run_dir)
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
        ax.set_title(f"generation {g}: training images and their labels", fontsize=9)
        ax.axis("off")
    fig.tight_layout()
    path = Path(run_dir) / "samples.png"
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
