"""The runner: encoding per task format, RunConfig validation and hashing, training on real MiniLM weights and
real task data (mostly 2 layers and tiny caps, which check the mechanics; one run on the whole model checks that it learns)."""
from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest
import torch
from datasets import Dataset

import adapterlib as al
from adapterlib.core.fusion import AdapterFusionLayer
from adapterlib.data.encoding import collate, encode, length_sorted_batches, qa_answers
from adapterlib.data.tasks import get_task, load_task
from adapterlib.runner.evaluate import evaluate
from adapterlib.runner.loop import (RunKind, TrainingBatch, TrainingDivergedError, global_batches, make_accelerator,
                                    resolve_precision, tf32_matmuls, train_epochs)
from adapterlib.runner.settings import RunConfig, TrainingSettings
from conftest import tiny_model, token_batch
from adapterlib.runner.single import build_model, train_and_evaluate

TINY_RUN = dict(model_kwargs={"num_hidden_layers": 2}, max_train=48, max_eval=24, epochs=2, batch_size=16,
                max_length=64)


@pytest.fixture(scope="module")
def tokenizer(minilm):
    return minilm(num_hidden_layers=1)[1]


# ---------------------------------------------------------------- encoding (synthetic rows: unit checks only)
def test_pair_and_regression_encoding_and_dynamic_padding(tokenizer):
    rows = Dataset.from_dict({"text": ["a short one", "a much longer premise sentence here"],
                              "text_pair": ["hypothesis", "another"], "label": [0, 2]})
    features = encode(get_task("snli"), rows, tokenizer, 64, train=True)
    assert [f["labels"] for f in features] == [0, 2]
    assert set(features[0]["token_type_ids"]) == {0, 1}  # two segments
    batch = collate(features, tokenizer.pad_token_id)
    longest = max(len(f["input_ids"]) for f in features)
    assert batch["input_ids"].shape == (2, longest)  # padded to the batch, not to max_length
    assert batch["attention_mask"].sum().item() == sum(len(f["input_ids"]) for f in features)
    regression = encode(get_task("vader_movie"), Dataset.from_dict({"text": ["ok"], "label": [1.5]}), tokenizer, 64, train=True)
    assert regression[0]["labels"] == 1.5 and collate(regression, 0)["labels"].dtype == torch.float32


def test_multiple_choice_pairs_context_and_question_with_each_choice(tokenizer):
    rows = Dataset.from_dict({"text": ["Tom went out."], "question": ["Why?"], "choices": [["to eat", "to sleep", "x"]],
                              "label": [1]})
    (feature,) = encode(get_task("social_i_qa_offline"), rows, tokenizer, 64, train=True)
    assert len(feature["input_ids"]) == 3
    decoded = tokenizer.decode(feature["input_ids"][1])
    assert "tom went out. why?" in decoded and "to sleep" in decoded
    assert collate([feature], 0)["input_ids"].shape[:2] == (1, 3)


def test_a_question_too_long_for_the_window_to_slide_is_cut_at_a_token_not_a_crash(tokenizer):
    """A 90-token question in a 96-token window with stride 64 would leave the context less room than the stride
    (the tokenizer panics); it is cut to what leaves room (and never beyond BERT's 64 query tokens)."""
    question = "why " * 90 + "?"
    rows = Dataset.from_dict({"id": ["0"], "title": ["t"], "context": ["word " * 300], "question": [question],
                              "answers": [{"text": ["word"], "answer_start": [0]}]})
    features = encode(get_task("squad_v1_dev"), rows, tokenizer, 96, train=True, doc_stride=64)
    assert len(features) > 1 and all(len(f["input_ids"]) <= 96 for f in features)
    assert tokenizer.decode(features[0]["input_ids"]).count("why") == 96 - 64 - 4
    short = encode(get_task("squad_v1_dev"), rows, tokenizer, 384, train=True, doc_stride=128)
    assert tokenizer.decode(short[0]["input_ids"]).count("why") == 64  # BERT's max_query_length


def test_squad_windows_point_at_the_answer_and_postprocessing_recovers_it(tokenizer):
    context = " ".join(f"word{i}" for i in range(60)) + " The answer is Paris France today. " + "filler " * 40
    start = context.index("Paris")
    rows = Dataset.from_dict({"id": ["q"], "title": ["t"], "context": [context], "question": ["Where?"],
                              "answers": [{"text": ["Paris France"], "answer_start": [start]}]})
    task = get_task("squad_v1_dev")
    train = encode(task, rows, tokenizer, 64, train=True, doc_stride=32)
    assert len(train) > 2  # the context is split into overlapping windows
    hits = [f for f in train if f["start_positions"] > 0]
    assert hits and all(f["end_positions"] >= f["start_positions"] for f in hits)
    answer = tokenizer.decode(hits[0]["input_ids"][hits[0]["start_positions"]:hits[0]["end_positions"] + 1])
    assert answer == "paris france"
    evals = encode(task, rows, tokenizer, 64, train=False, doc_stride=32)
    outputs = []
    for f, t in zip(evals, train):  # logits peaked where the train labels say the answer is
        logits = np.zeros((2, len(f["input_ids"])), dtype=np.float32)
        if t["start_positions"] > 0:
            logits[0, t["start_positions"]], logits[1, t["end_positions"]] = 10, 10
        outputs.append(logits)
    assert qa_answers(rows, evals, outputs) == ["Paris France"]


def test_length_sorted_batches_cover_every_feature_once():
    features = [{"input_ids": [1] * n} for n in (5, 1, 9, 3, 7)]
    batches = length_sorted_batches(features, 2)
    assert sorted(i for b in batches for i in b) == list(range(5))
    assert batches[0] == [2, 4]  # longest first


def test_training_batches_grouped_by_length_cover_every_feature_once_and_pad_less():
    lengths = torch.randint(5, 128, (1000,), generator=torch.Generator().manual_seed(0)).tolist()

    def padded(batches):
        return sum(max(lengths[i] for i in b) * len(b) for b in batches)

    plain = global_batches(lengths, 32, torch.Generator().manual_seed(1), world=1)
    assert plain == global_batches(lengths, 32, torch.Generator().manual_seed(1), world=1, group_batches=1)
    generator = torch.Generator().manual_seed(1)
    epoch1, epoch2 = (global_batches(lengths, 32, generator, world=1, group_batches=4) for _ in range(2))
    for batches in (plain, epoch1, epoch2):
        assert sorted(i for b in batches for i in b) == list(range(1000))
    assert padded(epoch1) < 0.8 * padded(plain)
    assert epoch1 != epoch2  # regrouped every epoch: still random batches
    assert [len(b) for b in global_batches(lengths[:65], 32, generator, world=2, group_batches=4)] == [32, 32]  # 1 < world


# ---------------------------------------------------------------- RunConfig
@pytest.mark.parametrize("bad, message", [
    (dict(regime="nope"), "regime must be one of"),
    (dict(regime="adapters"), "adapter config is required"),
    (dict(regime="full", adapter=al.AdapterConfig.houlsby()), "only there"),
    (dict(regime="top_k"), "top_k is required"),
    (dict(regime="full", lr=0.0), "lr must be"),
    (dict(regime="full", epochs=0), "epochs must be"),
    (dict(regime="full", batch_size=2.5), "batch_size must be"),
    (dict(regime="full", max_train=0), "max_train must be"),
    (dict(regime="full", warmup_ratio=1.0), "warmup_ratio"),
    (dict(regime="full", group_batches=0), "group_batches must be"),
    (dict(task="no_such_task", regime="full"), "unknown task"),
    (dict(regime="full", precision="fp8"), "precision must be one of"),
])
def test_bad_run_configs_fail_before_training(bad, message):
    with pytest.raises(ValueError, match=message):
        RunConfig(**{"task": "rt_polarity", **bad})


def test_run_id_is_a_stable_hash_of_the_whole_config():
    cfg = RunConfig("rt_polarity", adapter=al.AdapterConfig.houlsby(64), lr=1e-3)
    assert cfg.run_id.startswith("rt_polarity-adapters-")
    assert RunConfig.from_dict(cfg.to_dict()) == cfg and RunConfig.from_dict(cfg.to_dict()).run_id == cfg.run_id
    assert RunConfig("rt_polarity", adapter=al.AdapterConfig.houlsby(8), lr=1e-3).run_id != cfg.run_id
    code = ("import adapterlib as al; from adapterlib.runner.settings import RunConfig; "
            "print(RunConfig('rt_polarity', adapter=al.AdapterConfig.houlsby(64), lr=1e-3).run_id)")
    other_process = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert other_process.stdout.strip() == cfg.run_id  # no hash randomisation, no object ids


def test_auto_precision_is_bf16_where_the_gpu_supports_it_with_tf32_matmuls(monkeypatch):
    """The paper profile's ``auto``: bf16 on a bf16-capable CUDA device, fp32 elsewhere; TF32 only while a run
    trains off fp32, restored afterwards."""
    for supported, expected in ((True, "bf16"), (False, "fp32")):
        monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *args, **kwargs: supported)
        assert resolve_precision("auto", torch.device("cuda")) == expected
    assert resolve_precision("auto", torch.device("cpu")) == "fp32"
    before, torch.backends.cuda.matmul.allow_tf32 = torch.backends.cuda.matmul.allow_tf32, False
    try:
        with tf32_matmuls(True):
            assert torch.backends.cuda.matmul.allow_tf32
        assert torch.backends.cuda.matmul.allow_tf32 is False
    finally:
        torch.backends.cuda.matmul.allow_tf32 = before


def test_precision_is_hashed_except_fp32_so_earlier_run_ids_stand():
    cfg = RunConfig("rt_polarity", adapter=al.AdapterConfig.houlsby(64), lr=1e-3)
    assert cfg.run_id == "rt_polarity-adapters-ea56463b672a"  # the id this config had before ``precision`` existed
    assert "precision" not in cfg.to_dict() and RunConfig.from_dict(cfg.to_dict()).precision == "fp32"
    bf16 = RunConfig(**{**cfg.to_dict(), "precision": "bf16"})
    assert bf16.to_dict()["precision"] == "bf16" and RunConfig.from_dict(bf16.to_dict()) == bf16
    assert len({bf16.run_id, cfg.run_id, RunConfig(**{**cfg.to_dict(), "precision": "auto"}).run_id}) == 3
    assert resolve_precision("auto", torch.device("cpu")) == "fp32" and resolve_precision("bf16", torch.device("cpu")) == "bf16"


# ---------------------------------------------------------------- the loop itself (a random tiny model: mechanics only)
def toy_kind(model, scores, batches_per_epoch=2):
    batch = TrainingBatch("toy", model, {"input_ids": token_batch(4, 8), "labels": torch.tensor([0, 1, 2, 0])}, 4, 4)
    dev_scores = iter(scores)
    weights = []  # the head after each epoch

    def score_dev():
        weights.append(model.classifier.weight.detach().clone())
        score = next(dev_scores)
        return score, {"validation": {"score": score}}

    kind = RunKind(tasks=("toy",), steps_per_epoch=batches_per_epoch, batches=lambda epoch: [batch] * batches_per_epoch,
                   loss=lambda prepared, b: prepared(**b.inputs).loss, score_dev=score_dev,
                   loss_fields=lambda sums: {"train_loss": float(sums[0, 0] / sums[0, 1])},
                   state=dict, load_state=lambda state: None)  # the same batch every step: nothing to resume
    return kind, weights


def test_the_loop_restores_the_best_dev_epoch_and_records_one_entry_per_epoch_with_the_extra():
    model = al.set_trainable(tiny_model(), "head")
    kind, weights = toy_kind(model, [50.0, 70.0, 60.0])
    training = train_epochs(model, kind, TrainingSettings(lr=1e-2, epochs=3), make_accelerator(), run_id="toy",
                            label="toy", progress=False, epoch_extra=lambda: {"extra": 1.5})
    assert training.best_epoch == 2 and training.error is None and training.examples_per_s > 0
    assert model.classifier.weight.equal(weights[1]) and not weights[1].equal(weights[2])
    assert [h["epoch"] for h in training.history] == [1, 2, 3]
    assert [h["dev_score"] for h in training.history] == [50.0, 70.0, 60.0]
    assert all(set(h) == {"epoch", "train_loss", "dev_score", "validation", "extra"} for h in training.history)
    assert all(math.isfinite(h["train_loss"]) for h in training.history)


def test_the_loop_stops_at_a_non_finite_loss_and_says_where():
    model = al.set_trainable(tiny_model(), "head")
    with torch.no_grad():
        model.classifier.bias.fill_(float("nan"))
    kind, _ = toy_kind(model, [50.0])
    training = train_epochs(model, kind, TrainingSettings(lr=1e-2, epochs=1), make_accelerator(), run_id="toy",
                            label="toy", progress=False)
    assert training.history == [] and training.best_epoch is None
    assert training.error.startswith("toy: non-finite loss/gradient") and "epoch 1, step 1" in training.error


@pytest.mark.parametrize("regularization", [0.01, 0.0])
def test_the_loop_adds_the_fusion_regulariser_to_the_loss(regularization):
    """With the task loss zeroed, only lambda ||V - I||^2 moves the fusion's value matrices: towards the identity."""
    model = tiny_model()
    for name in ("a", "b"):
        al.add_adapter(model, name, al.AdapterConfig.pfeiffer(reduction_factor=16))
    al.add_fusion(model, ["a", "b"], al.FusionConfig(value_noise=0.1, regularization=regularization))
    al.set_trainable(model, "fusion")
    values = [m.value.weight for m in model.modules() if isinstance(m, AdapterFusionLayer)]

    def distance() -> float:
        return sum(float((v.detach() - torch.eye(v.shape[0])).pow(2).sum()) for v in values)

    before = distance()
    kind, _ = toy_kind(model, [50.0, 50.0])
    kind = RunKind(**{**kind.__dict__, "loss": lambda prepared, b: 0.0 * prepared(**b.inputs).loss})
    train_epochs(model, kind, TrainingSettings(lr=1e-2, epochs=2, warmup_ratio=0.0, weight_decay=0.0),
                 make_accelerator(), run_id="toy", label="toy", progress=False)
    assert values
    if regularization:
        assert distance() < 0.8 * before
    else:
        assert distance() == before


def test_fp16_needs_cuda_and_bf16_trains_on_cpu():
    if torch.cuda.is_available():
        pytest.skip("fp16 is available here")
    with pytest.raises(ValueError, match="fp16.*CUDA"):
        train_and_evaluate(RunConfig("rt_polarity", regime="head", precision="fp16", **TINY_RUN), progress=False)
    fp32 = train_and_evaluate(RunConfig("rt_polarity", regime="head", lr=1e-3, **{**TINY_RUN, "epochs": 1}), progress=False)
    bf16 = train_and_evaluate(RunConfig("rt_polarity", regime="head", lr=1e-3, precision="bf16",
                                        **{**TINY_RUN, "epochs": 1}), progress=False)
    assert bf16.status == "ok" and bf16.config["precision"] == "bf16"
    loss32, loss16 = fp32.history[0]["train_loss"], bf16.history[0]["train_loss"]
    assert loss16 != loss32 and loss16 == pytest.approx(loss32, rel=0.05)  # autocast ran, and changed little


# ---------------------------------------------------------------- training (real weights, real data)
def test_same_seed_same_result_and_every_regime_trains_only_its_parameters():
    cfg = RunConfig("rt_polarity", adapter=al.AdapterConfig.houlsby(16), lr=3e-3, **TINY_RUN)
    first, second = train_and_evaluate(cfg, progress=False), train_and_evaluate(cfg, progress=False)
    assert first.metrics == second.metrics and first.history == second.history
    assert first.status == "ok" and set(first.metrics) == {"validation", "test"} and len(first.history) == 2
    assert first.metrics["validation"] == first.history[first.best_epoch - 1]["validation"]
    other_seed = train_and_evaluate(RunConfig(**{**cfg.to_dict(), "seed": 1}), progress=False)
    assert other_seed.history != first.history
    full = train_and_evaluate(RunConfig("rt_polarity", regime="full", **TINY_RUN), progress=False)
    assert 0 < first.params["trainable"] < full.params["trainable"] == full.params["total"]
    assert first.examples_per_s > 0 and first.wall_time > 0


def test_adapter_training_on_the_whole_minilm_lowers_the_loss_and_learns_the_task():
    """Learning, not just mechanics: a size-64 Houlsby adapter on all 6 layers of the real MiniLM, 256 real Rotten
    Tomatoes snippets (a balanced two-way task: chance is 50)."""
    cfg = RunConfig("rt_polarity", adapter=al.AdapterConfig.houlsby(64), lr=3e-3, epochs=3, max_train=256,
                    max_eval=128, max_length=64)
    result = train_and_evaluate(cfg, progress=False)
    losses = [epoch["train_loss"] for epoch in result.history]
    assert losses[-1] < losses[0] and losses[-1] < math.log(2), losses
    assert result.metrics["test"]["score"] > 65, result.metrics


@pytest.mark.parametrize("task, regime, extra", [
    ("vader_movie", "layernorm", {}),
    ("social_i_qa_offline", "top_k", {"top_k": 1}),
    ("squad_v1_dev", "head", {"max_length": 96, "doc_stride": 32}),
])
def test_every_task_format_trains_and_reports_its_metric(task, regime, extra):
    result = train_and_evaluate(RunConfig(task, regime=regime, lr=1e-3, **{**TINY_RUN, "epochs": 1, **extra}), progress=False)
    metric = {"vader_movie": "spearman", "social_i_qa_offline": "accuracy", "squad_v1_dev": "f1"}[task]
    assert all(metric in m and math.isfinite(m["score"]) for m in result.metrics.values())
    if task == "squad_v1_dev":
        assert set(result.metrics) == {"validation", "test"}  # offline SQuAD has no SQuADShifts test sets


def test_nan_loss_stops_the_run_with_a_clear_error(monkeypatch):
    import adapterlib.runner.single as train

    def poisoned(cfg, adapter_dir=None):
        model, tokenizer = build(cfg, adapter_dir)
        with torch.no_grad():
            model.classifier.weight.fill_(float("nan"))
        return model, tokenizer

    build = train.build_model
    monkeypatch.setattr(train, "build_model", poisoned)
    with pytest.raises(TrainingDivergedError, match="non-finite loss") as caught:
        train_and_evaluate(RunConfig("rt_polarity", regime="head", **TINY_RUN), progress=False)
    assert caught.value.result.status == "failed" and caught.value.result.history == []


def test_evaluate_with_adapters_removed_equals_the_bare_model():
    """The notebooks' ablation path: a model evaluated with its adapters switched off in every layer."""
    cfg = RunConfig("rt_polarity", adapter=al.AdapterConfig.houlsby(16, init_std=0.5), lr=3e-3, **TINY_RUN)
    model, tokenizer = build_model(cfg)
    dev = load_task("rt_polarity", max_eval=24)["validation"]
    with_adapters = evaluate(model, tokenizer, "rt_polarity", dev, max_length=64)
    with al.adapters_removed(model, layers=range(2)):
        without = evaluate(model, tokenizer, "rt_polarity", dev, max_length=64)
    al.set_active_adapter(model, None)
    assert without == evaluate(model, tokenizer, "rt_polarity", dev, max_length=64)
    assert set(with_adapters) == {"accuracy", "score"}
