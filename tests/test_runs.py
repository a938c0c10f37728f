"""Tests of helpers.runs: a run folder's settings, vocabulary, primer, progress and model."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import config, runs
from helpers.runs import Run, RunError, RunFinished
from helpers.tokens import Vocabulary

VOCAB = Vocabulary([f"{name}4" for name in "CDEFGAB"])

#: config.json of a chapter GRU as runs recorded it before they recorded their builder.
OLD_GRU = {"architecture": "gru", "seq_length": 6, "vocab_size": 9, "units": [2, 3], "dropout": 0.2, "dense_units": 4,
           "input_encoding": "scaled", "embedding_dim": 32, "parameters": 0, "epochs": 3}


def write_run(path, settings, history_epochs=0):
    """A run folder by hand: vocabulary, settings and ``history_epochs`` rows of history."""
    run = Run(path)
    run.write_vocab(VOCAB)
    run.write_settings(settings)
    if history_epochs:
        rows = "".join(f"{epoch},{2 - epoch / 10}\n" for epoch in range(history_epochs))
        run.history_path.write_text("epoch,loss\n" + rows)
    return run


def test_create_numbers_runs_in_outputs(tmp_path):
    first, second = Run.create("gru"), Run.create("gru")
    assert (first.name, second.name) == ("gru-001", "gru-002")
    assert first.path.parent == config.RUNS_DIR and tmp_path in first.path.parents
    assert first.path.is_dir() and os.fspath(first) == str(first.path)


def test_open_refuses_folders_that_are_not_runs(tmp_path):
    with pytest.raises(RunError, match="no vocab.json"):
        Run.open(tmp_path)
    VOCAB.save(tmp_path / "vocab.json")
    with pytest.raises(RunError, match="no config.json"):
        Run.open(tmp_path)
    (tmp_path / "config.json").write_text("{}")
    assert Run.open(tmp_path) == Run(tmp_path)


def test_latest_is_the_newest_run_with_a_checkpoint(tmp_path):
    for name, has_checkpoint in [("gru-001", True), ("gru-002", True), ("gru-003", False), ("lstm-004", True)]:
        folder = config.ensure_dir(config.RUNS_DIR / name / "checkpoints")
        if has_checkpoint:
            (folder / "weights-01-1.2345.weights.h5").touch()
    assert Run.latest("gru") == Run(config.RUNS_DIR / "gru-002")
    assert Run.latest("lstm").path == config.RUNS_DIR / "lstm-004"
    assert Run.latest("gru", runs_dir=tmp_path / "none") is None


def test_checkpoints_best_first_and_the_best_one(tmp_path):
    run = Run(tmp_path / "run")
    assert run.checkpoints.empty
    with pytest.raises(RunError, match="no checkpoint yet"):
        run.best_checkpoint
    folder = config.ensure_dir(run.checkpoint_dir)
    for name in ("weights-01-2.5000.weights.h5", "weights-03-1.2500.weights.h5", "weights-02-1.7500.weights.h5",
                 "notes.txt"):
        (folder / name).touch()
    assert run.checkpoints[["epoch", "loss"]].values.tolist() == [[3, 1.25], [2, 1.75], [1, 2.5]]
    assert run.best_checkpoint == folder / "weights-03-1.2500.weights.h5"
    assert runs.CHECKPOINT_PATTERN.match(os.path.basename(run.checkpoint_template("val_loss").format(epoch=4, val_loss=1.0)))


def test_settings_are_added_to_what_was_recorded(tmp_path):
    run = Run(tmp_path / "run")
    with pytest.raises(RunError, match="no config.json"):
        run.settings
    config.ensure_dir(run.path)
    run.write_settings({"epochs": 3, "data": "data/midi"})
    merged = run.write_settings({"epochs": 5, "seed": 1})
    assert merged == run.settings == {"epochs": 5, "data": "data/midi", "seed": 1}


def test_vocab_is_written_once_and_never_replaced(tmp_path):
    run = Run(tmp_path / "run")
    run.write_vocab(VOCAB)
    before = run.vocab_path.stat().st_mtime_ns
    run.write_vocab(Vocabulary(list(VOCAB.tokens)))  # the same vocabulary: nothing written
    assert run.vocab_path.stat().st_mtime_ns == before and run.vocab.tokens == VOCAB.tokens
    with pytest.raises(RunError, match="is not this vocabulary"):
        run.write_vocab(Vocabulary(VOCAB.tokens + ["C5"]))
    assert len(run.vocab) == len(VOCAB)


def test_primer_round_trip(tmp_path):
    run = Run(config.ensure_dir(tmp_path / "run"))
    with pytest.raises(RunError, match="no primer.json"):
        run.primer
    run.write_primer({"source": "a.mid", "tokens": ["C4", "E4"]})
    assert run.primer == {"source": "a.mid", "tokens": ["C4", "E4"]}


def test_history_counts_epochs_from_one(tmp_path):
    run = Run(tmp_path / "run")
    assert run.history.empty and run.epochs_done == 0
    config.ensure_dir(run.path)
    run.history_path.write_text("epoch,loss,val_loss\n0,2.5,NA\n1,2.4,NA\n1,2.3,NA\n")  # epoch 2 logged twice
    assert run.history["epoch"].tolist() == [1, 2] and "val_loss" not in run.history
    assert run.history["loss"].tolist() == [2.5, 2.3] and run.epochs_done == 2


def test_the_data_folder_is_recorded_so_that_a_run_finds_it_again(tmp_path):
    own = config.ensure_dir(tmp_path / "my tunes")  # a folder of the user's, outside the repository
    assert runs.folder_record(own) == str(own.resolve())
    assert runs.folder_record(config.DATA_DIR) == "data/midi"  # inside: relative, so runs stay portable
    for folder in (own, config.DATA_DIR):
        run = write_run(tmp_path / f"run-{folder.name}", {"data": runs.folder_record(folder)})
        assert run.data_folder.resolve() == folder.resolve()


def test_check_epochs_left(tmp_path):
    finished = write_run(tmp_path / "gru-001", {"epochs": 3, "stopped_early": None}, history_epochs=3)
    with pytest.raises(RunFinished, match="finished its 3 epochs") as caught:
        finished.check_epochs_left()
    assert (caught.value.done, caught.value.planned, caught.value.stopped_by) == (3, 3, None)
    with pytest.raises(RunFinished, match="finished its 3 epochs"):
        finished.check_epochs_left(2)
    assert finished.check_epochs_left(5) == 5

    stopped = write_run(tmp_path / "gru-002", {"epochs": 10, "stopped_early": {"epoch": 4, "by": "early stopping"}},
                        history_epochs=4)
    with pytest.raises(RunFinished, match=r"stopped early at epoch 4 of 10 \(early stopping\)"):
        stopped.check_epochs_left()
    assert stopped.check_epochs_left(10) == 10  # asked for explicitly: train on

    interrupted = write_run(tmp_path / "gru-003", {"epochs": 3}, history_epochs=1)
    assert interrupted.check_epochs_left() == 3


def test_builder_args_from_old_config():
    assert runs.builder_args_from_old_config(OLD_GRU) == (
        "gru", {"vocab_size": 9, "seq_length": 6, "units": [2, 3], "dropout": 0.2, "dense_units": 4, "input_encoding": "scaled"},
    )
    embedded = {**OLD_GRU, "architecture": "lstm", "input_encoding": "embedding", "embedding_dim": 5}
    assert runs.builder_args_from_old_config(embedded)[1]["embedding_dim"] == 5
    with pytest.raises(RunError, match="vocab_size"):
        runs.builder_args_from_old_config({"architecture": "gru"})


def test_a_run_of_the_old_format_is_rebuilt_from_its_old_keys(tmp_path):
    from helpers import models

    run = write_run(tmp_path / "old", OLD_GRU)
    model = run.build_model()
    described = models.describe(model)
    assert (described["architecture"], described["units"], described["dense_units"]) == ("gru", [2, 3], 4)
    assert models.builder_record(model)["builder_args"]["learning_rate"] == 0.001  # the builder's default


def test_build_model_uses_the_recorded_builder(tmp_path):
    from helpers import models

    args = {"vocab_size": 9, "seq_length": 6, "layer": "lstm", "units": [5], "dropout": 0.1, "embedding_dim": 3}
    run = write_run(tmp_path / "seq", {**OLD_GRU, "builder": "sequence", "builder_args": args})
    rebuilt = run.build_model()  # not from the old keys, which describe another model here
    assert models.predicts_every_step(rebuilt)
    assert models.describe(rebuilt)["architecture"] == "lstm" and models.describe(rebuilt)["units"] == [5]
    chapter_args = {"vocab_size": 9, "seq_length": 6, "units": [3], "dense_units": 2, "learning_rate": 0.05}
    run.write_settings({"builder": "gru", "builder_args": chapter_args})
    chapter = run.build_model()
    assert not models.predicts_every_step(chapter) and models.describe(chapter)["dense_units"] == 2
    assert float(models.keras.ops.convert_to_numpy(chapter.optimizer.learning_rate)) == pytest.approx(0.05)
    run.write_settings({"builder": "transformer", "builder_args": {}})
    with pytest.raises(RunError, match="transformer"):
        run.build_model()


def test_load_model_needs_weights(tmp_path):
    run = write_run(tmp_path / "run", {**OLD_GRU, "vocab_size": len(VOCAB)})
    with pytest.raises(RunError, match="no checkpoint"):
        run.load_model("best")
    with pytest.raises(RunError, match="model.keras"):
        run.load_model("final")


def test_importing_runs_does_not_import_tensorflow():
    code = "import sys, helpers.runs; print('tensorflow' in sys.modules or 'keras' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env={**os.environ, "PYTHONPATH": str(config.ROOT)}, check=True)
    assert result.stdout.strip() == "False"


def test_a_run_is_a_path(tmp_path):
    run = Run(tmp_path / "run")
    assert Run(str(tmp_path / "run")) == run == Run(run)  # from a string, a path or a run
    assert Path(run) == tmp_path / "run" and config.relative(run) == "run"
