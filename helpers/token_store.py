"""A token store: the MIDI-like codes of every piece of a large folder in one array on disk.

The large-collection path of issue 12 (README, *A collection larger than memory*). The
in-memory path (:func:`helpers.pipeline.prepare`, notebooks 02–08) holds every note and every
token of the folder in pandas tables; for the chapter's 130,000 files that is many GiB. Here
the folder is read a chunk of files at a time, each chunk tokenised and appended to one file
of int16 codes, and training reads its windows from that file through a memory map
(:func:`helpers.sequences.sequence_windows_dataset` given a :class:`StoredStream`). Memory is
bounded by one chunk of files and the model, not by the data.

A store is a folder:

``codes.bin``
    the codes of all pieces, piece after piece, little-endian int16 (:data:`CODE_DTYPE`), no
    header: read with ``np.memmap``.
``index.jsonl``
    one JSON line per file read, in order: a used piece (``piece``, ``start`` and ``length``
    in codes, ``notes``, ``drum_hits``, ``key_shift``, ``digest`` of its bytes) or a skipped
    file (``piece``, ``reason``, ``label``, ``digest`` when it could be read).
``store.json``
    the settings it was made with (folder, encoding, keys, sample, per-file limits) and
    whether every listed file has been handled (``complete``).

Only the MIDI-like encoding (:mod:`helpers.midilike`) is stored: its vocabulary is the same
320 tokens for any music, so codes can be written before the whole folder has been seen. The
chord encodings of :mod:`helpers.tokens` build their vocabulary from all the data first
(:class:`~helpers.errors.OptionError`).

**Resumable.** Each chunk is committed in two steps: its codes are appended to ``codes.bin``
and flushed to disk, then its lines to ``index.jsonl``. Ctrl-C (or a crash) at any point
loses at most the chunk being read: opening the store again cuts ``codes.bin`` back to the
end of the last indexed piece, and a new :func:`folder_to_store` skips every file already in
the index *by name*, without opening it, and reads the files of the lost chunk again. Run
again on a folder that has grown, it appends the new files; files removed from the folder stay
in the store (make a new one to drop them).

Nothing here imports TensorFlow.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from helpers import config, midi_io, midi_reader, midilike
from helpers.errors import DataError, OptionError
from helpers.load_report import LoadReport, NoUsableMidiError
from helpers.midi_files import display_name, search_folder

#: Codes on disk: little-endian int16 (the 320 MIDI-like codes fit with room to spare).
CODE_DTYPE = np.dtype("<i2")
#: Files read, tokenised and committed together: what Ctrl-C can cost, and what memory holds.
CHUNK_FILES = 500
#: Version of the store's layout, in ``store.json``.
FORMAT = 1
CODES_FILE, INDEX_FILE, SETTINGS_FILE = "codes.bin", "index.jsonl", "store.json"
#: Settings that must match for a store to be resumed or extended.
SAME_SETTINGS = ("folder", "encoding", "normalise_keys", "limit", "sample_seed", "load_options")


class StoreError(OptionError):
    """A token store that cannot be used as asked: made with other settings, damaged, or not a store."""


@dataclass
class StoredStream:
    """Some pieces of a store as one stream of codes, as :func:`helpers.sequences.events_to_codes`
    joins them — without reading them: ``len()`` is its length in codes, :meth:`read` gets codes
    at stream positions from the memory map."""

    codes: np.ndarray  # the store's memory map
    store_starts: np.ndarray  # int64, where each chosen piece starts in the store
    stream_starts: np.ndarray  # int64, where it starts in this stream
    stream_ends: np.ndarray  # int64

    def __len__(self) -> int:
        return int(self.stream_ends[-1]) if len(self.stream_ends) else 0

    def read(self, positions: np.ndarray) -> np.ndarray:
        """Codes (int32) at ``positions`` of the stream (any shape, each ``0 <= p < len(self)``)."""
        positions = np.asarray(positions, dtype=np.int64)
        piece = np.searchsorted(self.stream_ends, positions, side="right")
        return self.codes[positions - self.stream_starts[piece] + self.store_starts[piece]].astype(np.int32)

    def to_array(self) -> np.ndarray:
        """The whole stream in memory (int32): for small stores and tests."""
        return self.read(np.arange(len(self), dtype=np.int64))


class TokenStore:
    """An open token store (see the module docstring); :meth:`open` it, don't construct it.

    Attributes:
        path: the store's folder.
        settings: ``store.json``.
        pieces: the used pieces' names, in store order.
        starts, lengths: int64 arrays, each piece's first code and number of codes.
        key_shifts: each piece's shift to C major / A minor, semitones (with ``normalise_keys``).
        entries: every ``index.jsonl`` line (used and skipped files).
    """

    def __init__(self, path: Path, settings: dict, entries: list[dict]):
        self.path, self.settings, self.entries = path, settings, entries
        used = [entry for entry in entries if "start" in entry]
        self.pieces = [entry["piece"] for entry in used]
        self.starts = np.array([entry["start"] for entry in used], dtype=np.int64)
        self.lengths = np.array([entry["length"] for entry in used], dtype=np.int64)
        self.key_shifts = {entry["piece"]: entry["key_shift"] for entry in used} if settings.get("normalise_keys") else {}
        self.vocab = midilike.vocabulary()
        self.n_codes = int((self.starts + self.lengths).max()) if len(used) else 0
        self._codes = None

    @classmethod
    def open(cls, path: Path | str, repair: bool = False) -> TokenStore:
        """Open a store. What an interruption left of a chunk is not used; with ``repair`` (as
        :func:`folder_to_store` opens it, before it appends) it is cut off the files.

        Raises:
            StoreError: not a store, or its codes are shorter than its index says.
        """
        path = Path(path)
        try:
            settings = json.loads((path / SETTINGS_FILE).read_text())
        except (OSError, ValueError) as error:
            raise StoreError(f"{path} is not a token store (no readable {SETTINGS_FILE}): give the --store folder "
                             "that prepare wrote, or a new folder to make one") from error
        entries = _read_index(path / INDEX_FILE, repair)
        store = cls(path, settings, entries)
        codes = path / CODES_FILE
        size = codes.stat().st_size if codes.exists() else 0
        wanted = store.n_codes * CODE_DTYPE.itemsize
        if size < wanted:
            raise StoreError(f"{path}: {CODES_FILE} holds {size:,} bytes but the index needs {wanted:,}; "
                             "the store is damaged: delete the folder and prepare it again")
        if repair and size > wanted:  # codes of a chunk whose index lines were never written
            with open(codes, "r+b") as handle:
                handle.truncate(wanted)
        return store

    @property
    def codes(self) -> np.ndarray:
        """All codes, a read-only memory map (int16); nothing is read until used."""
        if self._codes is None:
            if self.n_codes == 0:
                self._codes = np.zeros(0, dtype=CODE_DTYPE)
            else:
                self._codes = np.memmap(self.path / CODES_FILE, dtype=CODE_DTYPE, mode="r", shape=(self.n_codes,))
        return self._codes

    def piece_codes(self, piece: str) -> np.ndarray:
        """One piece's codes (int32, in memory)."""
        i = self.pieces.index(piece)
        return np.asarray(self.codes[self.starts[i]: self.starts[i] + self.lengths[i]], dtype=np.int32)

    def stream(self, pieces: list[str] | None = None) -> StoredStream:
        """``pieces`` (default: all) joined into one stream, in the order given, as
        :func:`helpers.sequences.events_to_codes` joins them."""
        if pieces is None:
            chosen = np.arange(len(self.pieces))
        else:
            where = {piece: i for i, piece in enumerate(self.pieces)}
            missing = [piece for piece in pieces if piece not in where]
            if missing:
                raise DataError(f"{self.path}: {len(missing)} piece(s) not in the store, e.g. {missing[0]!r}")
            chosen = np.array([where[piece] for piece in pieces], dtype=np.int64)
        lengths = self.lengths[chosen] if len(chosen) else np.zeros(0, dtype=np.int64)
        ends = np.cumsum(lengths)
        return StoredStream(self.codes, self.starts[chosen] if len(chosen) else lengths, ends - lengths, ends)

    def report(self) -> LoadReport:
        """The load report of every file the store handled (as :func:`helpers.midi_io.load_midi_folder` gives)."""
        report = LoadReport()
        for entry in self.entries:
            if "start" in entry:
                used = {"piece": entry["piece"], "notes": entry["notes"], "drum_hits": entry["drum_hits"]}
                if entry.get("warning"):
                    used["warning"] = entry["warning"]
                report.used.append(used)
            else:
                report.skipped.append({"piece": entry["piece"], "reason": entry["reason"], "label": entry["label"]})
        return report

    def __repr__(self) -> str:
        state = "complete" if self.settings.get("complete") else "incomplete"
        return f"TokenStore({config.relative(self.path)}: {len(self.pieces):,} pieces, {self.n_codes:,} codes, {state})"


def _read_index(path: Path, repair: bool = False) -> list[dict]:
    """The index lines; a last line cut short by an interruption is left out (and with
    ``repair`` cut off the file)."""
    if not path.exists():
        return []
    entries, good = [], 0
    with open(path, "rb") as handle:
        for line in handle:
            try:
                if not line.endswith(b"\n"):
                    raise ValueError("cut short")
                entries.append(json.loads(line))
            except ValueError:
                break
            good += len(line)
    if repair and good < path.stat().st_size:
        with open(path, "r+b") as handle:
            handle.truncate(good)
    return entries


def _write_json(path: Path, value: dict) -> None:
    config.write_atomic(path, json.dumps(value, indent=1))


def folder_to_store(
    folder: Path | str,
    store: Path | str,
    limit: int | None = None,
    seed: int | None = None,
    encoding: str = midilike.ENCODING,
    normalise_keys: bool = False,
    *,
    chunk_files: int = CHUNK_FILES,
    progress: bool | None = None,
    workers: int | None = None,
    **load_options,
) -> TokenStore:
    """Read a MIDI folder into a token store, a chunk of files at a time; resume or extend one.

    Files are taken as :func:`helpers.midi_io.load_midi_folder` takes them (the same names,
    order, sample, per-file limits and skips, a later copy of the same bytes skipped as
    ``duplicate``), so the store holds exactly the codes of
    ``pipeline.prepare(folder, limit, seed, "midilike", normalise_keys)`` (tested).

    Args:
        folder: the MIDI folder, searched recursively.
        store: the store's folder (made if missing). A store made with the same settings is
            resumed: files already in its index are not read again.
        limit, seed: a sample of the files, as :func:`helpers.midi_io.load_midi_folder` draws it.
        encoding: must be ``"midilike"`` (see the module docstring).
        normalise_keys: move each piece to C major / A minor (:func:`helpers.midilike.normalise_keys`).
        chunk_files: files read and committed together.
        progress: a progress bar of files (default: on a terminal only, never in tests).
        workers: as for :func:`helpers.midi_io.load_midi_files`.
        **load_options: the per-file limits of :class:`helpers.midi_reader.Limits`.

    Raises:
        OptionError: a chord encoding.
        StoreError: ``store`` was made with other settings (another folder, keys, sample or limits).
        NoUsableMidiError: no file gave any note.
    """
    if encoding != midilike.ENCODING:
        raise OptionError(f"encoding={encoding!r}: a token store keeps MIDI-like tokens only (a fixed vocabulary of "
                          f"{len(midilike.all_tokens())}); the chord encodings need the whole folder's vocabulary "
                          "before the first code is written — use --encoding midilike, or prepare without --store")
    folder, path = Path(folder), Path(store)
    limits = midi_reader.Limits(**load_options)
    settings = {"format": FORMAT, "encoding": encoding, "normalise_keys": bool(normalise_keys), "limit": limit,
                "sample_seed": seed, "load_options": dict(load_options), "folder": str(folder.resolve())}
    search = search_folder(folder)
    paths = search.paths
    if limit is not None and limit < len(paths):
        paths = paths[:limit] if seed is None else sorted(random.Random(seed).sample(paths, limit))
    if (path / SETTINGS_FILE).exists():
        old = TokenStore.open(path).settings
        changed = [key for key in SAME_SETTINGS if old.get(key) != settings[key]]
        if changed:
            raise StoreError(f"{path} was made with other settings ({', '.join(f'{k}={old.get(k)!r}' for k in changed)}): "
                             "give a new --store folder, or delete this one to make it again")
    else:
        config.ensure_dir(path)
        _write_json(path / SETTINGS_FILE, {**settings, "complete": False})
    store = TokenStore.open(path, repair=True)  # cuts off a half-committed chunk
    done = {entry["piece"] for entry in store.entries}
    seen = {entry["digest"] for entry in store.entries if entry.get("digest")}
    todo = [p for p in paths if display_name(p.relative_to(folder).as_posix()) not in done]
    if todo and store.settings.get("complete"):  # files to add: incomplete until they are in
        _write_json(path / SETTINGS_FILE, {**store.settings, "complete": False})
    end = store.n_codes
    vocab = store.vocab
    from tqdm import tqdm

    with tqdm(total=len(paths), initial=len(paths) - len(todo), unit="file", desc="prepare",
              disable=not config.show_progress(progress)) as bar, \
            open(path / CODES_FILE, "ab") as codes_file, open(path / INDEX_FILE, "a", encoding="utf-8") as index_file:
        for first in range(0, len(todo), chunk_files):
            chunk = todo[first: first + chunk_files]
            codes, lines = _chunk_to_codes(chunk, folder, seen, limits, vocab, normalise_keys,
                                          dict(workers=workers), end)
            codes_file.write(codes.astype(CODE_DTYPE).tobytes())
            codes_file.flush()
            os.fsync(codes_file.fileno())
            index_file.write("".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines))
            index_file.flush()
            os.fsync(index_file.fileno())
            end += len(codes)
            bar.update(len(chunk))
    store = TokenStore.open(path)
    _write_json(path / SETTINGS_FILE, {**settings, "complete": True, "files": len(paths), "pieces": len(store.pieces),
                                       "codes": store.n_codes})
    store.settings = json.loads((path / SETTINGS_FILE).read_text())
    if not store.pieces:
        report = store.report()
        for piece, reason in search.unreadable:
            report.skipped.append({"piece": display_name(piece), "reason": reason, "label": "unreadable"})
        raise NoUsableMidiError(folder, len(paths), report)
    return store


def _chunk_to_codes(chunk, folder, seen, limits, vocab, normalise_keys, read_options, start):
    """Read, tokenise and encode one chunk of files; returns ``(codes, index lines)`` in file order."""
    names = [display_name(p.relative_to(folder).as_posix()) for p in chunk]
    digests, fresh = {}, []
    for name, file in zip(names, chunk):
        try:
            digest = hashlib.sha256(midi_reader.file_bytes(file, limits)).hexdigest()
        except midi_reader.MidiLoadError:
            fresh.append(file)  # the loader reports why
            continue
        if digest in seen:
            digests[name] = None  # a duplicate of a file before it
        else:
            seen.add(digest)
            digests[name] = digest
            fresh.append(file)
    notes, report = midi_io.load_midi_files(fresh, root=folder, limits=limits, progress=False, skip_duplicates=False,
                                            **read_options)
    shifts = {}
    if normalise_keys and len(notes):
        notes, shifts = midilike.normalise_keys(notes)
    events = midilike.notes_to_events(notes)
    codes = vocab.encode(events["token"].tolist()) if len(events) else np.zeros(0, dtype=np.int32)
    lengths = events.groupby("piece", sort=False).size().to_dict() if len(events) else {}
    used = {entry["piece"]: entry for entry in report.used}
    skipped = {entry["piece"]: entry for entry in report.skipped}
    lines, position = [], start
    for name in names:
        if name in digests and digests[name] is None:
            lines.append({"piece": name, "reason": "duplicate (same content as a file before it)", "label": "duplicate"})
        elif name in used and lengths.get(name):
            entry = used[name]
            line = {"piece": name, "start": position, "length": int(lengths[name]), "notes": entry["notes"],
                    "drum_hits": entry["drum_hits"], "key_shift": int(shifts.get(name, 0)), "digest": digests.get(name)}
            if entry.get("warning"):
                line["warning"] = entry["warning"]
            lines.append(line)
            position += int(lengths[name])
        elif name in used:
            lines.append({"piece": name, "reason": "no pitched notes (none left in 0..127 after the key change)",
                          "label": "no pitched notes", "digest": digests.get(name)})
        else:
            entry = skipped.get(name, {"reason": "unreadable", "label": "unreadable"})
            lines.append({"piece": name, "reason": entry["reason"], "label": entry["label"], "digest": digests.get(name)})
    return codes, lines
