"""The on-disk cache of what the reader got from each file: one ``.npz`` file per content, no pickle.

Explained in notebook 01 (the second load is instant). An entry is named after the SHA-256 of
the file's bytes and :data:`helpers.midi_reader.EXTRACTOR_VERSION`, so a copy of a file under
another name is served from the same entry and a changed file is read again. It holds the
notes as one array of records (:data:`NOTES_DTYPE`) and a JSON header (instruments, drum hits, warnings, or the reason a file is
skipped), written with ``np.savez`` and read with ``np.load(allow_pickle=False)``. A damaged or
old entry is read again from the MIDI file, never an error; a disk that cannot be written costs
the cache, not the load.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np

from helpers.midi_reader import EXTRACTOR_VERSION, Extract, Limits, MidiLoadError

#: Ending of a cache entry's file name.
SUFFIX = ".npz"
#: Skip reasons that depend on the file's content alone, and so are cached.
CACHED_SKIPS = ("corrupt", "no pitched notes")
#: The one array of notes in an entry: a record per note (two members per file load fastest).
NOTES_DTYPE = np.dtype([("part", "<i2"), ("offset", "<f8"), ("duration", "<f8"), ("pitch", "<i2"), ("velocity", "<i2")])


def content_key(data: bytes) -> str:
    """A file's content in 64 hexadecimal digits (SHA-256, with the extractor's version): files
    with equal keys have the same bytes."""
    digest = hashlib.sha256(f"extractor={EXTRACTOR_VERSION};".encode())
    digest.update(data)
    return digest.hexdigest()


def entry_path(data: bytes | str, cache_dir: Path) -> Path:
    """Where the entry for a file with these bytes (or this :func:`content_key`) lives."""
    return cache_dir / f"{data if isinstance(data, str) else content_key(data)}{SUFFIX}"


def read_entry(file: Path, limits: Limits) -> Extract | None:
    """The extract cached in ``file``, or None when there is none (missing, damaged, old).

    Raises:
        MidiLoadError: the file was skipped for a reason that depends on its content alone
            (:data:`CACHED_SKIPS`), or the cached notes break this load's ``limits``.
    """
    try:
        with np.load(file, allow_pickle=False) as entry:
            header = json.loads(str(entry["header"]))
            if header["version"] != EXTRACTOR_VERSION:
                return None
            skip = header.get("skip")
            if skip is None:
                notes = entry["notes"]
                if notes.dtype != NOTES_DTYPE or notes.ndim != 1:
                    return None
                columns = {name: np.ascontiguousarray(notes[name]).astype(name_dtype.newbyteorder("="), copy=False)
                           for name, (name_dtype, _) in NOTES_DTYPE.fields.items()}
                extract = Extract(
                    **columns, instruments=header["instruments"], drum_hits=header["drum_hits"], warnings=header["warnings"]
                )
                parts = extract.part
                if len(parts) and not 0 <= parts.min() <= parts.max() < len(extract.instruments):
                    return None
    except Exception:  # noqa: BLE001 - missing or damaged in any way: read again from the MIDI file
        return None
    if skip is not None:
        raise MidiLoadError(*skip)
    _check_limits(extract, limits)
    return extract


def _check_limits(found: Extract, limits: Limits) -> None:
    """A cached extract must still satisfy this load's limits."""
    if len(found) + found.drum_hits > limits.max_notes:
        raise MidiLoadError("too many notes", f"over the limit of {limits.max_notes:,} note-ons", cacheable=False)
    if len(found) and float((found.offset + found.duration).max()) > limits.max_quarters:
        raise MidiLoadError("too long", f"over the limit of {limits.max_quarters:,.0f} quarter lengths", cacheable=False)


def should_write(found: Extract | MidiLoadError) -> bool:
    """Whether what was read is worth an entry: notes, or a skip due to the content alone."""
    if isinstance(found, MidiLoadError):
        return found.cacheable and found.reason in CACHED_SKIPS
    return found.cacheable


def write_entry(file: Path, found: Extract | MidiLoadError) -> None:
    """Write ``found`` to ``file`` atomically (a crash never leaves half an entry)."""
    if isinstance(found, MidiLoadError):
        header = {"version": EXTRACTOR_VERSION, "skip": [found.reason, found.detail]}
        arrays = {}
    else:
        header = {
            "version": EXTRACTOR_VERSION,
            "instruments": found.instruments,
            "drum_hits": found.drum_hits,
            "warnings": found.warnings,
        }
        notes = np.empty(len(found), dtype=NOTES_DTYPE)
        for name in NOTES_DTYPE.names:
            notes[name] = getattr(found, name)
        arrays = {"notes": notes}
    try:
        file.parent.mkdir(parents=True, exist_ok=True)
        temporary = file.with_suffix(f".tmp{os.getpid()}")
        with open(temporary, "wb") as handle:
            np.savez(handle, header=np.array(json.dumps(header, separators=(",", ":"))), **arrays)
        os.replace(temporary, file)
    except OSError:
        pass  # a read-only or full disk costs the cache, not the load
