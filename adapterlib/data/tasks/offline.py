"""Offline tasks: real labelled text from the pinned sources -> fixed, seeded, deduplicated splits.

Every builder (``builders.BUILDERS``) yields raw examples (label as a *name* for classification); `build` then
  1. drops exact duplicate inputs (and inputs that occur with different labels, since no split could hold them),
  2. assigns whole groups (an article, a twin pair, a movie...) to train/validation/test with SPLIT_SEED,
  3. writes an arrow DatasetDict plus meta.json (source count, drops, split sizes, label counts).
No example is synthesised, relabelled or rebalanced; filters are listed per task in meta.json and docs/TASKS.md.
"""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import datasets

from adapterlib.data.tasks.registry import Task
from adapterlib.data.tasks.builders import BUILDERS
from adapterlib.data.tasks.members import recording
from adapterlib.data.tasks.splits import SPLIT_SEED, assign_groups

BUILD_VERSION = 4
INPUT_COLUMNS = ("text", "text_pair", "question", "choices", "context")


# ---------------------------------------------------------------- dedupe, split, write
def input_key(ex: dict) -> str:
    return json.dumps([ex.get(c) for c in INPUT_COLUMNS])


def dedupe(examples: list[dict]) -> tuple[list[dict], Counter]:
    """Keep one copy of each input; drop inputs seen with different labels (no split could hold them honestly)."""
    labels: dict[str, set] = {}
    for ex in examples:
        labels.setdefault(input_key(ex), set()).add(json.dumps(ex["label"]))
    kept, seen, drops = [], set(), Counter()
    for ex in examples:
        k = input_key(ex)
        if len(labels[k]) > 1:
            drops["conflicting_labels"] += 1
        elif k in seen:
            drops["duplicates"] += 1
        else:
            seen.add(k)
            kept.append(ex)
    return kept, drops


def features(task: Task) -> datasets.Features:
    V, S = datasets.Value, datasets.Sequence
    if task.format == "span_qa":
        return datasets.Features({"id": V("string"), "title": V("string"), "context": V("string"),
                                  "question": V("string"),
                                  "answers": {"text": S(V("string")), "answer_start": S(V("int32"))}})
    if task.format == "multiple_choice":
        return datasets.Features({"text": V("string"), "question": V("string"), "choices": S(V("string")),
                                  "label": V("int64")})
    cols = {"text": V("string")}
    if task.format == "pair":
        cols["text_pair"] = V("string")
    cols["label"] = V("float32") if task.format == "regression" else V("int64")
    return datasets.Features(cols)



def build(task: Task, out_dir: Path) -> dict:
    """Build one offline task into out_dir (arrow DatasetDict + meta.json); returns the meta, which records the
    pinned files read (each one's sha256 and the archive it came from)."""
    with recording() as files:
        raw = BUILDERS[task.name]()
        raw = raw if isinstance(raw, dict) else list(raw)
    presplit = isinstance(raw, dict)
    drops: Counter = Counter()
    if presplit:
        source_count = sum(len(v) for v in raw.values())
        splits = raw
    else:
        source_count = len(raw)
        examples = [ex for ex in raw if ex["label"] is not None]
        drops["filtered"] = source_count - len(examples)
        examples, d = dedupe(examples)
        drops += d
        splits = assign_groups(examples, [ex.pop("group", None) or input_key(ex) for ex in examples])
    if presplit and task.format != "span_qa":
        for name in list(splits):
            splits[name], d = dedupe(splits[name])
            drops += d
        splits, d = drop_cross_split(splits)
        drops += d
    cols = list(features(task))
    for rows in splits.values():
        for ex in rows:
            ex.pop("group", None)
            if task.format in ("single", "pair"):
                ex["label"] = task.label_names.index(ex["label"])
    dd = datasets.DatasetDict({s: datasets.Dataset.from_list([{c: ex[c] for c in cols} for ex in rows],
                                                             features=features(task))
                               for s, rows in splits.items()})
    datasets.disable_progress_bars()
    try:
        dd.save_to_disk(str(out_dir))
    finally:
        datasets.enable_progress_bars()
    meta = {"build_version": BUILD_VERSION, "task": task.name, "source": task.source, "files": files,
            "split": task.split, "source_count": source_count,
            "dropped": dict(drops), "split_seed": SPLIT_SEED, "sizes": {s: len(d) for s, d in dd.items()},
            "label_counts": {s: dict(sorted(Counter(d["label"][:]).items())) for s, d in dd.items()
                             if task.format in ("single", "pair", "multiple_choice")}}
    meta["token_lengths"] = token_lengths(task, dd)
    (out_dir / "meta.json").write_text(json.dumps(meta, indent=1))
    return meta


# Lengths are measured with the embedded model's tokenizer (MiniLM's uncased WordPiece, BERT's vocabulary), on a
# seeded sample of each split, at the lengths profiles use.
LENGTH_SAMPLE, MEASURED_LENGTHS = 2000, (64, 96, 128, 256, 512)


def token_lengths(task: Task, splits: dict[str, datasets.Dataset]) -> dict:
    """Median and 95th percentile of the encoded input length (for multiple choice, of the longest choice) and the
    share of examples longer than each of MEASURED_LENGTHS (which ``encode`` truncates, the longest text first):
    what `data list` reports and a task's ``max_length`` is chosen from. Span QA slides a window, so it has none."""
    import random

    import numpy as np
    from transformers import AutoTokenizer

    from adapterlib.core.models import model_path

    if task.format == "span_qa":
        return {}
    tokenizer = AutoTokenizer.from_pretrained(model_path("minilm-l6"))
    rows = [r for split in splits.values() for r in split.select(sorted(random.Random(SPLIT_SEED).sample(
        range(len(split)), min(LENGTH_SAMPLE, len(split)))))]
    if task.format == "multiple_choice":
        n = len(rows[0]["choices"])
        flat = tokenizer([f"{r['text']} {r['question']}".strip() for r in rows for _ in range(n)],
                         [c for r in rows for c in r["choices"]], verbose=False)["input_ids"]
        lengths = np.array([max(len(ids) for ids in flat[i * n:(i + 1) * n]) for i in range(len(rows))])
    else:
        pairs = [r["text_pair"] for r in rows] if task.format == "pair" else None
        lengths = np.array([len(ids) for ids in tokenizer([r["text"] for r in rows], pairs, verbose=False)["input_ids"]])
    return {"sampled": len(lengths), "p50": int(np.median(lengths)), "p95": int(np.percentile(lengths, 95)),
            "truncated_share": {str(n): round(float((lengths > n).mean()), 4) for n in MEASURED_LENGTHS}}


def drop_cross_split(splits: dict[str, list[dict]]) -> tuple[dict[str, list[dict]], Counter]:
    """Safety net for pre-split builders: an input already in an earlier split is removed from later ones."""
    seen: set[str] = set()
    out, drops = {}, Counter()
    for name, rows in splits.items():
        keys = [input_key(ex) for ex in rows]
        out[name] = [ex for ex, k in zip(rows, keys) if k not in seen]
        drops["cross_split_duplicates"] += len(rows) - len(out[name])
        seen.update(keys)
    return out, +drops
