"""How good and how varied a generation's image model is, measured as the self-consuming-loop papers do.

Each generation's model draws ``samples`` images (the generator's sampling
options: guidance, steps, temperature) that are compared with the fixed real
test set in the feature space of a frozen classifier: a small CNN trained once
on the real training split (Inception's ImageNet features fit neither 8x8
digits nor offline runs), cached in the run folder so every chain and a
resumed run use the same one. From the features:

- ``precision`` and ``recall`` (Kynkäänniemi et al. 2019, "Improved precision
  and recall metric for assessing generative models"): the share of generated
  images inside the real images' k-nearest-neighbour manifold (quality), and
  of real images inside the generated images' (diversity);
- ``fid`` (Heusel et al. 2017) and ``kid`` (Bińkowski et al. 2018), with
  torchmetrics, in that feature space (not comparable with Inception FIDs);
- ``class_share[class]``: which class the classifier sees in each generated
  image (which digits vanish first), ``class_share_distance`` its total
  variation distance to the real test set's shares, and ``recognisability``:
  the share of images the classifier names as the class they were drawn for;
- ``sharpness``: the variance of the Laplacian, as for the detection family's
  crops (``metrics.images``);
- ``memorised_share``: the share of drawn images nearer (in pixels) to an
  image of the model's own training data than 95 % of real test images are to
  the real pool: near-copies, the memorisation Carlini et al. (2023) find in
  diffusion models trained on few images; ``precision_not_copied``: precision
  over the drawn images that are not such copies;
- ``density`` and ``coverage`` (Naeem et al. 2020): fidelity and diversity on
  the same features and real k-NN balls, which memorised prototypes move
  apart (many generated images in few balls: density up, coverage down).
"""

from __future__ import annotations

import hashlib
import warnings
from pathlib import Path

import numpy as np
import xarray as xr

from collapse_sim.checks import positive_int
from collapse_sim.components import Metric, RealData, RunContext, data_of
from collapse_sim.errors import ConfigError
from collapse_sim.metrics import NON_NEGATIVE, SHARE, Figure, measured, variable
from collapse_sim.metrics.images import sharpness

CLASSIFIER_FILE = "image_classifier.pt"  # in the run folder, made by the first chain that needs it
CLASSIFIER_FORMAT = "collapse_sim.image_classifier/1"
CLASSIFIER_IMAGES = 10_000  # at most this many real training images teach the classifier
CLASSIFIER_BATCH = 64
FEATURES = 64
KID_SUBSETS = 50
COPY_QUANTILE = 0.05  # a drawn image nearer its training data than this share of real test images is a copy


def manifold_radii(features: np.ndarray, k: int) -> np.ndarray:
    """Each point's distance to its k-th nearest other point of the same set."""
    from sklearn.neighbors import NearestNeighbors

    distances, _ = NearestNeighbors(n_neighbors=k + 1).fit(features).kneighbors(features)
    return distances[:, k]  # column 0 is the point itself


def inside(points: np.ndarray, centres: np.ndarray, radii: np.ndarray) -> np.ndarray:
    """Whether each point lies in at least one ball (centre, radius) of the manifold."""
    from scipy.spatial.distance import cdist

    return (cdist(points, centres) <= radii[None, :]).any(axis=1)


def nearest_distances(points: np.ndarray, data: np.ndarray) -> np.ndarray:
    """Each image's pixel distance to its nearest image in ``data``."""
    from sklearn.neighbors import NearestNeighbors

    flat = data.reshape(len(data), -1)
    return NearestNeighbors(n_neighbors=1).fit(flat).kneighbors(points.reshape(len(points), -1))[0][:, 0]


def precision_recall(real: np.ndarray, generated: np.ndarray, k: int = 3) -> tuple[float, float]:
    """Kynkäänniemi et al. (2019): the share of ``generated`` inside the real k-NN manifold, and of
    ``real`` inside the generated one."""
    precision = inside(generated, real, manifold_radii(real, k)).mean()
    recall = inside(real, generated, manifold_radii(generated, k)).mean()
    return float(precision), float(recall)


def real_balls_holding(real: np.ndarray, generated: np.ndarray, k: int = 3) -> np.ndarray:
    """``(generated, real)``: whether each generated point lies in each real point's k-NN ball."""
    from scipy.spatial.distance import cdist

    return cdist(generated, real) <= manifold_radii(real, k)[None, :]


def density_coverage(real: np.ndarray, generated: np.ndarray, k: int = 3) -> tuple[float, float]:
    """Naeem et al. (2020), "Reliable fidelity and diversity metrics for generative models": density, the
    mean number of real k-NN balls a generated point lies in, over k (1 when the two sets are alike, above
    1 where generated points crowd into dense real regions, as memorised prototypes do); coverage, the
    share of real points whose ball holds at least one generated point (unlike recall, blind to a few
    stray generated points)."""
    return held_density_coverage(real_balls_holding(real, generated, k), k)


def held_density_coverage(held: np.ndarray, k: int) -> tuple[float, float]:
    """``density_coverage`` from ``real_balls_holding``'s matrix (one serves every real-ball measure)."""
    return float(held.sum() / (k * len(held))), float(held.any(axis=0).mean())


def _network(n_classes: int):
    from torch import nn

    body = nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1),
        nn.SiLU(),
        nn.Conv2d(32, 32, 3, padding=1),
        nn.SiLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1),
        nn.SiLU(),
        nn.AdaptiveAvgPool2d(2),
        nn.Flatten(),
        nn.Linear(256, FEATURES),
        nn.SiLU(),
    )
    return body, nn.Linear(FEATURES, n_classes)


class ImageClassifier:
    """The frozen real-data classifier: ``features`` (its last hidden layer) and ``classes``."""

    def __init__(self, state: dict, n_classes: int) -> None:
        import torch

        self.body, self.head = _network(n_classes)
        torch.nn.Sequential(self.body, self.head).load_state_dict(state)
        self.body.eval().requires_grad_(False)
        self.head.eval().requires_grad_(False)

    @staticmethod
    def train(images: np.ndarray, labels: np.ndarray, n_classes: int, steps: int) -> dict:
        """The weights of a classifier trained for ``steps`` Adam steps from a fixed seed on real ``images``
        (n, H, W) in [0, 1]."""
        import torch

        with torch.random.fork_rng():
            torch.manual_seed(0)  # the same classifier for every chain and generation
            body, head = _network(n_classes)
            network = torch.nn.Sequential(body, head)
            optimiser = torch.optim.Adam(network.parameters(), lr=2e-3)
            x, y = _tensor(images), torch.as_tensor(labels, dtype=torch.long)
            for _ in range(steps):
                rows = torch.randint(len(x), (CLASSIFIER_BATCH,))
                loss = torch.nn.functional.cross_entropy(network(x[rows]), y[rows])
                optimiser.zero_grad(set_to_none=True)
                loss.backward()
                optimiser.step()
        return {k: v.detach().clone() for k, v in network.state_dict().items()}

    def features(self, images: np.ndarray) -> np.ndarray:
        """The frozen features (n, 64) of images in [0, 1]."""
        import torch

        with torch.no_grad():
            return self.body(_tensor(images)).numpy().astype(np.float64)

    def classes(self, features: np.ndarray) -> np.ndarray:
        """The class the classifier names for each image, from its features."""
        import torch

        with torch.no_grad():
            return self.head(torch.as_tensor(features, dtype=torch.float32)).argmax(1).numpy()


def _tensor(images: np.ndarray):
    import torch

    return torch.as_tensor(np.asarray(images, dtype=np.float32)).unsqueeze(1)


def fid_kid(real: np.ndarray, generated: np.ndarray) -> tuple[float, float]:
    """FID and KID (torchmetrics) between two sets of features already extracted."""
    import torch
    from torchmetrics.image.fid import FrechetInceptionDistance
    from torchmetrics.image.kid import KernelInceptionDistance

    class Given(torch.nn.Module):
        """The features themselves: they were extracted once, for precision and recall too."""

        num_features = real.shape[1]

        def forward(self, x):
            return x

    subset = min(len(real), len(generated), 1000)
    with warnings.catch_warnings():  # "will save all extracted features": a few hundred, by design
        warnings.simplefilter("ignore", UserWarning)
        fid = FrechetInceptionDistance(feature=Given())
        kid = KernelInceptionDistance(feature=Given(), subsets=KID_SUBSETS, subset_size=subset)
    with torch.random.fork_rng():
        torch.manual_seed(0)  # KID draws its subsets from torch's global generator
        for metric in (fid, kid):
            metric.update(torch.as_tensor(real), real=True)
            metric.update(torch.as_tensor(generated), real=False)
        return float(fid.compute()), float(kid.compute()[0])


class ImageQuality(Metric):
    """``precision``, ``recall``, ``density``, ``coverage``, ``fid``, ``kid``, ``class_share``,
    ``class_share_distance``, ``recognisability``, ``memorised_share``, ``precision_not_copied`` and
    ``sharpness`` of ``samples`` images drawn from the generation's model."""

    needs = data_of("image") | {"run folder", "real data"}

    def __init__(self, *, samples: int | None = None, k: int = 3, classifier_steps: int = 1500) -> None:
        self.samples = None if samples is None else positive_int("samples", samples, minimum=10)
        self.k = positive_int("k", k)
        self.classifier_steps = positive_int("classifier_steps", classifier_steps)
        self.options: dict = {}
        self.folder: Path | None = None
        self._reference: dict[tuple[str, str], tuple] = {}  # by (test set, pool) hashes

    def check(self, sim) -> None:
        """Draw as the generator draws (its guidance, steps, temperature), when it says how."""
        self.options = dict(sim.generator.options)
        n = self.samples or sim.source.test_size
        if n <= self.k:
            raise ConfigError("metrics.quality.samples", f"must exceed k={self.k}, got {n}")

    def setup(self, context: RunContext) -> None:
        """The classifier is kept in the run folder (every chain's)."""
        self.folder = Path(context.run_dir or context.folder)

    def reference(self, real: RealData) -> tuple[ImageClassifier, np.ndarray, float]:
        """The frozen classifier of this real world (read from the run folder, or trained there once),
        the real test set's features, and the distance under which a drawn image is a copy."""
        import torch

        from collapse_sim.checkpoints import made_once

        world = (real.test.content_hash(), real.train.content_hash())  # cheap: the test set and the pool
        if world not in self._reference:  # once a real world: the classifier's images are drawn only then
            n_classes = len(real.truth.names)
            train = real.draw(min(real.truth.train_size, CLASSIFIER_IMAGES), np.random.default_rng(0))
            key = f"{train.content_hash()}-{self.classifier_steps}"

            def read(path: Path) -> dict:
                saved = torch.load(path, map_location="cpu", weights_only=True)
                if saved.get("format") != CLASSIFIER_FORMAT or saved.get("images") != key:
                    raise RuntimeError(f"{path} was made for other real images; remove it to retrain")
                return saved

            saved = made_once(
                (self.folder or Path(".")) / CLASSIFIER_FILE,
                read=read,
                make=lambda: {
                    "format": CLASSIFIER_FORMAT,
                    "images": key,
                    "state": ImageClassifier.train(
                        train.images, train.labels, n_classes, self.classifier_steps
                    ),
                },
                write=torch.save,
            )
            network = ImageClassifier(saved["state"], n_classes)
            copy_radius = np.quantile(nearest_distances(real.test.images, real.train.images), COPY_QUANTILE)
            self._reference[world] = (network, network.features(real.test.images), copy_radius)
        return self._reference[world]

    def measure(self, model, data, real: RealData) -> xr.Dataset:
        """Draw ``samples`` images from ``model`` and score them against the real test set."""
        network, reference, copy_radius = self.reference(real)
        # The draw depends only on the generation's data, so a resumed run draws the same images.
        seed = int(hashlib.sha256(data.content_hash().encode()).hexdigest()[:15], 16)
        images, drawn = model.sample(
            self.samples or len(real.test), np.random.default_rng(seed), **self.options
        )
        features = network.features(images)
        seen = network.classes(features)
        names = real.truth.names
        share = np.bincount(seen, minlength=len(names)) / len(seen)
        real_share = real.test.class_shares(len(names))
        # One distance matrix to the real balls serves precision, density, coverage and the precision of
        # what the model makes rather than recalls (a memorised training image is real-looking).
        held = real_balls_holding(reference, features, self.k)
        inside_real = held.any(axis=1)
        precision = float(inside_real.mean())
        recall = float(inside(reference, features, manifold_radii(features, self.k)).mean())
        density, coverage = held_density_coverage(held, self.k)
        copies = nearest_distances(images, data.images) < copy_radius
        precision_not_copied = float(inside_real[~copies].mean()) if (~copies).any() else float("nan")
        fid, kid = fid_kid(reference, features)
        values = {
            "precision": variable(
                (),
                precision,
                units="1",
                description="share of generated images inside the real test set's k-NN manifold (quality)",
                valid=SHARE,
                key=1,
            ),
            "recall": variable(
                (),
                recall,
                units="1",
                description="share of real test images in the generated images' k-NN manifold (diversity)",
                valid=SHARE,
                key=2,
            ),
            "density": variable(
                (),
                density,
                units="1",
                description="real test images' k-NN balls a generated image lies in, over k (1: alike)",
                valid=NON_NEGATIVE,
                key=9,
            ),
            "coverage": variable(
                (),
                coverage,
                units="1",
                description="share of real test images whose k-NN ball holds a generated image",
                valid=SHARE,
                key=10,
            ),
            "precision_not_copied": variable(
                (),
                precision_not_copied,
                units="1",
                description="precision over the drawn images that are not near-copies of the model's "
                "training data (NaN when every one is)",
                valid=SHARE,
                key=11,
            ),
            "fid": variable(
                (),
                fid,
                units="1",
                description="Frechet distance of generated to real test images (frozen classifier features)",
                valid=NON_NEGATIVE,
                key=3,
            ),
            "kid": variable(
                (),
                kid,
                units="1",
                description="kernel inception distance to the real test images (frozen classifier features)",
                key=4,
            ),
            "class_share": variable(
                ("class",),
                share,
                units="1",
                description="share of drawn images the classifier puts in each class",
                valid=SHARE,
                figure=Figure(
                    "heatmap",
                    title="share of drawn images the classifier puts in each class",
                    caption="The share of each generation's drawn images that the frozen real-data "
                    "classifier puts in each class, log10 colour scale ({chains}): a class that fades is a "
                    "class the models stop drawing.",
                ),
            ),
            "class_share_distance": variable(
                (),
                0.5 * float(np.abs(share - real_share).sum()),
                units="1",
                description="total variation distance of the generated class shares to the real test set's",
                valid=SHARE,
                key=5,
            ),
            "recognisability": variable(
                (),
                float((seen == drawn).mean()),
                units="1",
                description="share of generated images the frozen classifier names as the class drawn",
                valid=SHARE,
                key=6,
            ),
            "memorised_share": variable(
                (),
                float(copies.mean()),
                units="1",
                description="share of drawn images that are near-copies of an image they were trained on",
                valid=SHARE,
                key=8,
            ),
            "sharpness": variable(
                (),
                float(sharpness(np.repeat(images[..., None], 3, axis=-1)).mean()),
                units="grey levels^2",
                description="variance of the Laplacian of the generated images (blur lowers it)",
                valid=NON_NEGATIVE,
                key=7,
            ),
        }
        return measured(values, coords={"class": np.array(names, dtype=object)})
