"""How an offline task's examples are cut into train / validation / test: whole groups (an article, a twin pair, a
movie...) go to one split, shuffled with a fixed seed, so no group straddles two splits."""
from __future__ import annotations

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
