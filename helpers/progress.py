"""Progress of a long cell: one line that changes while a model trains, then goes away.

Notebooks 05, 07, 08 and 09 train models for up to a minute or more in the fast mode. While
they do, :func:`watch_training` shows one line under the cell — ``epoch 3/12 · loss 2.913 ·
val_loss 3.104`` — and clears it when training ends, so the committed notebooks hold the
same (empty) output on every run and nbval stays strict.

It reads the run's own ``history.csv``, which :func:`helpers.training.train` appends one row
to after every epoch, so it needs no hook into the training code::

    with progress.watch_training(EPOCHS):
        history = training.train(model, vocab, train_codes, val_codes, run_dir, epochs=EPOCHS)

Outside a Jupyter kernel (a script, a test, the command line) it shows nothing.
Nothing here imports TensorFlow.
"""

from __future__ import annotations

import contextlib
import contextvars
import csv
import threading
import time
from pathlib import Path

from helpers import config

#: Seconds between two looks at the history file.
POLL_SECONDS = 0.5


def _in_kernel() -> bool:
    """True inside a Jupyter kernel (JupyterLab, nbclient, papermill), False elsewhere."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython comes with Jupyter
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def _display(text: str, display_id: str | None = None) -> str | None:
    """Show ``text`` as a new output, or replace the output ``display_id``; return its id."""
    from IPython.display import display, update_display

    bundle = {"text/plain": text}
    if display_id is None:
        return display(bundle, raw=True, display_id=True).display_id
    update_display(bundle, raw=True, display_id=display_id)
    return display_id


class ProgressLine:
    """One line of output under the running cell that can be rewritten and finally cleared.

    In a kernel the line is an IPython display with an id; every :meth:`update` replaces it,
    :meth:`clear` leaves it empty (an empty output, the same on every run). Elsewhere both do
    nothing. ``text`` always holds the last line given.
    """

    def __init__(self, enabled: bool | None = None):
        self.enabled = _in_kernel() if enabled is None else enabled
        self.text = ""
        self._id = _display("") if self.enabled else None

    def update(self, text: str) -> None:
        """Show ``text`` in place of the previous line (nothing is sent when it is the same)."""
        if text == self.text:
            return
        self.text = text
        if self.enabled:
            _display(text, self._id)

    def clear(self) -> None:
        """Leave the line empty."""
        self.update("")


def newest_history(runs_dir: Path, since: float) -> Path | None:
    """The ``history.csv`` below ``runs_dir`` (any run, any depth) written last at or after ``since``.

    Args:
        runs_dir: the folder of run folders (``config.RUNS_DIR``).
        since: a :func:`time.time` value; older files are not counted.
    """
    found = [(p.stat().st_mtime, p) for p in Path(runs_dir).glob("**/history.csv") if p.stat().st_mtime >= since]
    return max(found)[1] if found else None


def history_line(path: Path, epochs: int | None = None) -> str:
    """One line saying how far a run is: ``epoch 3/12 · loss 2.913 · val_loss 3.104``.

    Args:
        path: a ``history.csv`` (columns ``epoch`` counted from 0 by Keras' logger, ``loss``
            and optionally ``val_loss``).
        epochs: the epochs the run will take at most (``None``: not shown).
    """
    with open(path, newline="") as file:
        rows = list(csv.DictReader(file))
    if not rows:
        return f"epoch 0/{epochs}" if epochs else "epoch 0"
    last = rows[-1]
    parts = [f"epoch {len(rows)}/{epochs}" if epochs else f"epoch {len(rows)}"]
    for column in ("loss", "val_loss"):
        with contextlib.suppress(KeyError, TypeError, ValueError):
            parts.append(f"{column} {float(last[column]):.3f}")
    return " · ".join(parts)


@contextlib.contextmanager
def watch_training(epochs: int | None = None, label: str = "", runs_dir: Path | None = None, line: ProgressLine | None = None):
    """Show how far the training inside the ``with`` block is, then clear the line.

    A background thread looks every :data:`POLL_SECONDS` at the newest ``history.csv`` below
    ``runs_dir`` written since the block began, and shows its last epoch and losses.

    Args:
        epochs: the epochs the run will take at most, for ``epoch n/epochs``.
        label: words put before the line, e.g. ``"LSTM: "``.
        runs_dir: where the runs are (default: ``config.RUNS_DIR``).
        line: the line to write to (default: a new :class:`ProgressLine`).

    Yields:
        the :class:`ProgressLine`.
    """
    runs_dir = Path(runs_dir or config.RUNS_DIR)
    line = line or ProgressLine()
    since = time.time() - 1.0  # file systems store modification times coarsely
    stop = threading.Event()
    line.update(f"{label}training…")

    def poll() -> None:
        while not stop.wait(POLL_SECONDS):
            with contextlib.suppress(OSError, ValueError):
                path = newest_history(runs_dir, since)
                if path is not None:
                    line.update(label + history_line(path, epochs))

    # the copied context carries the cell the output belongs to (ipykernel keeps it in a contextvar)
    thread = threading.Thread(target=contextvars.copy_context().run, args=(poll,), daemon=True)
    thread.start()
    try:
        yield line
    finally:
        stop.set()
        thread.join()
        line.clear()
