"""What the runs of one process share instead of rebuilding: a task's capped splits, tokenised.

A grid runs many configurations of one task in one process (a notebook kernel, ``adapterlib grid``), and every run
used to reload and re-tokenise the same splits. The features depend only on the key of ``encoded_splits``, and no
run changes them (``collate`` copies them into new tensors), so the runs of a process share one copy.
"""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from datasets import Dataset
from transformers import PreTrainedTokenizerBase

from adapterlib.data.encoding import encode
from adapterlib.data.tasks import get_task, load_task

ENTRIES = 8  # encoded tasks kept, least recently used dropped first (an MT-A run holds the fusion suite's 6 at once)


@dataclass(frozen=True)
class EncodedSplit:
    """One split: its examples (for metrics and references) and their features (read-only: shared between runs)."""

    dataset: Dataset
    features: list[dict[str, Any]]


_cache: OrderedDict[tuple, dict[str, EncodedSplit]] = OrderedDict()


def encoded_splits(
    task_name: str, tokenizer: PreTrainedTokenizerBase, *, max_train: int | None, max_eval: int | None,
    max_length: int, seed: int, doc_stride: int = 128, max_test: int | None = None,
) -> dict[str, EncodedSplit]:
    """Every split of ``task_name`` as ``load_task`` caps it, encoded for ``tokenizer`` (train with its training
    labels): loaded and tokenised once per process for each key (task, tokenizer, caps, seed, length, stride)."""
    task = get_task(task_name)
    stride = doc_stride if task.format == "span_qa" else None  # only span_qa windows depend on it
    key = (task.name, tokenizer.name_or_path, len(tokenizer), max_train, max_eval, max_test, seed, max_length, stride)
    if key in _cache:
        _cache.move_to_end(key)
        return _cache[key]
    data = load_task(task.name, max_train=max_train, max_eval=max_eval, max_test=max_test, seed=seed)
    splits = {split: EncodedSplit(ds, encode(task, ds, tokenizer, max_length, train=split == "train",
                                             doc_stride=doc_stride))
              for split, ds in data.items()}
    _cache[key] = splits
    while len(_cache) > ENTRIES:
        _cache.popitem(last=False)
    return splits


def clear_encoded_splits() -> None:
    """Forget every encoded task (after the task data on disk changed, or to time a cold run)."""
    _cache.clear()
