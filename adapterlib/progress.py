"""The one progress policy of training, grids, data preparation and ``adapterlib reproduce``.

Three modes, chosen by ``$ADAPTERLIB_PROGRESS`` (``bar`` | ``log`` | ``off``), else by where the code runs:

- ``bar`` (a notebook opened in JupyterLab with ipywidgets installed, or a terminal): one live bar per grid (tqdm's
  notebook widget in a kernel, its text bar in a terminal), the running run and its epoch in the bar's postfix; no
  bar per run or per epoch. A run trained outside a grid gets one bar of its own, removed when it ends.
- ``log`` (papermill, a pipe, a kernel without ipywidgets): plain lines and nothing that redraws. A run that finishes
  writes one line (task and method, dev score, seconds); a grid announces its runs to train once and thins its lines
  so that it writes at most ``LOG_LINES`` + 2 of them, however large the profile. ``adapterlib reproduce`` starts
  its kernels in this mode (and with tqdm disabled in them, so no library's bar redraws there either).
- ``off``: nothing (``progress=False`` of ``train_epochs``/``run_grid`` is the same for one call).

Lines go to stdout in a kernel (plain text in the notebook) and to stderr elsewhere.
"""
from __future__ import annotations

import importlib.util
import math
import os
import sys
import time
from collections.abc import Iterable
from typing import Any, TextIO, TypeVar

ENV = "ADAPTERLIB_PROGRESS"
MODES = ("bar", "log", "off")
LOG_LINES = 10  # the most per-run lines one grid writes in log mode (its first and last run come on top)
T = TypeVar("T")


def in_kernel() -> bool:
    """Running in a Jupyter kernel (JupyterLab, papermill), not a terminal IPython or plain Python."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None and hasattr(ipython, "get_ipython") else None
    return shell is not None and "IPKernelApp" in getattr(shell, "config", {})


def has_widgets() -> bool:
    return importlib.util.find_spec("ipywidgets") is not None


def mode() -> str:
    """``$ADAPTERLIB_PROGRESS`` if set, else ``bar`` in a kernel with ipywidgets or a terminal, else ``log``.
    ``bar`` in a kernel without ipywidgets is ``log`` (tqdm's text bar would fill the notebook with redraws)."""
    chosen = os.environ.get(ENV, "").strip().lower()
    if chosen and chosen not in MODES:
        raise ValueError(f"{ENV}={chosen!r}: expected one of {', '.join(MODES)}")
    kernel = in_kernel()
    if not chosen:
        interactive = has_widgets() if kernel else _isatty(sys.stderr)
        chosen = "bar" if interactive else "log"
    return "log" if chosen == "bar" and kernel and not has_widgets() else chosen


def stream() -> TextIO:
    return sys.stdout if in_kernel() else sys.stderr


def line(text: str) -> None:
    """One plain progress line, unless progress is off."""
    if mode() != "off":
        print(text, file=stream(), flush=True)


def _isatty(handle: Any) -> bool:
    try:
        return bool(handle.isatty())
    except (AttributeError, ValueError):
        return False


def _bar(**kwargs: Any) -> Any:
    """A tqdm bar for ``bar`` mode: the notebook widget in a kernel, the text bar elsewhere."""
    if in_kernel():
        from tqdm.notebook import tqdm
        return tqdm(**kwargs)
    from tqdm.std import tqdm
    return tqdm(file=sys.stderr, dynamic_ncols=True, **kwargs)


def iterate(items: Iterable[T], desc: str, unit: str = "it", total: int | None = None) -> Iterable[T]:
    """``items`` with one bar in ``bar`` mode (made now, in the mode of now), as they are otherwise; the caller
    writes any per-item line with ``echo``."""
    return _bar(iterable=items, desc=desc, unit=unit, total=total) if mode() == "bar" else items


def echo(text: str, file: TextIO | None = None) -> None:
    """A line of output beside any bar (tqdm's ``write`` in a terminal, which keeps its bars intact), to stdout."""
    file = file or sys.stdout
    if "tqdm.std" in sys.modules and not in_kernel():
        sys.modules["tqdm.std"].tqdm.write(text, file=file)
    else:
        print(text, file=file, flush=True)


class Grid:
    """The progress of one grid (``run_grid``): ``total`` runs, ``done`` of them already in the run store. Use as a
    context manager; ``advance()`` after each run trained. Runs trained inside it report here (``Run``)."""

    def __init__(self, total: int, done: int = 0, *, desc: str = "grid", enabled: bool = True) -> None:
        self.mode = mode() if enabled else "off"
        self.total, self.todo, self.finished = total, total - done, 0
        self.every = max(1, math.ceil(self.todo / LOG_LINES))
        self.bar = None
        if self.mode == "bar":
            self.bar = _bar(total=total, initial=done, desc=desc, unit="run")
        elif self.mode == "log" and self.todo:
            thinned = f"; a line every {self.every} runs" if self.every > 1 else ""
            line(f"{desc}: training {self.todo} of {total} runs ({done} already in the run store){thinned}")

    def __enter__(self) -> Grid:
        _grids.append(self)
        return self

    def __exit__(self, *exc: Any) -> None:
        _grids.remove(self)
        if self.bar is not None:
            self.bar.close()

    def advance(self) -> None:
        if self.bar is not None:
            self.bar.update()

    def status(self, text: str) -> None:
        if self.bar is not None:
            self.bar.set_postfix_str(text, refresh=False)

    def run_finished(self, text: str) -> None:
        """A line for a finished run: every run up to ``LOG_LINES``, beyond that the first, every ``every``-th and
        the last."""
        self.finished += 1
        if self.mode == "log" and (self.finished in (1, self.todo) or self.finished % self.every == 0):
            line(f"[{self.finished}/{self.todo}] {text}")


_grids: list[Grid] = []


def grid(total: int, done: int = 0, *, desc: str = "grid", enabled: bool = True) -> Grid:
    return Grid(total, done, desc=desc, enabled=enabled)


class Run:
    """The progress of one training run (``loop.train_epochs``): ``step`` per optimiser step, ``epoch`` per epoch,
    then ``finished`` or ``failed`` (one line in log mode). Inside a grid it only updates the grid's bar."""

    def __init__(self, label: str, steps: int, *, enabled: bool = True, resumed_at: int = 0) -> None:
        """``resumed_at``: the steps a resumed run had done before (``runner.checkpoint``), where its bar starts."""
        self.label, self.start = label, time.perf_counter()
        self.mode = mode() if enabled else "off"
        self.grid = _grids[-1] if _grids and self.mode != "off" else None
        self.bar = None
        if self.grid is not None:
            self.grid.status(label)
        elif self.mode == "bar":
            self.bar = _bar(total=steps, initial=resumed_at, desc=label, leave=False, unit="step")
        if resumed_at and self.grid is None and self.mode == "log":
            line(f"{label}: resumed after step {resumed_at} of {steps}")

    def step(self, loss: Any) -> None:
        """One optimiser step; ``loss`` (a number or a 0-d tensor) is read only where a bar shows it."""
        if self.bar is not None:
            self.bar.update()
            self.bar.set_postfix(loss=f"{float(loss):.3f}", refresh=False)

    def epoch(self, epoch: int, epochs: int, score: float) -> None:
        if self.grid is not None:
            self.grid.status(f"{self.label}: epoch {epoch}/{epochs}, dev {score:.1f}")
        elif self.bar is not None:
            self.bar.set_postfix(dev=f"{score:.1f}", refresh=False)

    def finished(self, score: float | None) -> None:
        self._end(f"dev {score:.1f}" if score is not None and math.isfinite(score) else "no dev score")

    def failed(self, why: str) -> None:
        self._end(f"failed ({why})")

    def _end(self, outcome: str) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        text = f"{self.label}: {outcome}, {time.perf_counter() - self.start:.0f} s"
        if self.grid is not None:
            self.grid.run_finished(text)
        elif self.mode == "log":
            line(text)


def kernel_environment() -> dict[str, str]:
    """What ``adapterlib reproduce`` sets for the kernels it starts: log mode (``off`` stays off), and tqdm disabled
    for every library, so nothing redraws in an executed notebook."""
    chosen = os.environ.get(ENV, "").strip().lower()
    return {ENV: "off" if chosen == "off" else "log", "TQDM_DISABLE": "1"}
