"""How an offline task's examples are cut into train / validation / test: whole groups (an article, a twin pair, a
movie...) go to one split, shuffled with a fixed seed, so no group straddles two splits."""
from __future__ import annotations

import json
import random

SPLIT_SEED = 0
FRACTIONS = (0.8, 0.1, 0.1)
SPLITS = ("train", "validation", "test")


def assign_groups(examples: list[dict], groups: list[str], fractions=FRACTIONS, seed=SPLIT_SEED) -> dict[str, list]:
    """Shuffle whole groups (seeded) and fill train, then validation, then test by example count."""
    order = list(dict.fromkeys(groups))
    random.Random(seed).shuffle(order)
    members: dict[str, list] = {}
    for ex, g in zip(examples, groups):
        members.setdefault(g, []).append(ex)
    out: dict[str, list] = {s: [] for s in SPLITS}
    bounds = [fractions[0] * len(examples), (fractions[0] + fractions[1]) * len(examples)]
    done = 0
    for g in order:
        split = SPLITS[0] if done < bounds[0] else SPLITS[1] if done < bounds[1] else SPLITS[2]
        out[split] += members[g]
        done += len(members[g])
    return out


# A validation set carved from an official train split, as the hub path carves one (hub.HOLDOUT_*)
HOLDOUT_FRACTION, HOLDOUT_MAX = 0.1, 5000
# A task packaged only as its dev set: as much test as the split allows while keeping a train set that can teach
DEV_FRACTIONS = (0.5, 0.1, 0.4)


def carve_validation(examples: list[dict], groups: list[str], seed: int = SPLIT_SEED) -> tuple[list, list]:
    """(train, validation): whole groups, shuffled with ``seed``, go to validation until it holds
    HOLDOUT_FRACTION of the examples (at most HOLDOUT_MAX); the rest stay in train, in their original order."""
    want = min(int(HOLDOUT_FRACTION * len(examples)), HOLDOUT_MAX)
    order = list(dict.fromkeys(groups))
    random.Random(seed).shuffle(order)
    sizes: dict[str, int] = {}
    for g in groups:
        sizes[g] = sizes.get(g, 0) + 1
    held, taken = set(), 0
    for g in order:
        if taken >= want:
            break
        held.add(g)
        taken += sizes[g]
    return ([ex for ex, g in zip(examples, groups) if g not in held],
            [ex for ex, g in zip(examples, groups) if g in held])


def stratified_split(examples: list[dict], fractions=DEV_FRACTIONS, seed: int = SPLIT_SEED) -> dict[str, list]:
    """Train / validation / test with each label's examples shuffled (seeded) and cut in ``fractions``, so every
    split keeps the label proportions of the whole."""
    by_label: dict[str, list[dict]] = {}
    for ex in examples:
        by_label.setdefault(json.dumps(ex["label"]), []).append(ex)
    out: dict[str, list] = {s: [] for s in SPLITS}
    for key in sorted(by_label):
        rows = by_label[key]
        random.Random(f"{seed}-{key}").shuffle(rows)
        a = round(fractions[0] * len(rows))
        b = a + round(fractions[1] * len(rows))
        out["train"] += rows[:a]
        out["validation"] += rows[a:b]
        out["test"] += rows[b:]
    return out
