"""Tests of helpers.load_report: the report of the files a load used, skipped or passed over."""

from __future__ import annotations

import pandas as pd

from helpers import load_report, midi_io, midi_reader


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
