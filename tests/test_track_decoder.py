"""The compiled inner loop of the reader (helpers/track_decoder.py).

Its rules are tested through the reader in ``test_midi_reader.py`` (every case, and the music21
oracle on every well-formed file). Here: what only compiled code can get wrong — reading or
writing past an array (Numba checks no bounds unless told to), and the two ways into it (one
call per well-formed file, track by track for a damaged one) giving the same notes.
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from helpers import config, midi_files, midi_io, midi_reader, track_decoder

FUZZ = """
import random, sys
from helpers import config, midi_files, midi_reader

rng = random.Random(13)
files = [p.read_bytes() for p in midi_files.find_midi_files(config.DATA_DIR)]
limits = midi_reader.Limits(timeout=None)
outcomes = {}
for i in range(int(sys.argv[1])):
    data = bytearray(rng.choice(files))
    for _ in range(rng.choice((1, 3, 30))):  # damage: bytes changed, cut out, put in; the file cut short
        kind, at = rng.random(), rng.randrange(len(data))
        if kind < 0.6:
            data[at] = rng.randrange(256)
        elif kind < 0.8:
            del data[at : at + rng.randrange(1, 8)]
        else:
            data[at:at] = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 8)))
    if rng.random() < 0.2:
        data = data[: rng.randrange(14, len(data))]
    try:
        midi_reader.bytes_to_extract(bytes(data), limits)
        outcome = "used"
    except midi_reader.MidiLoadError as skip:
        assert not skip.detail.startswith("reader error"), skip.detail  # IndexError and the like
        outcome = skip.reason
    outcomes[outcome] = outcomes.get(outcome, 0) + 1
print(sorted(outcomes.items()))
"""


def test_damaged_files_never_read_past_an_array(tmp_path):
    """Thousands of damaged copies of the shipped files, read with Numba's bounds checks on: an
    index out of range raises IndexError (which the reader would report as "reader error");
    without the checks it would read or write memory that is not the file's."""
    env = {**os.environ, "NUMBA_BOUNDSCHECK": "1", "NUMBA_CACHE_DIR": str(tmp_path / "numba")}
    result = subprocess.run(
        [sys.executable, "-c", FUZZ, "3000"], cwd=config.ROOT, env=env, capture_output=True, text=True, timeout=600, check=False
    )
    assert result.returncode == 0, result.stderr[-3000:]
    outcomes = dict(eval(result.stdout))  # noqa: S307 - our own subprocess's printed list
    assert sum(outcomes.values()) == 3000
    assert outcomes.get("used", 0) > 100 and outcomes.get("corrupt", 0) > 100  # both ways were exercised


def test_one_call_per_file_and_track_by_track_give_the_same_notes(monkeypatch):
    """The shipped files are well-formed, so they take the one-call way; forced track by track, the
    same tables, infos and warnings."""
    paths = midi_files.find_midi_files(config.DATA_DIR)
    fast, fast_report = midi_io.load_midi_files(paths, root=config.DATA_DIR)
    monkeypatch.setattr(midi_reader, "_well_formed_tracks", lambda *args: None)
    careful, careful_report = midi_io.load_midi_files(paths, root=config.DATA_DIR)
    pd.testing.assert_frame_equal(fast, careful)
    assert fast_report.used == careful_report.used


def test_notes_come_sorted_by_onset_within_a_track_and_parts_by_their_first_ended_note():
    # one track: C4 held over D4 and E4, a program change to violin (40) before the first note ends
    track = bytes([
        0x00, 0x90, 60, 80,  # C4 on at 0
        0x00, 0x91, 62, 70,  # D4 on at 0, channel 2
        0x10, 0xC1, 40,  # channel 2 becomes a violin at 16
        0x00, 0x81, 62, 0,  # D4 off at 16: channel 2's part ends its first note first
        0x00, 0x91, 64, 60,  # E4 on at 16
        0x10, 0x80, 60, 0,  # C4 off at 32
        0x00, 0x81, 64, 0,  # E4 off at 32
        0x00, 0xFF, 0x2F, 0x00,
    ])
    buf = np.frombuffer(track, np.uint8)
    notes, part_track, part_program, counts = track_decoder.decode_tracks(
        buf, np.array([0]), np.array([len(track)]), 0, 0, 0, False, 1e9, 1e9, 100, track_decoder.SYSTEM_DATA_BYTES
    )
    assert notes.tolist() == [  # part, begin, end, pitch, velocity: in the order of the note-ons
        [1, 0, 32, 60, 80],
        [0, 0, 16, 62, 70],
        [0, 16, 32, 64, 60],
    ]
    assert part_track.tolist() == [0, 0] and part_program.tolist() == [40, -1]
    assert counts[0, track_decoder.NOTE_ONS] == 3 and counts[0, track_decoder.ENDED] == 1
    assert counts[0, track_decoder.LAST_TICK] == 32 and counts[0, track_decoder.STOP] == track_decoder.STOP_NONE


@pytest.mark.parametrize("cut", [1, 2, 3, 5, 9, 13])
def test_a_track_cut_anywhere_stops_cleanly(cut):
    track = bytes([0x00, 0x90, 60, 80, 0x81, 0x00, 0x80, 60, 0, 0x00, 0xFF, 0x03, 0x04, 0x61, 0x62])[:cut]
    buf = np.frombuffer(track, np.uint8)
    notes, _, _, counts = track_decoder.decode_tracks(
        buf, np.array([0]), np.array([len(track)]), 0, 0, 0, False, 1e9, 1e9, 100, track_decoder.SYSTEM_DATA_BYTES
    )
    assert counts[0, track_decoder.STOP] in (track_decoder.STOP_NONE, track_decoder.STOP_CUT_IN_EVENT, track_decoder.STOP_CUT_IN_META)
    assert len(notes) <= 1


def test_files_are_read_with_the_code_compiled_before_their_clock_starts():
    """``warmed_up`` compiles for the very argument types the reader passes (a read-only buffer,
    contiguous spans): reading files adds no compilation, which would count against a file's time limit."""
    code = (
        "from helpers import config, midi_io, midi_reader, track_decoder as td\n"
        "td.warmed_up()\n"
        "functions = (td.decode_tracks, td.sort_key, td.gather)\n"
        "before = [len(f.signatures) for f in functions]\n"
        "midi_io.load_midi_folder(config.DATA_DIR)\n"
        "midi_reader._well_formed_tracks = lambda *args: None  # and the track-by-track way\n"
        "midi_io.load_midi_folder(config.DATA_DIR)\n"
        "print(before, [len(f.signatures) for f in functions])\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=config.ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split("\n")[-2] == "[1, 1, 1] [1, 1, 1]"
