"""The grids of each profile's scale, under the papers' grid names (``grid.GRIDS``) plus the sweeps of single figures:
the cpu profile's thinned grids with the dev-set evidence for each fixed point, the paper profile's from the papers'
sections, and the smoke profile's (the cpu grids at one epoch, top-k within its two layers).

A registered method other than the papers' adapters has a grid named by its key in every profile (LoRA's ``lora``,
(IA)³'s ``ia3``): its sizes and learning rates in the trade-off figures (``studies.tradeoff.method_configs``)."""
from __future__ import annotations

from typing import Any

from adapterlib.core.config import AdapterConfig
from adapterlib.core.lora import LoRAConfig
from adapterlib.runner.grid import GRIDS

ST_A = AdapterConfig.pfeiffer()
LORA_RANKS = (2, 8, 64)  # the LoRA curve of Fig. 3

# Per-scale grids under the papers' names (GRIDS) plus the sweeps of single figures.
CPU_GRIDS: dict[str, dict[str, Any]] = {
    # Houlsby Table 1: lr and epochs fixed at a point of the paper's grid, size from the paper's {8, 64, 256}.
    "houlsby_glue": {"lr": {"full": [3e-4], "adapters": [3e-3]}, "epochs": [3], "size": [8, 64, 256]},
    # Houlsby Table 2: sizes from {2..64} thinned to two, variable fine-tuning of the top half of MiniLM's 6 layers.
    "houlsby_additional": {"lr": {"full": [3e-4], "top_k": [3e-4], "adapters": [3e-3]}, "epochs": [3],
                           "size": [8, 64], "top_k": [3]},
    # Houlsby Fig. 4 (and Fig. 3's top-k curve on GLUE): adapter sizes 2^0..2^9 thinned to Table 1's sizes plus 2
    # (8/64/256 are Table 1's runs), the top 1 or 3 layers (3 as in Table 2), LayerNorm only.
    "size_sweep": {"lr": {"adapters": [3e-3], "top_k": [3e-4], "layernorm": [3e-3]}, "epochs": [3],
                   "size": [2, 8, 64, 256], "top_k": [1, 3]},
    # Houlsby Fig. 5 (SQuAD): full fine-tuning vs adapter sizes.
    "squad": {"lr": {"full": [3e-4], "adapters": [3e-3]}, "epochs": [2], "size": [2, 64]},
    # Houlsby Fig. 6 right and Fig. 7: init std and learning-rate sweeps of size-64 adapters (init 1e-2 and lr 3e-3
    # are Table 1's size-64 run).
    "init_std": {"lr": [3e-3], "epochs": [3], "size": [64], "init_std": [1e-7, 1e-2, 1e-1, 1.0]},
    "lr_sweep": {"lr": [1e-4, 3e-4, 1e-3, 3e-3], "epochs": [3], "size": [64]},
    # AdapterFusion: ST-A (Pfeiffer, rf 16), Head, Full, fusion; Table 3 reduction factors.
    "fusion_st_a": {"adapter": [ST_A], "reduction_factor": [16], "lr": [3e-3], "epochs": [3]},
    "fusion_full": {"lr": {"full": [3e-4], "head": [3e-3]}, "epochs": [3]},
    # Fusion: lr 1e-3 from {5e-5 (the paper's), 1e-3, 5e-3} at 3 epochs, on rt_polarity's dev set (docs/
    # fusion_attention_sweep.md): best dev 58.2 / 77.3 / 75.4; the attention's largest distance from 1/6 at the
    # best epoch 0.008 / 0.62 / 0.78 (per-token entropy 1.791 / 0.97 / 0.69 nats of log 6 = 1.79).
    "fusion": {"lr": [1e-3], "epochs": [3]},
    "reduction_factors": {"adapter": [ST_A], "reduction_factor": [2, 16, 64], "lr": [3e-3], "epochs": [3]},
    # AdapterFusion's ST-A Houlsby: the houlsby_glue adapters_64 point, so these runs are Houlsby Table 1's.
    "fusion_st_a_houlsby": {"lr": [3e-3], "epochs": [3], "size": [64]},
    # MT-A (settings.MultiTaskConfig, Pfeiffer rf 16 adapters): the encoder is fine-tuned, so full FT's lr.
    "mt_a": {"lr": [3e-4], "epochs": [3]},
    # LoRA beside Houlsby's methods in Fig. 3 (what readers choose today): ranks 2 / 8 / 64 on query and value,
    # alpha fixed at 16 across ranks as Hu et al. fix it. lr 3e-3 (the adapters' rate) from {5e-4, 1e-3, 3e-3} on
    # rt_polarity's dev set at rank 8: best dev 56.2 / 65.6 / 69.9 (the last after 2 of 3 epochs).
    "lora": {"adapter": [LoRAConfig(r=r, alpha=16) for r in LORA_RANKS], "lr": [3e-3], "epochs": [3]},
    # (IA)³ beside LoRA, with peft's default targets (key, value, the attention and feed-forward outputs). Its grid is
    # its own: its published rate (Liu et al. 2022: 3e-3) is 10-100x the adapters' in the papers (Houlsby 3e-5..3e-3,
    # AdapterFusion 1e-4), as its vectors start at one and rescale activations, and at cpu scale a run has 24 steps.
    # lr 3e-2 from {3e-3, 1e-2, 3e-2}: the best mean best-epoch dev score over sst2_dev_split / bbc_news /
    # uci_sentiment (87 / 213 / 256 dev examples): 70.1 / 93.4 / 83.6 (mean 82.4), 65.5 / 95.8 / 86.3 (82.5),
    # 67.8 / 94.4 / 87.9 (83.4); within noise of 1e-2, and SST-2 sat at the majority class for 2 of 3 epochs at 3e-2.
    "ia3": {"method": ["ia3"], "lr": [3e-2], "epochs": [3]},
    # the learning curve's full fine-tuning and size-64 adapters: Table 1's settings, so its 256-example points are
    # Table 1's runs; its LoRA is the trade-off's rank 8 (the same runs where both train it)
    "learning_curve": {"lr": {"full": [3e-4], "adapters": [3e-3]}, "epochs": [3], "size": [64]},
    "learning_curve_lora": {"adapter": [LoRAConfig(r=8, alpha=16)], "lr": [3e-3], "epochs": [3]},  # = lora's r=8
}
PAPER_GRIDS: dict[str, dict[str, Any]] = {
    **GRIDS,
    # Fig. 4 (Sec. 3.4, BERT-base): sizes 2^0..2^9, top k = 1..12, "the learning rate is tuned using the range
    # presented in Section 3.2" (its epochs {3, 20} too: Sec. 3.4 names none).
    "size_sweep": {"lr": [3e-5, 3e-4, 3e-3], "epochs": [3, 20], "size": [2 ** i for i in range(10)],
                   "top_k": list(range(1, 13))},
    # Sec. 3.5 sweeps each method on its own grid: fine-tuning lr {3e-5, 5e-5, 1e-4}, epochs {2, 3, 5}; adapters lr
    # {3e-5, 1e-4, 3e-4, 1e-3}, epochs {3, 10, 20}. It names no sizes: Table 2's {2..64} holds Fig. 5's 2 and 64.
    "squad": {"lr": {"full": [3e-5, 5e-5, 1e-4], "adapters": [3e-5, 1e-4, 3e-4, 1e-3]},
              "epochs": {"full": [2, 3, 5], "adapters": [3, 10, 20]}, "size": [2, 4, 8, 16, 32, 64]},
    "init_std": {"lr": [3e-4], "epochs": [3], "size": [64], "init_std": [10.0 ** -i for i in range(7, -1, -1)]},
    "lr_sweep": {"lr": [2e-5, 5e-5, 1e-4, 2e-4, 5e-4, 1e-3], "epochs": [3], "size": [64]},
    "fusion_full": {"lr": {"full": [2e-5], "head": [1e-4]}, "epochs": [10]},
    "reduction_factors": {"adapter": [ST_A], "reduction_factor": [2, 16, 64], "lr": [1e-4], "epochs": [30]},
    "fusion_st_a_houlsby": {"lr": [1e-4], "epochs": [30], "size": [48]},  # Houlsby placement at ST-A's rf 16
    "mt_a": {"lr": [1e-4], "epochs": [10]},  # not in our notes of the paper: ST-A's lr, fusion's epochs
    # Hu et al. 2021 tune lr around 4e-4..5e-4 on RoBERTa-base GLUE; Houlsby's epochs {3, 20}.
    "lora": {"adapter": [LoRAConfig(r=r, alpha=16) for r in LORA_RANKS], "lr": [1e-4, 5e-4, 1e-3], "epochs": [3, 20]},
    # Liu et al. 2022 train (IA)³ at lr 3e-3: chosen on dev among it and its neighbours, at Houlsby's epochs.
    "ia3": {"method": ["ia3"], "lr": [1e-3, 3e-3, 1e-2], "epochs": [3, 20]},
    "learning_curve": {"lr": {"full": [3e-5], "adapters": [3e-4]}, "epochs": [3], "size": [64]},
    "learning_curve_lora": {"adapter": [LoRAConfig(r=8, alpha=16)], "lr": [5e-4], "epochs": [3]},
}
SMOKE_GRIDS = {name: {**grid, "epochs": [1], **({"top_k": [1, 2]} if "top_k" in grid else {})}
                for name, grid in CPU_GRIDS.items()}  # smoke keeps 2 layers
