"""The grids of each profile's scale, under the papers' grid names (``grid.GRIDS``) plus the sweeps of single figures:
the cpu profile's thinned grids with the dev-set evidence for each fixed point, the paper profile's from the papers'
sections, the gpu profile's (the paper's thinned to a day on one GPU, with why each point stays) and the smoke
profile's (the cpu grids at one epoch, top-k within its two layers).

The cpu budget (measured on 2 quiet cores: a run of 512 single-sentence examples x 3 epochs with its evaluations
took 43 s with adapters, 52 s with full fine-tuning; sentence pairs and multiple choice cost 2-4x more per example):
256 training examples x 3 epochs keeps most runs at 15-45 s (the hundred-odd runs of both papers: about 70 minutes).
The cpu grids therefore keep one learning rate per method, taken from the papers' own grids where MiniLM does well at
this scale (lr 3e-4 for full fine-tuning, 3e-3 for adapters: both values of Houlsby's grid), and the papers' sweeps
thinned out.

A registered method other than the papers' adapters has a grid named by its key in every profile (LoRA's ``lora``,
(IA)³'s ``ia3``): its sizes and learning rates in the trade-off figures (``studies.tradeoff.method_configs``)."""
from __future__ import annotations

from typing import Any

from adapterlib.core.config import AdapterConfig
from adapterlib.core.lora import LoRAConfig
from adapterlib.runner.grid import GRIDS

ST_A = AdapterConfig.pfeiffer()
LORA_RANKS = (2, 8, 64)  # the LoRA curve of Fig. 3 (paper and gpu profiles)

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
    # LoRA beside Houlsby's methods in Fig. 3 (what readers choose today): rank 8 on query and value, alpha 16 (Hu et
    # al.'s usual), one point as (IA)³ is; the paper profile draws ranks 2 / 8 / 64. At cpu scale ranks 2 and 64 cost
    # 4.2 of the 90 minutes and showed no order (2026-12-07: each role's median gap to full fine-tuning within 2.5
    # points across the ranks, intervals overlapping). lr 3e-3 (the adapters' rate) from {5e-4, 1e-3, 3e-3} on
    # rt_polarity's dev set at rank 8: best dev 56.2 / 65.6 / 69.9.
    "lora": {"adapter": [LoRAConfig(r=8, alpha=16)], "lr": [3e-3], "epochs": [3]},
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
# The gpu profile's grids: the paper profile's, thinned where the papers sweep more than one GPU can train in a day
# (its plan: at most 24 A100-hours, docs/PROFILES.md). One learning rate per method, from the paper's own grid for
# that item; the fewest epochs of the paper's; the adapter sizes a table or figure reports. The grids not named here
# are the paper profile's: AdapterFusion's are one point each already, and Figs. 6 and 7's sweeps and the learning
# curve train on capped sets (the profile's ``role_max_train``, the curve's sizes), minutes per run.
GPU_GRIDS: dict[str, dict[str, Any]] = {
    **PAPER_GRIDS,
    # Houlsby Table 1 on all of GLUE. Full fine-tuning at 3e-5, the one rate of Houlsby's {3e-5, 3e-4, 3e-3} inside
    # BERT's own fine-tuning range (Devlin et al. 2019: 2e-5..5e-5); adapters, which train a few percent of the
    # parameters, at 3e-4, the higher of the grid's two rates inside the range over which the paper shows adapters
    # robust (its Fig. 7: 2e-5..1e-3). 3 epochs of {3, 20}: 20 cost 6.7 times as much, and 3 epochs of MNLI or QQP
    # are over 30,000 steps. All three sizes: Table 1 reports size 64 and the best of {8, 64, 256}, Sec. 3.6 compares
    # the three.
    "houlsby_glue": {"lr": {"full": [3e-5], "adapters": [3e-4]}, "epochs": [3], "size": [8, 64, 256]},
    # Houlsby Table 2 (up to 10,000 training examples per task). Of the paper's {1e-5, 3e-5, 1e-4, 3e-3}, the rates
    # chosen as for Table 1: full and top-k fine-tuning at 3e-5, adapters at 1e-4 (AdapterFusion's adapter rate too).
    # 20 epochs, the fewest of {20, 50, 100}: 6,250 steps at the cap. Sizes 2, 8 and 64 of {2, ..., 64}: both ends of
    # Table 2's range and one between, on Fig. 3's curve; top 1, 3 and 12 layers of {1, 2, 3, 5, ..., 12}: Fig. 4's
    # top-layer point, every layer (the paper's other end) and one between.
    "houlsby_additional": {"lr": {"full": [3e-5], "top_k": [3e-5], "adapters": [1e-4]}, "epochs": [20],
                           "size": [2, 8, 64], "top_k": [1, 3, 12]},
    # Houlsby Fig. 4 (MNLI and CoLA at up to 10,000 examples: minutes per run): every size 2^0..2^9, at Table 1's
    # rates and epochs; LayerNorm only at 3e-3, the grid's highest (it trains 40k parameters). Top k as Table 2's:
    # these top-k runs are also Fig. 3's on all of GLUE, about 0.5 A100-hours a depth there.
    "size_sweep": {"lr": {"adapters": [3e-4], "top_k": [3e-5], "layernorm": [3e-3]}, "epochs": [3],
                   "size": [2 ** i for i in range(10)], "top_k": [1, 3, 12]},
    # Houlsby Fig. 5 (all of SQuAD). Fine-tuning at BERT's own SQuAD v1.1 recipe, 5e-5 for 3 epochs (Devlin et al.
    # 2019), both in Sec. 3.5's grid; adapters at 3e-4 (of {3e-5, 1e-4, 3e-4, 1e-3}, as Table 1's) for 10 epochs, the
    # middle of {3, 10, 20}; sizes 2 and 64 (Fig. 5's claims) and 8 between.
    "squad": {"lr": {"full": [5e-5], "adapters": [3e-4]}, "epochs": {"full": [3], "adapters": [10]},
              "size": [2, 8, 64]},
    # LoRA and (IA)³ beside the papers' methods, one rate each: 5e-4 (Hu et al. 2021's, the paper profile's middle
    # one) and 3e-3 (Liu et al. 2022's), at Table 1's 3 epochs.
    "lora": {"adapter": [LoRAConfig(r=r, alpha=16) for r in LORA_RANKS], "lr": [5e-4], "epochs": [3]},
    "ia3": {"method": ["ia3"], "lr": [3e-3], "epochs": [3]},
}
SMOKE_GRIDS = {name: {**grid, "epochs": [1], **({"top_k": [1, 2]} if "top_k" in grid else {})}
                for name, grid in CPU_GRIDS.items()}  # smoke keeps 2 layers
