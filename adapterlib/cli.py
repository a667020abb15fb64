"""The `adapterlib` command: `adapterlib data list|prepare`, `adapterlib reproduce`."""
from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    from .reproduce import add_reproduce_command
    from .tasks.cli import add_data_commands

    parser = argparse.ArgumentParser(prog="adapterlib", description=__doc__)
    subparsers = parser.add_subparsers(dest="command", required=True)
    add_data_commands(subparsers)
    add_reproduce_command(subparsers)
    args = parser.parse_args(argv)
    try:
        return args.func(args) or 0
    except (ValueError, RuntimeError) as err:  # our own clear errors: one line, no traceback
        print(f"adapterlib: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
