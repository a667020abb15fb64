"""Task examples -> model features -> padded batches, and model outputs -> predictions, for every task format.

Features are plain dicts of token-id lists (no ``datasets.map``: nothing is cached next to the task data, and the
sizes here tokenise in about a second). Batches are padded only to their own longest member (dynamic padding);
evaluation batches group examples of similar length, since most are far shorter than ``max_length``.

| format            | model input                                             | prediction                         |
|-------------------|---------------------------------------------------------|------------------------------------|
| single            | ``text``                                                | argmax of the logits               |
| pair              | ``text`` [SEP] ``text_pair``                            | argmax                             |
| regression        | ``text`` (+ ``text_pair``)                              | the single logit                   |
| multiple_choice   | one pair per choice: (``text`` + ``question``, choice)  | argmax over the choices            |
| span_qa           | (question, context window) features, doc stride        | best start/end span -> answer text |
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from transformers import PreTrainedTokenizerBase

from adapterlib.data.tasks.registry import Task

if TYPE_CHECKING:  # only for hints: encoding needs no `datasets` (see tests/test_packaging.py)
    from datasets import Dataset

MODEL_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
LABEL_KEYS = ("labels", "start_positions", "end_positions")


def encode(
    task: Task,
    dataset: Dataset,
    tokenizer: PreTrainedTokenizerBase,
    max_length: int,
    *,
    train: bool,
    doc_stride: int = 128,
) -> list[dict[str, Any]]:
    """Tokenise ``dataset`` for ``task``. For span_qa, ``train`` chooses answer-position labels (train) or the
    example index and context offsets that ``qa_answers`` needs (evaluation); other formats ignore it."""
    if task.format == "span_qa":
        return _encode_squad(dataset, tokenizer, max_length, doc_stride, train)
    columns = dataset.column_names
    if task.format == "multiple_choice":
        choices = list(dataset["choices"])
        counts = {len(c) for c in choices}
        if len(counts) != 1:
            raise ValueError(f"{task.name}: every example needs the same number of choices, found {sorted(counts)}")
        k = counts.pop()
        questions = list(dataset["question"]) if "question" in columns else [""] * len(dataset)
        contexts = [f"{t} {q}".strip() for t, q in zip(dataset["text"], questions)]
        flat = tokenizer([c for c in contexts for _ in range(k)], [choice for c in choices for choice in c],
                         truncation=True, max_length=max_length)
        features = [{key: flat[key][i * k:(i + 1) * k] for key in MODEL_INPUTS if key in flat} for i in range(len(choices))]
    else:
        pairs = list(dataset["text_pair"]) if "text_pair" in columns else None
        encoded = tokenizer(list(dataset["text"]), pairs, truncation=True, max_length=max_length)
        features = [{key: encoded[key][i] for key in MODEL_INPUTS if key in encoded} for i in range(len(dataset))]
    for feature, label in zip(features, dataset["label"]):
        feature["labels"] = float(label) if task.format == "regression" else int(label)
    return features


MAX_QUERY_TOKENS = 64


def _first_tokens(text: str, tokenizer: PreTrainedTokenizerBase, n: int) -> str:
    """``text`` cut after its first ``n`` tokens (at a character offset, so the text itself is never rewritten)."""
    offsets = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]
    return text if len(offsets) <= n else text[:offsets[max(n, 1) - 1][1]]


def _encode_squad(
    dataset: Dataset, tokenizer: PreTrainedTokenizerBase, max_length: int, doc_stride: int, train: bool
) -> list[dict[str, Any]]:
    """SQuAD features as in the BERT reference code: windows of the context with ``doc_stride`` tokens of overlap.

    Train windows that do not contain the whole answer point at [CLS] (position 0), as BERT does."""
    if not 0 < doc_stride < max_length:
        raise ValueError(f"doc_stride must be in 1..max_length-1, got {doc_stride}")
    # BERT's max_query_length (64), and at most what leaves each window more context tokens than the stride (the
    # [CLS] and two [SEP] besides): a long question would otherwise leave no room to slide the window at all
    query_tokens = min(MAX_QUERY_TOKENS, max_length - doc_stride - 4)
    questions = [_first_tokens(q.lstrip(), tokenizer, query_tokens) for q in dataset["question"]]
    encoded = tokenizer(
        questions, list(dataset["context"]), truncation="only_second", max_length=max_length, stride=doc_stride,
        return_overflowing_tokens=True, return_offsets_mapping=True,
    )
    answers = list(dataset["answers"])
    features = []
    for i, example in enumerate(encoded["overflow_to_sample_mapping"]):
        feature = {key: encoded[key][i] for key in MODEL_INPUTS if key in encoded}
        in_context = [s == 1 for s in encoded.sequence_ids(i)]
        offsets = encoded["offset_mapping"][i]
        if train:
            start_char = answers[example]["answer_start"][0]
            end_char = start_char + len(answers[example]["text"][0])
            context = [t for t, c in enumerate(in_context) if c]
            start = end = 0
            if context and offsets[context[0]][0] <= start_char and offsets[context[-1]][1] >= end_char:
                start = next(t for t in context if offsets[t][1] > start_char)
                end = next(t for t in reversed(context) if offsets[t][0] < end_char)
            feature.update(start_positions=start, end_positions=end)
        else:
            feature["example_index"] = example
            feature["offsets"] = [tuple(o) if c else None for o, c in zip(offsets, in_context)]
        features.append(feature)
    return features


def references(task: Task, dataset: Dataset) -> list:
    """What ``compute_metrics`` compares predictions with: labels, or every gold answer text (span_qa)."""
    if task.format == "span_qa":
        return [a["text"] for a in list(dataset["answers"])]
    return list(dataset["label"])


def feature_length(feature: dict[str, Any]) -> int:
    ids = feature["input_ids"]
    return max(len(c) for c in ids) if ids and isinstance(ids[0], list) else len(ids)


def collate(features: Sequence[dict[str, Any]], pad_token_id: int) -> dict[str, torch.Tensor]:
    """Pad to the longest feature of this batch (dynamic padding); multiple-choice features pad to [B, C, L]."""
    length = max(feature_length(f) for f in features)
    pads = {"input_ids": pad_token_id, "attention_mask": 0, "token_type_ids": 0}
    batch: dict[str, torch.Tensor] = {}
    for key, pad in pads.items():
        if key not in features[0]:
            continue
        rows = [f[key] for f in features]
        if isinstance(rows[0][0], list):  # multiple choice: one sequence per choice
            batch[key] = torch.tensor([[seq + [pad] * (length - len(seq)) for seq in choices] for choices in rows])
        else:
            batch[key] = torch.tensor([seq + [pad] * (length - len(seq)) for seq in rows])
    for key in LABEL_KEYS:
        if key in features[0]:
            batch[key] = torch.tensor([f[key] for f in features])
    return batch


def length_sorted_batches(features: Sequence[dict[str, Any]], batch_size: int) -> list[list[int]]:
    """Feature indices in batches of similar length, longest first (little padding; a too-large batch fails
    at once rather than at the end)."""
    order = sorted(range(len(features)), key=lambda i: -feature_length(features[i]))
    return [order[i:i + batch_size] for i in range(0, len(order), batch_size)]


def model_outputs(task: Task, output: Any, batch: dict[str, torch.Tensor]) -> list[np.ndarray]:
    """Per-feature raw outputs of one batch, in numpy: logits, or [2, length] start/end logits (span_qa,
    trimmed to the feature's real length)."""
    if task.format == "span_qa":
        lengths = batch["attention_mask"].sum(-1).tolist()
        both = torch.stack([output.start_logits, output.end_logits], dim=1).float().cpu().numpy()
        return [both[i, :, :n] for i, n in enumerate(lengths)]
    return list(output.logits.float().cpu().numpy())


def predictions(task: Task, outputs: Sequence[np.ndarray]) -> np.ndarray:
    """Labels (classification, multiple choice) or values (regression) from per-example logits."""
    logits = np.stack(outputs)
    return logits[:, 0] if task.format == "regression" else logits.argmax(-1)


def qa_answers(
    dataset: Dataset,
    features: Sequence[dict[str, Any]],
    outputs: Sequence[np.ndarray],
    *,
    n_best: int = 20,
    max_answer_length: int = 30,
) -> list[str]:
    """The answer text of each example: the best-scoring valid span (start <= end, inside the context, at most
    ``max_answer_length`` tokens) over all of its features, as in the BERT SQuAD reference code."""
    best: dict[int, tuple[float, str]] = {}
    contexts = list(dataset["context"])
    for feature, logits in zip(features, outputs):
        start_logits, end_logits = logits
        offsets, example = feature["offsets"], feature["example_index"]
        starts = np.argsort(start_logits)[::-1][:n_best]
        ends = np.argsort(end_logits)[::-1][:n_best]
        for s in starts:
            for e in ends:
                if offsets[s] is None or offsets[e] is None or not 0 <= e - s < max_answer_length:
                    continue
                score = float(start_logits[s] + end_logits[e])
                if example not in best or score > best[example][0]:
                    best[example] = (score, contexts[example][offsets[s][0]:offsets[e][1]])
    return [best.get(i, (0.0, ""))[1] for i in range(len(dataset))]
