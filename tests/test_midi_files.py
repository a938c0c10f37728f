"""Tests of helpers.midi_files: finding the MIDI files in a folder, and what the search passes over."""

from __future__ import annotations

import os

import pytest

from helpers import midi_io
from helpers.midi_files import find_midi_files


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
    _, report = midi_io.load_midi_folder(tmp_path)
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
