"""The text family: real corpora read offline, one frozen tokenizer per run, passages with provenance."""
