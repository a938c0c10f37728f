"""Tests of helpers.midi_reader: small files, and real-world MIDI written byte by byte (damaged files, edge cases).

Every file is either used, with exactly the notes it holds, or skipped with a named reason;
none stops or stalls a load. The files are built from raw bytes (``mido`` refuses to write most
of them); where ``mido`` can read a file, its count of pitched note-ons is the independent
check of the notes kept. On the shipped data the check is 30,942 notes in 40 files.
"""

from __future__ import annotations

import collections
import os
import random

import numpy as np
import pandas as pd
import pytest
from conftest import C_MAJOR_SCALE, DRUMS, Track, count_drum_note_ons, count_pitched_note_ons, write_midi
from midi_oracle import music21_to_notes

from helpers import config, midi_io, midi_reader, reader_pool, tokens
from helpers.midi_files import find_midi_files
from helpers.midi_reader import MAX_NOTES, MAX_QUARTERS, Limits

# ----------------------------------------------------------------------------- bad files, arguments, the music21 oracle


@pytest.mark.parametrize(
    "name, content, reason",
    [
        ("random.mid", bytes(range(256)) * 3, "not MIDI"),
        ("page.mid", b"<!DOCTYPE html><html><body>Not Found</body></html>", "not MIDI"),
        ("empty.mid", b"", "not MIDI"),
        ("header_only.mid", b"MThd\x00\x00\x00\x06garbage-after-the-header", "corrupt"),
    ],
)
def test_unusable_files_raise_midi_load_error_with_a_reason(tmp_path, name, content, reason):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(midi_io.MidiLoadError) as caught:
        midi_io.midi_to_notes(path)
    assert caught.value.reason == reason
    assert str(caught.value).startswith(f"{name}: {reason}")
    assert caught.value.path == path


def test_truncated_midi_is_corrupt(tmp_path, midi_files):
    path = tmp_path / "truncated.mid"
    path.write_bytes(midi_files["scale"].read_bytes()[:40])
    with pytest.raises(midi_io.MidiLoadError) as caught:
        midi_io.midi_to_notes(path)
    assert caught.value.reason == "corrupt"


def test_drums_only_file_has_no_pitched_notes(midi_files):
    with pytest.raises(midi_io.MidiLoadError) as caught:
        midi_io.midi_to_notes(midi_files["drums_only"])
    assert caught.value.reason == "no pitched notes"
    assert f"{len(DRUMS)} drum hits" in caught.value.detail


def test_file_without_notes_has_no_pitched_notes(tmp_path):
    path = write_midi(tmp_path / "silent.mid", [Track([])])
    with pytest.raises(midi_io.MidiLoadError) as caught:
        midi_io.midi_to_notes(path)
    assert caught.value.reason == "no pitched notes"


def test_missing_file_is_unreadable(tmp_path):
    with pytest.raises(midi_io.MidiLoadError) as caught:
        midi_io.midi_to_notes(tmp_path / "nowhere.mid")
    assert caught.value.reason == "unreadable"


@pytest.mark.parametrize(
    "content, words",
    [
        (b'<?xml version="1.0"?>\n<!DOCTYPE score-partwise PUBLIC "-//Recordare//DTD MusicXML 4.0 Partwise//EN">\n'
         b"<score-partwise/>", "a MusicXML score saved under a MIDI name"),
        (b"<!DOCTYPE html><html><body>404</body></html>", "a web page saved under a MIDI name"),
        (b'<?xml version="1.0"?><config/>', "an XML file saved under a MIDI name"),
        (b"RIFF\x24\x00\x00\x00WAVEfmt ", "a WAV audio file saved under a MIDI name"),
        (b"ID3\x03\x00" + bytes(20), "an MP3 audio file saved under a MIDI name"),
        (b"PK\x03\x04" + bytes(20), "a ZIP archive (a compressed MusicXML .mxl file?) saved under a MIDI name"),
        (b"X:1\nT:A tune in ABC\nK:G\nGABc|", "a text file saved under a MIDI name"),
        (bytes(range(256)) * 4, "the file does not start with a MIDI header"),
    ],
)
def test_files_that_are_not_midi_are_named_for_what_they_are(tmp_path, content, words):
    (tmp_path / "x.mid").write_bytes(content)
    with pytest.raises(midi_io.MidiLoadError) as caught:
        midi_io.midi_to_notes(tmp_path / "x.mid")
    assert caught.value.reason == "not MIDI" and caught.value.detail == words
    assert str(caught.value).endswith(midi_reader.NEXT_STEPS["not MIDI"])  # and what to do


def test_a_link_loop_is_not_a_link_to_nowhere(tmp_path):
    os.symlink(tmp_path / "b.mid", tmp_path / "a.mid")
    os.symlink(tmp_path / "a.mid", tmp_path / "b.mid")
    os.symlink(tmp_path / "gone.mid", tmp_path / "dangling.mid")
    os.symlink(tmp_path / "self.mid", tmp_path / "self.mid")
    write_midi(tmp_path / "fine.mid", [Track(C_MAJOR_SCALE)])
    _, report = midi_io.load_midi_folder(tmp_path)
    loop = "unreadable (a link loop (links that lead back to each other, never to a file))"
    assert {e["piece"]: e["reason"] for e in report.skipped} == {
        "a.mid": loop, "b.mid": loop, "self.mid": loop, "dangling.mid": "unreadable (a link that points nowhere)",
    }


def test_instrument_names_are_music21s():
    from music21 import instrument

    for program in range(128):
        try:
            expected = instrument.instrumentFromMidiProgram(program).instrumentName or ""
        except instrument.InstrumentException:
            expected = ""
        assert midi_reader.program_name(program) == expected, program


@pytest.mark.parametrize("name", ["scale", "chords", "two_part", "with_drums"])
def test_the_reader_and_music21_give_the_same_table(midi_files, name):
    notes, info = midi_io.midi_to_notes(midi_files[name])
    reference, reference_info = music21_to_notes(midi_files[name])
    assert notes.equals(reference) and info == reference_info


def test_bad_arguments_are_refused(midi_files):
    path = midi_files["scale"]
    for limit in ({"max_notes": 0}, {"max_file_bytes": -1}, {"max_quarters": 0}, {"timeout": 0}):
        with pytest.raises(ValueError, match=next(iter(limit))):
            Limits(**limit)
    with pytest.raises(ValueError, match="workers"):
        midi_io.load_midi_files([path], workers=0)
    assert len(midi_io.load_midi_files([path], limits=Limits(timeout=None))[0]) == len(C_MAJOR_SCALE)


# ----------------------------------------------------------------------------- raw MIDI bytes

TPQ = 480
EOT = b"\xff\x2f\x00"


def vlq(number: int) -> bytes:
    """A MIDI variable-length quantity: 7 bits a byte, high bit set on all but the last."""
    out = [number & 0x7F]
    number >>= 7
    while number:
        out.append(0x80 | (number & 0x7F))
        number >>= 7
    return bytes(reversed(out))


def chunk(kind: bytes, body: bytes, length: int | None = None) -> bytes:
    """A chunk: 4-letter kind, 32-bit length (``length`` when given, even if wrong), body."""
    return kind + (len(body) if length is None else length).to_bytes(4, "big") + body


def header(midi_format: int = 1, tracks: int = 1, division: int = TPQ) -> bytes:
    return chunk(b"MThd", midi_format.to_bytes(2, "big") + tracks.to_bytes(2, "big") + division.to_bytes(2, "big"))


def on(pitch: int, velocity: int = 90, channel: int = 0) -> bytes:
    return bytes([0x90 | channel, pitch, velocity])


def off(pitch: int, channel: int = 0) -> bytes:
    return bytes([0x80 | channel, pitch, 0])


def body(events: list[tuple[int, bytes]], end: bool = True) -> bytes:
    """Track bytes from ``(delta ticks, event bytes)`` pairs, with End of Track unless ``end`` is False."""
    return b"".join(vlq(delta) + event for delta, event in events) + (b"\x00" + EOT if end else b"")


def track(events: list[tuple[int, bytes]], end: bool = True, length: int | None = None) -> bytes:
    return chunk(b"MTrk", body(events, end), length)


def line(pitches, channel: int = 0, step: int = TPQ) -> list[tuple[int, bytes]]:
    """One note after the other, each ``step`` ticks long."""
    events = []
    for pitch in pitches:
        events += [(0, on(pitch, channel=channel)), (step, off(pitch, channel=channel))]
    return events


SCALE = [60, 62, 64, 65, 67, 69, 71, 72]
BASS = [36, 43, 41, 43]
TWO_TRACKS = [track(line(SCALE)), track(line(BASS, channel=1, step=2 * TPQ))]


def midi_bytes(*tracks: bytes, midi_format: int = 1, division: int = TPQ, declared: int | None = None) -> bytes:
    return header(midi_format, len(tracks) if declared is None else declared, division) + b"".join(tracks)


def truncated() -> bytes:
    """The scale cut in the middle of the delta time after its fifth note-on."""
    events = line(SCALE)
    cut = len(body(events[:9], end=False))  # 8 events = 4 notes, then the 5th note-on
    data = midi_bytes(track(events))
    return data[: 14 + 8 + cut] + b"\x83"  # the first byte of a two-byte delta time


def wrong_length(delta: int) -> bytes:
    first = track(line(SCALE), length=len(body(line(SCALE))) + delta)
    return header(1, 2) + first + TWO_TRACKS[1]


def riff_wrapped() -> bytes:
    midi = midi_bytes(*TWO_TRACKS)
    data = chunk(b"data", midi)
    return b"RIFF" + (4 + len(data)).to_bytes(4, "little") + b"RMID" + data


def huge_delta() -> bytes:
    """A 60-byte file whose one note starts 0x0FFFFFFF ticks in: about 560,000 quarter notes."""
    return midi_bytes(track([(0x0FFFFFFF, on(60)), (TPQ, off(60))]))


def tempo_storm(changes: int = 20_000) -> bytes:
    """A scale under ``changes`` tempo changes, one every 12 ticks (converter.parse takes minutes)."""
    tempos = [(12 * bool(i), b"\xff\x51\x03" + (400_000 + i % 200_000).to_bytes(3, "big")) for i in range(changes)]
    return midi_bytes(track(tempos), track(line(SCALE)))


def many_notes(count: int = 30_000) -> bytes:
    """``count`` sixteenth notes, running status, note-offs as note-ons of velocity 0."""
    raw = bytearray(b"\x00\x90")
    for i in range(count):
        pitch = 48 + i % 36
        raw += bytes([pitch, 80]) if i == 0 else b"\x00" + bytes([pitch, 80])
        raw += vlq(TPQ // 4) + bytes([pitch, 0])
    return header(0, 1) + chunk(b"MTrk", bytes(raw) + b"\x00" + EOT)


def running_status() -> bytes:
    raw = b"\x00\x90\x3c\x50" + b"\x83\x60\x3c\x00" + b"\x00\x3e\x50" + b"\x83\x60\x3e\x00"  # 2 notes, 1 status byte
    raw += b"\x00\xff\x01\x04text" + b"\x00\x40\x50" + b"\x83\x60\x40\x00"  # running status survives a meta event
    raw += b"\x00\xf0\x03\x7e\x09\xf7" + b"\x00\x41\x50" + b"\x83\x60\x41\x00"  # ... and a sysex
    return header(0, 1) + chunk(b"MTrk", raw + b"\x00" + EOT)


def zero_length() -> bytes:
    return midi_bytes(
        track(
            [
                (0, on(60)), (0, off(60)),  # on, off at one tick
                (TPQ, off(62)), (0, on(62)),  # off, on at one tick: a grace note as music21 writes it
                (0, on(62)), (TPQ, off(62)),  # the real note after it keeps its own length
                (TPQ, on(62)), (TPQ, off(62)),
            ]
        )
    )


def never_released() -> bytes:
    return midi_bytes(track([(0, on(60)), (TPQ, on(64)), (TPQ, off(64)), (2 * TPQ, on(67))]))


def overlapping() -> bytes:
    return midi_bytes(track([(0, on(60)), (TPQ // 2, on(60)), (TPQ // 2, off(60)), (TPQ // 2, off(60))]))


def stray_note_offs() -> bytes:
    return midi_bytes(track([(0, off(59)), (0, on(60)), (TPQ, off(60)), (0, off(60)), (TPQ, off(61))]))


def format_0_channels() -> bytes:
    events = [(0, on(60, channel=0)), (0, on(40, channel=1)), (0, on(36, channel=9)), (0, bytes([0xC1, 32]))]
    events += [(TPQ, off(60)), (0, off(40, channel=1)), (0, off(36, channel=9)), (0, on(64)), (TPQ, off(64))]
    return midi_bytes(track(events), midi_format=0)


def smpte(frames: int, ticks_per_frame: int) -> bytes:
    """Scale timed in SMPTE frames: one note a half second (a quarter note at 120 a minute)."""
    division = ((256 - frames) << 8) | ticks_per_frame
    return midi_bytes(track(line(SCALE[:4], step=frames * ticks_per_frame // 2)), division=division)


def with_status(message: bytes) -> bytes:
    """The scale with ``message`` after its third note."""
    return midi_bytes(track(line(SCALE[:3]) + [(0, message)] + line(SCALE[3:])))


def damaged_second_track() -> bytes:
    return midi_bytes(TWO_TRACKS[0], chunk(b"MTrk", b"\x00\x3c\x50\x83\x60\x3c\x00" + b"\x00" + EOT))


def long_delta(size: int) -> bytes:
    """Two notes, then a third after a delta time of 16 ticks spelt in ``size`` bytes (the standard allows 4)."""
    raw = body(line(SCALE[:2]), end=False) + b"\x80" * (size - 1) + b"\x10" + on(64) + vlq(TPQ) + off(64)
    return midi_bytes(chunk(b"MTrk", raw + b"\x00" + EOT))


def velocity_byte_above_127() -> bytes:
    return midi_bytes(track(line(SCALE[:2]) + [(0, bytes([0x90, 64, 0x95]))] + line(SCALE[2:])))


def drums_only() -> bytes:
    return midi_bytes(track([e for p, s, d in DRUMS for e in [(0, on(p, channel=9)), (TPQ // 2, off(p, channel=9))]]))


def garbage_after_last_track() -> bytes:
    """Two intact tracks; the last ends in garbage whose first delta time is 69,905 quarter lengths."""
    garbage = b"\x8f\xff\xff\x7f" + random.Random(15).randbytes(200)  # 0x1FFFFFF ticks, then noise
    return header(1, 2) + TWO_TRACKS[0] + chunk(b"MTrk", body(line(BASS, channel=1, step=2 * TPQ), end=False) + garbage)


def scrambled(seed: int = 8) -> bytes:
    """The bytes of a track of 32 notes shuffled (seed 8: the old reader made 4 notes of pitches 0-112 out of them)."""
    raw = bytearray(body(line(SCALE * 4, step=TPQ // 2), end=False))
    random.Random(seed).shuffle(raw)
    return midi_bytes(chunk(b"MTrk", bytes(raw) + b"\x00" + EOT))


def bad_bytes_among(scales: int, bad: int) -> bytes:
    """``scales`` C-major scales (16 events each, and End of Track) with ``bad`` note-ons of velocity 0x95."""
    return midi_bytes(track([(0, bytes([0x90, 64, 0x95]))] * bad + line(SCALE * scales)))


def jump_after_damage(held: bool) -> bytes:
    """The scale, one damaged byte, then the rest 2,000 quarter lengths later (a misread delta time).

    With ``held``, a note sounds across the jump (a note of 2,001 quarter lengths); else a silence.
    """
    events = line(SCALE[:4]) + [(0, bytes([0x90, 64, 0x95]))] + ([(0, on(48))] if held else [])
    events += [(2_000 * TPQ, on(67)), (TPQ, off(67))] + ([(0, off(48))] if held else [])
    return midi_bytes(track(events))


def late_note(damaged: bool) -> bytes:
    """Four notes, then two waits of 30,000 quarter lengths (each under the limit) and a note at
    60,004: past ``max_quarters``. With ``damaged``, a damaged byte comes before the waits."""
    events = line(SCALE[:4]) + ([(0, bytes([0x90, 64, 0x95]))] if damaged else [])
    events += [(30_000 * TPQ, b"\xff\x01\x01x"), (30_000 * TPQ, on(67)), (TPQ, off(67))]
    return midi_bytes(track(events))


def copied_tracks(cut: int | None = None) -> bytes:
    """Two tracks, junk, and the two tracks again (the second copy cut to ``cut`` bytes)."""
    again = TWO_TRACKS[0] + (TWO_TRACKS[1] if cut is None else TWO_TRACKS[1][:cut])
    return header(1, 2) + b"".join(TWO_TRACKS) + b"\x00junk" * 3 + again


#: name → (bytes, expected outcome): ("used", notes kept, text of the warning or None)
#: or ("skipped", reason label, text in the reason).
CASES = {
    "random_bytes.mid": (random.Random(0).randbytes(3000), ("skipped", "not MIDI", "does not start with a MIDI")),
    "web_page.mid": (b"<!DOCTYPE html><html><body>404 Not Found</body></html>", ("skipped", "not MIDI", "web page")),
    "empty.mid": (b"", ("skipped", "not MIDI", "empty")),
    "header_cut.mid": (header()[:10], ("skipped", "corrupt", "header is cut off")),
    "short_header.mid": (chunk(b"MThd", b"\x00\x01") + TWO_TRACKS[0], ("skipped", "corrupt", "2 bytes long")),
    "no_division.mid": (midi_bytes(*TWO_TRACKS, division=0), ("skipped", "corrupt", "no time division")),
    "no_tracks.mid": (header(1, 0), ("skipped", "corrupt", "holds no track")),
    "cut_before_notes.mid": (midi_bytes(*TWO_TRACKS)[:25], ("skipped", "corrupt", "cut off")),
    "truncated.mid": (truncated(), ("used", 5, "track 1: cut off")),
    "length_too_short.mid": (wrong_length(-5), ("used", 12, "track 1: wrong chunk length")),
    "length_too_long.mid": (wrong_length(+7), ("used", 12, "track 1: wrong chunk length")),
    "length_past_the_end.mid": (
        header(1, 2) + TWO_TRACKS[0] + track(line(BASS, channel=1), length=1 << 30),
        ("used", 12, "track 2: wrong chunk length"),
    ),
    "more_tracks_than_announced.mid": (midi_bytes(*TWO_TRACKS, declared=1), ("used", 12, "announces 1 tracks")),
    "fewer_tracks_than_announced.mid": (midi_bytes(*TWO_TRACKS, declared=3), ("used", 12, "announces 3 tracks")),
    "junk_between_tracks.mid": (
        header(1, 2) + TWO_TRACKS[0] + b"\x00garbage!" * 4 + TWO_TRACKS[1],
        ("used", 12, "36 bytes of junk before track 2"),
    ),
    "unknown_chunk.mid": (
        header(1, 2) + TWO_TRACKS[0] + chunk(b"XFIH", b"\x01" * 20) + TWO_TRACKS[1],
        ("used", 12, None),
    ),
    "trailing_padding.mid": (midi_bytes(*TWO_TRACKS) + b"\x00" * 100, ("used", 12, None)),
    "riff_wrapped.mid": (riff_wrapped(), ("used", 12, "RIFF (.rmi) wrapper")),
    "system_message.mid": (with_status(b"\xf2\x10\x20"), ("used", 8, "1 system message(s) skipped")),
    "undefined_status_byte.mid": (with_status(b"\xf4\x01\x02"), ("used", 3, "undefined status byte 0xF4")),
    "data_byte_without_status.mid": (damaged_second_track(), ("used", 8, "track 2: a data byte where a status byte")),
    "delta_time_in_5_bytes.mid": (long_delta(5), ("used", 3, None)),
    "delta_time_in_9_bytes.mid": (long_delta(9), ("used", 2, "delta time longer than 8 bytes")),
    "velocity_byte_above_127.mid": (velocity_byte_above_127(), ("used", 8, "1 event(s) with a data byte above 127")),
    "drums_only.mid": (drums_only(), ("skipped", "no pitched notes", f"{len(DRUMS)} drum hits only")),
    "no_notes.mid": (
        midi_bytes(track([(0, b"\xff\x51\x03\x07\xa1\x20")])),  # a tempo, nothing else
        ("skipped", "no pitched notes", "the file holds no notes"),
    ),
    "one_note.mid": (midi_bytes(track(line([69]))), ("used", 1, None)),
    "huge_delta_time.mid": (huge_delta(), ("skipped", "too long", "559,241 quarter lengths")),
    # Damage rule 1: a delta time longer than a whole piece may last (max_quarters) ends the track
    # as damaged; the music before it is kept. With nothing before it, the file is "too long".
    "garbage_after_last_track.mid": (
        garbage_after_last_track(),
        ("used", 12, "track 2: a delta time of 69,905 quarter lengths, longer than a whole piece may last"),
    ),
    # Damage rule 2 (midi_reader._trust): at least 2 damaged events, and at least 1 in 10 of
    # the events decoded, make a file too damaged to trust ...
    "scrambled.mid": (scrambled(), ("skipped", "corrupt", "too damaged to trust: 35 of 79 events undecodable")),
    "two_bad_bytes_in_19_events.mid": (bad_bytes_among(1, 2), ("skipped", "corrupt", "too damaged to trust: 2 of 19")),
    "two_bad_bytes_in_67_events.mid": (bad_bytes_among(4, 2), ("used", 32, "2 event(s) with a data byte above 127")),
    # ... and so does, in a damaged file, a note or a silence longer than 1,000 quarter lengths.
    "long_note_after_damage.mid": (
        jump_after_damage(held=True), ("skipped", "corrupt", "too damaged to trust: a note of 2,001 quarter lengths")
    ),
    "long_silence_after_damage.mid": (
        jump_after_damage(held=False), ("skipped", "corrupt", "too damaged to trust: a silence of 2,001 quarter")
    ),
    # ... and a note past max_quarters after damage is damage too, not a long piece.
    "late_note_after_damage.mid": (
        late_note(damaged=True), ("skipped", "corrupt", "too damaged to trust: a note at 60,004 quarter lengths after damage")
    ),
    "late_note.mid": (late_note(damaged=False), ("skipped", "too long", "a note at 60,004 quarter lengths")),
    # Damage rule 3: after damage (or past the tracks the header announces), a track that repeats an
    # earlier one byte for byte, whole or cut short, is dropped; intact files keep identical tracks.
    "copied_tracks_after_junk.mid": (copied_tracks(), ("used", 12, "track 3: a copy of track 1 (after damage), dropped")),
    "cut_copy_after_junk.mid": (copied_tracks(cut=20), ("used", 12, "track 4: a copy of track 2 (after damage), dropped")),
    "identical_tracks.mid": (midi_bytes(TWO_TRACKS[0], TWO_TRACKS[0]), ("used", 16, None)),
    "copy_past_the_announced_tracks.mid": (
        midi_bytes(TWO_TRACKS[0], TWO_TRACKS[0], declared=1),
        ("used", 8, "track 2: a copy of track 1 (past the tracks the header announces), dropped"),
    ),
    "tempo_storm.mid": (tempo_storm(), ("used", 8, None)),
    "many_notes.mid": (many_notes(), ("used", 30_000, None)),
    "format_2.mid": (midi_bytes(*TWO_TRACKS, midi_format=2), ("used", 12, None)),
    "format_0_channels.mid": (format_0_channels(), ("used", 3, None)),
    "smpte_25fps_40tpf.mid": (smpte(25, 40), ("used", 4, None)),
    "smpte_30fps_24tpf.mid": (smpte(30, 24), ("used", 4, None)),
    "running_status.mid": (running_status(), ("used", 4, None)),
    "zero_length_notes.mid": (zero_length(), ("used", 4, None)),
    "never_released.mid": (never_released(), ("used", 3, None)),
    "overlapping_same_pitch.mid": (overlapping(), ("used", 2, None)),
    "stray_note_offs.mid": (stray_note_offs(), ("used", 1, None)),
}
#: Files music21's MIDI module refuses (or reads partly) that the fast reader reads in full.
MUSIC21_REFUSES = {
    "format_2.mid",  # "cannot handle midi file format"
    "smpte_25fps_40tpf.mid",  # it takes 40 ticks per frame for a frame rate
    "riff_wrapped.mid",
    "junk_between_tracks.mid",
    "unknown_chunk.mid",
    "fewer_tracks_than_announced.mid",
    "length_too_short.mid",
    "length_too_long.mid",
    "truncated.mid",
    "garbage_after_last_track.mid",  # music21 reads the garbage: "too long", nothing kept
}
#: Files the fast reader finds too damaged to trust, of which music21 makes notes (garbage included).
MUSIC21_TRUSTS_GARBAGE = {
    "scrambled.mid",
    "two_bad_bytes_in_19_events.mid",
    "long_note_after_damage.mid",
    "long_silence_after_damage.mid",
}
#: Files music21 reads differently, and why; the file's own events side with the fast reader.
MUSIC21_DIFFERS = {
    "more_tracks_than_announced.mid": "music21 reads only the tracks the header announces",
    "undefined_status_byte.mid": "music21 re-reads the bytes after an undefined status as new events",
    "system_message.mid": "music21 re-reads the bytes after a system message as new events",
    "data_byte_without_status.mid": "music21 assumes a note-on status where none was given",
    "velocity_byte_above_127.mid": "music21 keeps a note of velocity 149",
    "running_status.mid": "music21 takes a sysex event for the running status",
    "delta_time_in_9_bytes.mid": "music21 reads on past a broken event",
    "two_bad_bytes_in_67_events.mid": "music21 keeps notes of velocity 149",
}

#: Files mido reads differently, on purpose.
MIDO_DIFFERS = {
    "more_tracks_than_announced.mid": "mido reads only the tracks the header announces",
    "delta_time_in_9_bytes.mid": "mido takes 9 bytes for one delta time; the standard allows 4, the fast reader 8",
}


@pytest.fixture(scope="module")
def case_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cases")
    for name, (content, _) in CASES.items():
        (folder / name).write_bytes(content)
    return folder


@pytest.fixture(scope="module")
def case_load(case_folder, tmp_path_factory):
    """All the cases loaded together, in this process: ``(notes, report)``."""
    return midi_io.load_midi_files(find_midi_files(case_folder), root=case_folder)


def mido_count(path) -> int | None:
    """mido's count of pitched note-ons, or None where mido cannot read the file."""
    try:
        return count_pitched_note_ons(path)
    except Exception:  # noqa: BLE001 - whatever mido raises, it could not count
        return None


# ----------------------------------------------------------------------------- every case


def test_every_case_is_used_or_skipped_with_its_reason(case_load):
    notes, report = case_load
    assert len(report.used) + len(report.skipped) == len(CASES)
    used = {entry["piece"]: entry for entry in report.used}
    skipped = {entry["piece"]: entry for entry in report.skipped}
    for name, (_, expected) in CASES.items():
        if expected[0] == "used":
            assert name in used, f"{name}: {skipped.get(name)}"
            assert used[name]["notes"] == expected[1] == (notes["piece"] == name).sum(), name
            warning = used[name].get("warning")
            assert (warning is None) if expected[2] is None else (expected[2] in warning), (name, warning)
        else:
            assert name in skipped, name
            assert skipped[name]["label"] == expected[1], (name, skipped[name])
            assert skipped[name]["reason"].startswith(expected[1]) and expected[2] in skipped[name]["reason"], name


@pytest.mark.parametrize("name", [n for n, (_, e) in CASES.items() if e[0] == "used"])
def test_notes_kept_equal_the_independent_count_where_mido_reads_the_file(case_folder, name):
    notes, info = midi_io.midi_to_notes(case_folder / name)
    independent = mido_count(case_folder / name)
    if name in MIDO_DIFFERS:
        assert independent != len(notes)
    elif independent is not None:
        assert len(notes) == independent
    assert len(notes) == CASES[name][1][1]
    assert notes["pitch"].between(0, 127).all() and notes["velocity"].between(1, 127).all()
    assert (notes["duration"] >= 0).all() and (notes["offset"] >= 0).all()


@pytest.mark.parametrize("name", list(CASES))
def test_music21_reader_agrees_wherever_it_reads_the_file(case_folder, name):
    path = case_folder / name
    try:
        fast, fast_info = midi_io.midi_to_notes(path)
    except midi_io.MidiLoadError:
        if name in MUSIC21_TRUSTS_GARBAGE:
            assert len(music21_to_notes(path)[0]) > 0
            return
        with pytest.raises(midi_io.MidiLoadError):  # music21 finds no notes where the fast reader finds none
            music21_to_notes(path)
        return
    try:
        reference, reference_info = music21_to_notes(path)
    except midi_io.MidiLoadError as error:
        assert name in MUSIC21_REFUSES, f"music21 refuses {name}: {error}"
        return
    if name in MUSIC21_DIFFERS:
        assert not reference.equals(fast)
        return
    assert name not in MUSIC21_REFUSES
    pd.testing.assert_frame_equal(reference, fast)
    assert reference_info == fast_info


def test_a_worker_pool_gives_the_same_load(case_folder, case_load, tmp_path):
    notes, report = midi_io.load_midi_files(
        find_midi_files(case_folder), root=case_folder, workers=2
    )
    pd.testing.assert_frame_equal(notes, case_load[0])
    assert report.used == case_load[1].used and report.skipped == case_load[1].skipped


# ----------------------------------------------------------------------------- what each case keeps


def notes_of(case_folder, name):
    notes, info = midi_io.midi_to_notes(case_folder / name)
    rows = zip(notes["offset"], notes["duration"], notes["pitch"])
    return [(round(o, 4), round(d, 4), int(p)) for o, d, p in rows], info


def test_truncated_file_keeps_the_notes_before_the_cut(case_folder):
    got, _ = notes_of(case_folder, "truncated.mid")
    assert [p for _, _, p in got] == SCALE[:5]
    assert got[4] == (4.0, 0.0, 67)  # the fifth note, started and never released, ends with what is left


def test_format_2_sequences_follow_one_another(case_folder):
    notes, _ = midi_io.midi_to_notes(case_folder / "format_2.mid")
    first, second = (notes[notes["part"] == part] for part in (0, 1))
    assert first["pitch"].tolist() == SCALE and second["pitch"].tolist() == BASS
    assert second["offset"].min() == first["offset"].max() + first["duration"].iloc[-1] == 8.0


def test_format_0_channels_are_parts_and_drums_are_counted(case_folder):
    notes, info = midi_io.midi_to_notes(case_folder / "format_0_channels.mid")
    assert info["drum_hits"] == 1 == count_drum_note_ons(case_folder / "format_0_channels.mid")
    assert notes.groupby("part")["pitch"].apply(sorted).to_dict() == {0: [60, 64], 1: [40]}
    assert info["instruments"] == ["", "Acoustic Bass"]  # channel 1 names none; program 32 on channel 2


@pytest.mark.parametrize("name", ["smpte_25fps_40tpf.mid", "smpte_30fps_24tpf.mid"])
def test_smpte_time_is_read_as_120_quarters_a_minute(case_folder, name):
    got, _ = notes_of(case_folder, name)
    assert got == [(float(i), 1.0, p) for i, p in enumerate(SCALE[:4])]


def test_zero_length_notes_are_kept_and_do_not_steal_note_offs(case_folder):
    got, _ = notes_of(case_folder, "zero_length_notes.mid")
    assert got == [(0.0, 0.0, 60), (1.0, 0.0, 62), (1.0, 1.0, 62), (3.0, 1.0, 62)]


def test_notes_never_released_end_with_their_track(case_folder):
    got, _ = notes_of(case_folder, "never_released.mid")
    assert got == [(0.0, 4.0, 60), (1.0, 1.0, 64), (4.0, 0.0, 67)]


def test_overlapping_notes_of_one_pitch_end_first_in_first_out(case_folder):
    got, _ = notes_of(case_folder, "overlapping_same_pitch.mid")
    assert got == [(0.0, 1.0, 60), (0.5, 1.0, 60)]


def test_note_offs_with_nothing_sounding_are_ignored(case_folder):
    got, _ = notes_of(case_folder, "stray_note_offs.mid")
    assert got == [(0.0, 1.0, 60)]


def test_running_status_survives_meta_and_sysex_events(case_folder):
    got, _ = notes_of(case_folder, "running_status.mid")
    assert [p for _, _, p in got] == [60, 62, 64, 65] and all(d == 1.0 for _, d, _ in got)


def test_tempo_changes_do_not_move_the_notes(case_folder):
    got, _ = notes_of(case_folder, "tempo_storm.mid")
    assert got == [(float(i), 1.0, p) for i, p in enumerate(SCALE)]


def test_garbage_after_the_last_track_keeps_the_music_before_it(case_folder, tmp_path):
    got, _ = notes_of(case_folder, "garbage_after_last_track.mid")
    intact = tmp_path / "intact.mid"
    intact.write_bytes(midi_bytes(*TWO_TRACKS))
    assert got == notes_of(tmp_path, "intact.mid")[0]  # every note, with its own length
    _, report = midi_io.load_midi_files([case_folder / "garbage_after_last_track.mid"])
    assert "damaged, kept what could be read: garbage_after_last_track.mid: track 2: a delta time" in str(report)


def test_a_garbage_delta_time_ends_its_track_whatever_max_quarters(case_folder):
    """Where a garbage delta time cut a track depends on max_quarters; the notes before it are kept."""
    path = case_folder / "garbage_after_last_track.mid"
    for max_quarters in (MAX_QUARTERS, 1e6, MAX_QUARTERS):
        _, report = midi_io.load_midi_files([path], limits=Limits(max_quarters=max_quarters))
        assert report.used[0]["notes"] == 12


def test_copied_tracks_after_junk_are_dropped_and_said_so(case_folder):
    got, _ = notes_of(case_folder, "copied_tracks_after_junk.mid")
    assert sorted(p for _, _, p in got) == sorted(SCALE + BASS)  # once each, not twice
    _, report = midi_io.load_midi_files([case_folder / "copied_tracks_after_junk.mid"])
    warning = report.used[0]["warning"]
    assert "track 3: a copy of track 1 (after damage), dropped" in warning
    assert "track 4: a copy of track 2 (after damage), dropped" in warning


def test_damage_keeps_the_other_tracks(case_folder):
    got, _ = notes_of(case_folder, "data_byte_without_status.mid")
    assert [p for _, _, p in got] == SCALE  # track 2 is unreadable from its first byte


# ----------------------------------------------------------------------------- limits


def test_too_many_notes_stops_reading_at_the_limit(case_folder):
    with pytest.raises(midi_io.MidiLoadError) as caught:
        midi_io.midi_to_notes(case_folder / "many_notes.mid", limits=Limits(max_notes=1_000))
    assert caught.value.reason == "too many notes" and "1,000" in caught.value.detail


def test_hundreds_of_thousands_of_notes_stop_at_the_default_limit(tmp_path):
    path = tmp_path / "black_midi.mid"
    path.write_bytes(many_notes(MAX_NOTES + 50_000))
    _, report = midi_io.load_midi_files([path])
    assert report.skipped[0]["reason"] == f"too many notes (over the limit of {MAX_NOTES:,} note-ons)"
    notes, _ = midi_io.midi_to_notes(path, limits=Limits(max_notes=300_000, max_quarters=1e5))  # the user's limits
    assert len(notes) == MAX_NOTES + 50_000


def test_drum_hits_count_towards_the_note_limit(tmp_path):
    path = write_midi(tmp_path / "drums.mid", [Track([(60, 0.0, 1.0)]), Track(DRUMS, channel=9)])
    with pytest.raises(midi_io.MidiLoadError, match="too many notes"):
        midi_io.midi_to_notes(path, limits=Limits(max_notes=len(DRUMS)))
    assert len(midi_io.midi_to_notes(path, limits=Limits(max_notes=len(DRUMS) + 1))[0]) == 1


def test_too_large_is_decided_before_reading(case_folder):
    size = len(CASES["many_notes.mid"][0])
    _, report = midi_io.load_midi_files([case_folder / "many_notes.mid"], limits=Limits(max_file_bytes=size - 1))
    assert report.skipped[0]["label"] == "too large" and f"{size:,} bytes" in report.skipped[0]["reason"]
    _, report = midi_io.load_midi_files([case_folder / "many_notes.mid"], limits=Limits(max_file_bytes=size))
    assert report.used[0]["notes"] == 30_000


def test_too_long_limit_can_be_raised(case_folder):
    notes, _ = midi_io.midi_to_notes(case_folder / "huge_delta_time.mid", limits=Limits(max_quarters=1e6))
    assert notes["offset"].tolist() == [0x0FFFFFFF / TPQ]


def test_the_reader_over_time_stops_itself(case_folder):
    with pytest.raises(midi_io.MidiLoadError) as caught:
        midi_io.midi_to_notes(case_folder / "many_notes.mid", limits=Limits(timeout=1e-6))
    assert caught.value.reason == "too slow"


def controller_flood(events: int) -> bytes:
    """``events`` controller changes (no notes, so the note limit never stops the reader), then a note."""
    return midi_bytes(track([(0, b"\xb0\x07\x64")] + [(0, b"\x07\x64")] * events + line([60])))


def test_the_reader_checks_its_clock_after_a_track_of_events_that_are_not_notes(tmp_path):
    path = tmp_path / "flood.mid"
    path.write_bytes(controller_flood(20_000))
    assert len(midi_io.midi_to_notes(path)[0]) == 1
    with pytest.raises(midi_io.MidiLoadError, match="too slow"):
        midi_io.midi_to_notes(path, limits=Limits(timeout=1e-6))


@pytest.mark.skipif(reader_pool.START_METHOD != "fork", reason="workers see the replaced reader only when forked")
def test_a_stuck_file_is_stopped_in_its_worker_and_the_load_goes_on(tmp_path, monkeypatch):
    """A reader that hangs on one file (a bug, or a parser that cannot stop itself inside a track):
    in a worker process the file is stopped at the time limit, the worker replaced, and the
    other files are read, in their order."""
    import time

    (tmp_path / "stuck.mid").write_bytes(controller_flood(1_000))
    for i in range(3):
        write_midi(tmp_path / f"tune_{i}.mid", [Track([(60 + i, 0.0, 1.0), (64 + i, 1.0, 1.0)])])
    stuck, real = (tmp_path / "stuck.mid").read_bytes(), midi_reader.bytes_to_extract

    def hangs_on_one_file(data, limits):
        if data == stuck:
            time.sleep(120)
        return real(data, limits)

    monkeypatch.setattr(midi_reader, "bytes_to_extract", hangs_on_one_file)
    begun = time.monotonic()
    notes, report = midi_io.load_midi_folder(tmp_path, limits=Limits(timeout=2.0), workers=2)
    assert time.monotonic() - begun < 60
    assert [e["piece"] for e in report.used] == ["tune_0.mid", "tune_1.mid", "tune_2.mid"]
    assert [(e["piece"], e["label"]) for e in report.skipped] == [("stuck.mid", "too slow")]
    assert "stopped" in report.skipped[0]["reason"] and len(notes) == 6


# ----------------------------------------------------------------------------- discovery


def test_folder_of_odd_entries_reports_each_on_purpose(tmp_path):
    good = CASES["one_note.mid"][0]
    (tmp_path / "with space é 変.mid").write_bytes(good)
    (tmp_path / "album.mid").mkdir()  # a folder named like a file: searched
    (tmp_path / "album.mid" / "inside.MIDI").write_bytes(good + b"\x00")  # other bytes: not a duplicate
    (tmp_path / ".hidden.mid").write_bytes(good)  # hidden: not a candidate
    os.symlink(tmp_path / "nowhere.mid", tmp_path / "dangling.mid")
    os.symlink(tmp_path, tmp_path / "album.mid" / "loop")  # a link loop
    os.mkfifo(tmp_path / "pipe.mid")  # reading it would wait forever
    (tmp_path / "copy.mid").write_bytes(good)  # same bytes as the first file
    (tmp_path / os.fsdecode(b"bad-\xff-name.mid")).write_bytes(good + b"\x00\x00")  # not UTF-8
    notes, report = midi_io.load_midi_folder(tmp_path)
    used = sorted(e["piece"] for e in report.used)
    assert used == ["album.mid/inside.MIDI", "bad-\ufffd-name.mid", "copy.mid"]
    reasons = {e["piece"]: e["reason"] for e in report.skipped}
    assert reasons == {
        "with space é 変.mid": "duplicate (same content as copy.mid)",
        "dangling.mid": "unreadable (a link that points nowhere)",
        "pipe.mid": "unreadable (not a regular file)",
    }
    assert len(notes) == 3
    str(report).encode("utf-8")  # printable whatever the file names


def test_duplicates_can_be_kept(tmp_path):
    for name in ("a.mid", "b.mid"):
        (tmp_path / name).write_bytes(CASES["one_note.mid"][0])
    _, report = midi_io.load_midi_folder(tmp_path, skip_duplicates=False)
    assert len(report.used) == 2 and not report.skipped


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their permissions")
def test_unreadable_file_and_folder_are_reported(tmp_path):
    (tmp_path / "locked.mid").write_bytes(CASES["one_note.mid"][0])
    (tmp_path / "locked.mid").chmod(0)
    (tmp_path / "private").mkdir()
    (tmp_path / "private" / "x.mid").write_bytes(CASES["one_note.mid"][0])
    (tmp_path / "private").chmod(0)
    (tmp_path / "fine.mid").write_bytes(CASES["one_note.mid"][0] + b"\x00")
    try:
        _, report = midi_io.load_midi_folder(tmp_path)
    finally:
        (tmp_path / "private").chmod(0o755)
    reasons = {e["piece"]: e["reason"] for e in report.skipped}
    assert reasons["locked.mid"].startswith("unreadable") and reasons["private/"].startswith("unreadable folder")


def test_unreadable_file_is_reported_even_as_root(tmp_path, monkeypatch):
    """The same path as above, with the permission error made by hand (tests here may run as root)."""
    path = tmp_path / "locked.mid"
    path.write_bytes(CASES["one_note.mid"][0])
    real_open = open

    def refusing_open(file, *args, **kwargs):
        if str(file) == str(path):
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr("builtins.open", refusing_open)
    _, report = midi_io.load_midi_files([path])
    expected = {"piece": "locked.mid", "reason": "unreadable (Permission denied)", "label": "unreadable"}
    assert report.skipped == [expected]


def test_folder_without_usable_music_stops_with_a_clear_error(case_folder, tmp_path):
    for name in ("web_page.mid", "empty.mid", "drums_only.mid", "huge_delta_time.mid", "no_tracks.mid"):
        (tmp_path / name).write_bytes(CASES[name][0])
    with pytest.raises(midi_io.NoUsableMidiError) as caught:
        midi_io.load_midi_folder(tmp_path)
    message = str(caught.value)
    tally = "(2 not MIDI, 1 corrupt, 1 no pitched notes, 1 too long)"
    assert f"5 candidate files, none with pitched notes {tally}" in message
    assert "skipped drums_only.mid: no pitched notes (6 drum hits only)" in message
    assert f"  too long: {midi_reader.NEXT_STEPS['too long']}." in message  # what to do, per reason
    assert message.splitlines()[-1].startswith("Point the loader at a folder of .mid/.midi files")
    assert len(caught.value.report.skipped) == 5


# ----------------------------------------------------------------------------- the shipped data

#: Pitched note-ons in data/midi, counted by mido (and no drum hits).
SHIPPED_NOTES = 30_942


@pytest.fixture(scope="module")
def shipped():
    """data/midi read by the reader and by music21: ``{"fast" or "music21": [(notes, info) per file]}``."""
    paths = find_midi_files(config.DATA_DIR)
    return paths, {"fast": [midi_io.midi_to_notes(p) for p in paths], "music21": [music21_to_notes(p) for p in paths]}


def test_shipped_data_keeps_every_pitched_note_on(shipped):
    paths, read = shipped
    assert len(paths) == 40
    counts = [len(notes) for notes, _ in read["fast"]]
    assert counts == [count_pitched_note_ons(p) for p in paths]
    assert sum(counts) == SHIPPED_NOTES
    assert sum(info["drum_hits"] for _, info in read["fast"]) == 0 == sum(count_drum_note_ons(p) for p in paths)


def test_shipped_data_fast_reader_equals_the_music21_reader(shipped):
    _, read = shipped
    for (fast, fast_info), (reference, reference_info) in zip(read["fast"], read["music21"]):
        pd.testing.assert_frame_equal(fast, reference)
        assert fast_info == reference_info


def test_shipped_data_every_note_is_in_the_token_stream(shipped):
    """Each note's pitch is in the token of the event at its onset; no event has a pitch of no note."""
    _, read = shipped
    notes = pd.concat([n for n, _ in read["fast"]], ignore_index=True)
    events = tokens.notes_to_events(notes)
    slot = np.round(notes["offset"].to_numpy() * tokens.ONSET_GRID).astype(np.int64)
    want = collections.defaultdict(set)
    for piece, s, pitch in zip(notes["piece"], slot, notes["pitch"]):
        want[(piece, s)].add(int(pitch))
    got = {
        (piece, int(np.round(offset * tokens.ONSET_GRID))): set(tokens.token_to_pitches(token))
        for piece, offset, token in zip(events["piece"], events["offset"], events["token"])
    }
    assert got == want
    assert sum(len(p) for p in want.values()) <= SHIPPED_NOTES  # unisons of two parts share a token


def test_shipped_data_symusic_loses_notes_that_the_files_hold(shipped):
    """symusic, compared by the benchmark: it drops the 98 grace notes that music21 wrote note-off first.

    Where it disagrees with the fast reader, mido's count of the file's note-ons sides with the
    fast reader, so symusic is never the library's reader.
    """
    from benchmarks.reading import symusic_to_notes

    paths, read = shipped
    disagree = 0
    for path, (fast, _) in zip(paths, read["fast"]):
        other, _ = symusic_to_notes(path)
        fast_pairs = collections.Counter(zip(fast["offset"], fast["pitch"]))
        other_pairs = collections.Counter(zip(other["offset"], other["pitch"]))
        assert not other_pairs - fast_pairs  # symusic finds no note the fast reader lacks
        if other_pairs != fast_pairs:
            disagree += 1
            assert len(fast) == count_pitched_note_ons(path) > len(other)
            assert tokens.notes_to_tokens(fast) != tokens.notes_to_tokens(other)
    assert disagree == 11
    assert sum(len(symusic_to_notes(p)[0]) for p in paths) == SHIPPED_NOTES - 98
