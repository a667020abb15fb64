#!/usr/bin/env python3
"""Look at executed notebooks the way a reader does: in JupyterLab, in a real browser, and keep a PNG of the
first screen of each.

    .venv/bin/python scripts/screenshot_notebooks.py                      # every results/*/*.ipynb
    .venv/bin/python scripts/screenshot_notebooks.py --out /tmp/shots results/cpu/houlsby_table1_glue.ipynb

Starts JupyterLab (this Python's ``jupyterlab``) on a free loopback port with a random token, its root the
project directory (or, for notebooks outside it, their common folder), waits until it answers, opens each notebook
at ``/lab/tree/<path>`` in headless Chromium (``--chromium``, default ``/usr/bin/chromium``) at 1400 x 1000 and
writes ``<out>/<folder>__<notebook>.png``; then stops the server. JupyterLab runs with its own empty settings and
workspace folders (nothing of the user's is read or changed) and with news and update checks off, so no pop-up
covers the notebook. Opening a notebook starts its kernel: where the notebook's kernel (``adapterlib``) is not
registered, one of that name running this Python is provided for the server's lifetime, so JupyterLab shows the
notebook rather than a kernel chooser.
"""
from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parents[1]
WINDOW = (1400, 1000)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def kernel_specs(notebooks: list[Path]) -> set[tuple[str, str]]:
    """(name, display name) of the kernels the notebooks ask for."""
    names = set()
    for path in notebooks:
        spec = json.loads(path.read_text()).get("metadata", {}).get("kernelspec", {})
        if spec.get("name"):
            names.add((spec["name"], spec.get("display_name", spec["name"])))
    return names


def provide_kernels(notebooks: list[Path], where: Path) -> dict[str, str]:
    """Environment additions making every kernel the notebooks name available: those not registered get a
    kernelspec running this Python (``ipykernel``) under ``where`` (put on ``JUPYTER_PATH``)."""
    from jupyter_client.kernelspec import find_kernel_specs

    known = find_kernel_specs()
    missing = [(name, display) for name, display in kernel_specs(notebooks) if name not in known]
    for name, display in missing:
        spec = where / "kernels" / name
        spec.mkdir(parents=True, exist_ok=True)
        (spec / "kernel.json").write_text(json.dumps({
            "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": display, "language": "python"}))
    if not missing:
        return {}
    return {"JUPYTER_PATH": os.pathsep.join(filter(None, [str(where), os.environ.get("JUPYTER_PATH")]))}


def quiet_settings(settings: Path) -> None:
    """JupyterLab user settings that keep pop-ups off the screenshot: no news, no update check."""
    target = settings / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))


def start_lab(root: Path, port: int, token: str, state: Path, env: dict[str, str]) -> subprocess.Popen:
    settings, workspaces = state / "settings", state / "workspaces"
    quiet_settings(settings)
    workspaces.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
               "--ServerApp.port_retries=0", f"--ServerApp.token={token}", f"--ServerApp.root_dir={root}",
               f"--LabApp.user_settings_dir={settings}", f"--LabApp.workspaces_dir={workspaces}"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")
    log = open(state / "jupyterlab.log", "w")  # noqa: SIM115 -- closed with the process
    return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **env},
                            start_new_session=True)


def wait_until_serving(port: int, token: str, process: subprocess.Popen, timeout: float) -> None:
    url = f"http://127.0.0.1:{port}/api/status?token={token}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"JupyterLab exited with status {process.returncode} before serving")
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.5)
    raise RuntimeError(f"JupyterLab did not answer on port {port} within {timeout:.0f} s")


def stop(process: subprocess.Popen) -> None:
    """Stop the server (and the kernels it started: they share its session) gently, then for good."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, 15)
        process.wait(timeout=15)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        try:
            os.killpg(process.pid, 9)
        except ProcessLookupError:
            pass
        process.wait()


def screenshot(chromium: str, url: str, png: Path, budget_ms: int, profile_dir: Path) -> None:
    command = [chromium, "--headless", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
               "--no-default-browser-check", f"--user-data-dir={profile_dir}",
               f"--window-size={WINDOW[0]},{WINDOW[1]}", f"--virtual-time-budget={budget_ms}",
               f"--screenshot={png}", url]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.insert(1, "--no-sandbox")
    done = subprocess.run(command, capture_output=True, text=True, timeout=budget_ms / 1000 + 90)
    if done.returncode != 0 or not png.is_file():
        raise RuntimeError(f"chromium failed on {url.split('?')[0]} (status {done.returncode}): "
                           f"{done.stderr.strip().splitlines()[-1:] or ''}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebooks", nargs="*", type=Path,
                        help="executed notebooks (default: every results/*/*.ipynb of the project)")
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "adapterlib-screenshots",
                        help="folder for the PNGs (default: %(default)s)")
    parser.add_argument("--root", type=Path, help="JupyterLab's root folder (default: the project directory, or "
                                                   "the notebooks' common folder when they lie outside it)")
    parser.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    parser.add_argument("--wait", type=float, default=20.0,
                        help="seconds of the page's (virtual) time before the screenshot (default: %(default)s)")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for JupyterLab to serve")
    args = parser.parse_args(argv)

    notebooks = [p.resolve() for p in args.notebooks] or sorted(ROOT.glob("results/*/*.ipynb"))
    if not notebooks:
        parser.error("no notebooks given and none under results/*/")
    missing = [str(p) for p in notebooks if not p.is_file()]
    if missing:
        parser.error(f"not a file: {', '.join(missing)}")
    root = (args.root.resolve() if args.root
            else ROOT if all(p.is_relative_to(ROOT) for p in notebooks)
            else Path(os.path.commonpath([str(p.parent) for p in notebooks])))
    outside = [str(p) for p in notebooks if not p.is_relative_to(root)]
    if outside:
        parser.error(f"outside the root {root}: {', '.join(outside)}")
    args.out.mkdir(parents=True, exist_ok=True)

    port, token = free_port(), secrets.token_urlsafe(24)
    with tempfile.TemporaryDirectory(prefix="adapterlib-lab-") as scratch:
        state = Path(scratch)
        lab = start_lab(root, port, token, state, provide_kernels(notebooks, state / "jupyter"))
        written, failed = [], 0
        try:
            wait_until_serving(port, token, lab, args.timeout)
            for path in notebooks:
                relative = path.relative_to(root)
                png = args.out / f"{'__'.join(relative.parent.parts + (relative.stem,))}.png"
                url = f"http://127.0.0.1:{port}/lab/tree/{quote(relative.as_posix())}?token={token}&reset"
                try:
                    screenshot(args.chromium, url, png, int(args.wait * 1000), state / "chromium")
                except (RuntimeError, subprocess.TimeoutExpired) as err:
                    print(f"screenshot_notebooks: {relative}: {err}", file=sys.stderr)
                    failed += 1
                    continue
                written.append(png)
                print(f"{relative} -> {png}")
        finally:
            stop(lab)
    print(f"{len(written)} screenshot(s) in {args.out}" + (f"; {failed} failed" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
