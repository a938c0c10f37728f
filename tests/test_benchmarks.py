"""Smoke tests of benchmarks/: every stage runs on tiny inputs and its checks mean something.

No speed is asserted here (no timed unit tests): the figures are only checked to be there.
What is asserted is what the benchmark relies on — the chapter's code behaves as the chapter's
does, the independent note count, the memory probe, the first generated note of both loops.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import count_pitched_note_ons

from benchmarks import run
from helpers import chapter


def test_chapter_extraction_keeps_one_part_only(midi_files):
    found = chapter.extract([midi_files["two_part"], midi_files["scale"]])
    two_part = found.per_file["two_part.mid"]
    assert isinstance(two_part, int) and 0 <= two_part < count_pitched_note_ons(midi_files["two_part"])
    assert found.notes_kept == sum(found.per_file.values())
    assert all(isinstance(token, str) for token in found.musical_note)


def test_chapter_preparation_materialises_scaled_windows_and_one_hot_targets():
    stream = [f"t{i % 7}" for i in range(150)]
    model_input, model_output, original, pitchcategory = chapter.prepare(stream, sequence_length=100)
    assert model_input.shape == (50, 100, 1) and model_input.dtype == np.float64
    assert model_output.shape == (50, 7) and model_output.dtype == np.float64
    assert np.array_equal(model_output.sum(axis=1), np.ones(50))
    assert 0.0 <= model_input.min() and model_input.max() < 1.0
    assert original[0] == [pitchcategory.index(t) for t in stream[:100]]


def test_compare_gives_the_ratio_in_the_projects_favour_and_the_verdict():
    faster = run.compare("stage", "notes/s", 2.0, 300.0, minimum=100.0)
    assert faster.ratio == "150×" and faster.passed is True and "PASS" in faster.text()
    leaner = run.compare("stage", "MB", 1000.0, 40.0, higher_is_better=False, minimum=50.0)
    assert leaner.ratio == "25.0×" and leaner.passed is False and "FAIL" in leaner.text()
    assert run.compare("stage", "notes/s", 0.0, 5.0).ratio == "∞"


def test_peak_extra_memory_sees_an_allocation():
    size = 40_000_000
    extra, seconds, method = run.peak_extra_memory(lambda: np.ones(size // 8).sum())
    assert method in ("RSS", "tracemalloc") and seconds >= 0
    assert 0.9 * size <= extra < 4 * size


def test_best_of_each_times_every_function_in_turns():
    calls = []
    timed = run.best_of_each(3, {"a": lambda: calls.append("a"), "b": lambda: calls.append("b")})
    assert calls == ["a", "b"] * 3
    assert set(timed) == {"a", "b"} and all(fastest >= 0 and excess >= 0 for fastest, excess in timed.values())


def test_extraction_stage_checks_every_note_against_mido(midi_files, tmp_path):
    paths = sorted(midi_files.values())
    stage = run.bench_extraction(paths, paths[0].parent, repeats=1)
    kept = next(row for row in stage.rows if "pitched notes kept" in row.stage)
    assert kept.passed is True  # drums left out, every pitched note-on kept
    assert kept.project == f"{sum(count_pitched_note_ons(p) for p in paths):,}"
    assert len([row for row in stage.rows if row.passed is not None]) == 3
    assert any(line.startswith("same notes from both extractions: no") for line in stage.lines)


def test_preparation_stage_measures_both_sides():
    stage = run.bench_preparation(n_notes=2_000, vocab_size=40)
    assert len(stage.rows) == 4
    assert float(stage.rows[0].chapter.replace(",", "")) > 0 and float(stage.rows[0].project.replace(",", "")) > 0
    assert stage.rows[0].passed is None  # the target is stated for 200,000 notes only
    assert "200,000" in stage.lines[0]


def test_training_and_generation_stages_start_from_the_same_weights():
    stream = [f"t{(i * 7) % 23}" for i in range(400)]
    training = run.bench_training(stream, n_windows=128, epochs=2)
    speed, gpu = training.rows[0], training.rows[-1]  # benchmarks/training_peers.py's rows between them
    chapter_rate, project_rate = (float(value.replace(",", "")) for value in (speed.chapter, speed.project))
    assert chapter_rate > 0 and project_rate > 0
    ratio = project_rate / chapter_rate  # from the printed (rounded) figures
    if abs(ratio / run.TRAINING_MIN - 1) > 0.02:
        assert speed.passed == (ratio >= run.TRAINING_MIN)  # the verdict follows the figures
    assert (gpu.project, gpu.passed) == ("n/a", None) if not run.gpus() else gpu.passed is not None
    assert training.values["codes"].shape == (128 + 100,)  # the windows trained on, and the next codes
    generation = run.bench_generation(training.values, n_notes=5, chapter_notes=2, repeats=1, batch=2)
    assert generation.values["agrees"]  # the first note: predict over the window == the stepper
    assert len(generation.rows) == 6
    share = next(row for row in generation.rows if "share of matmul peak" in row.stage)
    assert share.passed is None and 0 < float(share.project.rstrip("%")) < 100  # judged in keras-generation
    assert [row.passed for row in generation.rows if row.passed is not None] == [generation.rows[0].passed]


def test_cudnn_check_refuses_without_a_gpu():
    from helpers import models

    codes = np.arange(130) % 11
    passed, detail = run.cudnn_check(models.build_gru_model(11, units=(4,), dense_units=None), codes)
    assert passed == bool(run.gpus())
    if not passed:  # Keras's own reason, not its generic first line
        assert "cuDNN is not supported" in detail and "\x1b" not in detail


def test_compare_states_the_ratio_and_the_verdict():
    row = run.compare("reading", "files/s", 20.0, 50.0, minimum=2.0)
    assert (row.chapter, row.project, row.ratio, row.passed) == ("20.0", "50.0", "2.50×", True)
    slower = run.compare("memory", "MiB", 10.0, 40.0, higher_is_better=False, minimum=0.5)
    assert slower.ratio == "0.25×" and slower.passed is False


def test_options_and_sizes():
    args = run.parse_args(["--size", "large", "--stages", "generation", "--chapter-notes", "7"])
    assert args.copies == run.SIZES["large"].copies and args.chapter_notes == 7 and args.stages == ["generation"]
    with pytest.raises(SystemExit):
        run.parse_args(["--stages", "extraction,nonsense"])


def test_main_prints_a_table_and_the_targets(midi_files, capsys):
    folder = midi_files["scale"].parent
    assert run.main(["--data", str(folder), "--stages", "extraction", "--repeats", "1"]) == 0
    out = capsys.readouterr().out
    assert "extraction, a first run (files/s)" in out and "targets: " in out and "GPU: " in out


def test_quality_stage_is_asked_for_by_name_only():
    assert "quality" not in run.parse_args([]).stages
    args = run.parse_args(["--stages", "quality", "--quality-minutes", "2", "--quality-files", "5"])
    assert args.stages == ["quality"] and args.quality_minutes == 2.0 and args.quality_files == 5


def test_quality_stage_trains_both_models_and_judges_them(tune_folder):
    from benchmarks import quality

    stage = quality.bench_quality(tune_folder, minutes=0.001, samples=2, n_notes=20)
    assert len(stage.rows) == 5
    nats = stage.rows[0]  # the best n-gram (chapter column) against the improved model (project column)
    best, model = float(nats.chapter.split()[0]), float(nats.project)
    assert nats.chapter.split()[1] in ("(unigram)", "(bigram)", "(trigram)")
    assert nats.passed == (model <= best * (1 - quality.QUALITY_MARGIN))
    assert stage.rows[1].passed is None  # the chapter's model: printed beside, not judged
    inside = stage.rows[2]
    assert inside.passed == (int(inside.project.split()[0]) >= quality.MIN_METRICS_INSIDE)
    assert inside.project.endswith("of 6")
    argmax = stage.rows[3]
    assert argmax.passed == (argmax.project != "None" and int(argmax.project) < quality.MAX_ARGMAX_RUN)
    copied = stage.rows[4]
    assert copied.passed == (float(copied.project.rstrip("%")) <= float(copied.chapter.rstrip("%")))
    # the time limit ends each training after its first epoch
    assert stage.lines[0].startswith("trained: improved 1 epochs") and "chapter 1 epochs" in stage.lines[0]
    assert any("midilike tokens" in line for line in stage.lines) and any("voiced tokens" in line for line in stage.lines)
