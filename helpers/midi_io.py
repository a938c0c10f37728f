"""MIDI files → a table of notes: one file, many files, a folder.

Explained in notebook 01 (reading one file) and notebook 02 (the whole folder). The table's
columns are :data:`helpers.constants.NOTE_COLUMNS` (times in quarter lengths). Every pitched part
is read — not only ``partitionByInstrument(s).parts[0]`` as in the chapter, which silently loses
whole files — and drum hits are counted, not kept.

The steps have a module each: :mod:`helpers.midi_files` finds the files, :mod:`helpers.midi_reader`
turns one file's bytes into notes (what a note is, the per-file limits, why a file is skipped),
:mod:`helpers.reader_pool` reads files in worker processes when asked, :mod:`helpers.load_report`
says what was used and what was skipped. Each file is read from disk once.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import random
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from helpers import config, midi_reader, reader_pool
from helpers.constants import NOTE_COLUMNS, tidy_notes
from helpers.load_report import LoadReport, NoUsableMidiError
from helpers.midi_files import display_name, search_folder
from helpers.midi_reader import Extract, Limits, MidiLoadError

if TYPE_CHECKING:  # pandas is imported where tables are built: reader processes start without it
    import pandas as pd


def midi_to_notes(
    path: Path | str, piece: str | None = None, *, limits: Limits | None = None
) -> tuple[pd.DataFrame, dict]:
    r"""Read one MIDI file into a notes table (:data:`helpers.constants.NOTE_COLUMNS`).

    The notes are the file's own note events — every pitched track and channel, times from
    the file's ticks, nothing quantized. ``music21.converter.parse`` is *not* used here: on
    the way to measures and voices it moves some onsets of polyphonic tracks (by up to 12
    quarter notes in one shipped folk tune) and splits notes at bar lines; notebook 01 shows
    it. Drum hits are counted in ``info["drum_hits"]``, not kept.

    Args:
        path: the MIDI file.
        piece: the name written in the ``piece`` column (default: the file name).
        limits: the per-file limits (default :class:`helpers.midi_reader.Limits`\ ``()``; here
            the timeout stops the reader between tracks, in this process).

    Returns:
        ``(notes, info)`` where ``info`` has ``instruments`` (names per part) and ``drum_hits``.

    Raises:
        MidiLoadError: the file is not MIDI, is corrupt, holds no pitched notes or breaks a limit.

    >>> notes, info = midi_to_notes(config.DATA_DIR / "bach_bwv846_prelude.mid")  # doctest: +SKIP
    """
    path, limits = Path(path), limits or Limits()
    try:
        found = midi_reader.bytes_to_extract(midi_reader.file_bytes(path, limits), limits)
    except MidiLoadError as error:
        error.path = path
        raise
    return extracts_to_notes([(piece or path.name, found)]), found.info()


def load_midi_files(
    paths: Iterable[Path | str],
    root: Path | str | None = None,
    *,
    limits: Limits | None = None,
    workers: int | None = None,
    progress: bool | None = None,
    skip_duplicates: bool = True,
) -> tuple[pd.DataFrame, LoadReport]:
    r"""Read many MIDI files into one notes table; a bad file is skipped with its reason, never fatal.

    Every path ends up in ``report.used`` or in ``report.skipped`` with a reason label:
    ``unreadable`` (missing, a link to nowhere, no permission, not a regular file),
    ``not MIDI`` (empty, a web page, random bytes), ``corrupt``, ``no pitched notes``
    (silence or drums only), ``too large``, ``too many notes``, ``too long``, ``too slow``,
    ``reader crashed`` or ``duplicate``. A damaged file whose notes could still be read is used,
    with a ``warning``; one too damaged to trust (see :func:`helpers.midi_reader._trust`) is
    skipped as ``corrupt``. ``str(report)`` says what to do about each reason
    (:data:`helpers.midi_reader.NEXT_STEPS`).

    Args:
        paths: the files.
        root: piece names are written relative to this folder (default: file names).
        limits: the per-file limits (default :class:`helpers.midi_reader.Limits`\ ``()``): a file larger than
            ``max_file_bytes`` ("too large", decided before reading), with more note-ons than
            ``max_notes`` ("too many notes"), a note ending later than ``max_quarters`` ("too
            long"), or taking longer than ``timeout`` seconds ("too slow") is skipped. In
            worker processes a file over time is stopped by ending its process; read here, the
            reader stops itself between tracks.
        workers: processes reading files side by side (:mod:`helpers.reader_pool`), each
            file stopped from outside at the time limit and a crashed reader reported. ``None``
            or ``1`` (default) reads here, one file after the other: faster with the compiled
            reader, which costs less per file than handing the file to a worker process
            (measured by ``python -m benchmarks --stages reading``).
        progress: show a progress bar; ``None`` (default) shows one only on a terminal, never
            in notebooks or tests.
        skip_duplicates: a file with the same bytes as one listed before it is skipped
            ("duplicate"), so that copies do not count twice.

    Returns:
        ``(notes, report)``; ``notes`` may be empty, the report says why.
    """
    if workers is not None and workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    limits = limits or Limits()
    paths = [p if isinstance(p, Path) else Path(p) for p in paths]
    pieces = [display_name(name) for name in _relative_names(paths, root)]
    results: list[Extract | MidiLoadError | None] = [None] * len(paths)
    first_of: dict[bytes, int] = {}  # content's SHA-256 → the first file with that content
    report = LoadReport()

    from tqdm import tqdm

    bar = tqdm(total=len(paths), unit="file", desc="Reading MIDI", disable=not config.show_progress(progress))

    def done(index: int, found: Extract | MidiLoadError) -> None:
        results[index] = found
        bar.update()

    pool = reader_pool.ReaderPool(workers, limits, done) if workers and workers > 1 else None
    handing_over = pool is not None
    # the pool starts its processes on the first file given; leaving it (Ctrl-C included) ends them
    with bar, pool or contextlib.nullcontext():
        for i, path in enumerate(paths):
            try:
                data = midi_reader.file_bytes(path, limits)
                if skip_duplicates:
                    key = hashlib.sha256(data).digest()
                    if key in first_of:
                        raise MidiLoadError("duplicate", f"same content as {pieces[first_of[key]]}")
                    first_of[key] = i
            except MidiLoadError as error:
                done(i, error)
                continue
            if handing_over and pool.submit(i, data):
                continue  # handed to a worker; ``done`` is called when it is read
            handing_over = False  # no worker process could be started (or none asked for): read here from now on
            done(i, _read_here(data, limits))
        if pool is not None:
            pool.finish()

    kept = []
    for piece, found in zip(pieces, results):
        report.add(piece, found)
        if isinstance(found, Extract):
            kept.append((piece, found))
    return extracts_to_notes(kept), report


def _relative_names(paths: list[Path], root: Path | str | None) -> list[str]:
    """Each path relative to ``root`` with ``/`` between folders (file names when no root);
    a path outside ``root`` raises ``ValueError``, as ``Path.relative_to`` does."""
    if root is None:
        return [path.name for path in paths]
    prefix = os.path.join(str(root), "")  # cheaper than Path.relative_to on every path
    return [
        (text[len(prefix) :].replace(os.sep, "/") if text.startswith(prefix) else path.relative_to(root).as_posix())
        for path, text in ((path, str(path)) for path in paths)
    ]


def _read_here(data: bytes, limits: Limits) -> Extract | MidiLoadError:
    try:
        return midi_reader.bytes_to_extract(data, limits)
    except MidiLoadError as error:
        return error


def extracts_to_notes(kept: list[tuple[str, Extract]]) -> pd.DataFrame:
    """One notes table from what the reader got from each file, pieces in the order given."""
    import pandas as pd

    if not kept:
        return tidy_notes(pd.DataFrame(columns=NOTE_COLUMNS))
    counts = np.array([len(extract) for _, extract in kept])
    # text columns: each name once, then taken by number (far cheaper than a string per note)
    piece = pd.array([piece for piece, _ in kept], dtype="str").take(np.repeat(np.arange(len(kept)), counts))
    firsts = np.cumsum([0] + [len(extract.instruments) + 1 for _, extract in kept[:-1]])  # each file's parts, then ""
    instruments = pd.array([name for _, extract in kept for name in extract.instruments + [""]], dtype="str")
    part = np.concatenate([extract.part for _, extract in kept])
    instrument = instruments.take(part + np.repeat(firsts, counts))
    return pd.DataFrame(
        {
            "piece": piece,
            "part": part,
            "instrument": instrument,
            "offset": np.concatenate([e.offset for _, e in kept]),
            "duration": np.concatenate([e.duration for _, e in kept]),
            "pitch": np.concatenate([e.pitch for _, e in kept]),
            "velocity": np.concatenate([e.velocity for _, e in kept]),
        },
        columns=NOTE_COLUMNS,
        copy=False,
    )


def load_midi_folder(
    folder: Path | str | None = None, limit: int | None = None, seed: int | None = None, **kwargs
) -> tuple[pd.DataFrame, LoadReport]:
    """Load a folder of MIDI files (default: the shipped ``data/midi``).

    Args:
        folder: any folder; searched recursively (see :func:`helpers.midi_files.find_midi_files`).
            Sub-folders that cannot be listed are reported as skipped.
        limit: take only this many files — a reproducible random sample when ``seed`` is
            given (the chapter picks 5 at random), else the first ones in name order.
        seed: seed of that sample.
        **kwargs: passed to :func:`load_midi_files` (``limits``, ``workers``, ``progress``,
            ``skip_duplicates``).

    Raises:
        FileNotFoundError: the folder does not exist.
        NoUsableMidiError: no file in it gave any pitched note.
    """
    folder = Path(folder or config.DATA_DIR)
    search = search_folder(folder)
    paths = search.paths
    if limit is not None and limit < len(paths):
        paths = paths[:limit] if seed is None else sorted(random.Random(seed).sample(paths, limit))
    notes, report = load_midi_files(paths, root=folder, **kwargs)
    for piece, reason in search.unreadable:
        report.skipped.append({"piece": display_name(piece), "reason": reason, "label": "unreadable"})
    report.passed_over = [{"piece": display_name(piece), "reason": reason} for piece, reason in search.passed_over]
    if notes.empty:
        raise NoUsableMidiError(folder, len(paths), report)
    return notes, report
