"""Train a Hugging Face ``transformers`` causal language model on a generation's passages.

The same loop, schedule, budget and ``base`` choices as ``trainer=tiny_gpt``
(AdamW, linear warm-up, cosine decay to a tenth of ``lr``, weight decay on
matrices, gradients clipped at 1), so seeds, threads and resume stay the
run's. The network is built from a config of one of ``ARCHITECTURES`` at
``layers`` x ``heads`` x ``width`` over ``context`` tokens and the run's
vocabulary (its frozen BPE), dropout off as in ``tiny_gpt``. ``lora`` (``r``,
``alpha``, ``target_modules``) fine-tunes only low-rank adapters through
``peft``, merged into the weights after each generation.

A base pretrained once a run (``base=pretrain``) is written with
``save_pretrained`` as ``base_hf/`` in the run directory and read back with
``from_pretrained``; ``base=PATH`` reads such a folder. Each chain's latest
model is written the same way as ``hf_model/`` in its folder, with ``training.json``: its generation and
the share of parameters its training updated (below 1 with LoRA). ``transformers``
and ``peft`` are imported only when this trainer is chosen.
"""

from __future__ import annotations

import fcntl
import json
from pathlib import Path

import numpy as np

from collapse_sim.checkpoints import replace_folder
from collapse_sim.errors import ConfigError, first_line
from collapse_sim.trainers.tiny_gpt import TinyGPTTrainer

BASE_FOLDER = "base_hf"  # the pretrained network, in the run directory (save_pretrained)
CHAIN_FOLDER = "hf_model"  # each chain's latest model, in its folder (save_pretrained)
DTYPES = ("auto", "float32", "bfloat16")


def _config(architecture: str, vocab: int, context: int, layers: int, heads: int, width: int, end: int):
    """A ``transformers`` config of ``architecture`` at this size, the run's end token its bos and eos."""
    from collapse_sim.models.hf_causal_lm import quiet_transformers

    tf = quiet_transformers()
    tokens = {"bos_token_id": end, "eos_token_id": end}  # no padding: every row is whole
    if architecture == "gpt2":
        return tf.GPT2Config(
            vocab_size=vocab, n_positions=context, n_embd=width, n_layer=layers, n_head=heads,
            resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, **tokens,
        )  # fmt: skip
    if architecture == "opt":
        return tf.OPTConfig(
            vocab_size=vocab, max_position_embeddings=context, hidden_size=width, word_embed_proj_dim=width,
            num_hidden_layers=layers, num_attention_heads=heads, ffn_dim=4 * width, dropout=0.0,
            attention_dropout=0.0, **tokens,
        )  # fmt: skip
    if architecture == "gpt_neox":
        return tf.GPTNeoXConfig(
            vocab_size=vocab, max_position_embeddings=context, hidden_size=width, num_hidden_layers=layers,
            num_attention_heads=heads, intermediate_size=4 * width, hidden_dropout=0.0, attention_dropout=0.0,
            **tokens,
        )  # fmt: skip
    return tf.LlamaConfig(
        vocab_size=vocab, max_position_embeddings=context, hidden_size=width, num_hidden_layers=layers,
        num_attention_heads=heads, num_key_value_heads=heads, intermediate_size=4 * width, **tokens,
    )  # fmt: skip


# Each architecture's attention projections: LoRA's default target modules.
ARCHITECTURES = {
    "gpt2": ["c_attn"],
    "opt": ["q_proj", "v_proj"],
    "gpt_neox": ["query_key_value"],
    "llama": ["q_proj", "v_proj"],
}


class HFCausalLMTrainer(TinyGPTTrainer):
    """A ``transformers`` causal language model of ``architecture``, trained as ``tiny_gpt`` is."""

    chain_bytes = 2.2e9  # a chain process with transformers imported, at tiny_gpt's size
    base_name = f"{BASE_FOLDER}/ folder (save_pretrained)"

    def __init__(
        self,
        *,
        architecture: str = "gpt2",
        model: str | None = None,
        hub: bool = False,
        dtype: str = "auto",
        lora: dict | None = None,
        **settings,
    ) -> None:
        if architecture not in ARCHITECTURES:
            raise ConfigError(
                "architecture", f"must be one of {', '.join(ARCHITECTURES)}, got {architecture!r}"
            )
        if dtype not in DTYPES:
            raise ConfigError("dtype", f"must be one of {', '.join(DTYPES)}, got {dtype!r}")
        self.architecture, self.dtype = architecture, dtype
        self.model, self.hub = (str(model) if model else None), bool(hub)
        if self.model and settings.get("base", "scratch") != "scratch":
            raise ConfigError(
                "base",
                f"is {settings['base']}, while model={self.model} names the network every generation starts "
                "from; choose one (leave base=scratch with a model)",
            )
        # A pretrained model's config, read at once: its size sets the memory a chain needs.
        self.pretrained = _pretrained_config(self.model, self.hub) if self.model else None
        if self.pretrained is not None:
            self.architecture = self.pretrained.model_type
            self.chain_bytes = CHAIN_BASE_BYTES + BYTES_A_PARAMETER * _parameters(self.pretrained)
        self.lora = self._lora(dict(lora) if lora else None)
        super().__init__(**settings)
        if self.dtype == "bfloat16" and not self.device.startswith("cuda"):
            raise ConfigError(
                "dtype", "is bfloat16, which trains here only on CUDA; use auto or float32 on a CPU"
            )
        self.folder = None

    def _lora(self, lora: dict | None) -> dict | None:
        if lora is None:
            return None
        unknown = set(lora) - {"r", "alpha", "target_modules"}
        if unknown:
            raise ConfigError(
                "lora", f"takes r, alpha and target_modules; {', '.join(sorted(unknown))} is not one"
            )
        r = lora.get("r", 8)
        if not (isinstance(r, int) and r >= 1):
            raise ConfigError("lora.r", f"must be an integer >= 1, got {r!r}")
        targets = lora.get("target_modules") or ARCHITECTURES.get(self.architecture, ["q_proj", "v_proj"])
        return {"r": r, "alpha": float(lora.get("alpha", 2 * r)), "target_modules": list(targets)}

    @staticmethod
    def is_base(path: Path) -> bool:
        """A folder ``save_pretrained`` wrote."""
        return (path / "config.json").is_file()

    def steps(self, data) -> int:
        """Optimiser steps on ``data``: ``epochs`` passes from a pretrained model or a base, else the
        token budget."""
        if self.model:
            return max(1, -(-self.epochs * len(data) // self.batch))
        return super().steps(data)

    def check(self, sim) -> None:
        """``tiny_gpt``'s checks; a pretrained model must read the run's tokens and hold its context; LoRA's
        target modules must be modules of the network."""
        super().check(sim)
        if self.pretrained is not None:
            self._check_pretrained(sim.source.truth.tokenizer)
        if self.lora:
            tokenizer = sim.source.truth.tokenizer
            network = self._network(tokenizer.vocab_size, tokenizer.end)
            names = {name.rsplit(".", 1)[-1] for name, _ in network.named_modules()}
            missing = [m for m in self.lora["target_modules"] if m not in names]
            if missing:
                raise ConfigError(
                    "trainer.lora.target_modules",
                    f"names {', '.join(missing)}, which a {self.architecture} network does not have; its "
                    f"attention projections are {', '.join(ARCHITECTURES[self.architecture])}",
                )

    def _check_pretrained(self, tokenizer) -> None:
        config, name = self.pretrained, self.model
        positions = config.max_position_embeddings
        if positions is not None and self.context > positions:
            raise ConfigError(
                "trainer.context",
                f"is {self.context} tokens, longer than the {positions} positions {name} was trained with; "
                f"set trainer.context={positions} or less (and shorter passages or prompts if they need it)",
            )
        from collapse_sim.text.tokenizer import PretrainedTokenizer

        eos, own = config.eos_token_id, Path(name) / "tokenizer.json"
        if own.is_file():  # the model's folder holds its tokenizer: the run must read with that one
            foreign = tokenizer.fingerprint != PretrainedTokenizer(name).fingerprint
        else:  # a model whose tokenizer lies elsewhere: a pretrained one, of ids the model has
            pretrained = isinstance(tokenizer, PretrainedTokenizer)
            foreign = not pretrained or tokenizer.vocab_size > config.vocab_size
        if foreign or (eos is not None and tokenizer.end != eos):
            raise ConfigError(
                "source.tokenizer",
                f"is not {name}'s tokenizer (it gives {tokenizer.vocab_size} ids, documents ending with "
                f"{tokenizer.end}; the model reads {config.vocab_size}, ending with {eos}). Set "
                f"source.tokenizer={name} (the folder holding its tokenizer.json)",
            )

    def setup(self, context) -> None:
        """``tiny_gpt``'s setup; the chain's folder, where its latest model is written; a pretrained
        model's weights, where every generation starts."""
        self.folder = Path(context.folder)
        super().setup(context)
        if self.model:
            from collapse_sim.models.hf_causal_lm import quiet_transformers

            transformers = quiet_transformers()
            network = transformers.AutoModelForCausalLM.from_pretrained(
                self.model, local_files_only=not self.hub
            )
            self.base_state = network.state_dict()

    def config(self, vocab_size: int | None = None, end: int | None = None):
        """The network's ``transformers`` config for the run's vocabulary (a pretrained model's own)."""
        if self.pretrained is not None:
            return self.pretrained
        vocab = self.vocab_size if vocab_size is None else vocab_size
        end = self.end if end is None else end
        return _config(self.architecture, vocab, self.context, self.layers, self.heads, self.width, end)

    def _network(self, vocab_size: int | None = None, end: int | None = None, state: dict | None = None):
        from collapse_sim.models.hf_causal_lm import build_network

        return build_network(self.config(vocab_size, end), state)

    def fit(self, data, *, init=None, rng: np.random.Generator, generation: int):
        """Train on ``data`` from the base, or ``init`` when warm-starting, or a fresh network; write the
        chain's latest model with ``save_pretrained``."""
        from collapse_sim.models.hf_causal_lm import HFCausalLMModel

        if self.vocab_size is None:
            raise RuntimeError("HFCausalLMTrainer.fit before setup(context): the run hands it its tokenizer")
        start = self.base_state if self.base_state is not None else (init.state if init else None)
        state, share = self._train_network(data, start, self.steps(data), rng, self.progress)
        model = HFCausalLMModel(self.config(), state, end=self.end, device=self.device, trainable_share=share)
        if self.folder is not None:
            record = {"generation": generation, "trainable_share": share, "lora": self.lora}

            def write(folder: Path) -> None:
                model.save(folder)
                (folder / "training.json").write_text(json.dumps(record, indent=1))

            replace_folder(self.folder / CHAIN_FOLDER, write)
        return model

    def _train(self, data, start, steps, rng, progress) -> dict:
        return self._train_network(data, start, steps, rng, progress)[0]

    def _train_network(self, data, start: dict | None, steps: int, rng, progress) -> tuple[dict, float]:
        """``steps`` AdamW steps on ``data`` from the weights ``start`` (None: a fresh network); the
        weights after the last step (LoRA merged) and the share of parameters the steps updated."""
        import torch

        if self.device == "cpu":
            torch.set_num_threads(self.threads)
        torch.manual_seed(int(rng.integers(2**31)))
        network = self._network(state=start)
        if self.lora:
            from peft import LoraConfig, get_peft_model

            adapters = LoraConfig(
                r=self.lora["r"], lora_alpha=self.lora["alpha"], target_modules=self.lora["target_modules"],
                lora_dropout=0.0, fan_in_fan_out=self.architecture == "gpt2",  # Conv1D: W stored transposed
            )  # fmt: skip
            network = get_peft_model(network, adapters)
        network.to(self.device).train()
        trained = [p for p in network.parameters() if p.requires_grad]
        share = sum(p.numel() for p in trained) / sum(p.numel() for p in network.parameters())
        optimiser = torch.optim.AdamW(
            [
                {"params": [p for p in trained if p.dim() >= 2], "weight_decay": self.weight_decay},
                {"params": [p for p in trained if p.dim() < 2], "weight_decay": 0.0},
            ],
            lr=self.lr,
            betas=(0.9, 0.95),
        )
        passages = torch.as_tensor(data.tokens, dtype=torch.long, device=self.device)
        first = torch.full((self.batch, 1), self.end, dtype=torch.long, device=self.device)
        on_gpu = self.device.startswith("cuda") and self.dtype != "float32"
        report = max(1, steps // 10)
        for step in range(steps):
            for group in optimiser.param_groups:
                group["lr"] = self._lr(step, steps)
            rows = torch.as_tensor(rng.integers(len(passages), size=self.batch), device=self.device)
            targets = passages[rows]
            inputs = torch.cat([first, targets[:, :-1]], dim=1)
            with torch.autocast("cuda", torch.bfloat16, enabled=on_gpu):
                logits = network(input_ids=inputs, use_cache=False).logits
            loss = torch.nn.functional.cross_entropy(logits.float().flatten(0, 1), targets.flatten())
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(trained, 1.0)
            optimiser.step()
            if progress is not None and ((step + 1) % report == 0 or step + 1 == steps):
                progress(step + 1, steps)
        if self.lora:
            network = network.merge_and_unload()
        return {k: v.detach().cpu().clone() for k, v in network.state_dict().items()}, share

    def _pretrained(self, run_dir: Path, real) -> dict:
        """The run's base network: read from ``run_dir/base_hf`` (``from_pretrained``), or trained there once
        and written with ``save_pretrained`` (the first chain to get the lock trains it)."""
        folder = run_dir / BASE_FOLDER
        lock_file = run_dir / f"{BASE_FOLDER}.lock"
        with open(lock_file, "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not self.is_base(folder):
                data = real.truth.pretrain
                steps = max(1, self.pretrain_tokens // (self.batch * data.passage_tokens))
                # One base per run whatever the chain: a fixed seed, the pretraining split only.
                state, _ = self._train_network(data, None, steps, np.random.default_rng(0), None)
                network = self._network(state=state)
                network.config.collapse_sim_tokenizer = self.fingerprint
                replace_folder(folder, network.save_pretrained)
        lock_file.unlink(missing_ok=True)
        return self._read_base(folder, real.truth.tokenizer, "trainer.base")

    def _read_base(self, path: Path, tokenizer, key: str) -> dict:
        """The weights of a ``save_pretrained`` folder, refused unless it holds a causal language model of
        this architecture and size for this run's tokenizer."""
        from collapse_sim.models.hf_causal_lm import quiet_transformers

        transformers = quiet_transformers()
        try:
            config = transformers.AutoConfig.from_pretrained(path)
        except (OSError, ValueError) as error:
            raise ConfigError(key, f"{path} holds no transformers model ({error})") from None
        made = getattr(config, "collapse_sim_tokenizer", None)
        if made != tokenizer.fingerprint:
            raise ConfigError(
                key,
                f"{path} was made with another tokenizer ({made or 'not this run’s BPE'}; this run's "
                f"{tokenizer.fingerprint}): the corpus, source.tokenizer, source.vocab_size or "
                "source.test_share differ from that run's",
            )
        ours = self.config(tokenizer.vocab_size, tokenizer.end).to_diff_dict()
        theirs = config.to_diff_dict()
        shape = [k for k, v in ours.items() if k in theirs and theirs[k] != v]
        if config.model_type != ours.get("model_type") or shape:
            raise ConfigError(
                key,
                f"{path} holds a {config.model_type} network that differs from this run's "
                f"{self.architecture} in {', '.join(shape) or 'architecture'}: set trainer.architecture, "
                "layers, heads, width and context to match",
            )
        return transformers.AutoModelForCausalLM.from_pretrained(path).state_dict()


CHAIN_BASE_BYTES = 1.5e9  # a chain process with torch and transformers imported, before its model
BYTES_A_PARAMETER = 16  # float32 weights, gradients and AdamW's two moments


def _pretrained_config(model: str, hub: bool):
    """The config of a pretrained causal language model (a local folder, or a hub id from the cache unless
    ``hub``), or one paragraph saying why there is none."""
    from collapse_sim.models.hf_causal_lm import quiet_transformers

    transformers = quiet_transformers()
    try:  # local files only unless asked: a hub id would otherwise wait on retries without a network
        config = transformers.AutoConfig.from_pretrained(model, local_files_only=not hub)
    except (OSError, ValueError) as error:
        said = first_line(error)
        where = "" if hub else (
            " This run reads local files only: give the local folder save_pretrained wrote, or set "
            "trainer.hub=true where the network is, to fetch it once into the cache"
        )  # fmt: skip
        raise ConfigError(
            "model", f"{model!r} holds no transformers model that can be read ({said}).{where}"
        ) from None
    causal = transformers.models.auto.modeling_auto.MODEL_FOR_CAUSAL_LM_MAPPING_NAMES
    if config.model_type not in causal:
        raise ConfigError("model", f"{model!r} is a {config.model_type} model, not a causal language model")
    return config


def _parameters(config) -> int:
    """The parameters of a model of ``config``, counted without allocating its weights."""
    import torch

    from collapse_sim.models.hf_causal_lm import quiet_transformers

    with torch.device("meta"):
        return quiet_transformers().AutoModelForCausalLM.from_config(config).num_parameters()
