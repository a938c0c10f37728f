"""Tests of helpers.cli: the commands end to end, and errors as one line on stderr with status 2."""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import subprocess
import sys

import pandas as pd
import pytest
from conftest import count_pitched_note_ons, program_changes, redirect_outputs, write_tune

from helpers import cli, config, midi_io, midi_reader, pipeline, tokens
from helpers.runs import Run

TRAIN_ARGS = ["--seq-length", "8", "--epochs", "1", "--units", "4", "--batch-size", "32"]


def run_main(capsys, *argv):
    """``cli.main(argv)`` → ``(status, stdout, stderr)``."""
    status = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


def assert_one_line_error(err, *fragments):
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ") and "Traceback" not in err
    for fragment in fragments:
        assert fragment in lines[0]


def train_on_tunes(root, first_seed: int, options: list[str]):
    """``python -m helpers train OPTIONS`` on four small tunes below ``root``: ``(run_dir, stdout)``."""
    for i in range(4):
        write_tune(root / "tunes" / f"tune_{i}.mid", seed=first_seed + i)
    with pytest.MonkeyPatch.context() as patch, contextlib.redirect_stdout(io.StringIO()) as out:
        redirect_outputs(patch, root / "outputs")
        status = cli.main(["train", "--data", str(root / "tunes"), *options])
    assert status == 0, out.getvalue()
    (run_dir,) = (root / "outputs" / "runs").iterdir()
    return run_dir, out.getvalue()


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory):
    """A run folder written by ``python -m helpers train`` on four small tunes."""
    return train_on_tunes(tmp_path_factory.mktemp("cli"), 10, TRAIN_ARGS)[0]


# ----------------------------------------------------------------------------- commands


def test_run_prepares_trains_and_generates(capsys, tune_folder):
    status, out, err = run_main(capsys, "run", "--data", tune_folder, *TRAIN_ARGS, "--notes", "12")
    assert status == 0, err
    assert "Used 4 of 4 files" in out and "run folder: gru-001" in out
    (written,) = (config.RUNS_DIR / "gru-001" / "generated").glob("*.mid")  # beside the model that made it
    assert written.name == "gru-sample-001.mid"
    assert f"wrote {written.name}: " in out
    notes, _ = midi_io.midi_to_notes(written)
    assert len(tokens.notes_to_events(notes)) == 12  # the requested number of events
    assert count_pitched_note_ons(written) == len(notes)
    assert Run(config.RUNS_DIR / "gru-001").checkpoints.shape[0] == 1


def test_prepare_prints_the_load_report(capsys, tune_folder):
    (tune_folder / "broken.mid").write_text("<html></html>")
    status, out, _ = run_main(capsys, "prepare", "--data", tune_folder)
    assert status == 0
    assert "Used 4 of 5 files" in out and "skipped broken.mid: not MIDI" in out
    assert "distinct tokens" in out


def test_generate_from_a_run_folder(capsys, cli_run, tmp_path):
    target = tmp_path / "piece.mid"
    status, out, err = run_main(
        capsys, "generate", cli_run, "--notes", "7", "--instrument", "24", "--output", target, "--method", "argmax"
    )
    assert status == 0, err
    assert target.is_file() and f"wrote {target.name}" in out
    assert set(program_changes(target)) == {24}  # a program number from the command line
    notes, _ = midi_io.midi_to_notes(target)
    assert notes["offset"].nunique() == 7


def test_generate_with_options(capsys, cli_run, midi_files):
    before = set((cli_run / "generated").glob("*.mid"))
    status, out, err = run_main(
        capsys, "generate", cli_run, "--notes", "5", "--rhythm", "even", "--primer", midi_files["scale"],
        "--top-k", "2", "--temperature", "0.5", "--gen-seed", "4", "--weights", "final", "--instrument", "Violin",
    )
    assert status == 0, err
    (written,) = set((cli_run / "generated").glob("*.mid")) - before
    assert set(program_changes(written)) == {40}


def test_train_resume_continues_the_run(capsys, cli_run, tmp_path):
    run_dir = tmp_path / "copy"
    shutil.copytree(cli_run, run_dir)
    assert Run(run_dir).history["epoch"].tolist() == [1]
    data = cli_run.parents[2] / "tunes"  # the folder the fixture trained on
    args = ["train", "--data", data, *TRAIN_ARGS, "--resume", run_dir]
    args[args.index("--epochs") + 1] = "2"
    status, out, err = run_main(capsys, *args)
    assert status == 0, err
    assert f"run folder: {run_dir.name}" in out
    assert Run(run_dir).history["epoch"].tolist() == [1, 2]
    assert len(Run(run_dir).checkpoints) >= 1


def tensorboard_tags(folder) -> set[str]:
    """The names of the values TensorBoard's event files in ``folder`` hold."""
    import tensorflow as tf

    return {value.tag for path in folder.glob("events.out.tfevents.*")
            for event in tf.compat.v1.train.summary_iterator(str(path)) for value in event.summary.value}


def test_train_resume_of_a_finished_run_says_how_to_train_on(capsys, cli_run, tmp_path):
    """Issue 14: --resume of a finished run did nothing and exited 0."""
    run_dir = tmp_path / "copy"
    shutil.copytree(cli_run, run_dir)
    status, out, err = run_main(capsys, "train", "--resume", run_dir)
    assert status == 2 and out == ""  # refused before the data is read again
    assert_one_line_error(err, f"{run_dir} finished its 1 epochs, nothing to train",
                          f"give --epochs M with M > 1: python -m helpers train --resume {run_dir} --epochs 2")
    status, _, err = run_main(capsys, "train", "--resume", run_dir, "--epochs", "1")
    assert status == 2
    assert_one_line_error(err, "has already finished 1 epochs (--epochs 1 asks for 1 in all)", "M > 1")
    assert Run(run_dir).history["epoch"].tolist() == [1]  # nothing trained

    # --epochs M > done trains on to M; the data folder comes from the run (no --data)
    status, out, err = run_main(capsys, "train", "--resume", run_dir, "--epochs", "2", "--tensorboard")
    assert status == 0, err
    assert Run(run_dir).history["epoch"].tolist() == [1, 2] and "(2 epochs;" in out
    assert tensorboard_tags(run_dir / "logs" / "train") >= {"epoch_loss", "epoch_learning_rate"}  # --tensorboard
    assert "epoch_loss" in tensorboard_tags(run_dir / "logs" / "validation")
    status, _, err = run_main(capsys, "train", "--resume", run_dir)
    assert status == 2
    assert_one_line_error(err, "finished its 2 epochs", "--epochs 4")


def test_keyboard_interrupt_in_the_first_epoch_keeps_nothing_and_says_so(capsys, tune_folder, monkeypatch):
    def interrupted(corpus, *args, run_dir, **kwargs):
        (run_dir / "primer.json").write_text("{}")  # what train_run writes before the first epoch
        raise KeyboardInterrupt

    monkeypatch.setattr(pipeline, "train_run", interrupted)
    status, _, err = run_main(capsys, "train", "--data", tune_folder)
    assert status == 130
    assert err.strip() == (
        "interrupted during the first epoch: no epoch finished, so nothing is kept (gru-001 was removed); "
        "start again with the same command"
    )
    assert not (config.RUNS_DIR / "gru-001").exists()


def test_keyboard_interrupt_after_an_epoch_names_the_epoch_kept(capsys, tune_folder, monkeypatch):
    def interrupted(corpus, *args, run_dir, **kwargs):
        (run_dir / "history.csv").write_text("epoch,loss\n0,2.5\n1,2.4\n")  # two epochs finished
        raise KeyboardInterrupt

    monkeypatch.setattr(pipeline, "train_run", interrupted)
    status, _, err = run_main(capsys, "train", "--data", tune_folder)
    assert status == 130 and (config.RUNS_DIR / "gru-001").is_dir()
    assert err.strip() == (
        "interrupted: the last finished epoch (2) is kept in gru-001; continue with: python -m helpers train --resume gru-001"
    )


def test_keyboard_interrupt_while_reading_writes_nothing(capsys, tune_folder, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(pipeline, "prepare", interrupted)
    status, _, err = run_main(capsys, "run", "--data", tune_folder)
    assert status == 130 and err.strip() == "interrupted before training started: no run folder was made"
    assert not config.RUNS_DIR.exists()


def test_keyboard_interrupt_while_generating_writes_no_piece(capsys, cli_run, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(pipeline, "generate_piece", interrupted)
    status, _, err = run_main(capsys, "generate", cli_run)
    assert status == 130 and err.strip() == "interrupted: no piece was written (a piece is written whole or not at all)"
    assert cli_run.is_dir()  # the run is never removed by generate


def test_a_failed_train_leaves_no_run_folder(capsys, tune_folder):
    status, _, err = run_main(capsys, "train", "--data", tune_folder, *TRAIN_ARGS[2:], "--seq-length", "1000")
    assert status == 2
    assert_one_line_error(err, "no window of 1000", "shorter seq_length")
    assert config.RUNS_DIR.is_dir() and not list(config.RUNS_DIR.iterdir())  # no gru-001 with a primer.json only


# ----------------------------------------------------------------------------- errors


def test_missing_folder(capsys, tmp_path):
    status, out, err = run_main(capsys, "prepare", "--data", tmp_path / "missing")
    assert status == 2
    assert_one_line_error(err, "MIDI folder not found", "missing")


def test_folder_without_usable_midi_names_the_files_and_what_to_do(capsys, tmp_path, midi_files):
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "page.mid").write_text("<html></html>")
    shutil.copy(midi_files["drums_only"], tmp_path / "bad")
    status, _, err = run_main(capsys, "train", "--data", tmp_path / "bad", *TRAIN_ARGS, "--report", tmp_path / "r.csv")
    assert status == 2 and "Traceback" not in err
    lines = err.strip().splitlines()
    assert lines[0].startswith("error: No usable MIDI in ") and "2 candidate files" in lines[0]
    assert "  skipped page.mid: not MIDI (a web page saved under a MIDI name)" in lines
    assert "  skipped drums_only.mid: no pitched notes (6 drum hits only)" in lines
    assert f"What to do: not MIDI: {midi_reader.NEXT_STEPS['not MIDI']}." in lines
    assert lines[-1].startswith("Point the loader at a folder of .mid/.midi files")
    assert (tmp_path / "r.csv").read_text().count("skipped") == 2  # the report is saved even now
    assert not config.RUNS_DIR.exists()  # nothing was trained


def test_run_folder_without_vocabulary(capsys, tmp_path):
    (tmp_path / "not-a-run").mkdir()
    status, _, err = run_main(capsys, "generate", tmp_path / "not-a-run")
    assert status == 2
    assert_one_line_error(err, "no vocab.json")


def test_run_folder_with_a_checkpoint_of_another_model(capsys, cli_run, tmp_path):
    other = tmp_path / "other"
    shutil.copytree(cli_run, other)
    settings = json.loads((other / "config.json").read_text())
    settings["units"] = [5]  # config.json now describes another model than the checkpoint holds
    settings["builder_args"]["units"] = [5]  # (the builder's own arguments are what a run is rebuilt from)
    (other / "config.json").write_text(json.dumps(settings))
    status, _, err = run_main(capsys, "generate", other, "--notes", "3")
    assert status == 2
    assert err.strip().splitlines()[-1].startswith("error: ") and "does not fit" in err
    assert "Traceback" not in err


def test_unknown_instrument(capsys, cli_run, tmp_path):
    status, _, err = run_main(capsys, "generate", cli_run, "--notes", "3", "--instrument", "Kazoo-o-phone",
                              "--output", tmp_path / "k.mid")
    assert status == 2
    assert_one_line_error(err, "unknown instrument")


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (["generate", "RUN", "--temperature", "0"], "expected a number > 0"),
        (["generate", "RUN", "--temperature", "-1"], "expected a number > 0"),
        (["generate", "RUN", "--notes", "0"], "expected a whole number >= 1"),
        (["train", "--epochs", "-3"], "expected a whole number >= 1"),
        (["train", "--limit", "0"], "expected a whole number >= 1"),
        (["train", "--arch", "transformer"], "invalid choice"),
        (["generate", "RUN", "--rhythm", "swing"], "invalid choice"),
        (["compose"], "invalid choice"),
        ([], "required"),
    ],
)
def test_bad_option_values_exit_2_from_argparse(capsys, argv, fragment):
    with pytest.raises(SystemExit) as caught:
        cli.main(argv)
    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert fragment in err and "Traceback" not in err


def test_python_dash_m_helpers_reports_errors_on_one_line(tmp_path):
    """The real process: exit status 2 and one line on stderr, nothing from TensorFlow."""
    env = {**os.environ, "PYTHONPATH": str(config.ROOT)}
    result = subprocess.run(
        [sys.executable, "-m", "helpers", "prepare", "--data", str(tmp_path / "missing")],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"error: MIDI folder not found: {tmp_path / 'missing'}; give --data a folder of .mid/.midi files"
    ]
    assert result.stdout == ""


@pytest.mark.parametrize(
    "command, options",
    [
        ("prepare", ["--data", "--limit", "--encoding", "--max-file-mb", "--max-notes", "--max-quarters", "--timeout",
                     "--report", "--all"]),
        ("train", ["--arch", "--units", "--epochs", "--batch-size", "--seq-length", "--resume"]),
        ("generate", ["--weights", "--notes", "--temperature", "--top-k", "--method", "--gen-seed", "--primer", "--instrument",
                      "--output"]),
        ("run", ["--data", "--arch", "--epochs", "--notes", "--temperature", "--max-notes", "--report"]),
    ],
)
def test_every_command_documents_its_options(capsys, command, options):
    with pytest.raises(SystemExit) as exit_info:
        cli.main([command, "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    assert all(option in text for option in options), text


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (["train", "--dropout", "1"], "from 0 up to (not including) 1"),
        (["train", "--val-fraction", "abc"], "expected a number from 0"),
        (["train", "--epochs", "two"], "expected a whole number >= 1, got 'two'"),
    ],
)
def test_more_bad_option_values(capsys, argv, fragment):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    assert exit_info.value.code == 2
    assert fragment in capsys.readouterr().err


def test_generate_renders_audio_beside_the_midi_file(capsys, cli_run, tmp_path):
    import soundfile

    target = tmp_path / "song.mid"
    status, out, err = run_main(capsys, "generate", cli_run, "--notes", "6", "--output", target, "--audio", "both")
    assert status == 0, err
    for suffix in (".wav", ".mp3"):
        rendered = target.with_suffix(suffix)
        assert f"wrote {rendered.name}" in out
        samples, rate = soundfile.read(rendered)
        assert rate == 44_100 and len(samples) > rate // 2 and abs(samples).max() > 0.01  # sound, not silence


def test_output_in_a_missing_folder_is_refused_before_any_work(capsys, cli_run, tmp_path):
    target = tmp_path / "no_such_folder" / "x.mid"
    status, _, err = run_main(capsys, "generate", cli_run, "--notes", "3", "--output", target)
    assert status == 2 and not target.parent.exists()  # no folder made on the way
    assert_one_line_error(err, "does not exist", "create it first")


def test_output_never_overwrites_without_overwrite(capsys, cli_run, tmp_path):
    target = tmp_path / "kept.mid"
    target.write_bytes(b"MThd: the user's own file")
    status, _, err = run_main(capsys, "generate", cli_run, "--notes", "3", "--output", target)
    assert status == 2 and target.read_bytes() == b"MThd: the user's own file"
    assert_one_line_error(err, "exists", "--overwrite")


def test_overwrite_replaces_the_piece_and_removes_its_stale_audio(capsys, cli_run, tmp_path):
    target = tmp_path / "song.mid"
    status, _, err = run_main(capsys, "generate", cli_run, "--notes", "4", "--output", target, "--audio", "mp3")
    assert status == 0, err
    first = target.read_bytes()
    status, out, err = run_main(capsys, "generate", cli_run, "--notes", "9", "--output", target, "--overwrite", "--gen-seed", "5")
    assert status == 0, err
    assert target.read_bytes() != first
    assert not target.with_suffix(".mp3").exists() and "removed song.mp3" in out  # no mp3 of the old piece beside the new one


def test_primer_with_the_chapters_scaled_input_gets_a_note(capsys, cli_run, midi_files, tmp_path):
    status, _, err = run_main(capsys, "generate", cli_run, "--notes", "3", "--primer", midi_files["scale"],
                              "--output", tmp_path / "p.mid")
    assert status == 0
    assert err.startswith("note: ") and "ignore its input" in err and "--input embedding" in err
    status, _, err = run_main(capsys, "generate", cli_run, "--notes", "3", "--output", tmp_path / "q.mid")
    assert status == 0 and err == ""  # no primer asked for: nothing to warn about


def test_a_missing_soundfont_is_found_before_anything_is_written(capsys, cli_run, tmp_path, monkeypatch):
    monkeypatch.setenv("MUSICGEN_SOUNDFONT", str(tmp_path / "missing.sf2"))
    target = tmp_path / "song.mid"
    status, _, err = run_main(capsys, "generate", cli_run, "--notes", "4", "--output", target, "--audio", "mp3")
    assert status == 2 and not target.exists()
    assert_one_line_error(err, "MUSICGEN_SOUNDFONT=", "give the path of a .sf2 SoundFont")


def test_audio_failure_after_the_midi_file_is_one_line_and_keeps_the_midi_file(capsys, cli_run, tmp_path, monkeypatch):
    from helpers import audio

    def failing(*args, **kwargs):
        raise audio.AudioError("the synthesizer stopped")

    monkeypatch.setattr(audio, "save_audio", failing)
    target = tmp_path / "song.mid"
    status, _, err = run_main(capsys, "generate", cli_run, "--notes", "4", "--output", target, "--audio", "mp3")
    assert status == 2 and target.is_file()
    assert_one_line_error(err, "no audio for song.mid")


# ----------------------------------------------------------------------------- MIDI-like, improved recipe, evaluate

MIDILIKE_ARGS = ["--encoding", "midilike", "--seq-length", "8", "--epochs", "1", "--units", "8", "--batch-size", "8"]


@pytest.fixture(scope="module")
def midilike_run(tmp_path_factory):
    """A run folder written by ``python -m helpers train --encoding midilike`` on four small tunes."""
    return train_on_tunes(tmp_path_factory.mktemp("cli_midilike"), 30, MIDILIKE_ARGS)


def test_train_midilike_makes_an_improved_run(midilike_run):
    run_dir, out = midilike_run
    assert run_dir.name == "gru-improved-001"
    assert "320 distinct tokens" in out and "run folder: gru-improved-001 (1 epochs" in out
    settings = json.loads((run_dir / "config.json").read_text())
    assert (settings["recipe"], settings["encoding"], settings["builder"]) == ("improved", "midilike", "sequence")
    assert settings["builder_args"]["units"] == [8] and settings["seq_length"] == 8 and settings["batch_size"] == 8
    assert settings["transpositions"] == 0 and settings["normalise_keys"] is True  # keys normalised, not transposed copies
    assert Run(run_dir).history["epoch"].tolist() == [1]


def test_evaluate_prints_the_report(capsys, midilike_run):
    run_dir, _ = midilike_run
    status, out, err = run_main(capsys, "evaluate", run_dir, "--samples", "2", "--notes", "15")
    assert status == 0, err
    assert "nats/token" in out
    for row in ("unigram", "bigram", "trigram", run_dir.name):
        assert any(line.startswith(row) for line in out.splitlines()), row
    assert "copied 8-event runs" in out and "pitch_class_entropy" in out


def test_evaluate_a_folder_that_is_not_a_run(capsys, tmp_path):
    (tmp_path / "empty").mkdir()
    status, out, err = run_main(capsys, "evaluate", tmp_path / "empty")
    assert status == 2 and out == ""
    assert_one_line_error(err, "no vocab.json")


REFUSED = [
    pytest.param(["--encoding", "midilike", "--dense-units", "8"], "--dense-units", id="dense_units"),
    pytest.param(["--recipe", "improved", "--input", "scaled"], "--input scaled", id="input_scaled"),
]


@pytest.mark.parametrize("options, fragment", REFUSED)
def test_improved_recipe_refuses_chapter_options(capsys, tune_folder, options, fragment):
    status, _, err = run_main(capsys, "train", "--data", tune_folder, *TRAIN_ARGS, *options)
    assert status == 2
    assert_one_line_error(err, fragment)
    assert not any(Run(run).checkpoints.shape[0] for run in config.RUNS_DIR.glob("*"))  # nothing trained


@pytest.mark.parametrize("options, fragment", REFUSED)
def test_refused_options_leave_no_empty_run_folder(capsys, tune_folder, options, fragment):
    """A refused command must not leave an empty gru-improved-NNN behind (the next run would be -002)."""
    status, _, _ = run_main(capsys, "train", "--data", tune_folder, *TRAIN_ARGS, *options)
    assert status == 2
    assert not config.RUNS_DIR.exists() or list(config.RUNS_DIR.iterdir()) == []


def test_time_limit_stops_training_early(capsys, tune_folder):
    args = ["train", "--data", tune_folder, *MIDILIKE_ARGS, "--time-limit", "0.0001", "--transpose", "--keys", "as-written"]
    args[args.index("--epochs") + 1] = "4"
    status, out, err = run_main(capsys, *args)
    assert status == 0, err
    assert "(1 epochs;" in out
    settings = json.loads((config.RUNS_DIR / "gru-improved-001" / "config.json").read_text())
    assert settings["epochs"] == 4 and settings["transpositions"] == 12 and settings["normalise_keys"] is False
    assert settings["stopped_early"] == {"epoch": 1, "by": "time limit"}
    run_dir = config.RUNS_DIR / "gru-improved-001"
    status, out, err = run_main(capsys, "train", "--resume", run_dir)  # issue 14: says why, exits 2
    assert status == 2 and out == ""
    assert_one_line_error(err, "stopped early at epoch 1 of 4 (time limit), nothing to train",
                          f"python -m helpers train --resume {run_dir} --epochs 4")


@pytest.mark.parametrize("value", ["0", "-1", "soon"])
def test_bad_time_limit_exits_2(capsys, value):
    with pytest.raises(SystemExit) as caught:
        cli.main(["train", "--time-limit", value])
    assert caught.value.code == 2
    assert "expected a number > 0" in capsys.readouterr().err


def test_evaluate_and_time_limit_are_documented(capsys):
    with pytest.raises(SystemExit):
        cli.main(["train", "--help"])
    text = capsys.readouterr().out
    assert "--time-limit" in text and "--encoding" in text and "--recipe" in text
    with pytest.raises(SystemExit):
        cli.main(["evaluate", "--help"])
    text = capsys.readouterr().out
    assert all(option in text for option in ("--samples", "--notes", "--pieces", "--weights"))


# ----------------------------------------------------------------------------- the load report, limits


def test_prepare_lists_twenty_files_then_all_with_all_and_saves_a_csv(capsys, tune_folder, tmp_path):
    for i in range(25):
        (tune_folder / f"page_{i:02d}.mid").write_text(f"<html>{i}</html>")
    status, out, _ = run_main(capsys, "prepare", "--data", tune_folder)
    assert status == 0 and out.count("  skipped page_") == 20
    assert "  ... and 5 more skipped (--all lists them all, --report FILE.csv saves the whole report)" in out
    assert "report.to_frame()" not in out  # a command-line user cannot call it
    status, out, _ = run_main(capsys, "prepare", "--data", tune_folder, "--all", "--report", tmp_path / "out" / "r.csv")
    assert status == 0 and out.count("  skipped page_") == 25 and "more skipped" not in out
    assert "wrote " in out and "r.csv: the load report, 29 files" in out
    frame = pd.read_csv(tmp_path / "out" / "r.csv", keep_default_na=False)
    assert len(frame) == 29 and (frame["status"] == "skipped").sum() == 25
    assert set(frame.loc[frame["status"] == "skipped", "next_step"]) == {midi_reader.NEXT_STEPS["not MIDI"]}


@pytest.mark.parametrize(
    "option, label, step",
    [
        (["--max-notes", "39"], "too many notes (over the limit of 39 note-ons)", "--max-notes"),
        (["--max-quarters", "5"], "too long", "--max-quarters"),
        (["--max-file-mb", "0.0001"], "too large", "--max-file-mb"),
        (["--timeout", "1e-9"], "too slow", "--timeout"),
    ],
)
def test_per_file_limits_on_the_command_line(capsys, tune_folder, option, label, step):
    status, _, err = run_main(capsys, "prepare", "--data", tune_folder, *option)
    assert status == 2  # every tune breaks the limit: no usable MIDI, each file named with its reason
    assert err.count(f".mid: {label}") == 4, err
    assert step in err.splitlines()[-2]  # what to do: raise the limit


def test_limits_are_recorded_by_train_and_used_by_resume(capsys, tune_folder, monkeypatch):
    status, out, err = run_main(capsys, "train", "--data", tune_folder, *TRAIN_ARGS, "--max-notes", "1000", "--timeout", "0")
    assert status == 0, err
    settings = json.loads((config.RUNS_DIR / "gru-001" / "config.json").read_text())
    assert settings["load_options"] == {"max_notes": 1000, "timeout": None}
    seen = {}
    real_prepare = pipeline.prepare

    def spying_prepare(*args, **kwargs):
        seen.update(kwargs)
        return real_prepare(*args, **kwargs)

    monkeypatch.setattr(pipeline, "prepare", spying_prepare)
    settings["data"] = str(tune_folder)
    (config.RUNS_DIR / "gru-001" / "config.json").write_text(json.dumps(settings))
    status, _, err = run_main(capsys, "train", "--resume", config.RUNS_DIR / "gru-001", "--epochs", "2")
    assert status == 0, err
    assert seen == {"max_notes": 1000, "timeout": None}


def test_prepare_does_not_import_tensorflow(tmp_path):
    """Reading music needs no TensorFlow (about 6 s and 600 MB): checked in a fresh process."""
    write_tune(tmp_path / "one" / "tune.mid", seed=0, n_notes=1)
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from helpers import cli, config\n"
        f"status = cli.main(['prepare', '--data', {str(tmp_path / 'one')!r}])\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras'))\n"
        "print('status', status, 'loaded', loaded)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(config.ROOT), config.OUTPUTS_VARIABLE: str(tmp_path / "outputs")}
    result = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "status 0 loaded []"
    assert "Used 1 of 1 files" in result.stdout


# ----------------------------------------------------------------------------- checked before any work


def test_run_checks_instrument_and_primer_before_reading_or_training(capsys, tune_folder, tmp_path, monkeypatch):
    def must_not_run(*args, **kwargs):
        raise AssertionError("work started before the options were checked")

    monkeypatch.setattr(pipeline, "prepare", must_not_run)
    status, out, err = run_main(capsys, "run", "--data", tune_folder, "--instrument", "Kazoo-o-phone")
    assert status == 2 and out == ""
    assert_one_line_error(err, "unknown instrument 'Kazoo-o-phone'", "give a name such as 'Piano'")
    (tmp_path / "page.mid").write_text("<html></html>")
    status, out, err = run_main(capsys, "run", "--data", tune_folder, "--primer", tmp_path / "page.mid")
    assert status == 2 and out == ""
    assert_one_line_error(err, "page.mid: not MIDI", midi_reader.NEXT_STEPS["not MIDI"])
    status, _, err = run_main(capsys, "run", "--data", tune_folder, "--primer", tmp_path / "absent.mid")
    assert status == 2
    assert_one_line_error(err, "absent.mid: unreadable", midi_reader.NEXT_STEPS["unreadable"])
    assert not config.RUNS_DIR.exists()


def test_a_primer_too_damaged_to_trust_is_refused(capsys, cli_run, tmp_path):
    from test_midi_reader import scrambled  # shuffled bytes that the old reader took for 4 notes

    (tmp_path / "scrambled.mid").write_bytes(scrambled())
    status, out, err = run_main(capsys, "generate", cli_run, "--primer", tmp_path / "scrambled.mid")
    assert status == 2 and out == ""
    assert_one_line_error(err, "scrambled.mid: corrupt (too damaged to trust: ", midi_reader.NEXT_STEPS["corrupt"])


@pytest.mark.parametrize(
    "extra, fragment",
    [
        (["--instrument", "Kazoo-o-phone"], "unknown instrument"),
        (["--weights", "nowhere.weights.h5"], "--weights nowhere.weights.h5: no such checkpoint file"),
    ],
)
def test_generate_that_fails_leaves_no_file(capsys, cli_run, extra, fragment):
    before = sorted((cli_run / "generated").rglob("*")) if (cli_run / "generated").exists() else []
    status, _, err = run_main(capsys, "generate", cli_run, "--notes", "3", *extra)
    assert status == 2
    assert_one_line_error(err, fragment)
    after = sorted((cli_run / "generated").rglob("*")) if (cli_run / "generated").exists() else []
    assert after == before  # no 0-byte .mid, no temporary file


def test_resume_and_generate_check_the_run_folder_first(capsys, tmp_path):
    (tmp_path / "not-a-run").mkdir()
    for argv in (["train", "--resume", tmp_path / "not-a-run"], ["generate", tmp_path / "not-a-run"]):
        status, out, err = run_main(capsys, *argv)
        assert status == 2 and out == ""
        assert_one_line_error(err, "not-a-run is not a run folder (no vocab.json)", "give a folder written by train")


def test_report_option_must_name_a_file(capsys, tune_folder, tmp_path):
    status, _, err = run_main(capsys, "prepare", "--data", tune_folder, "--report", tmp_path)
    assert status == 2
    assert_one_line_error(err, "is a folder: give a file name")


def test_train_names_the_checkpoint_generate_will_use(capsys, tune_folder):
    status, out, err = run_main(capsys, "train", "--data", tune_folder, *MIDILIKE_ARGS)
    assert status == 0, err
    best = Run(config.RUNS_DIR / "gru-improved-001").checkpoints.iloc[0]
    assert f"generate uses the best checkpoint: epoch {best['epoch']}, " in out.splitlines()[-1]


def test_top_level_help_has_no_markup(capsys):
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    out = capsys.readouterr().out
    assert "``" not in out and "python -m helpers" in out


def test_data_that_is_a_file_is_named_as_one(capsys, tune_folder):
    piece = next(tune_folder.glob("*.mid"))
    status, _, err = run_main(capsys, "prepare", "--data", piece)
    assert status == 2
    assert_one_line_error(err, "is a file, not a folder", str(tune_folder))


# ----------------------------------------------------------------------------- top-p


@pytest.mark.parametrize("command", [["generate", "outputs/runs/gru-001"], ["evaluate", "outputs/runs/gru-001"], ["run"]])
@pytest.mark.parametrize("value", ["0", "-0.2", "1.5", "abc"])
def test_top_p_outside_0_to_1_is_refused(capsys, command, value):
    with pytest.raises(SystemExit) as exit_info:
        cli.main([*command, "--top-p", value])
    assert exit_info.value.code == 2
    assert "expected a probability above 0 and at most 1" in capsys.readouterr().err


def test_top_p_reaches_generation_and_evaluation(capsys, monkeypatch, cli_run, tmp_path):
    seen = {}

    def generate_piece(*args, **kwargs):
        seen["generate"] = kwargs.get("top_p")
        return tmp_path / "piece.mid", pd.DataFrame()

    def evaluate_run(*args, **kwargs):
        seen["evaluate"] = kwargs.get("top_p")
        return "report"

    monkeypatch.setattr(pipeline, "generate_piece", generate_piece)
    monkeypatch.setattr(pipeline, "evaluate_run", evaluate_run)
    assert run_main(capsys, "generate", cli_run, "--top-p", "0.9")[0] == 0
    assert run_main(capsys, "evaluate", cli_run, "--top-p", "1")[0] == 0
    assert seen == {"generate": 0.9, "evaluate": 1.0}
    assert run_main(capsys, "generate", cli_run)[0] == 0 and seen["generate"] is None  # by default: no cut
    with pytest.raises(SystemExit):
        cli.main(["generate", "--help"])
    assert "--top-p P" in capsys.readouterr().out


def test_generate_with_top_p_1_writes_the_piece_plain_sampling_writes(capsys, cli_run, tmp_path):
    pieces = {}
    for name, extra in {"plain": [], "p1": ["--top-p", "1"], "p_small": ["--top-p", "0.05"], "argmax": ["--method", "argmax"]}.items():
        target = tmp_path / f"{name}.mid"
        status, _, err = run_main(capsys, "generate", cli_run, "--notes", "20", "--gen-seed", "3", "--output", target, *extra)
        assert status == 0, err
        pieces[name] = midi_io.midi_to_notes(target)[0].drop(columns="piece")
    assert pieces["p1"].equals(pieces["plain"])
    assert pieces["p_small"].equals(pieces["argmax"])  # a nucleus of 5 % holds the likeliest token alone


# ----------------------------------------------------------------------------- --store (the large-collection path)


def test_prepare_and_train_with_a_token_store(capsys, tune_folder, tmp_path):
    store = tmp_path / "store"
    status, out, err = run_main(capsys, "prepare", "--data", tune_folder, "--encoding", "midilike", "--store", store)
    assert status == 0, err
    assert "Used 4 of 4 files" in out and "pieces in the token store" in out
    assert (store / "codes.bin").is_file() and json.loads((store / "store.json").read_text())["complete"] is True
    status, out, err = run_main(capsys, "train", "--data", tune_folder, "--encoding", "midilike", "--store", store,
                                "--seq-length", "8", "--epochs", "1", "--units", "4", "--batch-size", "8")
    assert status == 0, err
    run = Run(config.RUNS_DIR / "gru-improved-001")
    assert run.settings["store"] == str(store.resolve()) and run.epochs_done == 1
    status, out, err = run_main(capsys, "train", "--resume", run.path, "--epochs", "2")  # from the store again
    assert status == 0, err
    assert run.epochs_done == 2


def test_store_needs_the_midilike_encoding(capsys, tune_folder, tmp_path):
    status, _, err = run_main(capsys, "prepare", "--data", tune_folder, "--store", tmp_path / "store")
    assert status == 2
    assert_one_line_error(err, "--store keeps MIDI-like tokens only", "--encoding midilike")
    assert not (tmp_path / "store").exists()


def test_keyboard_interrupt_while_preparing_a_store_says_how_to_go_on(capsys, tune_folder, tmp_path, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(pipeline, "prepare_store", interrupted)
    status, _, err = run_main(capsys, "prepare", "--data", tune_folder, "--encoding", "midilike", "--store", tmp_path / "s")
    assert status == 130 and "run the same command again to go on" in err


def test_store_is_documented(capsys):
    for command in ("prepare", "train", "run"):
        with pytest.raises(SystemExit):
            cli.main([command, "--help"])
        assert "--store FOLDER" in capsys.readouterr().out
