"""Detection extras for the run report: the rarest classes' fate, per-class AP, sample images."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr
from PIL import Image, ImageDraw


def rarest_quarter(ds: xr.Dataset) -> list[str]:
    """The rarest quarter of classes (at least one) by their share in generation 0's real data."""
    shares = ds["class_frequency"].isel(generation=0)
    if "replicate" in shares.dims:
        shares = shares.mean("replicate")
    k = max(1, int(np.ceil(shares.sizes["class"] / 4)))
    order = np.argsort(shares.values, kind="stable")[:k]
    return [str(c) for c in shares["class"].values[order]]


def rare_class_lines(ds: xr.Dataset) -> list[str]:
    """One line each for the rarest quarter's training share and test AP, first vs last generation."""
    if "class_frequency" not in ds or "ap50_95" not in ds:
        return []
    rare = rarest_quarter(ds)
    lines = []
    for name, label, fmt, combine in (
        ("class_frequency", "share of training labels (together)", "{:.2%}", "sum"),
        ("ap50_95", "mean AP50-95 on the real test set", "{:.3f}", "mean"),
    ):
        series = getattr(ds[name].sel({"class": rare}), combine)("class")
        first, last = float(series[0]), float(series[-1])
        change = f" ({(last - first) / first:+.0%})" if first and np.isfinite(last) else ""
        lines.append(
            f"rarest quarter ({', '.join(rare)}): {label} {fmt.format(first)} -> {fmt.format(last)}{change}"
        )
    return lines


def plot_class_ap(ds: xr.Dataset, path: Path, plt) -> Path:
    """AP50-95 of every class over generations, the rarest quarter drawn bold."""
    rare = set(rarest_quarter(ds))
    fig, ax = plt.subplots(figsize=(7, 4))
    for name in ds["class"].values:
        series = ds["ap50_95"].sel({"class": name})
        ax.plot(
            ds.generation,
            series,
            lw=2.5 if str(name) in rare else 1,
            label=str(name) + (" (rare)" if str(name) in rare else ""),
        )
    ax.plot(ds.generation, ds["map50_95"], "k--", label="mAP50-95")
    ax.set(xlabel="generation", ylabel="AP50-95 on the real test set", ylim=(0, None))
    ax.legend(fontsize=7, ncol=2)
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
    folders = [Path(run_dir) / "generations" / f"{g:03d}" for g in (first, last)]
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
