"""Figure text is at least 8 pt at the size a figure is saved at (``outputs.MIN_FONT_PT``): ``save_figure`` refuses
smaller text, so every study's figure is held to it whenever a notebook runs (the smoke notebooks in
tests/test_notebooks.py run them all). The heatmaps whose cells carry numbers are checked here on grids of the
sizes the profiles give them."""
from __future__ import annotations

import itertools

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from adapterlib.reporting.outputs import MIN_FONT_PT, RESULTS_ENV, save_figure, small_text  # noqa: E402


def test_save_figure_refuses_text_under_the_minimum(tmp_path, monkeypatch):
    monkeypatch.setenv(RESULTS_ENV, str(tmp_path))
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.set_title("a title", fontsize=MIN_FONT_PT)
    ax.text(0.5, 0.5, "tiny", fontsize=6)
    ax.text(0.5, 0.2, "hidden", fontsize=5, visible=False)
    assert small_text(fig) == [("tiny", 6)]
    with pytest.raises(ValueError, match=f"under {MIN_FONT_PT} pt at its saved size"):
        save_figure(fig, "smoke", "f")
    assert not (tmp_path / "smoke" / "f.png").exists()
    ax.texts[0].set_fontsize(MIN_FONT_PT)
    assert [p.suffix for p in save_figure(fig, "smoke", "f")] == [".png", ".svg"]
    plt.close(fig)


def _attention(n_sources: int, n_layers: int = 6) -> pd.DataFrame:
    tasks = [f"task_{i}" for i in range(n_sources)]
    rng = np.random.default_rng(0)
    rows = [{"task": t, "source": s, "layer": layer, "site": "feed_forward", "paper_task": None,
             "score": rng.uniform()} for t, s, layer in itertools.product(tasks, tasks, range(1, n_layers + 1))]
    frame = pd.DataFrame(rows)
    frame["score"] /= frame.groupby(["task", "layer"])["score"].transform("sum")
    return frame


@pytest.mark.parametrize("n_sources", [3, 6, 8, 16])
def test_fusion_attention_heatmap_numbers_are_8_pt(n_sources):
    from adapterlib.studies.fusion import fig4

    fig = fig4.plot(_attention(n_sources, n_layers=12 if n_sources == 16 else 6))
    assert small_text(fig) == []
    numbers = [t for ax in fig.axes for t in ax.texts]
    assert (len(numbers) > 0) == (n_sources <= fig4.ANNOTATED_SOURCES)  # the paper's 16 sources: colour only
    plt.close(fig)


@pytest.mark.parametrize("n_layers", [6, 12, 24])
def test_ablation_heatmap_numbers_are_8_pt(n_layers):
    from adapterlib.studies.houlsby import fig6

    rows = [{"panel": "ablation", "task": "t", "first_layer": None, "last_layer": None, "score": 80.0,
             "n_layers": n_layers, "majority": 50.0}]
    rows += [{"panel": "ablation", "task": "t", "first_layer": first, "last_layer": last, "score": 80.0 - last + first,
              "n_layers": n_layers, "majority": 50.0}
             for first in range(n_layers) for last in range(first, n_layers)]
    fig = fig6.plot_ablation(pd.DataFrame(rows))
    assert small_text(fig) == []
    assert bool(fig.axes[0].texts) == (n_layers <= fig6.ANNOTATED_LAYERS)
    plt.close(fig)


def _contrast(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    """WCAG 2 contrast ratio of two RGB(A) colours (0-1)."""
    def luminance(colour):
        r, g, b = (c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in colour[:3])
        return 0.2126 * r + 0.7152 * g + 0.0722 * b
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_ablation_heatmap_scale_is_centred_on_zero_and_every_number_stands_out_from_its_cell():
    """Removing adapters can help as well as hurt: a gain gets its own colour, not the colour of no change, and
    each cell's number is black or white, whichever contrasts more with that cell (at least 4.5:1, WCAG AA)."""
    from matplotlib.colors import to_rgba

    from adapterlib.studies.houlsby import fig6

    changes = {(0, 0): 4.0, (0, 1): -14.0, (1, 1): 0.3, (0, 2): -7.0, (1, 2): 2.0, (2, 2): -1.0}
    rows = [{"panel": "ablation", "task": "t", "first_layer": None, "last_layer": None, "score": 60.0,
             "n_layers": 3, "majority": 40.0}]
    rows += [{"panel": "ablation", "task": "t", "first_layer": first, "last_layer": last, "score": 60.0 + change,
              "n_layers": 3, "majority": 40.0} for (first, last), change in changes.items()]
    fig = fig6.plot_ablation(pd.DataFrame(rows))
    ax = fig.axes[0]
    image = ax.get_images()[0]
    low, high = image.get_clim()
    assert low == -high == -14.0 and image.norm(0.0) == pytest.approx(0.5)  # symmetric: +4 is as strong as -4
    assert image.norm(4.0) > 0.6 and image.norm(-4.0) < 0.4
    for text in ax.texts:
        first, last = round(text.get_position()[0]), round(text.get_position()[1])
        cell = image.cmap(image.norm(changes[(first, last)]))
        assert _contrast(to_rgba(text.get_color()), cell) >= 4.5, text.get_text()
    assert {t.get_text() for t in ax.texts} == {"+4.0", "-14.0", "+0.3", "-7.0", "+2.0", "-1.0"}
    # one decimal: a change of +0.3 (under a point on a test set of a few hundred) reads as such, not as "0"
    plt.close(fig)
