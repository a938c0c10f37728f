"""Find MIDI files, read them into a table of notes, cache what was read, report what was lost.

Explained in notebook 01 (reading one file) and notebook 02 (the whole folder).

The table of notes has one row per sounding note, with times in **quarter lengths** (music21's
unit) measured from the start of the piece:

=========== ======= ==========================================================
column      dtype   meaning
=========== ======= ==========================================================
piece       str     file name relative to the folder that was loaded
part        int     index of the part (MIDI track/channel) the note came from
instrument  str     that part's instrument name ("" when the file names none)
offset      float   onset, quarter lengths from the start of the piece
duration    float   length in quarter lengths (0 for a note released where it starts)
pitch       int     MIDI note number, 0..127 inclusive
velocity    int     MIDI velocity, 1..127 inclusive
=========== ======= ==========================================================

Every pitched part is read — not only ``partitionByInstrument(s).parts[0]`` as in the chapter,
which silently loses whole files — and drum hits (MIDI channel 10) are counted, not kept.

How a file's events become notes (what a note is, the three readers, the per-file limits)
is the business of :mod:`helpers.midi_reader`; this module finds the files, caches what was
read, reads many files in worker processes and reports what was used and what was skipped.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

import numpy as np

from helpers import config
from helpers.errors import MusicGenError
from helpers.midi_reader import (
    MAX_FILE_BYTES,
    MAX_NOTES,
    MAX_QUARTERS,
    TIMEOUT_S,
    Extract,
    Limits,
    Skip,
    file_bytes,
    read_file,
    resolve_reader,
)

if TYPE_CHECKING:  # pandas is imported where tables are built: reader processes start without it
    import pandas as pd

#: File endings taken as MIDI, compared in lower case.
MIDI_SUFFIXES = (".mid", ".midi")
#: Columns of the notes table, in order.
NOTE_COLUMNS = ["piece", "part", "instrument", "offset", "duration", "pitch", "velocity"]
#: Bumped whenever extraction changes, so that old cache entries are not reused.
EXTRACTOR_VERSION = 4

#: With ``workers=None``, files are read in worker processes only when at least this many
#: files have to be read (each worker takes about a quarter of a second to start).
PARALLEL_MIN_FILES = 500
#: Most worker processes started by ``workers=None``.
MAX_WORKERS = 8
#: At most this many skipped files are listed one by one in ``str(report)``.
REPORT_LIST_LIMIT = 20
#: What to do about a file skipped for each reason, where there is something to do. Limits are
#: named as in Python, then as on the command line.
NEXT_STEPS = {
    "unreadable": "check that the file (or the file a link leads to) exists and that you may read it",
    "not MIDI": "export it as MIDI (.mid) from the program that made it, or move it out of the folder",
    "corrupt": "download it again, or open it in a MIDI editor and save it anew",
    "too large": "raise max_file_bytes (command line: --max-file-mb) to read it",
    "too many notes": "raise max_notes (command line: --max-notes) to read it",
    "too long": "raise max_quarters (command line: --max-quarters) to read it",
    "too slow": "raise timeout (command line: --timeout, 0 for none) to read it",
    "reader crashed": "read it with reader='music21' to see whether music21 can",
    "duplicate": "",
    "no pitched notes": "",
}


class MidiError(MusicGenError):
    """Base class of the errors raised while reading MIDI."""


class MidiLoadError(MidiError):
    """One file could not be used; ``reason`` is a short label, the message says what to do.

    Labels: ``"unreadable"``, ``"not MIDI"``, ``"corrupt"``, ``"no pitched notes"``,
    ``"too large"``, ``"too many notes"``, ``"too long"``, ``"too slow"``, ``"reader crashed"``,
    ``"duplicate"``.
    """

    def __init__(self, path: Path | str, reason: str, detail: str = ""):
        self.path = Path(path)
        self.reason = reason
        self.detail = detail
        message = f"{self.path.name}: {reason}"
        if detail:
            message += f" ({detail})"
        if NEXT_STEPS.get(reason):
            message += f"; {NEXT_STEPS[reason]}"
        super().__init__(message)


class NoUsableMidiError(MidiError):
    """A folder gave no usable music at all: training cannot start.

    The message lists the files and their reasons (up to :data:`REPORT_LIST_LIMIT`), what to
    do about each reason, and where to point the loader instead; ``report`` holds them all.
    """

    def __init__(self, folder: Path | str, candidates: int, report: LoadReport, more: str = "see error.report.to_frame()"):
        self.folder, self.candidates, self.report = Path(folder), candidates, report
        super().__init__(self.message(more=more))

    def message(self, limit: int | None = None, more: str = "see error.report.to_frame()") -> str:
        """The whole message, listing up to ``limit`` files (default :data:`REPORT_LIST_LIMIT`; None: all)."""
        tally = ", ".join(f"{count:,} {label}" for label, count in self.report.reasons.items()) or "no MIDI files"
        return (
            f"No usable MIDI in {self.folder}: {self.candidates} candidate files, none with pitched notes ({tally}).\n"
            + self.report.to_text(REPORT_LIST_LIMIT if limit is None else limit, more)
            + "\nPoint the loader at a folder of .mid/.midi files (searched with its sub-folders)."
        )


# ----------------------------------------------------------------------------- finding files


def _display_name(text: str) -> str:
    """A file name that can always be printed: bytes that are not UTF-8 become U+FFFD."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _walk_midi(folder: Path) -> tuple[list[Path], list[tuple[str, str]], list[tuple[str, str]]]:
    """Paths of MIDI candidates below ``folder``, the folders that could not be listed, and what
    was passed over on purpose (``(name, reason)`` pairs: see :func:`find_midi_files`)."""
    found, problems, passed_over, seen = [], [], [], set()
    stack = [folder]
    while stack:
        here = stack.pop()
        try:
            info = os.stat(here)
            if (info.st_dev, info.st_ino) in seen:  # a link back to a folder already walked
                passed_over.append((here.relative_to(folder).as_posix() + "/", "a link to a folder searched already"))
                continue
            seen.add((info.st_dev, info.st_ino))
            with os.scandir(here) as listing:
                entries = sorted(listing, key=lambda entry: entry.name, reverse=True)  # popped in name order
        except OSError as error:
            problems.append((here.relative_to(folder).as_posix() + "/", f"unreadable folder ({error.strerror})"))
            continue
        for entry in entries:
            try:
                is_dir = entry.is_dir()  # follows links; a dangling link is not a folder
            except OSError:
                is_dir = False
            if entry.name.startswith("."):  # hidden: .git, macOS "._song.mid" resource forks
                name = Path(entry.path).relative_to(folder).as_posix()
                if is_dir:
                    passed_over.append((name + "/", "a hidden folder (its name starts with '.'), not searched"))
                elif entry.name.lower().endswith(MIDI_SUFFIXES):
                    fork = entry.name.startswith("._")
                    passed_over.append((name, "a macOS resource fork ('._' file), not music" if fork
                                        else "a hidden file (its name starts with '.')"))
                continue
            if is_dir:
                stack.append(Path(entry.path))  # even when named like "x.mid"
            elif entry.name.lower().endswith(MIDI_SUFFIXES):
                found.append(Path(entry.path))  # regular files, and odd entries the loader reports
    order = sorted(found, key=lambda p: p.relative_to(folder).as_posix())
    return order, problems, sorted(passed_over)


def find_midi_files(folder: Path | str) -> list[Path]:
    """List the MIDI files below ``folder``, searched recursively, sorted by relative path.

    Names ending in ``.mid`` or ``.midi`` in any letter case count, with spaces or any
    characters. On purpose:

    - hidden files and folders (names starting with ``.``, such as ``.git`` or macOS's
      ``._song.mid`` resource forks) are passed over; :func:`load_midi_folder` names them
      (hidden folders, and hidden files named like MIDI) in ``report.passed_over``;
    - a folder named like a MIDI file (``album.mid/``) is searched, not read;
    - links to folders are followed, each folder walked once, so a link loop ends (the link
      that leads back is named in ``report.passed_over`` too);
    - links that point nowhere, unreadable files and special files (a FIFO named ``x.mid``)
      *are* listed: :func:`load_midi_files` reports each as skipped with its reason.

    Args:
        folder: the folder to search.

    Raises:
        FileNotFoundError: ``folder`` does not exist or is not a folder.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"MIDI folder not found: {folder}")
    return _walk_midi(folder)[0]


def midi_to_notes(
    path: Path | str,
    piece: str | None = None,
    *,
    reader: str = "auto",
    max_file_bytes: int = MAX_FILE_BYTES,
    max_notes: int = MAX_NOTES,
    max_quarters: float = MAX_QUARTERS,
    timeout: float | None = TIMEOUT_S,
) -> tuple[pd.DataFrame, dict]:
    """Read one MIDI file into a notes table (see the module docstring for what a note is).

    The notes are the file's own note events — every pitched track and channel, times from
    the file's ticks, nothing quantized. ``music21.converter.parse`` is *not* used here: on
    the way to measures and voices it moves some onsets of polyphonic tracks (by up to 12
    quarter notes in one shipped folk tune) and splits notes at bar lines; notebook 01 shows
    it. Drum hits (channel 10) are counted in ``info["drum_hits"]``, not kept.

    Args:
        path: the MIDI file.
        piece: the name written in the ``piece`` column (default: the file name).
        reader: ``"auto"``/``"fast"``, ``"music21"`` or ``"symusic"`` (see the module docstring).
        max_file_bytes, max_notes, max_quarters, timeout: limits, see :func:`load_midi_files`
            (here the timeout stops the reader between events, in this process).

    Returns:
        ``(notes, info)`` where ``info`` has ``instruments`` (names per part) and ``drum_hits``.

    Raises:
        MidiLoadError: the file is not MIDI, is corrupt, holds no pitched notes or breaks a limit.

    >>> notes, info = midi_to_notes(config.DATA_DIR / "bach_bwv846_prelude.mid")  # doctest: +SKIP
    """
    path = Path(path)
    reader = resolve_reader(reader)
    limits = Limits(max_file_bytes, max_notes, max_quarters, timeout)
    found = read_file(str(path), reader, limits)
    if isinstance(found, Skip):
        raise MidiLoadError(path, found.reason, found.detail)
    return _join([(piece or path.name, found)]), found.info()


def tidy_notes(notes: pd.DataFrame) -> pd.DataFrame:
    """Give a notes table its dtypes and its order (by onset, then pitch)."""
    notes = notes.astype(
        {"part": "int16", "offset": "float64", "duration": "float64", "pitch": "int16", "velocity": "int16"}
    )
    return notes.sort_values(["offset", "pitch", "part"], kind="stable").reset_index(drop=True)


# ----------------------------------------------------------------------------- cache

#: Skip reasons that depend on the file's content alone, and so are cached.
_CACHED_SKIPS = ("corrupt", "no pitched notes")
_CACHE_ARRAYS = {"part": "<i2", "offset": "<f8", "duration": "<f8", "pitch": "<i2", "velocity": "<i2"}


def _cache_key(data: bytes, reader: str) -> str:
    digest = hashlib.sha256(f"extractor={EXTRACTOR_VERSION};reader={reader};".encode())
    digest.update(data)
    return digest.hexdigest()


def _cache_read(file: Path) -> Extract | Skip | None:
    """One cache entry: a JSON header line, then the columns as little-endian arrays."""
    try:
        blob = file.read_bytes()
        newline = blob.index(b"\n")
        header = json.loads(blob[:newline])
        if header["version"] != EXTRACTOR_VERSION:
            return None
        if "skip" in header:
            return Skip(*header["skip"])
        count, pos, columns = header["notes"], newline + 1, {}
        for name, dtype in _CACHE_ARRAYS.items():
            size = count * np.dtype(dtype).itemsize
            columns[name] = np.frombuffer(blob, dtype=dtype, count=count, offset=pos).astype(dtype[1:])
            pos += size
        parts = columns["part"]
        if pos != len(blob) or (count and not 0 <= parts.min() <= parts.max() < len(header["instruments"])):
            return None
        return Extract(
            **columns, instruments=header["instruments"], drum_hits=header["drum_hits"], warnings=header["warnings"]
        )
    except (OSError, ValueError, KeyError, TypeError, IndexError):
        return None  # a damaged entry is simply read again from the MIDI file


def _cache_write(file: Path, found: Extract | Skip) -> None:
    if isinstance(found, Skip):
        header = {"version": EXTRACTOR_VERSION, "skip": [found.reason, found.detail]}
        payload = b""
    else:
        header = {
            "version": EXTRACTOR_VERSION,
            "notes": len(found),
            "instruments": found.instruments,
            "drum_hits": found.drum_hits,
            "warnings": found.warnings,
            "columns": {name: dtype for name, dtype in _CACHE_ARRAYS.items()},
        }
        payload = b"".join(getattr(found, name).astype(dtype).tobytes() for name, dtype in _CACHE_ARRAYS.items())
    try:
        config.ensure_dir(file.parent)
        temporary = file.with_suffix(f".tmp{os.getpid()}")
        temporary.write_bytes(json.dumps(header, separators=(",", ":")).encode() + b"\n" + payload)
        os.replace(temporary, file)  # atomic: a crash never leaves half an entry
    except OSError:
        pass  # a read-only or full disk costs the cache, not the load


def _check_limits(found: Extract, limits: Limits) -> Skip | None:
    """A cached extract must still satisfy this load's limits."""
    if len(found) + found.drum_hits > limits.max_notes:
        return Skip("too many notes", f"over the limit of {limits.max_notes:,} note-ons")
    if len(found) and float((found.offset + found.duration).max()) > limits.max_quarters:
        return Skip("too long", f"over the limit of {limits.max_quarters:,.0f} quarter lengths")
    return None


# ----------------------------------------------------------------------------- worker processes

def _worker_loop() -> None:
    """Body of a reader process started by :class:`_Pool`: jobs come on stdin, results go to stdout.

    The process runs only this module (``python -c``), never the caller's script, so a script
    without an ``if __name__ == "__main__"`` guard is not run again in each worker.
    """
    import pickle

    jobs, results = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # a stray print must not land in the stream of results
    reader, limits = pickle.load(jobs)
    if reader == "music21":  # imported before the first file, so that its clock is the file's alone
        import music21.midi  # noqa: F401
    elif reader == "symusic":
        import symusic  # noqa: F401
    pickle.dump("ready", results)
    results.flush()
    while True:
        try:
            job = pickle.load(jobs)
        except EOFError:
            return
        if job is None:
            return
        index, path = job
        pickle.dump((index, read_file(path, reader, limits)), results, protocol=pickle.HIGHEST_PROTOCOL)
        results.flush()


def _cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


class _PoolBroken(Exception):
    """A reader process died before it could take any file."""


class _Worker:
    """One reader process and the file it is reading."""

    def __init__(self, reader: str, limits: Limits):
        import pickle
        import subprocess

        environment = dict(os.environ)
        paths = [str(config.ROOT)] + ([environment["PYTHONPATH"]] if environment.get("PYTHONPATH") else [])
        environment["PYTHONPATH"] = os.pathsep.join(paths)
        self.process = subprocess.Popen(
            [sys.executable, "-c", "from helpers.midi_io import _worker_loop; _worker_loop()"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=environment,
        )
        self.job: tuple[int, str, float | None] | None = None  # (index, path, deadline)
        self.ready = False
        pickle.dump((reader, limits), self.process.stdin)
        self.process.stdin.flush()

    def send(self, index: int, path: str, deadline: float | None) -> None:
        import pickle

        self.job = (index, path, deadline)
        pickle.dump((index, path), self.process.stdin)
        self.process.stdin.flush()

    def receive(self):
        """The next message; ``EOFError`` when the process died."""
        import pickle

        try:
            return pickle.load(self.process.stdout)
        except (EOFError, OSError, pickle.UnpicklingError):
            raise EOFError from None

    def stop(self, kill: bool = False) -> None:
        try:
            if not kill:
                import pickle

                pickle.dump(None, self.process.stdin)
                self.process.stdin.close()
                self.process.wait(timeout=2)
        except Exception:  # noqa: BLE001 - whatever went wrong, the process is killed below
            pass
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            try:
                stream.close()
            except OSError:
                pass


class _Pool:
    """A few reader processes, each given one file at a time; a file over time kills its process."""

    def __init__(self, workers: int, reader: str, limits: Limits):
        self.reader, self.limits = reader, limits
        self.workers = [_Worker(reader, limits) for _ in range(workers)]

    def run(self, jobs: list[tuple[int, str]], done) -> None:
        """Read every ``(index, path)``; call ``done(index, result)`` as each file finishes."""
        from multiprocessing.connection import wait

        queue = list(reversed(jobs))
        timeout = self.limits.timeout
        while queue or any(w.job for w in self.workers):
            for worker in self.workers:
                if worker.ready and worker.job is None and queue:
                    index, path = queue.pop()
                    worker.send(index, path, time.monotonic() + timeout if timeout else None)
            waiting = [w for w in self.workers if w.job or not w.ready]
            deadlines = [w.job[2] for w in waiting if w.job and w.job[2] is not None]
            wait_s = max(0.0, min(deadlines) - time.monotonic()) if deadlines else None
            readable = wait([w.process.stdout for w in waiting], timeout=wait_s)
            for worker in [w for w in waiting if w.process.stdout in readable]:
                try:
                    message = worker.receive()
                except EOFError:
                    if not worker.ready:
                        raise _PoolBroken() from None
                    code = worker.process.wait()
                    done(worker.job[0], Skip("reader crashed", f"the reader process died (exit code {code})"))
                    self.replace(worker)
                    continue
                if not worker.ready:
                    worker.ready = True
                    continue
                worker.job = None
                done(*message)
            now = time.monotonic()
            for worker in self.workers:
                if worker.job and worker.job[2] is not None and now > worker.job[2]:
                    index = worker.job[0]
                    self.replace(worker)
                    done(index, Skip("too slow", f"over the limit of {timeout:g} s per file; stopped"))

    def replace(self, worker: _Worker) -> None:
        worker.stop(kill=True)
        self.workers[self.workers.index(worker)] = _Worker(self.reader, self.limits)

    def close(self) -> None:
        for worker in self.workers:
            worker.stop(kill=worker.job is not None)
        self.workers = []


# ----------------------------------------------------------------------------- folders


@dataclass
class LoadReport:
    """What a load used and what it skipped, with the reason. Shown in notebook 02.

    ``used`` holds one dict per file used (``piece``, ``notes``, ``drum_hits``, and ``warning``
    when the file was damaged and what could be read was kept); ``skipped`` one dict per file
    left out (``piece``, ``reason``: a label such as ``"corrupt"`` with details in brackets,
    and the bare ``label``). ``from_cache`` counts the files whose notes came from the cache.
    ``passed_over`` names what the folder search passed over on purpose (``piece``, ``reason``:
    hidden files and folders, links back to a folder already searched); these are no candidates.
    """

    used: list[dict] = field(default_factory=list)
    skipped: list[dict] = field(default_factory=list)
    from_cache: int = 0
    passed_over: list[dict] = field(default_factory=list)

    @property
    def notes_kept(self) -> int:
        return sum(entry["notes"] for entry in self.used)

    @property
    def drum_hits(self) -> int:
        return sum(entry["drum_hits"] for entry in self.used)

    @property
    def reasons(self) -> dict[str, int]:
        """How many files were skipped for each reason label, most frequent first (ties by name)."""
        counts = Counter(entry.get("label", entry["reason"]) for entry in self.skipped)
        return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))

    def to_frame(self) -> pd.DataFrame:
        """One row per file: piece, status (``used``, ``skipped`` or ``passed over``), notes, drum hits, reason.

        A used file's reason is empty, or says what was damaged in it.
        """
        rows = [
            {
                "piece": e["piece"],
                "status": "used",
                "notes": e["notes"],
                "drum_hits": e["drum_hits"],
                "reason": e.get("warning", ""),
            }
            for e in self.used
        ] + [
            {"piece": e["piece"], "status": "skipped", "notes": 0, "drum_hits": 0, "reason": e["reason"]}
            for e in self.skipped
        ] + [
            {"piece": e["piece"], "status": "passed over", "notes": 0, "drum_hits": 0, "reason": e["reason"]}
            for e in self.passed_over
        ]
        import pandas as pd

        return pd.DataFrame(rows, columns=["piece", "status", "notes", "drum_hits", "reason"])

    def to_csv(self, path: Path | str) -> Path:
        """Write :meth:`to_frame` as CSV, with a ``label`` column (the bare reason label) and a
        ``next_step`` column (what to do, where there is something); written atomically."""
        frame = self.to_frame()
        labels = [""] * len(self.used) + [e.get("label", e["reason"]) for e in self.skipped]
        frame["label"] = labels + ["passed over"] * len(self.passed_over)
        frame["next_step"] = [NEXT_STEPS.get(label, "") for label in frame["label"]]
        return config.write_atomic(path, frame.to_csv(index=False))

    def __str__(self) -> str:
        return self.to_text()

    def to_text(self, limit: int | None = REPORT_LIST_LIMIT, more: str = "see report.to_frame()") -> str:
        """The report as text: a summary line, then damaged and skipped files (``limit`` of each;
        ``None``: all), what was passed over on purpose, and what to do about each reason.

        Args:
            limit: most files listed of each kind.
            more: where the rest can be seen, said after "... and N more skipped".
        """
        limit = len(self.used) + len(self.skipped) + len(self.passed_over) if limit is None else limit
        total = len(self.used) + len(self.skipped)
        lines = [
            f"Used {len(self.used)} of {total} files: {self.notes_kept:,} notes kept, "
            f"{self.drum_hits:,} drum hits left out."
        ]
        repaired = [e for e in self.used if e.get("warning")]
        for entry in repaired[:limit]:
            lines.append(f"  damaged, kept what could be read: {entry['piece']}: {entry['warning']}")
        if len(repaired) > limit:
            lines.append(f"  ... and {len(repaired) - limit:,} more damaged files ({more})")
        for entry in self.skipped[:limit]:
            lines.append(f"  skipped {entry['piece']}: {entry['reason']}")
        if len(self.skipped) > limit:
            lines.append(f"  ... and {len(self.skipped) - limit:,} more skipped ({more})")
            tally = ", ".join(f"{count:,} {label}" for label, count in self.reasons.items())
            lines.append(f"Skipped {len(self.skipped):,} files: {tally}.")
        for entry in self.passed_over[:limit]:
            lines.append(f"  passed over on purpose: {entry['piece']}: {entry['reason']}")
        if len(self.passed_over) > limit:
            lines.append(f"  ... and {len(self.passed_over) - limit:,} more passed over ({more})")
        steps = [(label, NEXT_STEPS[label]) for label in self.reasons if NEXT_STEPS.get(label)]
        if steps:
            lines.append("What to do:" if len(steps) > 1 else f"What to do: {steps[0][0]}: {steps[0][1]}.")
            lines += [f"  {label}: {step}." for label, step in steps] if len(steps) > 1 else []
        return "\n".join(lines)


def _show_progress(progress: bool | None) -> bool:
    if progress is not None:
        return progress
    try:
        return sys.stderr.isatty() and "pytest" not in sys.modules
    except (AttributeError, ValueError):
        return False


def load_midi_files(
    paths: Iterable[Path | str],
    root: Path | str | None = None,
    cache: bool = True,
    cache_dir: Path | None = None,
    *,
    reader: str = "auto",
    workers: int | None = None,
    progress: bool | None = None,
    max_file_bytes: int = MAX_FILE_BYTES,
    max_notes: int = MAX_NOTES,
    max_quarters: float = MAX_QUARTERS,
    timeout: float | None = TIMEOUT_S,
    skip_duplicates: bool = True,
) -> tuple[pd.DataFrame, LoadReport]:
    """Read many MIDI files into one notes table; a bad file is skipped with its reason, never fatal.

    Every path ends up in ``report.used`` or in ``report.skipped`` with a reason label:
    ``unreadable`` (missing, a link to nowhere, no permission, not a regular file),
    ``not MIDI`` (empty, a web page, random bytes), ``corrupt``, ``no pitched notes``
    (silence or drums only), ``too large``, ``too many notes``, ``too long``, ``too slow``,
    ``reader crashed`` or ``duplicate``. A damaged file whose notes could still be read is used,
    with a ``warning``; one too damaged to trust (see :func:`helpers.midi_reader._trust`) is
    skipped as ``corrupt``. ``str(report)`` says what to do about each reason (:data:`NEXT_STEPS`).

    Args:
        paths: the files.
        root: piece names are written relative to this folder (default: file names).
        cache: reuse notes extracted earlier from a file with the same content (and write them
            for next time); ``False`` reads every file afresh and writes nothing.
        cache_dir: where the cache lives (default ``outputs/cache/notes``).
        reader: ``"auto"`` (the default, which is ``"fast"``), ``"fast"``, ``"music21"`` or
            ``"symusic"``; see the module docstring.
        workers: processes reading files side by side. ``1`` reads here, one file after the
            other; ``None`` (default) starts up to :data:`MAX_WORKERS` (one per CPU core) when at
            least :data:`PARALLEL_MIN_FILES` files are not in the cache, else reads here — except
            with ``reader="music21"``, which is always read in a worker process when there is a
            ``timeout``, since it cannot stop itself inside a track.
        progress: show a progress bar; ``None`` (default) shows one only on a terminal, never
            in notebooks or tests.
        max_file_bytes: skip files larger than this, in bytes ("too large"); bounds memory.
        max_notes: skip files with more note-ons than this, pitched and drums together
            ("too many notes"); reading stops as soon as the limit is passed.
        max_quarters: skip files with a note that ends later than this many quarter lengths
            after the start ("too long"): absurd delta times.
        timeout: seconds one file may take ("too slow"), or ``None`` for no limit. In worker
            processes a file over time is stopped by ending its process; read here, the fast
            reader stops itself between events (music21's only between tracks).
        skip_duplicates: a file with the same bytes as one listed before it is skipped
            ("duplicate"), so that copies do not count twice.

    Returns:
        ``(notes, report)``; ``notes`` may be empty, the report says why.
    """
    reader = resolve_reader(reader)
    limits = Limits(max_file_bytes, max_notes, max_quarters, timeout)
    if workers is not None and workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    cache_dir = Path(cache_dir or config.CACHE_DIR / "notes")
    paths = [Path(p) for p in paths]
    pieces = [_display_name(p.relative_to(root).as_posix() if root else p.name) for p in paths]
    results: list[Extract | Skip | None] = [None] * len(paths)
    entries: list[Path | None] = [None] * len(paths)
    first_of: dict[str, int] = {}
    to_read: list[int] = []
    report = LoadReport()

    from tqdm import tqdm

    bar = tqdm(total=len(paths), unit="file", desc="Reading MIDI", disable=not _show_progress(progress))
    for i, path in enumerate(paths):
        try:
            data = file_bytes(path, limits)
        except Skip as skip:
            results[i] = skip
            bar.update()
            continue
        key = _cache_key(data, reader)
        if skip_duplicates:
            if key in first_of:
                results[i] = Skip("duplicate", f"same content as {pieces[first_of[key]]}")
                bar.update()
                continue
            first_of[key] = i
        entries[i] = cache_dir / f"{key}.bin"
        found = _cache_read(entries[i]) if cache else None
        if isinstance(found, Extract):
            results[i] = _check_limits(found, limits) or found
            report.from_cache += 1
        elif found is not None:
            results[i] = found
            report.from_cache += 1
        else:
            to_read.append(i)
            continue
        bar.update()

    def done(index: int, result: Extract | Skip) -> None:
        results[index] = result
        cacheable = getattr(result, "cacheable", True)  # not what depends on this load's limits
        if cache and cacheable and (isinstance(result, Extract) or result.reason in _CACHED_SKIPS):
            _cache_write(entries[index], result)
        bar.update()

    if workers is None:
        many = len(to_read) >= PARALLEL_MIN_FILES
        workers = min(_cpu_count(), MAX_WORKERS) if many else 1
        # music21's reader cannot stop itself inside a track: only a process can be stopped
        in_process = not many and not (reader == "music21" and limits.timeout)
    else:
        in_process = workers == 1
    workers = max(1, min(workers, len(to_read)))
    try:
        if in_process or not to_read:
            for i in to_read:
                done(i, read_file(str(paths[i]), reader, limits))
        else:
            try:
                pool = _Pool(workers, reader, limits)
                try:
                    pool.run([(i, str(paths[i])) for i in to_read], done)
                finally:
                    pool.close()
            except (OSError, _PoolBroken):  # no processes to be had: read the rest here
                for i in to_read:
                    if results[i] is None:
                        done(i, read_file(str(paths[i]), reader, limits))
    finally:
        bar.close()

    kept: list[tuple[str, Extract]] = []
    for piece, result in zip(pieces, results):
        if isinstance(result, Extract):
            entry = {"piece": piece, "notes": len(result), "drum_hits": result.drum_hits}
            if result.warnings:
                entry["warning"] = "; ".join(result.warnings)
            report.used.append(entry)
            kept.append((piece, result))
        else:
            reason = result.reason + (f" ({result.detail})" if result.detail else "")
            report.skipped.append({"piece": piece, "reason": reason, "label": result.reason})
    return _join(kept), report


def _join(kept: list[tuple[str, Extract]]) -> pd.DataFrame:
    """One notes table from many extracts, pieces in the order given."""
    import pandas as pd

    if not kept:
        return tidy_notes(pd.DataFrame(columns=NOTE_COLUMNS))
    counts = [len(extract) for _, extract in kept]
    names = np.array([piece for piece, _ in kept], dtype=object)
    instruments = [np.array(extract.instruments + [""], dtype=object)[extract.part] for _, extract in kept]
    return pd.DataFrame(
        {
            "piece": np.repeat(names, counts),
            "part": np.concatenate([e.part for _, e in kept]),
            "instrument": np.concatenate(instruments),
            "offset": np.concatenate([e.offset for _, e in kept]),
            "duration": np.concatenate([e.duration for _, e in kept]),
            "pitch": np.concatenate([e.pitch for _, e in kept]),
            "velocity": np.concatenate([e.velocity for _, e in kept]),
        },
        columns=NOTE_COLUMNS,
    )


def load_midi_folder(
    folder: Path | str | None = None, limit: int | None = None, seed: int | None = None, **kwargs
) -> tuple[pd.DataFrame, LoadReport]:
    """Load a folder of MIDI files (default: the shipped ``data/midi``).

    Args:
        folder: any folder; searched recursively (see :func:`find_midi_files`). Sub-folders
            that cannot be listed are reported as skipped.
        limit: take only this many files — a reproducible random sample when ``seed`` is
            given (the chapter picks 5 at random), else the first ones in name order.
        seed: seed of that sample.
        **kwargs: passed to :func:`load_midi_files` (``cache``, ``cache_dir``, ``reader``,
            ``workers``, ``progress``, the limits, ``skip_duplicates``).

    Raises:
        FileNotFoundError: the folder does not exist.
        NoUsableMidiError: no file in it gave any pitched note.
    """
    folder = Path(folder or config.DATA_DIR)
    if not folder.is_dir():
        raise FileNotFoundError(f"MIDI folder not found: {folder}")
    paths, problems, passed_over = _walk_midi(folder)
    if limit is not None and limit < len(paths):
        if seed is None:
            paths = paths[:limit]
        else:
            import random

            paths = sorted(random.Random(seed).sample(paths, limit))
    notes, report = load_midi_files(paths, root=folder, **kwargs)
    for piece, reason in problems:
        report.skipped.append({"piece": _display_name(piece), "reason": reason, "label": "unreadable"})
    report.passed_over = [{"piece": _display_name(piece), "reason": reason} for piece, reason in passed_over]
    if notes.empty:
        raise NoUsableMidiError(folder, len(paths), report)
    return notes, report
