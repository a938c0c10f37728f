"""MIDI bytes → notes: the reader behind :mod:`helpers.midi_io`, the limits it keeps, the reasons it skips a file.

Explained in notebook 01 (why the notes are read from the file's own events). Nothing here
imports pandas or music21, so worker processes start fast; :mod:`helpers.midi_io` builds the
tables.

**What is a note.** Every note-on event with a velocity above 0, outside the drum channel
(:data:`helpers.constants.DRUM_CHANNEL`), gives exactly one row, so the table holds as many
notes as the file has pitched note-ons (the tests check this against ``mido``). A note-off, or a
note-on with velocity 0, ends the oldest sounding note of its pitch on its channel; a note never
released ends where its track ends. A note-off with nothing sounding is ignored — unless a
note-on of its pitch follows at the same tick: that pair is a zero-length note (a grace note)
written note-off first, as music21 writes them, and not the start of a note that would steal the
next note-off (which gave notes of 600 quarter lengths in a Beethoven quartet movement). A part
is one (track, channel) pair; its instrument is the General MIDI name of its program change,
else the track's name. Times come from the file's ticks, nothing quantized: ticks ÷
ticks-per-quarter (files timed in SMPTE frames are read as 120 quarter notes a minute). In a
format-2 file the tracks are independent sequences and are placed one after the other.

**The reader** decodes the bytes itself and is lenient where music21 gives up: format-2 files,
SMPTE timing, wrong chunk lengths, files cut short, junk before the header or between tracks.
This module finds the header and the track chunks; the events of the tracks are decoded and
paired in one pass by :func:`helpers.track_decoder.decode_tracks`, compiled by Numba — one call
for a well-formed file, track by track (:func:`_read_tracks`) when the chunks are out of place
or the call met damage. ``python -m benchmarks --stages reading`` sets it beside symusic's C++
parser (about as fast; symusic drops notes never released and zero-length notes written
note-off first, 98 of the 30,942 notes of ``data/midi``), pretty_midi, miditoolkit and mido
(hundreds of times slower). The tests read every file also with music21's ``music21.midi``,
paired by plain-Python code of their own (``tests/midi_oracle.py``), and check that the tables
are identical on every well-formed file (the shipped data and the edge cases of
``tests/test_midi_reader.py``); damaged files each mends its own way, and those tests say how.

**Damage.** The reader keeps what a damaged file holds up to the damage (see
:func:`helpers.track_decoder.decode_tracks`), with three rules of its own, each checked by a
case of ``tests/test_midi_reader.py``: a delta time longer than a whole piece may last
(``max_quarters``) is garbage, and ends its track there; after damage (or past the tracks the
header announces), a track that repeats an earlier one byte for byte (whole or cut short) is a
copy, and is dropped; and a file is *too damaged to trust* — skipped as ``corrupt`` — when many
of its events are undecodable or its damage left notes or silences of absurd length
(:func:`_trust` states the rule).

**Limits and skips.** A file is skipped, with its reason, when it is larger than
``max_file_bytes``, holds more than ``max_notes`` note-ons, lasts longer than ``max_quarters`` or
takes longer than ``timeout`` seconds to read (:class:`Limits`; in this process the reader
looks at its clock after each track, which the compiled loop reads in milliseconds). A skip
has one form from the reader to the report: :class:`MidiLoadError`, whose ``reason`` is one of
the labels of :data:`NEXT_STEPS`.
"""

from __future__ import annotations

import errno
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from helpers.errors import MusicGenError

#: Largest file read, in bytes (8 MiB). Inclusive. Bounds the memory one file can take.
MAX_FILE_BYTES = 8 * 1024 * 1024
#: Most note-on events (pitched notes and drum hits together) read from one file. Inclusive.
MAX_NOTES = 200_000
#: Longest piece, in quarter lengths from the start to the end of its last note. Inclusive.
#: 50,000 quarter lengths last about seven hours at 120 quarter notes a minute.
MAX_QUARTERS = 50_000.0
#: Seconds one file may take to read.
TIMEOUT_S = 30.0
#: How far into a file the MIDI header is looked for (RIFF ``.rmi`` wrappers, MacBinary), bytes.
HEADER_SEARCH_BYTES = 1024
#: A damaged file is too damaged to trust when at least this many events are damaged ...
DAMAGED_EVENTS_MIN = 2
#: ... and they make up at least this share of the events decoded (see :func:`_trust`). Inclusive.
DAMAGED_SHARE = 0.10
#: In a damaged file, a note or a silence longer than this, in quarter lengths, is taken for
#: damage (about eight minutes at 120 quarter notes a minute); see :func:`_trust`.
ABSURD_QUARTERS = 1_000.0


# ----------------------------------------------------------------------------- limits


@dataclass(frozen=True)
class Limits:
    """The per-file limits of one load, each inclusive; a file over one is skipped with its reason.

    Args:
        max_file_bytes: largest file read, in bytes ("too large"; decided before reading).
        max_notes: most note-ons, pitched and drums together ("too many notes").
        max_quarters: latest end of a note, in quarter lengths from the start ("too long").
        timeout: seconds one file may take ("too slow"), or None for no limit.

    >>> limits = Limits(max_notes=1_000, timeout=None)
    """

    max_file_bytes: int = MAX_FILE_BYTES
    max_notes: int = MAX_NOTES
    max_quarters: float = MAX_QUARTERS
    timeout: float | None = TIMEOUT_S

    def __post_init__(self):
        for name in ("max_file_bytes", "max_notes", "max_quarters"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)!r}")
        if self.timeout is not None and not self.timeout > 0:
            raise ValueError(f"timeout must be positive seconds or None, got {self.timeout!r}")


#: Why a file is not used, each label with what to do about it, where there is something to do.
#: Limits are named as in Python, then as on the command line.
NEXT_STEPS = {
    "unreadable": "check that the file (or the file a link leads to) exists and that you may read it",
    "not MIDI": "export it as MIDI (.mid) from the program that made it, or move it out of the folder",
    "corrupt": "download it again, or open it in a MIDI editor and save it anew",
    "too large": "raise max_file_bytes (command line: --max-file-mb) to read it",
    "too many notes": "raise max_notes (command line: --max-notes) to read it",
    "too long": "raise max_quarters (command line: --max-quarters) to read it",
    "too slow": "raise timeout (command line: --timeout, 0 for none) to read it",
    "reader crashed": "open it in a MIDI editor and save it anew, or move it out of the folder",
    "duplicate": "",
    "no pitched notes": "",
}


class MidiError(MusicGenError):
    """Base class of the errors raised while reading MIDI."""


class MidiLoadError(MidiError):
    """One file is not used: the one form of a skip, from the reader to the load report.

    Raised by the reader (which sees bytes only: ``path`` is filled in by whoever knows the
    file), carried back from worker processes, and turned into a row of
    :class:`helpers.load_report.LoadReport` by ``LoadReport.add``.

    Attributes:
        reason: a label of :data:`NEXT_STEPS`: ``"unreadable"``, ``"not MIDI"``, ``"corrupt"``,
            ``"no pitched notes"``, ``"too large"``, ``"too many notes"``, ``"too long"``,
            ``"too slow"``, ``"reader crashed"`` or ``"duplicate"``.
        detail: what exactly was found, in words ("" when the label says it all).
        path: the file, or None where it is not known.
    """

    def __init__(self, reason: str, detail: str = "", path: Path | str | None = None):
        super().__init__(reason, detail)
        self.reason, self.detail = reason, detail
        self.path = None if path is None else Path(path)

    def __str__(self) -> str:
        message = f"{self.path.name}: {self.reason}" if self.path is not None else self.reason
        if self.detail:
            message += f" ({self.detail})"
        if NEXT_STEPS.get(self.reason):
            message += f"; {NEXT_STEPS[self.reason]}"
        return message

    def __reduce__(self):  # sent back from worker processes whole, path included
        return (_rebuild_error, (self.reason, self.detail, self.path))


def _rebuild_error(reason: str, detail: str, path: Path | None) -> MidiLoadError:
    return MidiLoadError(reason, detail, path)


# ----------------------------------------------------------------------------- events → notes


def program_name(program: int) -> str:
    """General MIDI instrument name of a program number, as music21 names it."""
    return _GM_NAMES[program] if 0 <= program < len(_GM_NAMES) else ""


# music21's instrument.instrumentFromMidiProgram(p).instrumentName for p = 0..127, copied so
# that reading never imports music21 (a test checks the copy against music21).
_GM_NAMES = [
    "Piano", "Piano", "Electric Piano", "Piano", "Electric Piano", "Electric Piano", "Harpsichord",
    "Clavichord", "Celesta", "Glockenspiel", "Glockenspiel", "Vibraphone", "Marimba", "Xylophone",
    "Tubular Bells", "Dulcimer", "Electric Organ", "Electric Organ", "Electric Organ",
    "Pipe Organ", "Reed Organ", "Accordion", "Harmonica", "Accordion", "Acoustic Guitar",
    "Acoustic Guitar", "Electric Guitar", "Electric Guitar", "Electric Guitar", "Electric Guitar",
    "Electric Guitar", "Electric Guitar", "Acoustic Bass", "Electric Bass", "Electric Bass",
    "Fretless Bass", "Electric Bass", "Electric Bass", "Electric Bass", "Electric Bass", "Violin",
    "Viola", "Violoncello", "Contrabass", "StringInstrument", "StringInstrument", "Harp",
    "Timpani", "StringInstrument", "StringInstrument", "StringInstrument", "StringInstrument",
    "Choir", "Voice", "Voice", "Sampler", "Trumpet", "Trombone", "Tuba", "Trumpet", "Horn",
    "Brass", "Brass", "Brass", "Soprano Saxophone", "Alto Saxophone", "Tenor Saxophone",
    "Baritone Saxophone", "Oboe", "English Horn", "Bassoon", "Clarinet", "Piccolo", "Flute",
    "Recorder", "Pan Flute", "Pan Flute", "Shakuhachi", "Whistle", "Ocarina", "Sampler", "Sampler",
    "Sampler", "Sampler", "Sampler", "Sampler", "Sampler", "Sampler", "Sampler", "Sampler",
    "Sampler", "Sampler", "Sampler", "Sampler", "Sampler", "Sampler", "Sampler", "Sampler",
    "Sampler", "Sampler", "Sampler", "Sampler", "Sampler", "Sampler", "Sitar", "Banjo", "Shamisen",
    "Koto", "Kalimba", "Bagpipes", "Violin", "Shehnai", "Glockenspiel", "Agogo", "Steel Drum",
    "Woodblock", "Taiko", "Tom-Tom", "Sampler", "Sampler", "Sampler", "Sampler", "Sampler",
    "Sampler", "Sampler", "Sampler", "Sampler", "Sampler",
]


@dataclass
class Extract:
    """What the reader got from one file: columns sorted by (offset, pitch, part)."""

    part: np.ndarray  # int16
    offset: np.ndarray  # float64, quarter lengths
    duration: np.ndarray  # float64, quarter lengths
    pitch: np.ndarray  # int16
    velocity: np.ndarray  # int16
    instruments: list[str]
    drum_hits: int
    warnings: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.pitch)

    def info(self) -> dict:
        return {"instruments": list(self.instruments), "drum_hits": self.drum_hits}


def _extract(
    notes: np.ndarray, part_track: np.ndarray, part_program: np.ndarray, ticks_per_quarter: float, track_names, drum_hits: int,
    warnings: list[str],
) -> Extract:
    """An :class:`Extract` from what :func:`helpers.track_decoder.decode_tracks` gave for all the
    file's tracks: notes sorted by (offset, pitch, part), notes equal in all three in the order of
    their note-ons. A part's instrument is the General MIDI name of its program, else its
    track's name (``track_names[track]``)."""
    from helpers import track_decoder as td

    key = td.sort_key(notes, len(part_track))
    # a stable sort, fast here: each track's notes are already in order
    order = np.argsort(key, kind="stable") if key is not None else np.lexsort(notes[:, [td.PART, td.PITCH, td.BEGIN]].T)
    part, offset, duration, pitch, velocity = td.gather(notes, order, ticks_per_quarter)
    instruments = [
        (program_name(program) if program >= 0 else "") or track_names[track]
        for track, program in zip(part_track.tolist(), part_program.tolist())
    ]
    return Extract(part, offset, duration, pitch, velocity, instruments, int(drum_hits), warnings)


def _ticks_per_quarter(division: int) -> float:
    """Ticks per quarter note from the header's division; SMPTE time reads as 120 quarters a minute."""
    if division & 0x8000:
        frames = 256 - (division >> 8)  # 24, 25, 29 (29.97 drop-frame) or 30
        ticks_per_frame = division & 0xFF
        fps = 29.97 if frames == 29 else float(frames)
        if frames not in (24, 25, 29, 30) or not ticks_per_frame:
            raise MidiLoadError("corrupt", f"the header gives an invalid SMPTE time division 0x{division:04X}")
        return fps * ticks_per_frame / 2.0
    if not division:
        raise MidiLoadError("corrupt", "the header gives no time division")
    return float(division)


# ----------------------------------------------------------------------------- the fast reader


def _locate_header(data: bytes) -> tuple[int, list[str]]:
    """Byte position of ``MThd``; raises ``MidiLoadError("not MIDI")`` for anything else."""
    if data[:4] == b"MThd":
        return 0, []
    start = data.find(b"MThd", 0, HEADER_SEARCH_BYTES)
    if start > 0:
        wrapper = "a RIFF (.rmi) wrapper" if data[:4] == b"RIFF" else f"{start} bytes of something else"
        return start, [f"the MIDI data starts after {wrapper}"]
    if not data:
        raise MidiLoadError("not MIDI", "the file is empty")
    raise MidiLoadError("not MIDI", _what_else(data))


#: Signatures of files often saved under a MIDI name: (bytes at the start, what the file is).
_SIGNATURES = [
    (b"RIFF", "a RIFF file with no MIDI data (WAV audio?)"),
    (b"ID3", "an MP3 audio file"),
    (b"\xff\xfb", "an MP3 audio file"),
    (b"fLaC", "a FLAC audio file"),
    (b"OggS", "an Ogg audio file"),
    (b"PK\x03\x04", "a ZIP archive (a compressed MusicXML .mxl file?)"),
    (b"%PDF", "a PDF document"),
    (b"\x1f\x8b", "a gzip-compressed file"),
]


def _what_else(data: bytes) -> str:
    """What a file that is not MIDI seems to be, for the skip reason: the words say exactly
    what was recognised (a MusicXML score is not a web page)."""
    for signature, name in _SIGNATURES:
        if data.startswith(signature):
            if signature == b"RIFF" and data[8:12] == b"WAVE":
                return "a WAV audio file saved under a MIDI name"
            return f"{name} saved under a MIDI name"
    head = data[:1024].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith(b"<"):
        if b"<score-partwise" in head or b"<score-timewise" in head or b"musicxml" in head:
            return "a MusicXML score saved under a MIDI name"
        if head.startswith((b"<!doctype html", b"<html", b"<head", b"<body")) or b"<html" in head:
            return "a web page saved under a MIDI name"
        if head.startswith(b"<?xml"):
            return "an XML file saved under a MIDI name"
        return "a text/markup file saved under a MIDI name"
    try:
        data[:1024].decode("utf-8")
    except UnicodeDecodeError as error:
        if error.start < 1020:  # not a character cut at the end of the sample
            return "the file does not start with a MIDI header"
    if any(byte < 9 for byte in data[:1024]):
        return "the file does not start with a MIDI header"
    return "a text file saved under a MIDI name"


def _stop_problem(reason: int, value: int, label: str, ticks_per_quarter: float, max_quarters: float) -> str:
    """In words, why a track's events stopped before its end (:mod:`helpers.track_decoder`'s ``STOP_*``)."""
    from helpers import track_decoder

    if reason == track_decoder.STOP_LONG_DELTA_BYTES:
        return f"{label}: a delta time longer than 8 bytes"
    if reason == track_decoder.STOP_DELTA_TOO_LONG:
        return (
            f"{label}: a delta time of {value / ticks_per_quarter:,.0f} quarter lengths, longer than "
            f"a whole piece may last (max_quarters={max_quarters:,.0f}); the track is read up to it"
        )
    if reason == track_decoder.STOP_NO_STATUS:
        return f"{label}: a data byte where a status byte belongs"
    if reason == track_decoder.STOP_LONG_LENGTH_BYTES:
        return f"{label}: an event length longer than 8 bytes"
    if reason == track_decoder.STOP_CUT_IN_META:
        return f"{label}: cut off inside a meta or sysex event"
    if reason == track_decoder.STOP_UNDEFINED_STATUS:
        return f"{label}: an undefined status byte 0x{value:02X}"
    return f"{label}: cut off inside an event"


def _read_fast(data: bytes, limits: Limits, deadline: float | None) -> Extract:
    """The reader: bytes → notes, lenient about damage, bounded by ``limits``.

    A well-formed file (every chunk where its length says, no junk, no more tracks than the
    header announces) is decoded in one call of the compiled loop; if that call meets any
    trouble, or the file is not well-formed, the file is read again track by track, with every
    rule about damage (:func:`_read_tracks`).
    """
    from helpers import track_decoder as td

    start, warnings = _locate_header(data)
    if len(data) < start + 14:
        raise MidiLoadError("corrupt", "the MIDI header is cut off")
    header_length = int.from_bytes(data[start + 4 : start + 8], "big")
    if header_length < 6:
        raise MidiLoadError("corrupt", f"the MIDI header is {header_length} bytes long, not 6")
    midi_format = int.from_bytes(data[start + 8 : start + 10], "big")
    declared_tracks = int.from_bytes(data[start + 10 : start + 12], "big")
    tpq = _ticks_per_quarter(int.from_bytes(data[start + 12 : start + 14], "big"))
    if midi_format > 2:
        warnings.append(f"unknown MIDI format {midi_format}, read as format 1")
    buf = np.frombuffer(data, dtype=np.uint8)
    body = start + 8 + header_length
    spans = _well_formed_tracks(data, body, declared_tracks)
    if spans:
        starts, stops = (np.array(column, dtype=np.int64) for column in zip(*spans))  # contiguous: compiled for these
        ticks = limits.max_quarters * tpq
        notes, part_track, part_program, counts = td.decode_tracks(
            buf, starts, stops, 0, 0, 0, midi_format == 2, ticks, ticks, limits.max_notes, td.SYSTEM_DATA_BYTES
        )
        if len(counts) == len(spans) and not counts[-1, [td.BAD_VALUES, td.SYSTEM, td.STOP, td.ERROR]].any():
            if declared_tracks != len(spans):
                warnings.append(f"the header announces {declared_tracks} tracks, the file holds {len(spans)}")
            names = _TrackNames(data, counts)
            extract = _extract(notes, part_track, part_program, tpq, names, counts[:, td.DRUM_HITS].sum(), warnings)
            _check_clock(deadline, limits)
            return extract
    return _read_tracks(data, buf, body, midi_format, declared_tracks, tpq, limits, deadline, warnings)


def _well_formed_tracks(data: bytes, pos: int, declared_tracks: int) -> list[tuple[int, int]] | None:
    """The (start, stop) of every track chunk from ``pos`` on, or None when anything is out of
    place (junk, a wrong chunk length, more tracks than announced): then the careful path reads it."""
    spans = []
    size = len(data)
    while pos + 8 <= size:
        chunk, length = data[pos : pos + 4], int.from_bytes(data[pos + 4 : pos + 8], "big")
        end = pos + 8 + length
        if chunk != b"MTrk":
            if chunk.isalpha() and end <= size:  # another kind of chunk: skipped, as the standard says
                pos = end
                continue
            return None if data.find(b"MTrk", pos + 1) >= 0 else spans  # junk before a track; padding after the last
        if not _ends_where_said(data, end):
            return None
        if len(spans) >= declared_tracks:
            return None
        spans.append((pos + 8, end))
        pos = end
    return spans


def _ends_where_said(data: bytes, end: int) -> bool:
    """Whether a track chunk whose length says it ends at ``end`` does: End of Track just before,
    or the next track just after."""
    return end <= len(data) and (data[end - 3 : end] == b"\xff\x2f\x00" or data[end : end + 4] == b"MTrk")


def _check_clock(deadline: float | None, limits: Limits) -> None:
    if deadline is not None and time.perf_counter() > deadline:
        raise MidiLoadError("too slow", f"over the limit of {limits.timeout:g} s per file")


def _track_name(data: bytes, counts: np.ndarray) -> str:
    """A track's name from its row of :func:`helpers.track_decoder.decode_tracks`'s ``counts`` ("": none)."""
    from helpers import track_decoder as td

    start, stop = int(counts[td.NAME_START]), int(counts[td.NAME_STOP])
    return data[start:stop].decode("latin-1").strip() if start >= 0 else ""


class _TrackNames:
    """Track names read only when a part needs one (most parts are named by their program)."""

    def __init__(self, data: bytes, counts: np.ndarray):
        self.data, self.counts = data, counts

    def __getitem__(self, track: int) -> str:
        return _track_name(self.data, self.counts[track])


def _read_tracks(
    data: bytes, buf: np.ndarray, pos: int, midi_format: int, declared_tracks: int, tpq: float, limits: Limits,
    deadline: float | None, warnings: list[str],
) -> Extract:
    """The careful path of :func:`_read_fast`: track by track, with every rule about damage."""
    from helpers import track_decoder as td

    problems: list[str] = []
    tally = [0, 0, 0]  # events decoded, events damaged, the longest delta time taken for damage (ticks)
    copies_possible = midi_format != 2
    spans: list[tuple[int, int]] = []  # (body, stop) of every track read, to find copies
    # each track's notes, its parts' tracks and programs (from no track: nothing)
    found: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = [(np.zeros((0, 5), np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64))]
    names: list[str] = []
    ticks = limits.max_quarters * tpq
    drum_hits = tracks = shift = note_ons = parts = 0
    while pos + 8 <= len(data):
        chunk, length = data[pos : pos + 4], int.from_bytes(data[pos + 4 : pos + 8], "big")
        body, end = pos + 8, pos + 8 + length
        if chunk != b"MTrk":
            if chunk.isalpha() and end <= len(data):  # another kind of chunk: skipped, as the standard says
                pos = end
                continue
            found_at = data.find(b"MTrk", pos + 1)
            if found_at < 0:
                break  # padding or junk after the last track: no music in it
            problems.append(f"{found_at - pos} bytes of junk before track {tracks + 1}")
            pos = found_at
            continue
        label = f"track {tracks + 1}"
        length_right = _ends_where_said(data, end)
        if length_right:
            stop = end  # End of Track, or the next track, is where the chunk length says
        else:
            found_at = data.find(b"MTrk", body)
            stop = found_at if found_at >= 0 else len(data)
        if copies_possible and (problems or tracks >= declared_tracks):  # recovering: is it a copy?
            original = _copy_of(data, spans, body, stop)
            if original is not None:
                where = "after damage" if problems else "past the tracks the header announces"
                problems.append(f"{label}: a copy of track {original + 1} ({where}), dropped")
                spans.append((body, body))
                tracks += 1
                pos = stop
                continue
        spans.append((body, stop))
        known = len(problems)
        notes, part_track, part_program, (counts,) = td.decode_tracks(
            buf, np.array([body]), np.array([stop]), tracks, shift, note_ons, False, ticks, ticks - shift, limits.max_notes,
            td.SYSTEM_DATA_BYTES,
        )
        note_ons, stop_reason, stop_value, error = (int(counts[k]) for k in (td.NOTE_ONS, td.STOP, td.STOP_VALUE, td.ERROR))
        tally[0] += counts[td.EVENTS]
        tally[1] += counts[td.BAD_VALUES] + (stop_reason not in (td.STOP_NONE, td.STOP_CUT_IN_EVENT))
        if stop_reason == td.STOP_DELTA_TOO_LONG:
            tally[2] = max(tally[2], stop_value)
        if stop_reason != td.STOP_NONE:
            problems.append(_stop_problem(stop_reason, stop_value, label, tpq, limits.max_quarters))
        if error == td.ERROR_TOO_MANY_NOTES:
            raise MidiLoadError("too many notes", f"over the limit of {limits.max_notes:,} note-ons")
        if error in (td.ERROR_NONE, td.ERROR_TOO_LONG_AT_END):  # the track was read to its end
            if counts[td.BAD_VALUES]:
                problems.append(f"{label}: {counts[td.BAD_VALUES]} event(s) with a data byte above 127 skipped")
            if counts[td.SYSTEM]:
                problems.append(f"{label}: {counts[td.SYSTEM]} system message(s) skipped")
        if error in (td.ERROR_TOO_LONG, td.ERROR_TOO_LONG_AT_END):
            late = f"a note at {(counts[td.ERROR_TICK] + shift) / tpq:,.0f} quarter lengths"
            if problems or tally[1]:  # garbage read as a late note
                first = problems[0] if problems else f"{label}: a data byte above 127"
                raise MidiLoadError("corrupt", f"too damaged to trust: {late} after damage ({first})")
            raise MidiLoadError("too long", f"{late}, over the limit of {limits.max_quarters:,.0f}")
        drum_hits += counts[td.DRUM_HITS]
        notes[:, td.PART] += parts  # parts numbered across the file
        parts += len(part_track)
        found.append((notes, part_track, part_program))
        names.append(_track_name(data, counts))
        if not length_right and len(problems) == known:  # the track read cleanly, its length was wrong
            problems.append(f"{label}: cut off" if end > len(data) and not counts[td.ENDED] else f"{label}: wrong chunk length")
        if midi_format == 2:
            shift += int(counts[td.LAST_TICK])
        tracks += 1
        pos = stop
        _check_clock(deadline, limits)
    if tracks == 0:
        raise MidiLoadError("corrupt", "the file holds no track" + (f": {problems[0]}" if problems else ""))
    if declared_tracks != tracks and not problems:
        warnings.append(f"the header announces {declared_tracks} tracks, the file holds {tracks}")
    notes, part_track, part_program = (np.concatenate(c) for c in zip(*found))
    extract = _extract(notes, part_track, part_program, tpq, names, drum_hits, warnings + problems)
    if not len(extract) and problems:
        if tally[1] == 1 and tally[2]:  # a jump and nothing before it: a piece longer than the limit
            raise MidiLoadError(
                "too long",
                f"a delta time of {tally[2] / tpq:,.0f} quarter lengths, over the limit of {limits.max_quarters:,.0f}",
            )
        raise MidiLoadError("corrupt", problems[0])
    if problems:
        _trust(extract, tally, problems)
    return extract


def _copy_of(data: bytes, spans: list[tuple[int, int]], body: int, stop: int) -> int | None:
    """The earlier track whose bytes this track repeats (whole, or cut short), else None."""
    piece = data[body:stop]
    for index, (start, end) in enumerate(spans):
        if end - start >= len(piece) > 0 and data.startswith(piece, start):
            return index
    return None


def _trust(extract: Extract, tally: list[int], problems: list[str]) -> None:
    """Raise ``MidiLoadError("corrupt", "too damaged to trust: ...")`` when a damaged file's notes are not music.

    The rule, for a file in which the fast reader met damage (checked in
    ``tests/test_midi_reader.py``, table ``CASES``):

    1. **Undecodable events.** At least :data:`DAMAGED_EVENTS_MIN` events were damaged (a data
       byte above 127, or a track ended by bytes that are no event) and they make up at least
       :data:`DAMAGED_SHARE` of the events decoded: the bytes are largely garbage, and the
       "notes" in them are invented (random bytes give note-ons of any pitch). Intact music
       with one damaged spot (a file cut short, one bad byte) keeps what could be read.
    2. **Absurd time.** A note lasts, or a silence between two onsets lasts, longer than
       :data:`ABSURD_QUARTERS`: in a damaged file that is a misread delta time that moved the
       rest of a track by thousands of quarter notes, not music. (An undamaged file may hold
       such a drone or silence; it is the composer's.) Likewise a note past ``max_quarters``
       after damage makes the file too damaged to trust, not "too long".
    """
    decoded, damaged = tally[0], tally[1]
    first = problems[0]
    if damaged >= DAMAGED_EVENTS_MIN and damaged >= DAMAGED_SHARE * decoded:
        raise MidiLoadError("corrupt", f"too damaged to trust: {damaged:,} of {decoded:,} events undecodable ({first})")
    if not len(extract):
        return
    longest = float(extract.duration.max())
    gap = float(np.diff(extract.offset).max()) if len(extract) > 1 else 0.0
    if max(longest, gap) > ABSURD_QUARTERS:
        what = f"a note of {longest:,.0f}" if longest >= gap else f"a silence of {gap:,.0f}"
        raise MidiLoadError("corrupt", f"too damaged to trust: {what} quarter lengths after damage ({first})")


def file_bytes(path: Path | str, limits: Limits) -> bytes:
    """A file's bytes, read once.

    Raises:
        MidiLoadError: ``unreadable`` (missing, a link to nowhere, a folder or FIFO, no
            permission) or ``too large`` (decided from its size, before reading).
    """
    path = path if isinstance(path, Path) else Path(path)
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            raise MidiLoadError("unreadable", "not a regular file", path)
        if info.st_size > limits.max_file_bytes:
            raise MidiLoadError("too large", f"{info.st_size:,} bytes, over the limit of {limits.max_file_bytes:,}", path)
        with open(path, "rb") as handle:
            data = handle.read(info.st_size + 1)  # sized to the file: asking for 8 MiB would allocate them
            if len(data) > info.st_size:  # the file grew meanwhile: read on, still bounded
                data += handle.read(limits.max_file_bytes + 1 - len(data))
            return data
    except OSError as error:
        if error.errno == errno.ELOOP:
            detail = "a link loop (links that lead back to each other, never to a file)"
        elif path.is_symlink() and not path.exists():
            detail = "a link that points nowhere"
        else:
            detail = error.strerror or str(error)
        raise MidiLoadError("unreadable", detail, path) from None


def bytes_to_extract(data: bytes, limits: Limits) -> Extract:
    """Read a MIDI file's bytes into notes, in whichever process runs this.

    Raises:
        MidiLoadError: the reason the file is not used — also for a reader bug on strange input
            (``corrupt``, "reader error ...") and for memory running out (``too large``): no
            other exception leaves this function.
    """
    from helpers import track_decoder  # imports Numba: only when files are read

    try:
        if len(data) > limits.max_file_bytes:
            raise MidiLoadError("too large", f"{len(data):,} bytes, over the limit of {limits.max_file_bytes:,}")
        track_decoder.warmed_up()  # compiled, or loaded from disk, before the clock starts
        deadline = time.perf_counter() + limits.timeout if limits.timeout else None
        extract = _read_fast(data, limits, deadline)
        if not len(extract):
            detail = f"{extract.drum_hits} drum hits only" if extract.drum_hits else "the file holds no notes"
            raise MidiLoadError("no pitched notes", detail)
        return extract
    except MidiLoadError:
        raise
    except MemoryError:
        raise MidiLoadError("too large", "ran out of memory") from None
    except Exception as error:  # noqa: BLE001 - a reader bug on strange input: reported, never fatal
        raise MidiLoadError("corrupt", f"reader error {type(error).__name__}: {error}") from None
