"""The method imports with the core dependencies alone; what the reproduction needs is declared in its extra."""
from __future__ import annotations

import ast
import os
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "adapterlib"
# Modules that must import with the core dependencies: the method and data/ without its dataset loaders.
CORE_MODULES = ("adapterlib", "adapterlib.core.inject", "adapterlib.core.io", "adapterlib.core.fusion",
                "adapterlib.core.models", "adapterlib.core.trainable", "adapterlib.data.metrics",
                "adapterlib.data.encoding", "adapterlib.data.tasks.registry", "adapterlib.paths")
REPRODUCTION_ONLY = ("datasets", "pandas", "matplotlib", "seaborn", "accelerate", "sklearn", "scipy", "papermill")
DISTRIBUTIONS = {"sklearn": "scikit-learn"}  # import name -> distribution name, where they differ


def _python(code: str) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter on this checkout (not an installed copy), offline."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)


def _requirements(names: list[str]) -> set[str]:
    return {name.split(">")[0].split("<")[0].split("=")[0].split("[")[0].strip().lower() for name in names}


def _third_party_imports(path: Path) -> set[str]:
    """Top-level names of what ``path`` imports, ``if TYPE_CHECKING:`` blocks aside."""
    tree = ast.parse(path.read_text())
    hints = {id(n) for block in ast.walk(tree) if isinstance(block, ast.If) and ast.unparse(block.test) == "TYPE_CHECKING"
             for n in ast.walk(block)}
    names = set()
    for node in ast.walk(tree):
        if id(node) in hints:
            continue
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return {DISTRIBUTIONS.get(n, n).lower() for n in names - set(sys.stdlib_module_names) - {"adapterlib"}}


def _is_core(path: Path) -> bool:
    module = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
    return module in CORE_MODULES or module.startswith("adapterlib.core.")


def test_import_adapterlib_loads_no_reproduction_library():
    result = _python("import adapterlib, sys; assert 'pandas' not in sys.modules and 'matplotlib' not in sys.modules")
    assert result.returncode == 0, result.stderr


def test_core_works_with_the_reproduction_libraries_unimportable(tmp_path):
    result = _python(f"""
        import sys
        for name in {REPRODUCTION_ONLY!r}:
            sys.modules[name] = None  # any import of them now raises ImportError
        import importlib
        for module in {CORE_MODULES!r}:
            importlib.import_module(module)
        import torch
        from transformers import BertConfig, BertForSequenceClassification
        import adapterlib as al
        from adapterlib.data.metrics import compute_metrics
        config = BertConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
                            vocab_size=100)
        model = BertForSequenceClassification(config).eval()
        al.add_adapter(model, "t", al.AdapterConfig.houlsby(size=8))
        al.save_adapter(model, "t", {str(tmp_path / "t")!r})
        al.load_adapter(BertForSequenceClassification(config), {str(tmp_path / "t")!r})
        logits = model(torch.randint(0, 100, (2, 5))).logits
        assert compute_metrics("cola", logits.argmax(-1).tolist(), [0, 1])["score"] is not None
        from adapterlib.cli import main
        assert main(["data", "list"]) == 2  # the commands are the reproduction's: one line naming the extra
    """)
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("\n") == 1 and "pip install 'adapterlib[reproduce]'" in result.stderr


@pytest.fixture(scope="module")
def project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def test_core_modules_import_only_core_dependencies(project):
    core = _requirements(project["dependencies"])
    for path in sorted(PACKAGE.rglob("*.py")):
        if _is_core(path):
            assert _third_party_imports(path) <= core, f"{path.relative_to(ROOT)} needs more than {sorted(core)}"


def test_every_import_of_the_package_is_declared(project):
    declared = _requirements(project["dependencies"]) | _requirements(project["optional-dependencies"]["reproduce"])
    for path in sorted(PACKAGE.rglob("*.py")):
        assert _third_party_imports(path) <= declared, f"{path.relative_to(ROOT)} imports an undeclared library"
    assert not _requirements(project["dependencies"]) & set(REPRODUCTION_ONLY)
