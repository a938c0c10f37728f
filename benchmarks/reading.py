"""The reading stage (issue 13): the project's MIDI reader beside the libraries a user would pick.

    .venv/bin/python -m benchmarks --stages reading
    .venv/bin/python -m benchmarks --stages reading --reading-copies 50   # a larger folder

The chapter's music21 loop is the slowest reference there is (stage ``extraction``); here the
project's reader (``midi_io.load_midi_files``, no cache, in this process, into one notes table)
is set beside:

- **symusic** — a C++ parser with Python bindings: ``Score(path)``, then each track's notes as
  NumPy arrays;
- **pretty_midi** — the reader of TensorFlow's music generation tutorial: ``PrettyMIDI(path)``;
- **miditoolkit** — ``MidiFile(path)``, pretty_midi's model on mido, used by MIDI tokenizers;
- **mido** — parsing every message and counting the note-ons: the floor of any reader built on it.

Each reads the same files, cold (no cache of its own; the files themselves in the operating
system's cache, read once beforehand), on the shipped folder and on a larger one made of copies
(``--reading-copies``). The two fast readers are timed ``repeats`` times in turns, the fastest
counting — at least 20 times for a folder under 200 files, which reads in milliseconds; the
slow ones once (they are hundreds of times slower; noise does not change that).

Then the notes each kept, file by file, pitch by pitch, against mido's count of the file's own
pitched note-ons (velocity above 0, outside the drum channel): a fast reader that drops notes
is not a faster way to the same table. Targets: the project at least :data:`SYMUSIC_SHARE_MIN`
of symusic's files/s while keeping every pitched note, and at least :data:`PRETTY_MIDI_MIN`
times pretty_midi's.
"""

from __future__ import annotations

import functools
import importlib.util
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np

from helpers import midi_io, midi_reader

#: Target: the project's files/s as a share of symusic's, keeping every pitched note.
SYMUSIC_SHARE_MIN = 0.5
#: Target: the project's files/s as a multiple of pretty_midi's.
PRETTY_MIDI_MIN = 20.0
#: Folders with fewer files are timed at least :data:`SMALL_FOLDER_REPEATS` times (fast readers).
SMALL_FOLDER, SMALL_FOLDER_REPEATS = 200, 20
#: Copies of each file in the larger folder, by benchmark size.
COPIES = {"small": 5, "large": 25}



def installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


# ----------------------------------------------------------------------------- each reader, and the notes it kept


def read_project(paths: list[Path], root: Path):
    notes, _ = midi_io.load_midi_files(paths, root=root, progress=False, skip_duplicates=False)
    return notes


def project_pitches(notes, paths: list[Path], root: Path) -> list[Counter]:
    groups = {name: Counter(group.tolist()) for name, group in notes.groupby("piece", sort=False)["pitch"]}
    return [groups.get(path.relative_to(root).as_posix(), Counter()) for path in paths]


def read_symusic(paths: list[Path]) -> list:
    import symusic

    scores = []
    for path in paths:
        try:
            score = symusic.Score.from_file(str(path))
            scores.append([(track.is_drum, track.notes.numpy()) for track in score.tracks])
        except Exception:  # noqa: BLE001 - a file symusic refuses gives it no notes
            scores.append(None)
    return scores


def symusic_pitches(scores: list) -> list[Counter]:
    return [
        Counter() if score is None else Counter(int(p) for drum, arrays in score if not drum for p in arrays["pitch"])
        for score in scores
    ]


def read_pretty_midi(paths: list[Path]) -> list:
    import warnings

    import pretty_midi

    read = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Tempo, Key or Time signature change events found on non-zero tracks"
        for path in paths:
            try:
                read.append(pretty_midi.PrettyMIDI(str(path)))
            except Exception:  # noqa: BLE001
                read.append(None)
    return read


def read_miditoolkit(paths: list[Path]) -> list:
    from miditoolkit import MidiFile

    read = []
    for path in paths:
        try:
            read.append(MidiFile(str(path)))
        except Exception:  # noqa: BLE001
            read.append(None)
    return read


def instrument_pitches(read: list) -> list[Counter]:
    """Pitches of the notes of pretty_midi's or miditoolkit's objects (both: ``instruments``, ``is_drum``, ``notes``)."""
    return [
        Counter() if midi is None else Counter(note.pitch for instrument in midi.instruments if not instrument.is_drum
                                               for note in instrument.notes)
        for midi in read
    ]


def read_mido(paths: list[Path]) -> list[Counter]:
    """mido's parse of every message, counting pitched note-ons (``run.mido_pitches``): the reference count."""
    from benchmarks.run import mido_pitches

    counts = []
    for path in paths:
        try:
            counts.append(mido_pitches(path))
        except Exception:  # noqa: BLE001
            counts.append(None)
    return counts


#: name → (module to find, how to read, the pitches of what it read, how it reads).
PEERS: dict[str, tuple[str, Callable, Callable, str]] = {
    "symusic": ("symusic", read_symusic, symusic_pitches, "Score(path), each track's notes as NumPy arrays"),
    "pretty_midi": ("pretty_midi", read_pretty_midi, instrument_pitches, "PrettyMIDI(path)"),
    "miditoolkit": ("miditoolkit", read_miditoolkit, instrument_pitches, "MidiFile(path)"),
    "mido": ("mido", read_mido, lambda counts: [c if c is not None else Counter() for c in counts],
             "MidiFile(path), every message, note-ons counted"),
}
#: Readers timed ``repeats`` times in turns (the others once).
FAST = ("project", "symusic")


def kept(pitches: list[Counter], truth: list[Counter]) -> tuple[int, int]:
    """(notes kept, files that lost or invented a pitch) against mido's counts."""
    total = sum(sum(c.values()) for c in pitches)
    differ = sum(mine != reference for mine, reference in zip(pitches, truth))
    return total, differ


def time_readers(readers: dict[str, Callable[[], object]], repeats: int) -> tuple[dict[str, float], dict[str, object]]:
    """Fastest seconds of each reader and what it read: the fast ones ``repeats`` times in turns, the others once."""
    seconds: dict[str, list[float]] = {name: [] for name in readers}
    results: dict[str, object] = {}
    for round_ in range(max(1, repeats)):
        for name, read in readers.items():
            if round_ and name not in FAST:
                continue
            start = time.perf_counter()
            results[name] = read()
            seconds[name].append(time.perf_counter() - start)
    return {name: min(times) for name, times in seconds.items()}, results


def bench_folder(paths: list[Path], root: Path, label: str, repeats: int) -> tuple[list, list[str]]:
    """The rows (and free lines) of one folder: files/s of each peer against the project, and the notes each kept."""
    from benchmarks.run import Row, compare, number

    for path in paths:
        path.read_bytes()  # every reader finds the files in the operating system's cache
    midi_reader.bytes_to_extract(paths[0].read_bytes(), midi_reader.Limits())  # the compiled reader, loaded
    readers: dict[str, Callable[[], object]] = {"project": lambda: read_project(paths, root)}
    missing = []
    for name, (module, read, _, _) in PEERS.items():
        if installed(module):
            readers[name] = functools.partial(read, paths)
        else:
            missing.append(name)
    for name in readers:  # imports and first calls outside the timing
        if name == "project":
            read_project(paths[:1], root)
        else:
            PEERS[name][1](paths[:1])
    # a small folder reads in milliseconds: more turns, so that a moment of other work does not decide
    seconds, results = time_readers(readers, repeats if len(paths) >= SMALL_FOLDER else max(repeats, SMALL_FOLDER_REPEATS))

    files = len(paths)
    truth = PEERS["mido"][2](results["mido"]) if "mido" in results else None
    project_rate = files / seconds["project"]
    rows, lines = [], []
    targets = {"symusic": SYMUSIC_SHARE_MIN, "pretty_midi": PRETTY_MIDI_MIN}
    notes_of = {"project": project_pitches(results["project"], paths, root)}
    for name in PEERS:
        if name in results:
            notes_of[name] = PEERS[name][2](results[name])
    every_note = truth is not None and notes_of["project"] == truth
    for name in (n for n in PEERS if n in results):
        rate = files / seconds[name]
        minimum = targets.get(name)
        row = compare(f"read {label}: vs {name}", "files/s", rate, project_rate, minimum=minimum)
        if name == "symusic":  # as a share: the project is the slower one
            share = project_rate / rate
            row.ratio, row.target = f"{share:.2f}×", f"≥ {SYMUSIC_SHARE_MIN:g}×"
            row.passed = share >= SYMUSIC_SHARE_MIN and every_note
            row.note = "and every pitched note kept" if every_note else "FAIL: the project lost notes"
        rows.append(row)
    if truth is not None:
        reference = sum(sum(c.values()) for c in truth)
        for name in ("project", *[n for n in PEERS if n in results and n != "mido"]):
            total, differ = kept(notes_of[name], truth)
            rows.append(Row(
                f"read {label}: notes kept, {name}", f"{reference:,}", f"{total:,}",
                f"{total / max(reference, 1):.4f}×", "all" if name == "project" else "",
                (total == reference and not differ) if name == "project" else None,
                f"chapter column: mido's count; {differ} of {files} files differ pitch by pitch",
            ))
    lines.append(
        f"{label}, {sum(p.stat().st_size for p in paths) / files / 1024:.1f} KiB on average: "
        + "; ".join(f"{name} {number(files / seconds[name])} files/s" for name in readers)
    )
    if missing:
        lines.append(f"not installed, not measured: {', '.join(missing)}")
    return rows, lines


def worker_processes(paths: list[Path], root: Path, repeats: int, workers: int = 2) -> str:
    """One line: the project's reader in ``workers`` processes (``workers=2``) against this process."""
    from benchmarks.run import best_of_each, number

    options = {"root": root, "progress": False, "skip_duplicates": False}
    timed = best_of_each(
        max(1, repeats // 2),
        {
            "here": lambda: midi_io.load_midi_files(paths, **options),
            "workers": lambda: midi_io.load_midi_files(paths, workers=workers, **options),
        },
    )
    here, pool = len(paths) / timed["here"][0], len(paths) / timed["workers"][0]
    return (
        f"{len(paths)} files in {workers} worker processes: {number(pool)} files/s, {pool / here:.2f}× reading them in this "
        f"process ({number(here)} files/s) — why workers are used only when asked (midi_io.load_midi_files(workers=N))"
    )


def bench_reading(paths: list[Path], root: Path, copies: int, repeats: int, scratch: Path):
    """The stage: the shipped folder (``paths``), then ``copies`` copies of it."""
    from benchmarks.run import Stage, copy_files

    stage = Stage()
    rows, lines = bench_folder(paths, root, f"{len(paths)} files", repeats)
    stage.rows += rows
    stage.lines += lines
    if copies > 1:
        larger = copy_files(paths, root, copies, scratch / "reading-copies")
        rows, lines = bench_folder(larger, scratch / "reading-copies", f"{len(larger)} files", repeats)
        stage.rows += rows
        stage.lines += lines
        stage.lines.append(worker_processes(larger, scratch / "reading-copies", repeats))
    stage.lines.append(
        "how each reads: project midi_io.load_midi_files into one notes table, in this process; "
        + "; ".join(f"{name} {how}" for name, (_, _, _, how) in PEERS.items())
    )
    stage.values["rates"] = {row.stage: row for row in stage.rows}
    return stage


def symusic_to_notes(path: Path, piece: str | None = None):
    """symusic's reading of one file as the project's notes table: ``(notes, drum_hits)``.

    It drops notes never released and zero-length notes written note-off first (98 of the
    30,942 notes of ``data/midi``, changing the tokens of 11 of its 40 files), places format-2
    tracks on top of each other and refuses SMPTE timing: never the library's reader.
    """
    import symusic

    score = symusic.Score.from_midi(path.read_bytes())
    tpq = float(score.ticks_per_quarter)
    columns: list[list[np.ndarray]] = [[], [], [], [], []]
    instruments, drum_hits = [], 0
    for track in score.tracks:
        arrays = track.notes.numpy()
        if track.is_drum:
            drum_hits += len(arrays["pitch"])
            continue
        if not len(arrays["pitch"]):
            continue
        columns[0].append(np.full(len(arrays["pitch"]), len(instruments), dtype=np.int64))
        for i, name in enumerate(("time", "duration", "pitch", "velocity"), start=1):
            columns[i].append(arrays[name].astype(np.int64))
        instruments.append(midi_reader.program_name(track.program) or track.name)
    part, begin, length, pitch, velocity = (np.concatenate(c) if c else np.zeros(0, dtype=np.int64) for c in columns)
    order = np.lexsort((part, pitch, begin))
    extract = midi_reader.Extract(
        part=part[order].astype(np.int16),
        offset=begin[order] / tpq,
        duration=length[order] / tpq,
        pitch=pitch[order].astype(np.int16),
        velocity=velocity[order].astype(np.int16),
        instruments=instruments,
        drum_hits=drum_hits,
    )
    return midi_io.extracts_to_notes([(piece or path.name, extract)]), drum_hits
