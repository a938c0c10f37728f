"""Tests of the reading modules: helpers.midi_io (MIDI → notes), midi_files (finding files),
notes_cache (the cache), reader_pool (worker processes), load_report (the report)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading

import pandas as pd
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
from midi_oracle import music21_to_notes

from helpers import constants, load_report, midi_io, midi_reader, notes_cache, reader_pool
from helpers.midi_files import find_midi_files
from helpers.midi_reader import Limits

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


def test_notes_table_dtypes_and_order(midi_files):
    notes, _ = midi_io.midi_to_notes(midi_files["two_part"])
    assert str(notes["pitch"].dtype) == "int16" and str(notes["offset"].dtype) == "float64"
    keys = list(zip(notes["offset"], notes["pitch"]))
    assert keys == sorted(keys)
    assert notes["pitch"].between(0, 127).all() and notes["velocity"].between(1, 127).all()


# ----------------------------------------------------------------------------- bad files


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


# ----------------------------------------------------------------------------- find_midi_files


def test_find_midi_files_recursive_any_case_sorted(tmp_path):
    for relative in ["b.mid", "A.MID", "sub/c.midi", "sub/deeper/d.MiDi", "notes.txt", "song.mid.bak", "x.kar"]:
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_bytes(b"MThd")
    found = [p.relative_to(tmp_path).as_posix() for p in find_midi_files(tmp_path)]
    assert found == ["A.MID", "b.mid", "sub/c.midi", "sub/deeper/d.MiDi"]


def test_find_midi_files_skips_hidden_searches_folders_and_lists_dangling_links(tmp_path):
    (tmp_path / "real.mid").write_bytes(b"MThd")
    (tmp_path / ".hidden.mid").write_bytes(b"MThd")
    (tmp_path / "._real.mid").write_bytes(b"\x00\x05\x16\x07")  # a macOS resource fork
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "inside.mid").write_bytes(b"MThd")
    (tmp_path / "folder.mid").mkdir()  # a directory whose name looks like a MIDI file
    (tmp_path / "folder.mid" / "nested.mid").write_bytes(b"MThd")
    os.symlink(tmp_path / "gone.mid", tmp_path / "dangling.mid")  # points nowhere: listed, then reported
    found = [p.relative_to(tmp_path).as_posix() for p in find_midi_files(tmp_path)]
    assert found == ["dangling.mid", "folder.mid/nested.mid", "real.mid"]


def test_load_report_names_what_the_search_passed_over_on_purpose(tmp_path, midi_files):
    tmp_path = tmp_path / "folder"
    tmp_path.mkdir()
    (tmp_path / "real.mid").write_bytes(midi_files["scale"].read_bytes())
    (tmp_path / ".hidden.mid").write_bytes(midi_files["scale"].read_bytes())
    (tmp_path / "._real.mid").write_bytes(b"\x00\x05\x16\x07")  # a macOS resource fork
    (tmp_path / ".DS_Store").write_bytes(b"\x00")  # hidden, and not named like MIDI: not worth a line
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "inside.mid").write_bytes(b"MThd")
    (tmp_path / "sub").mkdir()
    os.symlink(tmp_path, tmp_path / "sub" / "back")  # a link back to the folder searched
    _, report = midi_io.load_midi_folder(tmp_path, cache=False)
    assert [e["piece"] for e in report.used] == ["real.mid"] and not report.skipped
    assert {e["piece"]: e["reason"] for e in report.passed_over} == {
        ".git/": "a hidden folder (its name starts with '.'), not searched",
        ".hidden.mid": "a hidden file (its name starts with '.')",
        "._real.mid": "a macOS resource fork ('._' file), not music",
        "sub/back/": "a link to a folder searched already",
    }
    assert "  passed over on purpose: .hidden.mid: a hidden file (its name starts with '.')" in str(report)
    frame = report.to_frame()
    assert (frame["status"] == "passed over").sum() == 4


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
    _, report = midi_io.load_midi_folder(tmp_path, cache=False)
    loop = "unreadable (a link loop (links that lead back to each other, never to a file))"
    assert {e["piece"]: e["reason"] for e in report.skipped} == {
        "a.mid": loop, "b.mid": loop, "self.mid": loop, "dangling.mid": "unreadable (a link that points nowhere)",
    }


def test_find_midi_files_follows_folder_links_once_and_ends_loops(tmp_path):
    (tmp_path / "a.mid").write_bytes(b"MThd")
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "b.mid").write_bytes(b"MThd")
    os.symlink(tmp_path, tmp_path / "loop")  # would recurse forever if followed blindly
    os.symlink(tmp_path / "elsewhere", tmp_path / "linked")  # the same folder under two names
    found = [p.relative_to(tmp_path).as_posix() for p in find_midi_files(tmp_path)]
    assert found[0] == "a.mid" and len(found) == 2
    assert found[1] in ("elsewhere/b.mid", "linked/b.mid")


def test_find_midi_files_keeps_names_with_spaces_and_non_ascii(tmp_path):
    names = ["Für Elise.mid", "étude no 1.midi", "変奏曲.mid"]
    for name in names:
        (tmp_path / name).write_bytes(b"MThd")
    assert sorted(p.name for p in find_midi_files(tmp_path)) == sorted(names)


def test_find_midi_files_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError):
        find_midi_files(tmp_path / "missing")
    (tmp_path / "file.mid").write_bytes(b"MThd")
    with pytest.raises(FileNotFoundError):
        find_midi_files(tmp_path / "file.mid")  # a file is not a folder


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


# ----------------------------------------------------------------------------- cache


def cache_entries():
    from helpers import config

    return sorted((config.CACHE_DIR / "notes").glob("*" + notes_cache.SUFFIX))


def must_not_read(*args, **kwargs):
    raise AssertionError("the cache should have been used")


def test_cache_is_an_npz_of_a_json_header_and_the_notes_and_second_load_reads_it(midi_files, monkeypatch):
    import numpy as np

    path = midi_files["two_part"]
    first, report = midi_io.load_midi_files([path])
    assert report.from_cache == 0
    (entry,) = cache_entries()
    assert not entry.read_bytes().startswith(b"\x80")  # no pickle protocol header: nothing is unpickled
    with np.load(entry, allow_pickle=False) as stored:  # loads without pickle
        header = json.loads(str(stored["header"]))
        assert stored["notes"]["pitch"].tolist() == first["pitch"].tolist()
    assert header["version"] == midi_reader.EXTRACTOR_VERSION
    assert header["instruments"] == ["Violin", "Violoncello"] and header["drum_hits"] == 0

    monkeypatch.setattr(midi_reader, "bytes_to_extract", must_not_read)
    second, report = midi_io.load_midi_files([path])
    assert second.equals(first)
    assert report.used[0]["notes"] == len(first) and report.from_cache == 1


def test_cache_entry_serves_another_name_for_the_same_content(midi_files, tmp_path, monkeypatch):
    midi_io.load_midi_files([midi_files["scale"]])
    copy = tmp_path / "copy of scale.mid"
    copy.write_bytes(midi_files["scale"].read_bytes())
    monkeypatch.setattr(midi_reader, "bytes_to_extract", must_not_read)
    notes, _ = midi_io.load_midi_files([copy])
    assert set(notes["piece"]) == {"copy of scale.mid"}
    assert list(notes["instrument"].unique()) == ["Piano"]


def test_changed_file_is_read_again(tmp_path):
    path = write_midi(tmp_path / "song.mid", [Track(C_MAJOR_SCALE)])
    first, _ = midi_io.load_midi_files([path])
    write_midi(path, [Track(C_MAJOR_SCALE[:3])])
    second, _ = midi_io.load_midi_files([path])
    assert (len(first), len(second)) == (len(C_MAJOR_SCALE), 3)


def rewrite_npz(entry, **changes):
    """Write the entry again with some members changed (``None`` drops a member)."""
    import numpy as np

    with np.load(entry, allow_pickle=False) as stored:
        members = {name: stored[name] for name in stored.files}
    members.update(changes)
    with open(entry, "wb") as handle:
        np.savez(handle, **{name: value for name, value in members.items() if value is not None})


def header_with(entry, **changes):
    import numpy as np

    with np.load(entry, allow_pickle=False) as stored:
        header = json.loads(str(stored["header"]))
    return np.array(json.dumps({**header, **changes}))


@pytest.mark.parametrize(
    "damage",
    [
        lambda entry: entry.write_bytes(b"{not a zip" + entry.read_bytes()),
        lambda entry: rewrite_npz(entry, header=header_with(entry, version=1)),  # an old extractor's entry
        lambda entry: entry.write_bytes(entry.read_bytes()[:-30]),  # cut short
        lambda entry: rewrite_npz(entry, header=header_with(entry, instruments=[])),  # parts without names
        lambda entry: rewrite_npz(entry, notes=None),  # no notes
        lambda entry: rewrite_npz(entry, notes=__import__("numpy").zeros(3)),  # notes of another kind
        lambda entry: entry.write_bytes(b""),
    ],
    ids=["not-a-zip", "old-version", "cut-short", "parts-without-names", "no-notes", "wrong-dtype", "empty"],
)
def test_corrupt_cache_entry_is_ignored_and_rewritten(midi_files, damage):
    path = midi_files["scale"]
    first, _ = midi_io.load_midi_files([path])
    (entry,) = cache_entries()
    damage(entry)
    second, report = midi_io.load_midi_files([path])
    assert second.equals(first) and not report.skipped and report.from_cache == 0
    third, report = midi_io.load_midi_files([path])  # the entry was written anew, and serves
    assert third.equals(first) and report.from_cache == 1


def test_cached_skip_is_reused_and_reported_alike(tmp_path, monkeypatch):
    path = write_midi(tmp_path / "silent.mid", [Track([])])
    _, first = midi_io.load_midi_files([path])
    monkeypatch.setattr(midi_reader, "bytes_to_extract", must_not_read)
    _, second = midi_io.load_midi_files([path])
    assert first.skipped == second.skipped and second.skipped[0]["label"] == "no pitched notes"
    assert second.from_cache == 1


def test_cached_notes_still_obey_the_limits(midi_files):
    path = midi_files["scale"]
    midi_io.load_midi_files([path])
    _, report = midi_io.load_midi_files([path], limits=Limits(max_notes=3))
    assert report.from_cache == 1 and report.skipped[0]["label"] == "too many notes"
    _, report = midi_io.load_midi_files([path], limits=Limits(max_quarters=4.0))
    assert report.skipped[0]["label"] == "too long"


def test_cache_can_be_switched_off_and_then_reads_afresh(midi_files, monkeypatch):
    from helpers import config

    midi_io.load_midi_files([midi_files["scale"]])
    calls = []
    real = midi_reader.bytes_to_extract
    monkeypatch.setattr(midi_reader, "bytes_to_extract", lambda *a: calls.append(a) or real(*a))
    notes, report = midi_io.load_midi_files([midi_files["scale"]], cache=False)
    assert len(calls) == 1 and report.from_cache == 0 and len(notes) == len(C_MAJOR_SCALE)
    (config.CACHE_DIR / "notes").rename(config.CACHE_DIR / "gone")
    midi_io.load_midi_files([midi_files["scale"]], cache=False)
    assert not (config.CACHE_DIR / "notes").exists()  # nothing written


def test_each_file_is_read_from_disk_once(midi_files, tmp_path, monkeypatch):
    """The bytes read for the cache key are the bytes the reader decodes: no second read, in
    this process or in a worker (each open is written down in a file, which workers share)."""
    log = tmp_path / "opened.txt"
    real_open = open

    def logging_open(file, *args, **kwargs):
        if str(file).endswith(".mid"):
            with real_open(log, "a") as handle:
                handle.write(f"{file}\n")
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr("builtins.open", logging_open)
    paths = [midi_files[name] for name in ("scale", "two_part")]
    for workers in (1, 2):
        log.write_text("")
        _, report = midi_io.load_midi_files(paths, cache_dir=tmp_path / f"cache{workers}", workers=workers)
        assert sorted(log.read_text().split()) == sorted(map(str, paths)) and len(report.used) == 2


def test_cache_dir_can_be_chosen(midi_files, tmp_path):
    midi_io.load_midi_files([midi_files["scale"]], cache_dir=tmp_path / "mycache")
    assert len(list((tmp_path / "mycache").glob("*" + notes_cache.SUFFIX))) == 1


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

    notes, report = midi_io.load_midi_folder(config.DATA_DIR, limit=2, cache=False)
    assert len(report.used) == 2 and not report.skipped
    assert notes["pitch"].between(0, 127).all() and (notes["duration"] >= 0).all()


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


# ----------------------------------------------------------------------------- readers, limits, report


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


def test_report_lists_a_few_skipped_files_then_tallies_them():
    report = load_report.LoadReport(
        used=[{"piece": "good.mid", "notes": 10, "drum_hits": 2}],
        skipped=[{"piece": f"bad_{i:02d}.mid", "reason": "corrupt (x)", "label": "corrupt"} for i in range(24)]
        + [{"piece": "page.mid", "reason": "not MIDI (a web page)", "label": "not MIDI"}],
    )
    text = str(report).splitlines()
    assert text[0] == "Used 1 of 26 files: 10 notes kept, 2 drum hits left out."
    assert text[1] == "  skipped bad_00.mid: corrupt (x)" and len(text) == 1 + load_report.REPORT_LIST_LIMIT + 2 + 3
    assert text[-5] == "  ... and 5 more skipped (see report.to_frame())"
    assert text[-4] == "Skipped 25 files: 24 corrupt, 1 not MIDI."
    assert text[-3:] == [  # what to do next, once per reason
        "What to do:",
        f"  corrupt: {midi_reader.NEXT_STEPS['corrupt']}.",
        f"  not MIDI: {midi_reader.NEXT_STEPS['not MIDI']}.",
    ]
    assert report.reasons == {"corrupt": 24, "not MIDI": 1}
    assert len(report.to_frame()) == 26


def test_report_lists_every_file_when_asked_and_writes_a_csv(tmp_path):
    report = load_report.LoadReport(
        used=[{"piece": "good.mid", "notes": 10, "drum_hits": 2, "warning": "track 1: cut off inside an event"}],
        skipped=[{"piece": f"bad_{i:02d}.mid", "reason": "too long (x)", "label": "too long"} for i in range(24)],
        passed_over=[{"piece": ".hidden.mid", "reason": "a hidden file (its name starts with '.')"}],
    )
    text = report.to_text(limit=None).splitlines()
    assert sum(line.startswith("  skipped bad_") for line in text) == 24 and "more skipped" not in "".join(text)
    assert "  passed over on purpose: .hidden.mid: a hidden file (its name starts with '.')" in text
    assert text[-1] == f"What to do: too long: {midi_reader.NEXT_STEPS['too long']}."
    assert "--max-quarters" in text[-1]
    assert "... and 4 more skipped (use --all)" in report.to_text(limit=20, more="use --all")
    written = report.to_csv(tmp_path / "report.csv")
    frame = pd.read_csv(written, keep_default_na=False)
    assert len(frame) == 26 and list(frame.columns) == [
        "piece", "status", "notes", "drum_hits", "reason", "label", "next_step"
    ]
    assert frame["status"].value_counts().to_dict() == {"skipped": 24, "used": 1, "passed over": 1}
    assert frame.loc[1, "label"] == "too long" and "--max-quarters" in frame.loc[1, "next_step"]
    assert frame.loc[0, "reason"] == "track 1: cut off inside an event"
    assert [p.name for p in tmp_path.iterdir()] == ["report.csv"]  # no temporary file left


def test_report_shows_what_was_damaged_in_a_used_file(tmp_path, midi_files):
    data = midi_files["scale"].read_bytes()
    cut = tmp_path / "cut.mid"
    cut.write_bytes(data[: len(data) - 20])  # the last notes of the last track are missing
    notes, report = midi_io.load_midi_files([cut])
    (entry,) = report.used
    assert entry["warning"] == "track 2: cut off inside an event" and entry["notes"] == len(notes) > 0
    assert "  damaged, kept what could be read: cut.mid: track 2: cut off inside an event" in str(report)
    assert report.to_frame().loc[0, "reason"] == "track 2: cut off inside an event"


def test_progress_bar_only_when_asked_or_on_a_terminal(midi_files, capsys):
    midi_io.load_midi_files([midi_files["scale"]], cache=False)
    assert capsys.readouterr().err == ""  # tests, notebooks and pipes: no bar
    midi_io.load_midi_files([midi_files["scale"]], cache=False, progress=True)
    assert "Reading MIDI" in capsys.readouterr().err


# ----------------------------------------------------------------------------- worker processes


def tunes(folder, count=3):
    return [write_midi(folder / f"tune_{i}.mid", [Track([(60 + i, 0.0, 1.0), (64 + i, 1.0, 1.0)])]) for i in range(count)]


#: The tests below replace the reader in this process; workers see the replacement when forked.
forked = pytest.mark.skipif(reader_pool.START_METHOD != "fork", reason="workers are not forked on this system")


@forked
def test_a_reader_process_that_dies_gives_reader_crashed_and_the_load_goes_on(tmp_path, monkeypatch):
    paths = tunes(tmp_path)
    crash = write_midi(tmp_path / "crash.mid", [Track(C_MAJOR_SCALE)])
    crash_bytes, real = crash.read_bytes(), midi_reader.bytes_to_extract

    def dies_on_one_file(data, limits):
        if data == crash_bytes:
            os._exit(3)  # as a segfault in a C extension would end it
        return real(data, limits)

    monkeypatch.setattr(midi_reader, "bytes_to_extract", dies_on_one_file)
    notes, report = midi_io.load_midi_files([paths[0], crash, *paths[1:]], workers=2, cache=False)
    assert [e["piece"] for e in report.used] == ["tune_0.mid", "tune_1.mid", "tune_2.mid"]
    assert report.skipped == [{"piece": "crash.mid", "reason": "reader crashed (the reader process died (exit code 3))",
                               "label": "reader crashed"}]
    assert list(dict.fromkeys(notes["piece"])) == ["tune_0.mid", "tune_1.mid", "tune_2.mid"] and len(notes) == 6


@forked
def test_ctrl_c_leaves_no_reader_process(tmp_path, monkeypatch):
    import multiprocessing
    import time

    paths = tunes(tmp_path, 4)
    started = tmp_path / "started"

    def hangs(data, limits):
        with open(started, "a") as handle:
            handle.write(f"{os.getpid()}\n")
        time.sleep(120)

    def ctrl_c_once_both_workers_read():
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(started.read_text().split() if started.exists() else []) < 2:
            time.sleep(0.05)
        os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(midi_reader, "bytes_to_extract", hangs)
    threading.Thread(target=ctrl_c_once_both_workers_read, daemon=True).start()
    begun = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        midi_io.load_midi_files(paths, workers=2, cache=False, limits=Limits(timeout=None))
    assert time.monotonic() - begun < 90
    workers = {int(pid) for pid in started.read_text().split()}
    assert len(workers) == 2 and os.getpid() not in workers
    assert multiprocessing.active_children() == []
    for pid in workers:
        with pytest.raises(ProcessLookupError):  # ended and reaped: not even a zombie is left
            os.kill(pid, 0)


@forked
def test_workers_none_reads_here_below_the_threshold_and_in_workers_from_it(tmp_path, monkeypatch):
    paths = tunes(tmp_path, 3)
    real = midi_reader.bytes_to_extract

    def records_its_process(data, limits):
        with open(tmp_path / "pids", "a") as handle:
            handle.write(f"{os.getpid()}\n")
        return real(data, limits)

    monkeypatch.setattr(midi_reader, "bytes_to_extract", records_its_process)
    midi_io.load_midi_files(paths, cache=False)
    pids = (tmp_path / "pids").read_text().split()
    assert pids == [str(os.getpid())] * 3  # three files: read here
    (tmp_path / "pids").unlink()
    monkeypatch.setattr(reader_pool, "PARALLEL_MIN_FILES", 2)
    serial, _ = midi_io.load_midi_files(paths, cache=False, workers=1)
    notes, _ = midi_io.load_midi_files(paths, cache=False)
    assert str(os.getpid()) not in (tmp_path / "pids").read_text().split()[3:]  # then in workers
    assert notes.equals(serial)


def test_reading_and_tokenising_never_import_tensorflow(tmp_path):
    """The layer rule: notebooks 01-03 and the data tools start without TensorFlow, workers included."""
    code = (
        "import sys\n"
        "from helpers import constants, load_report, midi_files, midi_io, midi_reader, notes_cache, reader_pool\n"
        "from helpers import midilike, tokens\n"
        "from helpers import config\n"
        "paths = midi_files.find_midi_files(config.DATA_DIR)[:4]\n"
        "notes, report = midi_io.load_midi_files(paths, cache=False, workers=2)\n"
        "tokens.notes_to_tokens(notes); midilike.notes_to_tokens(notes)\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras'))\n"
        "assert len(report.used) == 4 and not loaded, loaded\n"
        "print('ok')\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(constants.__file__).rsplit(os.sep, 2)[0], os.environ.get("PYTHONPATH", "")])}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0 and result.stdout == "ok\n", result.stderr
