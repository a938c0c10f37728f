"""The reading stage of the benchmark (benchmarks/reading.py): the project's reader beside its peers.

No speed is asserted (no timed unit tests); what is asserted is that each verdict follows from
the figures printed beside it, and that the note counts are checked against mido's.
"""

from __future__ import annotations

from collections import Counter

import pytest
from conftest import count_pitched_note_ons

from benchmarks import reading, run


def number(text: str) -> float:
    return float(text.replace(",", "").rstrip("×"))


@pytest.fixture
def stage(midi_files, tmp_path):
    paths = sorted(midi_files.values())
    return reading.bench_reading(paths, paths[0].parent, copies=2, repeats=1, scratch=tmp_path / "reading")


def test_every_peer_is_read_on_both_folders(stage, midi_files):
    files = len(midi_files)
    for label in (f"{files} files", f"{2 * files} files"):
        names = [row.stage for row in stage.rows if row.stage.startswith(f"read {label}: vs ")]
        assert names == [f"read {label}: vs {peer} (files/s)" for peer in reading.PEERS]
    assert any("worker processes" in line for line in stage.lines)


def test_verdicts_follow_from_the_printed_figures(stage):
    for row in stage.rows:
        if row.stage.endswith("vs symusic (files/s)"):
            share = number(row.project) / number(row.chapter)
            assert row.ratio == f"{share:.2f}×"
            assert row.passed == (share >= reading.SYMUSIC_SHARE_MIN)  # every note kept: see below
        elif row.stage.endswith("vs pretty_midi (files/s)"):
            assert row.passed == (number(row.project) / number(row.chapter) >= reading.PRETTY_MIDI_MIN)
        elif row.stage.endswith("vs mido (files/s)") or row.stage.endswith("vs miditoolkit (files/s)"):
            assert row.passed is None


def test_notes_kept_are_counted_against_mido(stage, midi_files):
    truth = sum(count_pitched_note_ons(path) for path in midi_files.values())
    project = [row for row in stage.rows if row.stage.endswith("notes kept, project")]
    assert [row.chapter for row in project] == [f"{truth:,}", f"{2 * truth:,}"]  # mido's count, both folders
    assert all(row.project == row.chapter and row.passed for row in project)


def test_a_project_that_lost_notes_fails_however_fast(midi_files, tmp_path, monkeypatch):
    paths = sorted(midi_files.values())
    monkeypatch.setattr(reading, "project_pitches", lambda notes, paths, root: [Counter() for _ in paths])
    stage = reading.bench_reading(paths, paths[0].parent, copies=1, repeats=1, scratch=tmp_path)
    symusic = next(row for row in stage.rows if row.stage.endswith("vs symusic (files/s)"))
    assert symusic.passed is False and "lost notes" in symusic.note
    assert next(row for row in stage.rows if row.stage.endswith("notes kept, project")).passed is False


def test_a_peer_not_installed_is_named_not_measured(midi_files, tmp_path, monkeypatch):
    paths = sorted(midi_files.values())[:2]
    monkeypatch.setattr(reading, "installed", lambda module: module != "miditoolkit")
    stage = reading.bench_reading(paths, paths[0].parent, copies=1, repeats=1, scratch=tmp_path)
    assert not any("miditoolkit" in row.stage for row in stage.rows)
    assert "not installed, not measured: miditoolkit" in stage.lines


def test_the_stage_runs_by_default_with_copies_by_size():
    assert "reading" in run.parse_args([]).stages
    assert run.parse_args([]).reading_copies == reading.COPIES["small"]
    assert run.parse_args(["--size", "large"]).reading_copies == reading.COPIES["large"]
    assert run.parse_args(["--reading-copies", "3"]).reading_copies == 3
