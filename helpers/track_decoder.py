"""One MIDI track's bytes → its notes: the inner loop of :mod:`helpers.midi_reader`, compiled.

A MIDI file spends nearly all its reading time here: every event of a track is decoded (delta
time, running status, note-on / note-off / program change / meta / sysex) and every note-off is
paired with the note-on it ends. Written in plain Python over NumPy arrays and compiled by
Numba (``numba.njit``) into machine code, it took the reader from about 450 files a second (the
same rules interpreted, with a generator of events) to several thousand, about what symusic's
C++ parser reads (``python -m benchmarks --stages reading`` sets it beside symusic,
pretty_midi, miditoolkit and mido). ``NUMBA_DISABLE_JIT=1`` runs the very same source
interpreted, to step through it.

What the loop does, rule by rule, is stated in :mod:`helpers.midi_reader` (what a note is, how
damage is met); :func:`decode_tracks` returns numbers, and the reader turns them into notes,
warnings and skips.
"""

from __future__ import annotations

import functools

import numba
import numpy as np

from helpers.constants import DRUM_CHANNEL

# Why a track's events stopped before its end (``stop`` in the result); the reader says it in words.
STOP_NONE = 0
STOP_LONG_DELTA_BYTES = 1  # a delta time longer than 8 bytes
STOP_DELTA_TOO_LONG = 2  # a delta time longer than a whole piece may last (``stop_value``: the delta)
STOP_NO_STATUS = 3  # a data byte where a status byte belongs
STOP_LONG_LENGTH_BYTES = 4  # an event length longer than 8 bytes
STOP_CUT_IN_META = 5  # cut off inside a meta or sysex event
STOP_UNDEFINED_STATUS = 6  # an undefined status byte (``stop_value``: the byte)
STOP_CUT_IN_EVENT = 7  # cut off inside an event (the bytes ended in the middle of one)

# Why the reader must skip the file (``error``); ``error_tick``: the tick of the note at fault.
ERROR_NONE = 0
ERROR_TOO_MANY_NOTES = 1
ERROR_TOO_LONG = 2  # a note starts too late
ERROR_TOO_LONG_AT_END = 3  # a note never released ends (with its track) too late

#: Data bytes after each system common and real-time status, 0xF0..0xFF; -1: not such a message
#: (0xF0, 0xF7 and 0xFF are sysex and meta, 0xF4 and 0xF5 are undefined).
SYSTEM_DATA_BYTES = np.array([-1, 1, 2, 1, -1, -1, 0, -1, 0, 0, 0, 0, 0, 0, 0, -1], dtype=np.int64)

_KEYS = 16 * 128  # (channel, pitch) pairs
#: Columns of the notes :func:`decode_tracks` returns, one row a note, ticks from the file's start.
PART, BEGIN, END, PITCH, VELOCITY = range(5)
#: Columns of its ``counts``, one row a track.
(NOTE_ONS, DRUM_HITS, EVENTS, BAD_VALUES, SYSTEM, ENDED, LAST_TICK, STOP, STOP_VALUE, ERROR, ERROR_TICK, NAME_START,
 NAME_STOP) = range(13)


@numba.njit(cache=True, nogil=True)
def decode_tracks(  # noqa: C901 - one loop, one place
    buf, starts, stops, first_track, shift, notes_before, format_2, max_delta, max_ticks, max_notes, system_bytes
):
    """Decode the tracks ``buf[starts[i]:stops[i]]`` one after the other and pair their notes;
    stop after the first track whose reading met trouble (damage, skipped events, a limit).

    Args:
        buf: the whole file, ``uint8``.
        starts, stops: the tracks' bytes; the first is track number ``first_track``.
        shift: tick at which the first track starts (format 2 places tracks one after the other,
            ``format_2``; else every track starts at 0).
        notes_before: note-ons (pitched and drums) of the tracks before these.
        max_delta: longest delta time taken for music, in ticks (longer: damage, the track ends).
        max_ticks: latest tick a note may start or a note never released may end (``too long``).
        max_notes: most note-ons of the whole file (``too many notes``).
        system_bytes: :data:`SYSTEM_DATA_BYTES`.

    Returns:
        ``(notes, part_track, part_program, counts)``. ``notes``: one row a note (columns
        :data:`PART` … :data:`VELOCITY`), each track's notes in the order of their note-ons,
        so sorted by onset. A part is one (track, channel) pair, numbered from 0 in the order
        parts end their first note (a note never released ends with its track, in the order
        its pitch first sounded); ``part_track`` and ``part_program`` give its track and its
        channel's latest program change in that track at that moment (-1: none yet).
        ``counts``: one row a track read (columns :data:`NOTE_ONS` … :data:`NAME_STOP`):
        note-ons so far in the file, drum hits, events decoded, events with a data byte above
        127, system messages, 1 if End of Track was met, the last tick, why the events stopped
        early (``STOP_*``) and its value, a limit passed (``ERROR_*``) and the tick at fault,
        and where the track's name is (-1: none).
    """
    capacity = (stops - starts).sum() // 3 + len(starts)  # a note-on takes three bytes at least
    notes = np.empty((capacity, 5), np.int64)
    counts = np.zeros((len(starts), 13), np.int64)
    part_track = np.empty(16 * len(starts), np.int64)
    part_program = np.empty(16 * len(starts), np.int64)
    part_of = np.empty(16, np.int64)  # this track's part of each channel
    programs = np.empty(16, np.int64)  # this track's latest program change of each channel
    # Sounding notes: one first-in-first-out queue per (channel, pitch), linked through the rows.
    head = np.full(_KEYS, -1, np.int64)
    tail = np.full(_KEYS, -1, np.int64)
    linked = np.empty(capacity, np.int64)
    seen = np.zeros(_KEYS, np.bool_)
    first_sounded = np.empty(_KEYS, np.int64)  # keys in the order they first sounded in this track
    # Note-offs that found nothing sounding, at tick ``unmatched_at``: marked with ``generation``.
    unmatched = np.zeros(_KEYS, np.int64)
    generation = 0
    rows = parts = 0
    note_ons = notes_before
    for i in range(len(starts)):
        track, start, stop = first_track + i, starts[i], stops[i]
        part_of[:] = -1
        programs[:] = -1
        n_seen = drum_hits = count = bad_values = system = ended = 0
        name_start, name_stop = -1, -1
        stop_reason, stop_value, error, error_tick = STOP_NONE, 0, ERROR_NONE, 0
        pos, tick, status = start, 0, 0
        unmatched_at, generation = -1, generation + 1  # no note-off of an earlier track counts
        while pos < stop:
            count += 1
            # delta time: a variable-length number, 7 bits a byte, high bit set on all but the last
            byte = buf[pos]
            pos += 1
            if byte < 0x80:
                tick += byte
            else:
                delta, size = byte & 0x7F, 1
                while byte & 0x80:
                    if pos >= stop:
                        stop_reason = STOP_CUT_IN_EVENT
                        break
                    byte = buf[pos]
                    pos += 1
                    if size < 9:
                        delta = (delta << 7) | (byte & 0x7F)
                    size += 1
                if stop_reason != STOP_NONE:
                    break
                if size > 8:  # the standard allows 4; longer ones are read (as mido and music21 do) up to 8
                    stop_reason = STOP_LONG_DELTA_BYTES
                    break
                if delta > max_delta:  # one wait longer than a whole piece may last: garbage, not music
                    stop_reason, stop_value = STOP_DELTA_TOO_LONG, delta
                    break
                tick += delta
            if pos >= stop:
                stop_reason = STOP_CUT_IN_EVENT
                break
            byte = buf[pos]
            if byte & 0x80:
                pos += 1
                if byte < 0xF0:
                    status = byte  # channel messages set running status; meta and sysex do not
            elif status:
                byte = status
            else:
                stop_reason = STOP_NO_STATUS
                break
            kind = byte & 0xF0
            if kind == 0x90 or kind == 0x80:
                if pos + 1 >= stop:
                    stop_reason = STOP_CUT_IN_EVENT
                    break
                pitch, velocity = buf[pos], buf[pos + 1]
                pos += 2
                channel = byte & 0x0F
                if pitch > 127 or velocity > 127:
                    bad_values += 1
                    continue
                key = channel * 128 + pitch
                if kind == 0x90 and velocity:  # note-on
                    note_ons += 1
                    if note_ons > max_notes:
                        error = ERROR_TOO_MANY_NOTES
                        break
                    if tick > max_ticks:
                        error, error_tick = ERROR_TOO_LONG, tick
                        break
                    if channel == DRUM_CHANNEL:
                        drum_hits += 1
                        continue
                    row = rows  # every pitched note-on is one note, in the order of its note-on
                    rows += 1
                    notes[row, BEGIN], notes[row, PITCH], notes[row, VELOCITY] = tick + shift, pitch, velocity
                    if tick == unmatched_at and unmatched[key] == generation:
                        # Note-off, then note-on, at one tick with nothing sounding: a zero-length note
                        # (a grace note) whose events were sorted note-offs first, as music21 writes them.
                        unmatched[key] = 0
                        notes[row, END] = tick + shift
                        parts = _number_part(notes, row, channel, track, programs, part_of, part_track, part_program, parts)
                    else:  # sounding until a note-off of its pitch: queued behind the notes of that pitch still sounding
                        linked[row] = -1
                        if tail[key] < 0:
                            head[key] = row
                        else:
                            linked[tail[key]] = row
                        tail[key] = row
                        if not seen[key]:
                            seen[key] = True
                            first_sounded[n_seen] = key
                            n_seen += 1
                else:  # note-off, or note-on with velocity 0: ends the oldest sounding note of its pitch
                    row = head[key]
                    if row >= 0:
                        head[key] = linked[row]
                        if head[key] < 0:
                            tail[key] = -1
                        notes[row, END] = tick + shift
                        parts = _number_part(notes, row, channel, track, programs, part_of, part_track, part_program, parts)
                    elif channel != DRUM_CHANNEL:
                        if tick != unmatched_at:
                            unmatched_at = tick
                            generation += 1
                        unmatched[key] = generation
            elif kind == 0xC0:
                if pos >= stop:
                    stop_reason = STOP_CUT_IN_EVENT
                    break
                program = buf[pos]
                pos += 1
                if program > 127:
                    bad_values += 1
                else:
                    programs[byte & 0x0F] = program
            elif kind == 0xB0 or kind == 0xE0 or kind == 0xA0:
                pos += 2
            elif kind == 0xD0:
                pos += 1
            elif byte == 0xFF or byte == 0xF0 or byte == 0xF7:
                meta = -1
                if byte == 0xFF:
                    if pos >= stop:
                        stop_reason = STOP_CUT_IN_EVENT
                        break
                    meta = buf[pos]
                    pos += 1
                length, size = 0, 0
                while True:
                    if pos >= stop:
                        stop_reason = STOP_CUT_IN_EVENT
                        break
                    part = buf[pos]
                    pos += 1
                    length = (length << 7) | (part & 0x7F)
                    size += 1
                    if not part & 0x80 or size > 8:
                        break
                if stop_reason != STOP_NONE:
                    break
                if size > 8:
                    stop_reason = STOP_LONG_LENGTH_BYTES
                    break
                if meta == 0x2F:  # End of Track
                    ended = 1
                    break
                if meta == 0x03 and name_start < 0:
                    name_start, name_stop = pos, min(pos + length, stop)
                pos += length
                if pos > stop:
                    stop_reason = STOP_CUT_IN_META
                    break
            elif system_bytes[byte - 0xF0] >= 0:  # a message for a live MIDI cable, not for a file
                pos += system_bytes[byte - 0xF0]
                system += 1
            else:
                stop_reason, stop_value = STOP_UNDEFINED_STATUS, byte
                break

        if error == ERROR_NONE:  # notes never released end with the track, in the order their pitch first sounded
            for k in range(n_seen):
                key = first_sounded[k]
                row = head[key]
                if row >= 0 and tick > max_ticks:
                    error, error_tick = ERROR_TOO_LONG_AT_END, tick
                    break
                while row >= 0:
                    notes[row, END] = tick + shift
                    parts = _number_part(notes, row, key // 128, track, programs, part_of, part_track, part_program, parts)
                    row = linked[row]
        for k in range(n_seen):  # ready for the next track
            key = first_sounded[k]
            head[key], tail[key], seen[key] = -1, -1, False
        counts[i, NOTE_ONS], counts[i, DRUM_HITS], counts[i, EVENTS], counts[i, BAD_VALUES] = note_ons, drum_hits, count, bad_values
        counts[i, SYSTEM], counts[i, ENDED], counts[i, LAST_TICK] = system, ended, tick
        counts[i, STOP], counts[i, STOP_VALUE], counts[i, ERROR], counts[i, ERROR_TICK] = stop_reason, stop_value, error, error_tick
        counts[i, NAME_START], counts[i, NAME_STOP] = name_start, name_stop
        if bad_values or system or stop_reason != STOP_NONE or error != ERROR_NONE:
            return notes[:rows], part_track[:parts], part_program[:parts], counts[: i + 1]
        if format_2:
            shift += tick
            max_ticks -= tick
    return notes[:rows], part_track[:parts], part_program[:parts], counts


@numba.njit(cache=True, nogil=True, inline="always")
def _number_part(notes, row, channel, track, programs, part_of, part_track, part_program, parts):
    """Give a note that just ended its part (numbered when it ends its first note); returns the parts so far."""
    if part_of[channel] < 0:
        part_of[channel] = parts
        part_track[parts], part_program[parts] = track, programs[channel]
        parts += 1
    notes[row, PART] = part_of[channel]
    return parts


@numba.njit(cache=True, nogil=True)
def sort_key(notes, parts):
    """One number a note that sorts notes by (onset, pitch, part): (begin × 128 + pitch) × parts
    + part; None when it would not fit in 63 bits (then sort by the three columns)."""
    n = len(notes)
    if n and notes[:, BEGIN].max() >= (2**62 // 128) // max(parts, 1):
        return None
    key = np.empty(n, np.int64)
    for row in range(n):
        key[row] = (notes[row, BEGIN] * 128 + notes[row, PITCH]) * parts + notes[row, PART]
    return key


@numba.njit(cache=True, nogil=True)
def gather(notes, order, ticks_per_quarter):
    """The columns of the notes table in ``order``: part, offset and duration (quarter lengths),
    pitch, velocity."""
    n = len(order)
    part, pitch, velocity = np.empty(n, np.int16), np.empty(n, np.int16), np.empty(n, np.int16)
    offset, duration = np.empty(n, np.float64), np.empty(n, np.float64)
    for i in range(n):
        row = order[i]
        part[i], pitch[i], velocity[i] = notes[row, PART], notes[row, PITCH], notes[row, VELOCITY]
        offset[i] = notes[row, BEGIN] / ticks_per_quarter
        duration[i] = (notes[row, END] - notes[row, BEGIN]) / ticks_per_quarter
    return part, offset, duration, pitch, velocity


@functools.cache
def warmed_up() -> None:
    """Compile the functions here (or load them from Numba's cache on disk) on a tiny track, once
    per process: called before a file's clock starts, so that no time limit pays for it."""
    track = np.frombuffer(bytes([0, 0x90, 60, 64, 1, 60, 0]), np.uint8)  # read-only, as the reader's buffers are
    notes, parts, _, _ = decode_tracks(track, np.array([0]), np.array([7]), 0, 0, 0, False, 1e9, 1e9, 10, SYSTEM_DATA_BYTES)
    gather(notes, np.argsort(sort_key(notes, len(parts))), 1.0)
