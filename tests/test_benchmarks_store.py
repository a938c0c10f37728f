"""Smoke tests of benchmarks/store.py: the synthetic folder is what the store stage needs.

No speed or memory is asserted here (no timed unit tests): ``python -m benchmarks --stages store``
measures them.
"""

from __future__ import annotations

from collections import Counter

import mido
from conftest import C_MAJOR_SCALE, DRUMS, Track, write_midi

from benchmarks import store
from helpers import midi_io


def pitches(path):
    return Counter(m.note for m in mido.MidiFile(str(path)) if m.type == "note_on" and m.velocity > 0 and m.channel != 9)


def test_synthetic_folder_holds_distinct_transposed_copies_at_other_tempi(tmp_path):
    sources = [
        write_midi(tmp_path / "src" / "scale.mid", [Track(C_MAJOR_SCALE)]),
        write_midi(tmp_path / "src" / "drums.mid", [Track(C_MAJOR_SCALE), Track(DRUMS, channel=9)], tempo_bpm=90),
    ]
    folder = store.make_folder(sources, 30, tmp_path / "out")
    files = sorted(folder.rglob("*.mid"))
    assert len(files) == 30 and len({f.read_bytes() for f in files}) == 30  # no byte duplicates
    notes, report = midi_io.load_midi_folder(folder, progress=False)
    assert len(report.used) == 30 and not report.skipped
    # copy k of a source: transposed by TRANSPOSITIONS[k % 7], drums untouched, a tempo of its own
    original = pitches(sources[0])
    for copy in range(10):
        shift = store.TRANSPOSITIONS[copy % len(store.TRANSPOSITIONS)]
        assert pitches(folder / f"v{copy:04d}" / "scale.mid") == Counter({p + shift: n for p, n in original.items()})
    drums = [m.note for m in mido.MidiFile(str(folder / "v0001" / "drums.mid")) if m.type == "note_on" and m.channel == 9]
    assert sorted(drums) == sorted(pitch for pitch, _, _ in DRUMS)
    tempi = {[m.tempo for m in mido.MidiFile(str(folder / f"v{c:04d}" / "scale.mid")) if m.type == "set_tempo"][0]
             for c in (0, 7, 14)}
    assert len(tempi) == 3


def test_scaled_tempi_changes_only_the_tempo_bytes():
    data = b"\x00\xff\x51\x03\x07\xa1\x20\x00\x90\x3c\x40"
    scaled = store._scaled_tempi(data, 2.0)
    assert int.from_bytes(scaled[4:7], "big") == 2 * 500_000 and scaled[:4] == data[:4] and scaled[7:] == data[7:]
