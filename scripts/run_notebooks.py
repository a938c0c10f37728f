"""Execute the numbered notebooks in order, headless, each in a fresh kernel.

    python scripts/run_notebooks.py              # executed copies go to outputs/notebooks/
    python scripts/run_notebooks.py --in-place   # refresh the committed notebooks (maintainers)
    python scripts/run_notebooks.py 03 04        # only the notebooks whose names start so

The committed notebooks are executed in the default (fast) mode with ``--in-place``; their
outputs are what nbval compares against in ``./test.sh``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
OUT = ROOT / "outputs" / "notebooks"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("only", nargs="*", help="prefixes of the notebooks to run (default: all)")
    parser.add_argument("--in-place", action="store_true", help="overwrite the notebooks in notebooks/")
    parser.add_argument("--timeout", type=int, default=1800, help="seconds a cell may take")
    args = parser.parse_args()

    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    paths = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    if args.only:
        paths = [p for p in paths if any(p.name.startswith(prefix) for prefix in args.only)]
    if not paths:
        print("no notebooks to run", file=sys.stderr)
        return 1
    OUT.mkdir(parents=True, exist_ok=True)
    failed = []
    for path in paths:
        start = time.perf_counter()
        notebook = nbformat.read(path, as_version=4)
        client = NotebookClient(
            notebook, timeout=args.timeout, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}},
            extra_arguments=["--IPKernelApp.log_level=ERROR"],  # no start-up notices from the kernel
        )
        try:
            client.execute()
            status = "ok"
        except CellExecutionError as error:
            failed.append(path.name)
            status = f"FAILED: {str(error).strip().splitlines()[-1]}"
        target = path if args.in_place and status == "ok" else OUT / path.name
        nbformat.write(notebook, target)
        print(f"{path.name}: {status} ({time.perf_counter() - start:.0f} s) -> {target.relative_to(ROOT)}", flush=True)
    generated = sorted((ROOT / "outputs" / "generated").glob("*.mid"))
    if generated:
        print(f"generated music: {len(generated)} MIDI file(s) in outputs/generated/, newest {generated[-1].name}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
