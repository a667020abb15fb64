"""The executed notebooks committed under results/<profile>/ read well on GitHub and in JupyterLab: few outputs,
a small file, nothing of the machine they ran on (no absolute path), no terminal redraws (no carriage return in a
stream, no escape codes) and the project's kernel. ``notebook_problems`` is also applied to freshly executed smoke
notebooks (tests/test_notebooks.py), so a regenerated result cannot fall back."""
from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from conftest import stale_marks

REPO = Path(__file__).resolve().parents[1]
COMMITTED = sorted(REPO.glob("results/*/*.ipynb"))
MAX_OUTPUTS = 60
MAX_BYTES = 600_000  # 600 KB (powers of 1000, as costs.human_bytes counts)
KERNEL = "adapterlib"
# An absolute path of a machine: a POSIX root folder that holds user or scratch data, or a Windows drive, where it
# starts a path (not inside a URL or a relative path: "https://host/home/", "a/tmp/b" do not count).
ABSOLUTE_PATH = re.compile(r"(?<![\w.~/:-])(?:/(?:tmp|work|home|root|Users|var/folders|private|mnt|scratch|opt)/"
                           r"|[A-Za-z]:\\)")
BINARY = ("image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf")  # base64: any letters occur


def _strings(value, skip_binary: bool = True):
    """Every string in a notebook's JSON, but base64 images (their alphabet can spell anything)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item, skip_binary)
    elif isinstance(value, dict):
        for key, item in value.items():
            if not (skip_binary and key in BINARY):
                yield from _strings(item, skip_binary)


def notebook_problems(path: Path, kernel: str | None = KERNEL) -> list[str]:
    """What breaks the committed-notebook contract in the executed notebook at ``path`` (empty: none).
    ``kernel``: the kernelspec name it must carry (None: not checked)."""
    nb = nbformat.read(path, as_version=4)
    problems = []
    size = path.stat().st_size
    if size > MAX_BYTES:
        problems.append(f"{size / 1000:.0f} KB, over {MAX_BYTES / 1000:.0f} KB")
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    if len(outputs) > MAX_OUTPUTS:
        problems.append(f"{len(outputs)} outputs, over {MAX_OUTPUTS}")
    redraws = sum("\r" in "".join(o.get("text", "")) for o in outputs if o.get("output_type") == "stream")
    if redraws:
        problems.append(f"{redraws} stream output(s) with a carriage return (a progress bar redrawn in place)")
    texts = list(_strings(nb))
    escapes = sum("\x1b[" in text for text in texts)
    if escapes:
        problems.append(f"{escapes} string(s) with terminal escape codes")
    paths = sorted({m.group(0) + text[m.end():m.end() + 40].split("\n")[0] for text in texts
                    for m in ABSOLUTE_PATH.finditer(text)})
    if paths:
        problems.append(f"{len(paths)} absolute path(s), e.g. {paths[0]!r}")
    name = nb.metadata.get("kernelspec", {}).get("name")
    if kernel is not None and name != kernel:
        problems.append(f"kernelspec {name!r}, not {kernel!r}")
    return problems


def _case(path: Path):
    return pytest.param(path, marks=stale_marks(path.parent.name), id=str(path.relative_to(REPO)))


@pytest.mark.parametrize("path", [_case(p) for p in COMMITTED])
def test_committed_notebook_is_small_clean_and_names_the_project_kernel(path):
    problems = notebook_problems(path)
    assert not problems, f"{path.relative_to(REPO)}: " + "; ".join(problems)


def test_the_contract_catches_what_it_names(tmp_path):
    """The checker itself, on a notebook that breaks every rule once, and on one that keeps them."""
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                           "language": "python"}})
    cell = nbformat.v4.new_code_cell("x")
    cell.outputs = [nbformat.v4.new_output("stream", name="stderr", text="epoch 1\repoch 2\n"),
                    nbformat.v4.new_output("stream", name="stdout", text="\x1b[31mred\x1b[0m\n"),
                    nbformat.v4.new_output("execute_result", data={"text/plain": "[PosixPath('/tmp/x/a.png')]"},
                                           execution_count=1)]
    cell.outputs += [nbformat.v4.new_output("stream", name="stdout", text="ok\n")] * MAX_OUTPUTS
    nb.cells.append(cell)
    nb.metadata["papermill"] = {"output_path": "C:\\Users\\me\\out.ipynb"}
    bad = tmp_path / "bad.ipynb"
    nbformat.write(nb, bad)
    problems = " | ".join(notebook_problems(bad))
    for words in ("outputs, over", "carriage return", "escape codes", "absolute path", "kernelspec 'python3'"):
        assert words in problems, words
    good = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": KERNEL, "display_name": "adapterlib (.venv)",
                                                             "language": "python"}})
    cell = nbformat.v4.new_code_cell("x")
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout",
                                           text="see https://example.org/home/page and results/cpu/a.png\n"),
                    nbformat.v4.new_output("display_data", data={"image/png": "iVBOR/tmp/home/AAAA",
                                                                 "text/plain": "<Figure>"})]
    good.cells.append(cell)
    nbformat.write(good, tmp_path / "good.ipynb")
    assert notebook_problems(tmp_path / "good.ipynb") == []
    big = tmp_path / "big.ipynb"
    big.write_text(nbformat.writes(good) + " " * MAX_BYTES)
    assert "KB, over" in " | ".join(notebook_problems(big))
