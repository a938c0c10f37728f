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

**The reader** decodes the bytes itself, five to ten times faster than music21's
``music21.midi``, and is lenient where music21 gives up: format-2 files, SMPTE timing, wrong
chunk lengths, files cut short, junk before the header or between tracks. The tests read every
file also with music21's ``music21.midi`` through the same pairing code (``tests/midi_oracle.py``)
and check that the tables are identical on every well-formed file (the shipped data and the
edge cases of ``tests/test_midi_reader.py``); damaged files each mends its own way, and those
tests say how. The benchmark compares symusic's C++ parser (``python -m benchmarks --stages
extraction``): faster still, but it drops notes never released and zero-length notes written
note-off first (98 of the 30,942 notes of ``data/midi``).

**Damage.** The reader keeps what a damaged file holds up to the damage (see
:func:`_fast_events`), with three rules of its own, each checked by a case of
``tests/test_midi_reader.py``: a delta time longer than a whole piece may last
(``max_quarters``) is garbage, and ends its track there; after damage (or past the tracks the
header announces), a track that repeats an earlier one byte for byte (whole or cut short) is a
copy, and is dropped; and a file is *too damaged to trust* — skipped as ``corrupt`` — when many
of its events are undecodable or its damage left notes or silences of absurd length
(:func:`_trust` states the rule).

**Limits and skips.** A file is skipped, with its reason, when it is larger than
``max_file_bytes``, holds more than ``max_notes`` note-ons, lasts longer than ``max_quarters`` or
takes longer than ``timeout`` seconds to read (:class:`Limits`). A skip has one form from the
reader to the report: :class:`MidiLoadError`, whose ``reason`` is one of the labels of
:data:`NEXT_STEPS`.
"""

from __future__ import annotations

import errno
import stat
import time
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from helpers.constants import DRUM_CHANNEL
from helpers.errors import MusicGenError

#: Bumped whenever extraction changes, so that old cache entries are not reused.
EXTRACTOR_VERSION = 5
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
    file), carried back from worker processes, kept in the cache, and turned into a row of
    :class:`helpers.load_report.LoadReport` by ``LoadReport.add``.

    Attributes:
        reason: a label of :data:`NEXT_STEPS`: ``"unreadable"``, ``"not MIDI"``, ``"corrupt"``,
            ``"no pitched notes"``, ``"too large"``, ``"too many notes"``, ``"too long"``,
            ``"too slow"``, ``"reader crashed"`` or ``"duplicate"``.
        detail: what exactly was found, in words ("" when the label says it all).
        path: the file, or None where it is not known.
        cacheable: False when the skip was decided by this load's limits, not by the file alone.
    """

    def __init__(self, reason: str, detail: str = "", path: Path | str | None = None, *, cacheable: bool = True):
        super().__init__(reason, detail)
        self.reason, self.detail, self.cacheable = reason, detail, cacheable
        self.path = None if path is None else Path(path)

    def __str__(self) -> str:
        message = f"{self.path.name}: {self.reason}" if self.path is not None else self.reason
        if self.detail:
            message += f" ({self.detail})"
        if NEXT_STEPS.get(self.reason):
            message += f"; {NEXT_STEPS[self.reason]}"
        return message

    def __reduce__(self):  # sent back from worker processes whole, path and cacheable included
        return (_rebuild_error, (self.reason, self.detail, self.path, self.cacheable))


def _rebuild_error(reason: str, detail: str, path: Path | None, cacheable: bool) -> MidiLoadError:
    return MidiLoadError(reason, detail, path, cacheable=cacheable)


# ----------------------------------------------------------------------------- events → notes

# Event kinds of the stream that every reader feeds to :meth:`_Collector.add_track`:
# (tick, kind, channel counted from 0, a, b).
_ON, _OFF, _PROGRAM, _NAME, _CLOCK = 0, 1, 2, 3, 4
#: Events between two looks at the clock.
_CLOCK_EVERY = 4096


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
    #: False when what was read depends on this load's limits, not on the file alone (a delta
    #: time longer than ``max_quarters`` ended a track): never cached.
    cacheable: bool = True

    def __len__(self) -> int:
        return len(self.pitch)

    def info(self) -> dict:
        return {"instruments": list(self.instruments), "drum_hits": self.drum_hits}


class _Collector:
    """Pairs note events track after track and checks the limits as it goes."""

    def __init__(self, limits: Limits, ticks_per_quarter: float, deadline: float | None):
        self.limits, self.deadline = limits, deadline
        self.max_ticks = limits.max_quarters * ticks_per_quarter
        self.ticks_per_quarter = ticks_per_quarter
        self.rows: list[tuple[int, int, int, int, int]] = []  # (part, begin, end, pitch, velocity)
        self.parts: dict[tuple[int, int], int] = {}
        self.part_program: list[int | None] = []
        self.part_track: list[int] = []
        self.track_names: list[str] = []
        self.note_ons = 0
        self.drum_hits = 0

    def check_clock(self) -> None:
        if self.deadline is not None and time.perf_counter() > self.deadline:
            raise MidiLoadError("too slow", f"over the limit of {self.limits.timeout:g} s per file")

    def too_long(self, tick: float) -> MidiLoadError:
        return MidiLoadError(
            "too long",
            f"a note at {tick / self.ticks_per_quarter:,.0f} quarter lengths, "
            f"over the limit of {self.limits.max_quarters:,.0f}",
        )

    def add_track(self, events: Iterable[tuple], track_index: int, shift: int = 0) -> int:
        """Pair one track's events; return the track's last tick (before ``shift``)."""
        rows = self.rows
        max_ticks, max_notes = self.max_ticks - shift, self.limits.max_notes
        programs: dict[int, int] = {}
        sounding: dict[tuple[int, int], deque[tuple[int, int]]] = {}  # oldest first
        unmatched_at, unmatched = -1, set()  # note-offs that found nothing sounding, at this tick
        name = None
        tick, count = 0, 0
        for tick, kind, channel, a, b in events:
            if kind == _ON:
                self.note_ons += 1
                if self.note_ons > max_notes:
                    raise MidiLoadError("too many notes", f"over the limit of {max_notes:,} note-ons")
                if tick > max_ticks:
                    raise self.too_long(tick + shift)
                if channel == DRUM_CHANNEL:
                    self.drum_hits += 1
                elif tick == unmatched_at and (channel, a) in unmatched:
                    # Note-off, then note-on, at one tick with nothing sounding: a zero-length note
                    # (a grace note) whose events were sorted note-offs first, as music21 writes them.
                    unmatched.discard((channel, a))
                    rows.append((self.part_of(track_index, channel, programs), tick + shift, tick + shift, a, b))
                else:
                    started = sounding.get((channel, a))
                    if started is None:
                        sounding[(channel, a)] = deque([(tick, b)])
                    else:
                        started.append((tick, b))
            elif kind == _OFF:
                started = sounding.get((channel, a))
                if started:
                    begin, velocity = started.popleft()
                    part = self.part_of(track_index, channel, programs)
                    rows.append((part, begin + shift, tick + shift, a, velocity))
                elif channel != DRUM_CHANNEL:
                    if tick != unmatched_at:
                        unmatched_at, unmatched = tick, set()
                    unmatched.add((channel, a))
            elif kind == _PROGRAM:
                programs[channel] = a
            elif kind == _NAME:
                if name is None:
                    name = a
            elif kind == _CLOCK:
                self.check_clock()
            count += 1
            if count % _CLOCK_EVERY == 0:
                self.check_clock()
        end = tick
        for (channel, pitch), started in sounding.items():  # notes never released end with the track
            if started and end > max_ticks:
                raise self.too_long(end + shift)
            for begin, velocity in started:
                rows.append((self.part_of(track_index, channel, programs), begin + shift, end + shift, pitch, velocity))
        self.track_names.append(name.decode("latin-1").strip() if isinstance(name, bytes) else "")
        return end

    def part_of(self, track_index: int, channel: int, programs: dict[int, int]) -> int:
        """The part of (track, channel), numbered in the order parts give their first note."""
        part = self.parts.get((track_index, channel))
        if part is None:
            part = self.parts[(track_index, channel)] = len(self.parts)
            self.part_program.append(programs.get(channel))
            self.part_track.append(track_index)
        return part

    def finish(self, warnings: list[str]) -> Extract:
        instruments = [
            (program_name(program) if program is not None else "") or self.track_names[track]
            for program, track in zip(self.part_program, self.part_track)
        ]
        if self.rows:
            part, begin, end, pitch, velocity = (np.array(c, dtype=np.int64) for c in zip(*self.rows))
        else:
            part = begin = end = pitch = velocity = np.zeros(0, dtype=np.int64)
        order = np.lexsort((part, pitch, begin))  # stable: equal keys keep the order of their note-offs
        tpq = self.ticks_per_quarter
        return Extract(
            part=part[order].astype(np.int16),
            offset=begin[order] / tpq,
            duration=(end - begin)[order] / tpq,
            pitch=pitch[order].astype(np.int16),
            velocity=velocity[order].astype(np.int16),
            instruments=instruments,
            drum_hits=self.drum_hits,
            warnings=warnings,
        )


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


def _fast_events(
    track: bytes, problems: list[str], label: str, ended: list[bool], tally: list[int], ticks_per_quarter: float,
    max_quarters: float,
) -> Iterator[tuple]:
    """Decode one track chunk's bytes into the event stream of :meth:`_Collector.add_track`.

    Stops at End of Track (and then appends True to ``ended``). Damage that keeps the events
    in step — a data byte above 127, a system message that has no place in a file — skips that
    one event; damage after which the next event cannot be found (data where a status byte
    belongs, an undefined status, a meta event longer than the track, a delta time longer
    than a whole piece may last) ends the track there, keeping what came before. All are noted
    in ``problems``; ``tally`` counts the events decoded, those that were damaged (system
    messages are whole events, misplaced but not damaged) and the longest delta time taken
    for damage, in ticks (see :func:`_trust`).
    """
    max_delta = max_quarters * ticks_per_quarter
    pos, tick, status, stop, count = 0, 0, 0, len(track), 0
    bad_values = system = stopped = 0
    try:
        while pos < stop:
            count += 1
            if not count % _CLOCK_EVERY:  # events that are not notes count towards the time limit too
                yield tick, _CLOCK, 0, 0, 0
            byte = track[pos]
            pos += 1
            if byte < 0x80:
                tick += byte
            else:
                delta, size = byte & 0x7F, 1
                while byte & 0x80:
                    byte = track[pos]
                    pos += 1
                    delta = (delta << 7) | (byte & 0x7F)
                    size += 1
                if size > 8:  # the standard allows 4; longer ones are read (as mido and music21 do) up to 8
                    problems.append(f"{label}: a delta time longer than 8 bytes")
                    stopped = 1
                    break
                if delta > max_delta:  # one wait longer than a whole piece may last: garbage, not music
                    problems.append(
                        f"{label}: a delta time of {delta / ticks_per_quarter:,.0f} quarter lengths, longer than "
                        f"a whole piece may last (max_quarters={max_quarters:,.0f}); the track is read up to it"
                    )
                    tally[2] = max(tally[2], delta)
                    stopped = 1
                    break
                tick += delta
            byte = track[pos]
            if byte & 0x80:
                pos += 1
                if byte < 0xF0:
                    status = byte  # channel messages set running status; meta and sysex do not
            elif status:
                byte = status
            else:
                problems.append(f"{label}: a data byte where a status byte belongs")
                stopped = 1
                break
            kind = byte & 0xF0
            if kind == 0x90 or kind == 0x80:
                pitch, velocity = track[pos], track[pos + 1]
                pos += 2
                if pitch > 127 or velocity > 127:
                    bad_values += 1
                elif kind == 0x90 and velocity:
                    yield tick, _ON, byte & 0x0F, pitch, velocity
                else:
                    yield tick, _OFF, byte & 0x0F, pitch, 0
            elif kind == 0xC0:
                program = track[pos]
                pos += 1
                if program > 127:
                    bad_values += 1
                else:
                    yield tick, _PROGRAM, byte & 0x0F, program, 0
            elif kind == 0xB0 or kind == 0xE0 or kind == 0xA0:
                pos += 2
            elif kind == 0xD0:
                pos += 1
            elif byte == 0xFF or byte == 0xF0 or byte == 0xF7:
                if byte == 0xFF:
                    meta = track[pos]
                    pos += 1
                length, size = 0, 0
                while True:
                    part = track[pos]
                    pos += 1
                    length = (length << 7) | (part & 0x7F)
                    size += 1
                    if not part & 0x80 or size > 8:
                        break
                if size > 8:
                    problems.append(f"{label}: an event length longer than 8 bytes")
                    stopped = 1
                    break
                if byte == 0xFF:
                    if meta == 0x2F:  # End of Track
                        ended.append(True)
                        break
                    if meta == 0x03:
                        yield tick, _NAME, 0, track[pos : pos + length], 0
                pos += length
                if pos > stop:
                    problems.append(f"{label}: cut off inside a meta or sysex event")
                    stopped = 1
                    break
            elif byte in _SYSTEM_DATA_BYTES:  # a message for a live MIDI cable, not for a file
                pos += _SYSTEM_DATA_BYTES[byte]
                system += 1
            else:
                problems.append(f"{label}: an undefined status byte 0x{byte:02X}")
                stopped = 1
                break
    except IndexError:
        problems.append(f"{label}: cut off inside an event")
    finally:  # also when the collector stops reading (a limit): the tally is then complete so far
        tally[0] += count
        tally[1] += bad_values + stopped
    if bad_values:
        problems.append(f"{label}: {bad_values} event(s) with a data byte above 127 skipped")
    if system:
        problems.append(f"{label}: {system} system message(s) skipped")
    yield tick, -1, 0, 0, 0  # the track's last tick, for notes never released


#: Data bytes after each system common and real-time status (0xF4 and 0xF5 are undefined).
_SYSTEM_DATA_BYTES = {0xF1: 1, 0xF2: 2, 0xF3: 1, 0xF6: 0, 0xF8: 0, 0xF9: 0, 0xFA: 0, 0xFB: 0, 0xFC: 0, 0xFD: 0, 0xFE: 0}


def _read_fast(data: bytes, limits: Limits, deadline: float | None) -> Extract:
    """The built-in reader: bytes → notes, lenient about damage, bounded by ``limits``."""
    start, warnings = _locate_header(data)
    if len(data) < start + 14:
        raise MidiLoadError("corrupt", "the MIDI header is cut off")
    header_length = int.from_bytes(data[start + 4 : start + 8], "big")
    if header_length < 6:
        raise MidiLoadError("corrupt", f"the MIDI header is {header_length} bytes long, not 6")
    midi_format = int.from_bytes(data[start + 8 : start + 10], "big")
    declared_tracks = int.from_bytes(data[start + 10 : start + 12], "big")
    collector = _Collector(limits, _ticks_per_quarter(int.from_bytes(data[start + 12 : start + 14], "big")), deadline)
    if midi_format > 2:
        warnings.append(f"unknown MIDI format {midi_format}, read as format 1")
    problems: list[str] = []
    tally = [0, 0, 0]  # events decoded, events damaged, the longest delta time taken for damage (ticks)
    tpq, copies_possible = collector.ticks_per_quarter, midi_format != 2
    spans: list[tuple[int, int]] = []  # (body, stop) of every track read, to find copies
    pos = start + 8 + header_length
    tracks, shift = 0, 0
    while pos + 8 <= len(data):
        chunk, length = data[pos : pos + 4], int.from_bytes(data[pos + 4 : pos + 8], "big")
        body, end = pos + 8, pos + 8 + length
        if chunk != b"MTrk":
            if chunk.isalpha() and end <= len(data):  # another kind of chunk: skipped, as the standard says
                pos = end
                continue
            found = data.find(b"MTrk", pos + 1)
            if found < 0:
                break  # padding or junk after the last track: no music in it
            problems.append(f"{found - pos} bytes of junk before track {tracks + 1}")
            pos = found
            continue
        label = f"track {tracks + 1}"
        length_right = end <= len(data) and (data[end - 3 : end] == b"\xff\x2f\x00" or data[end : end + 4] == b"MTrk")
        if length_right:
            stop = end  # End of Track, or the next track, is where the chunk length says
        else:
            found = data.find(b"MTrk", body)
            stop = found if found >= 0 else len(data)
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
        ended: list[bool] = []
        known = len(problems)
        events = _fast_events(data[body:stop], problems, label, ended, tally, tpq, limits.max_quarters)
        try:
            last = collector.add_track(events, tracks, shift)
        except MidiLoadError as skip:
            events.close()  # completes the tally
            if skip.reason == "too long" and (problems or tally[1]):  # garbage read as a late note
                first = problems[0] if problems else f"{label}: a data byte above 127"
                raise MidiLoadError(  # decided by max_quarters: not cached
                    "corrupt", f"too damaged to trust: {skip.detail.split(', over')[0]} after damage ({first})",
                    cacheable=False,
                ) from None
            raise
        if not length_right and len(problems) == known:  # the track read cleanly, its length was wrong
            problems.append(f"{label}: cut off" if end > len(data) and not ended else f"{label}: wrong chunk length")
        if midi_format == 2:
            shift += last
        tracks += 1
        pos = stop
        collector.check_clock()
    if tracks == 0:
        raise MidiLoadError("corrupt", "the file holds no track" + (f": {problems[0]}" if problems else ""))
    if declared_tracks != tracks and not problems:
        warnings.append(f"the header announces {declared_tracks} tracks, the file holds {tracks}")
    extract = collector.finish(warnings + problems)
    if not len(extract) and problems:
        if tally[1] == 1 and tally[2]:  # a jump and nothing before it: a piece longer than the limit
            raise MidiLoadError(
                "too long",
                f"a delta time of {tally[2] / tpq:,.0f} quarter lengths, over the limit of {limits.max_quarters:,.0f}",
            )
        raise MidiLoadError("corrupt", problems[0])
    extract.cacheable = not tally[2]  # where a track was cut depends on max_quarters
    if problems:
        try:
            _trust(extract, tally, problems)
        except MidiLoadError as skip:
            skip.cacheable = extract.cacheable
            raise
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
    path = Path(path)
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            raise MidiLoadError("unreadable", "not a regular file", path)
        if info.st_size > limits.max_file_bytes:
            raise MidiLoadError("too large", f"{info.st_size:,} bytes, over the limit of {limits.max_file_bytes:,}", path)
        with open(path, "rb") as handle:
            return handle.read(limits.max_file_bytes + 1)  # a file that grew meanwhile is still bounded
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
    try:
        if len(data) > limits.max_file_bytes:
            raise MidiLoadError("too large", f"{len(data):,} bytes, over the limit of {limits.max_file_bytes:,}")
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
