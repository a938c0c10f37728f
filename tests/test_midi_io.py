"""Tests of helpers.midi_io: MIDI files and folders to one notes table, with its report."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from conftest import (
    BASS,
    C_MAJOR_SCALE,
    CHORD_NOTES,
    DRUMS,
    MELODY,
    Track,
    count_drum_note_ons,
    count_pitched_note_ons,
    write_midi,
)

from helpers import constants, midi_io

# ----------------------------------------------------------------------------- midi_to_notes


def test_scale_is_read_with_pitch_offset_and_duration(midi_files):
    notes, info = midi_io.midi_to_notes(midi_files["scale"])
    assert list(notes.columns) == constants.NOTE_COLUMNS
    expected = sorted(C_MAJOR_SCALE, key=lambda n: (n[1], n[0]))
    assert notes[["pitch", "offset", "duration"]].values.tolist() == [list(n) for n in expected]
    assert (notes["piece"] == "scale.mid").all()
    assert (notes["velocity"] == 90).all()
    assert info == {"instruments": ["Piano"], "drum_hits": 0}


def test_piece_name_can_be_given(midi_files):
    notes, _ = midi_io.midi_to_notes(midi_files["scale"], piece="folder/scale.mid")
    assert set(notes["piece"]) == {"folder/scale.mid"}


def test_chords_keep_every_pitch_in_every_octave(midi_files):
    notes, _ = midi_io.midi_to_notes(midi_files["chords"])
    got = sorted(zip(notes["pitch"], notes["offset"], notes["duration"]))
    assert got == sorted((p, s, d) for p, s, d in CHORD_NOTES)


def test_every_pitched_part_is_read(midi_files):
    """The chapter's partitionByInstrument(...).parts[0] keeps one part of this file; we keep both."""
    from music21 import converter, instrument

    path = midi_files["two_part"]
    notes, info = midi_io.midi_to_notes(path)
    assert len(notes) == len(MELODY) + len(BASS)
    assert notes["part"].nunique() == 2
    by_part = {part: sorted(group["pitch"]) for part, group in notes.groupby("part")}
    assert sorted(by_part.values()) == sorted([sorted(p for p, _, _ in MELODY), sorted(p for p, _, _ in BASS)])
    assert len(info["instruments"]) == 2 and "Violin" in info["instruments"]
    # What the chapter would have kept: fewer notes than the file holds.
    score = converter.parseFile(path, format="midi", forceSource=True, storePickle=False, quantizePost=False)
    chapter_first_part = instrument.partitionByInstrument(score).parts[0]
    assert len(chapter_first_part.flatten().notes) < len(notes)


@pytest.mark.parametrize("name", ["scale", "chords", "two_part", "with_drums"])
def test_note_count_equals_an_independent_mido_count(midi_files, name):
    notes, _ = midi_io.midi_to_notes(midi_files[name])
    assert len(notes) == count_pitched_note_ons(midi_files[name])


def test_drum_hits_are_counted_not_kept(midi_files):
    path = midi_files["with_drums"]
    notes, info = midi_io.midi_to_notes(path)
    assert info["drum_hits"] == len(DRUMS) == count_drum_note_ons(path)
    assert sorted(notes["pitch"]) == [60, 62, 64, 65]  # the scale's opening, no kick/snare/hat


def test_type_0_file_with_drums_on_the_same_track(tmp_path):
    """Many real files hold every channel in one track; drums are still counted, not kept."""
    import mido

    timed = []
    for channel, notes in [(0, C_MAJOR_SCALE[:4]), (1, BASS), (9, DRUMS)]:
        for pitch, start, duration in notes:
            timed.append((round(start * 480), 1, mido.Message("note_on", note=pitch, velocity=90, channel=channel)))
            timed.append((round((start + duration) * 480), 0, mido.Message("note_off", note=pitch, channel=channel)))
    timed.sort(key=lambda e: (e[0], e[1], e[2].channel, e[2].note))
    track, now = mido.MidiTrack(), 0
    for tick, _, message in timed:
        track.append(message.copy(time=tick - now))
        now = tick
    midi = mido.MidiFile(type=0, ticks_per_beat=480)
    midi.tracks.append(track)
    midi.save(str(tmp_path / "type0.mid"))

    notes, info = midi_io.midi_to_notes(tmp_path / "type0.mid")
    assert sorted(notes["pitch"]) == sorted([60, 62, 64, 65] + [p for p, _, _ in BASS])
    assert len(notes) == count_pitched_note_ons(tmp_path / "type0.mid")
    assert info["drum_hits"] == count_drum_note_ons(tmp_path / "type0.mid") == len(DRUMS)


# ----------------------------------------------------------------------------- load_midi_files


def test_load_midi_files_skips_bad_files_with_a_named_reason(tmp_path, midi_files):
    (tmp_path / "page.mid").write_text("<html>404</html>")
    (tmp_path / "empty.mid").write_bytes(b"")
    paths = [midi_files["scale"], tmp_path / "page.mid", midi_files["drums_only"], tmp_path / "empty.mid"]
    notes, report = midi_io.load_midi_files(paths)
    assert [e["piece"] for e in report.used] == ["scale.mid"]
    reasons = {e["piece"]: e["reason"] for e in report.skipped}
    assert set(reasons) == {"page.mid", "drums_only.mid", "empty.mid"}
    assert reasons["page.mid"].startswith("not MIDI")
    assert reasons["drums_only.mid"].startswith("no pitched notes")
    assert len(notes) == len(C_MAJOR_SCALE) == report.notes_kept
    frame = report.to_frame()
    assert frame["status"].value_counts().to_dict() == {"skipped": 3, "used": 1}
    assert "skipped page.mid: not MIDI" in str(report)


def test_load_midi_files_reports_a_missing_file(tmp_path):
    notes, report = midi_io.load_midi_files([tmp_path / "gone.mid"])
    assert notes.empty and list(notes.columns) == constants.NOTE_COLUMNS
    assert report.skipped[0]["reason"].startswith("unreadable")


def test_load_midi_files_joins_pieces_and_counts_drums(midi_files):
    paths = [midi_files[name] for name in ("scale", "two_part", "with_drums")]
    notes, report = midi_io.load_midi_files(paths, root=midi_files["scale"].parent)
    assert list(dict.fromkeys(notes["piece"])) == ["scale.mid", "two_part.mid", "with_drums.mid"]
    assert len(notes) == sum(count_pitched_note_ons(p) for p in paths)
    assert report.drum_hits == len(DRUMS)


def test_progress_bar_only_when_asked_or_on_a_terminal(midi_files, capsys):
    midi_io.load_midi_files([midi_files["scale"]])
    assert capsys.readouterr().err == ""  # tests, notebooks and pipes: no bar
    midi_io.load_midi_files([midi_files["scale"]], progress=True)
    assert "Reading MIDI" in capsys.readouterr().err


# ----------------------------------------------------------------------------- load_midi_folder


def test_load_midi_folder_names_pieces_relative_to_the_folder(tmp_path):
    write_midi(tmp_path / "set" / "a.mid", [Track(C_MAJOR_SCALE)])
    write_midi(tmp_path / "set" / "sub dir" / "Für b.MIDI", [Track(MELODY)])
    notes, report = midi_io.load_midi_folder(tmp_path / "set")
    assert list(dict.fromkeys(notes["piece"])) == ["a.mid", "sub dir/Für b.MIDI"]
    assert len(report.used) == 2 and not report.skipped


def test_load_midi_folder_limit_takes_a_reproducible_sample(tmp_path):
    for i in range(6):
        write_midi(tmp_path / f"{i}.mid", [Track([(60 + i, 0.0, 1.0)])])
    _, first = midi_io.load_midi_folder(tmp_path, limit=3)
    assert [e["piece"] for e in first.used] == ["0.mid", "1.mid", "2.mid"]
    _, sample = midi_io.load_midi_folder(tmp_path, limit=3, seed=5)
    _, again = midi_io.load_midi_folder(tmp_path, limit=3, seed=5)
    assert len(sample.used) == 3 and sample.used == again.used


def test_load_midi_folder_without_usable_midi_raises(tmp_path, midi_files):
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "page.mid").write_text("<html></html>")
    (folder / "drums.mid").write_bytes(midi_files["drums_only"].read_bytes())
    with pytest.raises(midi_io.NoUsableMidiError, match="No usable MIDI") as caught:
        midi_io.load_midi_folder(folder)
    assert "page.mid: not MIDI" in str(caught.value)


def test_load_midi_folder_of_no_files_raises(tmp_path):
    (tmp_path / "readme.txt").write_text("no music here")
    with pytest.raises(midi_io.NoUsableMidiError):
        midi_io.load_midi_folder(tmp_path)


def test_load_midi_folder_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError):
        midi_io.load_midi_folder(tmp_path / "missing")


def test_shipped_dataset_smoke():
    """One smoke test on the shipped data: a few files load, with notes in the MIDI range."""
    from helpers import config

    notes, report = midi_io.load_midi_folder(config.DATA_DIR, limit=2)
    assert len(report.used) == 2 and not report.skipped
    assert notes["pitch"].between(0, 127).all() and (notes["duration"] >= 0).all()


# ----------------------------------------------------------------------------- the layer rule


def test_reading_and_tokenising_never_import_tensorflow(tmp_path):
    """The layer rule: notebooks 01-03 and the data tools start without TensorFlow, workers included."""
    code = (
        "import sys\n"
        "from helpers import constants, load_report, midi_files, midi_io, midi_reader, reader_pool\n"
        "from helpers import midilike, tokens\n"
        "from helpers import config\n"
        "paths = midi_files.find_midi_files(config.DATA_DIR)[:4]\n"
        "notes, report = midi_io.load_midi_files(paths, workers=2)\n"
        "tokens.notes_to_tokens(notes); midilike.notes_to_tokens(notes)\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras'))\n"
        "assert len(report.used) == 4 and not loaded, loaded\n"
        "print('ok')\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(constants.__file__).rsplit(os.sep, 2)[0], os.environ.get("PYTHONPATH", "")])}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0 and result.stdout == "ok\n", result.stderr
