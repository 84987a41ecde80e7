"""What the generation's detector was trained on: class shares, box sizes, label quality, version."""

from __future__ import annotations

import numpy as np
import xarray as xr
from scipy.stats import wasserstein_distance

from collapse_sim.components import Metric, RealData, data_of
from collapse_sim.metrics import NON_NEGATIVE, SHARE, Figure, Rarest, measured, variable
from collapse_sim.scenes.dataset import DetectionSet, box_sizes
from collapse_sim.scenes.quality import label_quality, label_quality_by_class

AUDITED = (
    "measured on the images whose objects are known: all of them, or an unlabelled pool's audit images "
    "(NaN with source.audit_share=0)"
)

# What the run's page makes of the training labels' class shares: a heatmap, the rarest quarter's share,
# and the ranking of the classes by generation 0's shares.
CLASS_SHARES = {
    "figure": Figure(
        "heatmap",
        title="share of each class among the training labels",
        caption="Each class's share of the training data per generation, log10 colour scale ({chains}).",
    ),
    "rarest": Rarest("sum", "rare_share", "share of training labels (together)", "{:.2%}"),
    "ranks_classes": True,
}


class DetectionDataMetrics(Metric):
    """``class_frequency[class]``, ``surviving_classes``, ``entropy``, ``gini_simpson``,
    ``missing_mass``, ``objects_per_image``, ``box_size_distance``, ``box_size_spread``,
    ``label_precision``, ``label_recall`` (overall and ``_by_class``) and ``dataset_hash`` of the
    training data."""

    needs = data_of("detection")

    def measure(self, model, data: DetectionSet, real: RealData) -> xr.Dataset:
        """Compare the generation's labels with the real pool and with the true objects."""
        counts = data.class_counts()
        freq = counts / counts.sum() if counts.sum() else np.zeros_like(counts)
        nonzero = freq[freq > 0]
        sizes, real_sizes = box_sizes(data.objects()), box_sizes(real.train.objects())
        # Label quality is measured where the truth is known: all of a rendered or labelled set, the audit
        # images of an unlabelled pool (source.audit_share); NaN where there are none.
        audited = data.take(np.flatnonzero(data.truth_known))
        hits, n_labels, n_truth = label_quality(audited)
        class_hits, class_labels, class_truth = label_quality_by_class(audited, len(data.names))
        with np.errstate(invalid="ignore", divide="ignore"):
            precision_by_class = np.where(class_labels > 0, class_hits / class_labels, np.nan)
            recall_by_class = np.where(class_truth > 0, class_hits / class_truth, np.nan)
        values = {
            "class_frequency": variable(
                ("class",),
                freq,
                units="1",
                description="share of each class among the training labels",
                valid=SHARE,
                **CLASS_SHARES,
            ),
            "surviving_classes": variable(
                (),
                float((counts > 0).sum()),
                units="classes",
                description="classes present in the training labels",
                valid=NON_NEGATIVE,
                key=11,
            ),
            "entropy": variable(
                (),
                float(-(nonzero * np.log(nonzero)).sum()),
                units="nats",
                description="entropy of the training class shares",
                valid=NON_NEGATIVE,
                key=13,
            ),
            "gini_simpson": variable(
                (),
                float(1 - (freq**2).sum()),
                units="1",
                description="1 - sum of squared class shares",
                valid=SHARE,
                key=12,
            ),
            "missing_mass": variable(
                (),
                float(real.truth.class_shares[counts == 0].sum()),
                units="1",
                description="real share of the classes absent from the training labels",
                valid=SHARE,
                key=14,
            ),
            "objects_per_image": variable(
                (),
                counts.sum() / max(len(data), 1),
                units="objects",
                description="labelled objects per training image",
                valid=NON_NEGATIVE,
            ),
            "box_size_distance": variable(
                (),
                wasserstein_distance(sizes, real_sizes) if len(sizes) else np.nan,
                units="1",
                description="Wasserstein-1 distance of training box sizes (fraction of image side) to the "
                "real pool",
                valid=NON_NEGATIVE,
                key=15,
                table=True,
            ),
            "box_size_spread": variable(
                (),
                np.log(sizes).std() / np.log(real_sizes).std() if len(sizes) > 1 else np.nan,
                units="1",
                description="std of log box size in the training labels over that of the real pool",
                valid=NON_NEGATIVE,
                key=16,
            ),
            "label_precision": variable(
                (),
                hits.sum() / n_labels.sum() if n_labels.sum() else np.nan,
                units="1",
                description="share of training labels that match a true object (class, IoU >= 0.5), "
                f"{AUDITED}",
                valid=SHARE,
                key=17,
                table=True,
            ),
            "label_recall": variable(
                (),
                hits.sum() / n_truth.sum() if n_truth.sum() else np.nan,
                units="1",
                description="share of true objects in the training images that carry a correct label, "
                f"{AUDITED}",
                valid=SHARE,
                key=18,
                table=True,
            ),
            "label_precision_by_class": variable(
                ("class",),
                precision_by_class,
                units="1",
                description=f"label_precision per class (NaN where the class has no labels); {AUDITED}",
                valid=SHARE,
            ),
            "label_recall_by_class": variable(
                ("class",),
                recall_by_class,
                units="1",
                description="label_recall per class: which classes the labeller drops (NaN where none is "
                f"present); {AUDITED}",
                valid=SHARE,
            ),
            "label_truth_by_class": variable(
                ("class",),
                class_truth.astype(float),
                units="objects",
                description="true objects per class in the images whose objects are known: how many "
                "label_recall_by_class is measured on",
                valid=NON_NEGATIVE,
            ),
        }
        ds = measured(
            values,
            coords={"class": np.array(data.names, dtype=object)},
        )
        ds["dataset_hash"] = variable(
            (),
            np.array(data.content_hash(), dtype=object),
            units="",
            description="content hash of the training images and labels (a dataset version: each detector "
            "records it in train_args.dataset_version)",
            figure=Figure(
                "labelled_images",
                title="training images and their labels",
                caption="Training images of chain 0, first and last generation, with their labels.",
                file="samples",
            ),
            table=True,
        )
        return ds
