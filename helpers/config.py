"""Paths, the fast/full switch and seeding: the configuration every notebook shares.

Notebook 01 introduces the two modes. Nothing here imports TensorFlow, so notebooks 01–03
start fast.
"""

from __future__ import annotations

import contextlib
import os
import random
import re
import sys
from pathlib import Path

import numpy as np

from helpers.errors import OptionError

#: Repository root (the folder holding ``helpers/``, ``data/`` and ``outputs/``).
ROOT = Path(__file__).resolve().parent.parent
#: Folder of the shipped default dataset (``data/midi``).
DATA_DIR = ROOT / "data" / "midi"
#: Environment variable naming another folder for everything the project writes (default
#: ``outputs/``): tests run notebooks into a temporary folder with it, so that the runs and
#: pieces of the committed notebooks stay as they are. Read once, when ``helpers`` is imported.
OUTPUTS_VARIABLE = "MUSICGEN_OUTPUTS"


def outputs_dir() -> Path:
    """The folder everything is written below: ``$MUSICGEN_OUTPUTS`` when set, else ``outputs/``.

    A relative value counts from the current directory; ``~`` is expanded.
    """
    value = os.environ.get(OUTPUTS_VARIABLE, "").strip()
    return Path(value).expanduser().resolve() if value else ROOT / "outputs"


#: Everything the project writes goes below this folder (see :data:`OUTPUTS_VARIABLE`).
OUTPUTS_DIR = outputs_dir()
#: One sub-folder per training run.
RUNS_DIR = OUTPUTS_DIR / "runs"
#: Generated pieces.
GENERATED_DIR = OUTPUTS_DIR / "generated"
#: Figures saved by the notebooks.
FIGURES_DIR = OUTPUTS_DIR / "figures"

#: Environment variable that selects the mode: ``fast`` (default) or ``full``.
MODE_VARIABLE = "MUSICGEN_MODE"
MODES = ("fast", "full")


def mode() -> str:
    """Return the run mode, ``"fast"`` (the default) or ``"full"``.

    The fast mode keeps every notebook to seconds on a laptop; the full mode uses the
    chapter's sizes (more files, 30 epochs, 500 notes). Set ``MUSICGEN_MODE=full`` to choose it.

    Raises:
        OptionError: when the variable holds anything else.
    """
    value = os.environ.get(MODE_VARIABLE, "fast").strip().lower() or "fast"
    if value not in MODES:
        raise OptionError(f"{MODE_VARIABLE}={value!r}: expected one of {', '.join(MODES)}")
    return value


def is_full() -> bool:
    """True when ``MUSICGEN_MODE=full``."""
    return mode() == "full"


def pick(fast, full):
    """Return ``fast`` or ``full`` depending on the mode: ``EPOCHS = pick(3, 30)``."""
    return full if is_full() else fast


def set_seed(seed: int = 42) -> None:
    """Seed Python and NumPy, and TensorFlow with op determinism when it is already imported.

    Notebooks that train call this after importing TensorFlow, so that reruns give the same
    numbers on the same machine.
    """
    random.seed(seed)
    np.random.seed(seed)
    os.environ["PYTHONHASHSEED"] = str(seed)
    import sys

    if "keras" in sys.modules or "tensorflow" in sys.modules:
        import keras
        import tensorflow as tf

        keras.utils.set_random_seed(seed)
        tf.config.experimental.enable_op_determinism()


def import_tensorflow():
    """Import TensorFlow with its runtime started and its C++ start-up chatter silenced.

    TensorFlow's start-up writes timestamped lines ("oneDNN custom operations are on",
    "Could not find cuda drivers") straight to file descriptor 2, whatever
    ``TF_CPP_MIN_LOG_LEVEL`` says; in a notebook they would land in the first cell that
    touches Keras (and nbval compares stderr). Python errors still surface: they are raised
    after stderr is restored. Every helper that needs TensorFlow gets it from here.

    Returns:
        the ``tensorflow`` module.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import sys

    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        import tensorflow as tf

        tf.config.list_physical_devices()
        tf.constant(0) + 0  # the first op initialises the devices: their logs come now
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
    return tf


def ensure_dir(path: Path) -> Path:
    """Create ``path`` (and parents) when missing and return it."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    return path


def show_progress(progress: bool | None = None) -> bool:
    """Whether long work draws a progress bar: ``progress`` if given, else only on a terminal and
    never under pytest (notebooks and logs stay clean)."""
    if progress is not None:
        return progress
    try:
        return sys.stderr.isatty() and "pytest" not in sys.modules
    except (AttributeError, ValueError):  # no stderr, or a closed one
        return False


def write_atomic(path: Path | str, content: str | bytes) -> Path:
    """Write ``content`` to ``path`` through a temporary file in the same folder, then rename it:
    a crash or an error never leaves half a file, and an existing file stays whole until then."""
    with atomic_path(path) as temporary:
        temporary.write_bytes(content.encode() if isinstance(content, str) else content)
    return Path(path)


@contextlib.contextmanager
def atomic_path(path: Path | str):
    """A temporary path beside ``path`` for a writer that needs a file name (music21, soundfile);
    renamed to ``path`` when the block ends without an error, removed when it fails.

    >>> with atomic_path(GENERATED_DIR / "piece.mid") as temporary:  # doctest: +SKIP
    ...     score.write("midi", fp=str(temporary))
    """
    path = Path(path)
    ensure_dir(path.parent)
    temporary = path.with_name(f".{path.stem}.{os.getpid()}.tmp{path.suffix}")  # hidden: never read as music
    try:
        yield temporary
        os.replace(temporary, path)
    finally:
        if temporary.exists():
            temporary.unlink()


def unique_path(folder: Path, stem: str, suffix: str = "") -> Path:
    """Return ``folder/stem-NNN<suffix>`` with the lowest free number, never an existing path.

    >>> unique_path(GENERATED_DIR, "gru", ".mid").name  # doctest: +SKIP
    'gru-001.mid'
    """
    folder = ensure_dir(folder)
    pattern = re.compile(rf"^{re.escape(stem)}-(\d+){re.escape(suffix)}$")
    used = [int(m.group(1)) for p in folder.iterdir() if (m := pattern.match(p.name))]
    number = max(used, default=0) + 1
    while True:
        candidate = folder / f"{stem}-{number:03d}{suffix}"
        try:
            if suffix:
                candidate.touch(exist_ok=False)  # claim the name atomically
            else:
                candidate.mkdir(exist_ok=False)
            return candidate
        except FileExistsError:
            number += 1


def relative(path: Path) -> str:
    """Show ``path`` relative to the repository root (no absolute paths in notebook output)."""
    path = Path(path).resolve()
    try:
        return path.relative_to(ROOT).as_posix()
    except ValueError:
        return path.name
