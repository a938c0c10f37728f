"""Tests of benchmarks/training_peers.py: the training stage's extra rows and the time-to-quality stage.

No speed is asserted (no timed unit tests): ``python -m benchmarks --stages training`` and
``--stages time-to-quality`` measure it. What is asserted: every row is there, its figures are
the contenders' own, each ratio and verdict follows from the figures printed beside it, and the
GPU branch (a GPU cannot be had here) runs when a device list is injected.
"""

from __future__ import annotations

import pytest

from benchmarks import run, training_peers
from helpers import midi_io


def figure(text: str) -> float:
    return float(text.replace(",", ""))


def ratio_of(row) -> float:
    return float(row.ratio.rstrip("×"))


def check_ratio(row, project_over_chapter: bool = True) -> None:
    """The printed ratio is the printed figures' (to their rounding)."""
    chapter, project = figure(row.chapter), figure(row.project)
    expected = project / chapter if project_over_chapter else chapter / project
    assert ratio_of(row) == pytest.approx(expected, rel=0.05)


@pytest.fixture(scope="module")
def tune_notes(tmp_path_factory):
    from conftest import write_tune

    folder = tmp_path_factory.mktemp("tunes")
    for i in range(4):
        write_tune(folder / f"tune_{i}.mid", seed=i)
    notes, _ = midi_io.load_midi_folder(folder)
    return notes


@pytest.fixture(scope="module")
def stage(tune_notes):
    """The training stage on a tiny stream of real chord tokens, a GPU injected (the CPU stands in)."""
    from helpers import tokens

    stream = tokens.notes_to_events(tune_notes)["token"].tolist()
    stream = (stream * (400 // len(stream) + 1))[:400]
    return run.bench_training(stream, n_windows=288, epochs=2, notes=tune_notes, accelerators=["/physical_device:GPU:0"])


def test_every_row_of_the_training_stage_is_there(stage):
    names = [row.stage for row in stage.rows]
    assert names[0] == "training, 288 windows, batch 64 (samples/s)"  # the chapter-vs-project row, first as before
    assert f"training, same GRU, batch {training_peers.LARGE_BATCH} (samples/s)" in names
    assert f"training, event tokens, batch {training_peers.EVENT_BATCH} (samples/s)" in names
    assert "training, notes in the targets (notes/s)" in names
    assert names[-1] == "training, cuDNN kernels on the GPU"
    gpu_rows = [row for row in stage.rows if row.stage.startswith("training, GPU/CPU")]
    assert [row.stage for row in gpu_rows] == [
        f"training, GPU/CPU, {label} (samples/s)" for label in ("batch 64", f"batch {training_peers.LARGE_BATCH}", "event tokens")
    ]
    assert all(row.note.startswith("/physical_device:GPU:0; chapter column: /CPU:0") for row in gpu_rows)
    assert all(len(name) <= 44 for name in names)  # the table's first column


def test_each_ratio_follows_its_figures_and_no_row_is_judged_but_the_first_two(stage):
    for row in stage.rows[:-1]:
        check_ratio(row)
    judged = [row for row in stage.rows if row.passed is not None]
    speed, cudnn = judged
    assert speed is stage.rows[0] and cudnn is stage.rows[-1]
    if abs(ratio_of(speed) / run.TRAINING_MIN - 1) > 0.02:
        assert speed.passed == (ratio_of(speed) >= run.TRAINING_MIN)
    assert cudnn.passed is False and cudnn.project == "not used"  # the CPU stood in for the GPU: Keras refuses cuDNN


def test_the_device_rows_set_the_cpu_copy_beside_the_default_device(stage):
    row = next(row for row in stage.rows if row.stage == "training, GPU/CPU, batch 64 (samples/s)")
    assert figure(row.project) == pytest.approx(figure(stage.rows[0].project), rel=0.01)  # the project's own figure
    assert "use_cudnn=False, weights on CPU:0" in row.note and "default device (weights on CPU:0)" in row.note


def test_the_event_model_trains_whole_batches_of_windows_of_128(stage):
    event = next(row for row in stage.rows if "event tokens" in row.stage and row.stage.startswith("training, event"))
    windows = int(event.note.split(": ")[1].split()[0].replace(",", ""))
    assert windows % training_peers.EVENT_BATCH == 0 and windows >= training_peers.EVENT_BATCH
    assert any(line.startswith("a sample: the chapter's tokens") for line in stage.lines)


def test_the_notes_row_is_the_samples_rows_times_the_notes_per_sample(stage):
    samples = next(row for row in stage.rows if row.stage.startswith("training, event tokens"))
    notes = next(row for row in stage.rows if row.stage.startswith("training, notes in the targets"))
    line = next(line for line in stage.lines if line.startswith("a sample:"))
    per_chord_token = float(line.split("1 target (")[1].split()[0])
    per_window = float(line.split(" notes a token, ")[1].split()[0])
    assert figure(notes.chapter) == pytest.approx(figure(samples.chapter) * per_chord_token, rel=0.02)
    assert figure(notes.project) == pytest.approx(figure(samples.project) * per_window, rel=0.06)


def test_no_gpu_rows_and_no_event_model_without_them():
    stream = [f"t{(i * 7) % 23}" for i in range(400)]  # synthetic tokens: they name no notes
    stage = run.bench_training(stream, n_windows=128, epochs=2, accelerators=[])
    assert [row.stage for row in stage.rows] == [
        "training, 128 windows, batch 64 (samples/s)",
        f"training, same GRU, batch {training_peers.LARGE_BATCH} (samples/s)",
        "training, cuDNN kernels on the GPU",
    ]
    assert stage.rows[1].note.startswith("128 windows")  # fewer than a batch of 256: all of them, one batch
    assert (stage.rows[-1].project, stage.rows[-1].passed) == ("n/a", None)
    check_ratio(stage.rows[1])


def test_device_rows_from_injected_figures(monkeypatch):
    class Fake:
        def __init__(self, label, device, rate):
            self.label, self.device, self.rate = label, device, rate
            self.model = None

    found = [Fake("batch 256", None, 900.0), Fake("batch 64, /CPU:0", "/CPU:0", 400.0), Fake("batch 256, /CPU:0", "/CPU:0", 500.0)]
    monkeypatch.setattr(training_peers, "variable_device", lambda model: "CPU:0")
    rows = training_peers.device_rows(found, {"batch 64": 1200.0, "batch 256": 900.0}, "GPU:0", "GPU:0")
    figures = [(row.chapter, row.project, row.ratio, row.passed) for row in rows]
    assert figures == [("400", "1,200", "3.00×", None), ("500", "900", "1.80×", None)]
    assert all("weights on GPU:0" in row.note for row in rows)


def test_first_reached_and_the_race_verdict():
    trace = [(10.0, 3.0), (20.0, 2.9), (30.0, 2.7), (40.0, 2.6)]
    assert training_peers.first_reached(trace, 2.8) == 2
    assert training_peers.first_reached(trace, 2.5) is None
    race = training_peers.Race("improved", "midilike", 2.8, "bigram", 0.1, budget=60.0, trace=trace)
    assert (race.reached, race.seconds, race.in_budget, race.text()) == (2, 30.0, True, "30.0 (3 ep)")
    late = training_peers.Race("improved", "midilike", 2.8, "bigram", 0.1, budget=25.0, trace=trace)
    assert late.seconds == 30.0 and not late.in_budget  # an epoch may end past the budget: reached, but too late
    never = training_peers.Race("chapter", "voiced", 2.5, "bigram", 0.1, budget=60.0, trace=trace)
    assert never.text() == "not in 1 min" and never.best_gap() == pytest.approx(2.6 / 2.5 - 1)
    improved_row, chapter_row = training_peers.race_rows(race, never)
    assert (improved_row.project, improved_row.passed, improved_row.chapter) == ("30.0 (3 ep)", True, "2.800 (bigram)")
    assert chapter_row.passed is None and "+4.0% above" in chapter_row.note
    assert training_peers.race_rows(late, never)[0].passed is False


def test_time_to_quality_stage_on_tiny_data(tune_folder):
    budget = 6.0  # seconds: one to a few epochs of tiny models
    stage = training_peers.bench_time_to_quality(
        tune_folder, minutes=budget / 60, chapter_epochs=2,
        improved_options={"units": (16,), "embedding_dim": 8}, chapter_options={"units": (8,), "dense_units": None},
    )
    improved_row, chapter_row = stage.rows
    for row, race in ((improved_row, stage.values["improved"]), (chapter_row, stage.values["chapter"])):
        assert race.trace and all(seconds > 0 for seconds, _ in race.trace)
        best = float(row.chapter.split()[0])
        assert row.chapter.split()[1] in ("(unigram)", "(bigram)", "(trigram)") and best == pytest.approx(race.best_nats, abs=5e-4)
        nats = [n for _, n in race.trace]
        if row.project.startswith("not in"):
            assert min(nats) > race.best_nats  # never reached
        else:  # the seconds printed are those of the first epoch at or below the n-gram
            seconds, epochs = float(row.project.split()[0]), int(row.project.split("(")[1].split()[0])
            assert nats[epochs - 1] <= race.best_nats and all(n > race.best_nats for n in nats[: epochs - 1])
            assert seconds == pytest.approx(race.trace[epochs - 1][0], abs=0.05)
            assert len(nats) == epochs  # training stopped there
    assert improved_row.passed == (improved_row.project[0].isdigit() and float(improved_row.project.split()[0]) <= budget)
    assert chapter_row.passed is None and len(stage.values["chapter"].trace) <= 2
    assert any(line.startswith("improved recipe, MIDI-like tokens") for line in stage.lines)


def test_time_to_quality_is_asked_for_by_name_only():
    assert "time-to-quality" not in run.parse_args([]).stages
    args = run.parse_args(["--stages", "time-to-quality", "--ttq-minutes", "1.5"])
    assert args.stages == ["time-to-quality"] and args.ttq_minutes == 1.5
