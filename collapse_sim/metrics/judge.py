"""Each generation's training text as the chain's first model reads it (Shumailov et al. 2024, Figure 1).

The chain keeps its generation-0 model (``judge.pkl`` in the chain's folder,
so a resumed chain reads the same one) and scores every generation's
training passages with it, passage by passage, in bits per character. The
store keeps quantiles and a histogram on fixed bins: as the models write what
the first model finds likely, the mass moves toward low values, while their
errors grow a tail of passages it finds improbable.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import xarray as xr

from collapse_sim.checkpoints import atomic_pickle
from collapse_sim.components import Metric, RealData, RunContext, data_of
from collapse_sim.errors import ConfigError
from collapse_sim.metrics import NON_NEGATIVE, SHARE, Figure, measured, variable
from collapse_sim.text.data import TextSet

QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
JUDGE_FILE = "judge.pkl"


class FirstModelJudge(Metric):
    """The generation's training passages scored by the chain's generation-0 model: quantiles and a
    histogram of bits per character on ``bins`` equal bins from 0 to ``top`` (the last holds all above)."""

    needs = data_of("text")

    def __init__(self, *, bins: int = 40, top: float = 8.0) -> None:
        if not (isinstance(bins, int) and bins >= 2):
            raise ConfigError("bins", f"must be an integer >= 2, got {bins!r}")
        if not top > 0:
            raise ConfigError("top", f"must be > 0 (bits per character), got {top!r}")
        self.edges = np.linspace(0.0, float(top), bins + 1)
        self.path: Path | None = None
        self.judge = None

    def setup(self, context: RunContext) -> None:
        """Read the chain's judge if an earlier attempt kept it; otherwise generation 0's model becomes it."""
        self.path = Path(context.folder) / JUDGE_FILE
        self.judge = pickle.loads(self.path.read_bytes()) if self.path.is_file() else None

    def scores(self, data: TextSet, real: RealData) -> np.ndarray:
        """Each passage's bits per character under the judge."""
        tokenizer = real.truth.tokenizer
        bits = -self.judge.log2_probs(data.tokens).sum(axis=1)
        chars = np.array([len(tokenizer.decode(p)) for p in data.tokens], dtype=float)
        return bits / np.maximum(chars, 1.0)

    def measure(self, model, data: TextSet, real: RealData) -> xr.Dataset:
        """Score ``data`` with the judge (``model`` itself at generation 0, kept from then on)."""
        if self.judge is None:  # generation 0: this model judges every later generation
            self.judge = model
            if self.path is not None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                atomic_pickle(model, self.path)
        scores = self.scores(data, real)
        counts, _ = np.histogram(np.clip(scores, 0.0, self.edges[-1] - 1e-9), bins=self.edges)
        values = {
            "gen0_bits_per_char": variable(
                ("quantile",),
                np.quantile(scores, QUANTILES),
                units="bits/char",
                description="quantiles of the training passages' bits per character under the chain's "
                "generation-0 model",
                valid=NON_NEGATIVE,
            ),
            "gen0_histogram": variable(
                ("gen0_bin",),
                counts / len(scores),
                units="1",
                description="share of the training passages in each bin of bits per character under the "
                "generation-0 model (the last bin holds all above it)",
                valid=SHARE,
                figure=Figure(
                    "histogram",
                    title="training text as the first model reads it",
                    caption="Each generation's training passages scored by the chain's generation-0 model, "
                    "in bits per character ({chains}; colours from the first generation to the last): the "
                    "mass moving left is text the first model finds likely, a tail growing right is text it "
                    "finds improbable (Shumailov et al. 2024, Figure 1).",
                    file="judged_by_generation_0",
                    x_label="bits per character under the generation-0 model (last bin: all above)",
                    y_label="share of training passages",
                ),
            ),
        }
        return measured(values, coords={"quantile": list(QUANTILES), "gen0_bin": self.edges[:-1]})
