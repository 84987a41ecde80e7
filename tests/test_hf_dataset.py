"""source=hf_dataset: text through datasets.load_dataset, local files offline, clear refusals."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import one_paragraph
from test_text import corpus, needs_text

from collapse_sim.sources.text import TextFilesSource

RUN = ["+experiment=vocabulary_loss", "trainer=ngram", "source=hf_dataset", "generations=2", "plots=false"]
SIZES = [
    *("source.passage_tokens=32", "source.tokenizer=characters", "generator.prompt=8", "n_samples=60"),
    *("metrics.text.window=100", "replicates=2", "workers=1"),
]


@needs_text
def test_local_text_and_json_lines_read_as_the_text_files_source_reads_the_same_documents(tmp_path):
    from collapse_sim.sources.hf_dataset import HFDatasetSource

    text = tmp_path / "corpus.txt"
    folder = corpus(tmp_path / "corpus")
    documents = ["\n".join(p.read_text().split("\n")) for p in sorted(folder.rglob("*.txt"))]
    text.write_text("\n\n".join(documents) + "\n")
    lines = tmp_path / "corpus.jsonl"
    rows = [{"body": line} for document in documents for line in (*document.split("\n"), "")]
    lines.write_text("\n".join(json.dumps(row) for row in rows) + "\n")
    settings = {"passage_tokens": 16, "tokenizer": "characters", "vocab_size": 300}
    files = TextFilesSource(path=str(text), **settings)
    from_text = HFDatasetSource(path="text", data_files=str(text), **settings)
    from_json = HFDatasetSource(path="json", data_files=[str(lines)], text_column="body", **settings)
    for source in (from_text, from_json):
        np.testing.assert_array_equal(source.train.tokens, files.train.tokens)
        np.testing.assert_array_equal(source.test.tokens, files.test.tokens)


@needs_text
def test_a_run_on_a_local_dataset_records_the_text_metrics(tmp_path, app_cli):
    text = tmp_path / "corpus.txt"
    text.write_text("\n\n".join(p.read_text() for p in sorted(corpus(tmp_path / "c").rglob("*.txt"))))
    ran = app_cli(
        *RUN, *SIZES, "source.path=text", f"source.data_files={text}", f"hydra.run.dir={tmp_path / 'r'}"
    )
    assert ran.returncode == 0, ran.stderr
    import collapse_sim as cs

    ds = cs.open_run(tmp_path / "r")
    assert {"test_bits_per_char", "types", "rare_word_recall"} <= set(ds.data_vars)


@needs_text
@pytest.mark.parametrize(
    ("overrides", "says"),
    [
        (["source.path=wikitext", "source.name=wikitext-2-raw-v1"], "This run is offline (HF_HUB_OFFLINE=1)"),
        (["source.path=text"], "source.data_files: is empty, but path=text reads local files"),
        (["source.path=text", "source.data_files=MISSING"], "source.data_files:"),
        (["source.path=text", "source.data_files=FILE", "source.text_column=body"], "its columns are text"),
    ],
)
def test_what_cannot_be_read_is_one_paragraph_before_any_work(tmp_path, app_cli, overrides, says):
    text = tmp_path / "corpus.txt"
    text.write_text("one document\n\nanother one\n\na third\n")
    named = {"FILE": str(text), "MISSING": str(tmp_path / "missing.txt")}
    overrides = [f"{o.split('=')[0]}={named.get(o.split('=')[1], o.split('=')[1])}" for o in overrides]
    message = one_paragraph(app_cli(*RUN, *SIZES, *overrides, f"hydra.run.dir={tmp_path / 'r'}"))
    assert says in message, message
    assert not (tmp_path / "r" / "results.zarr").exists()
