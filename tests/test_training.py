"""Tests of helpers.training: training into a run folder, its checkpoints and history, resuming, loading it back.

The run folder itself (settings, vocabulary, finding runs, rebuilding a model) is tested in test_runs.py."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from helpers import config, models, training
from helpers.models import keras
from helpers.runs import CHECKPOINT_PATTERN, Run, RunError
from helpers.tokens import Vocabulary

SEQ = 8
VOCAB = Vocabulary([f"{name}4" for name in "CDEFGAB"])  # 7 tokens


def tiny_model(vocab_size=len(VOCAB), **kwargs):
    options = {"units": (4,), "dense_units": 4, **kwargs}  # one small layer: fast to trace
    return models.build_gru_model(vocab_size, SEQ, **options)


def codes(n, seed):
    """A learnable stream: a scale up and down with a little noise."""
    rng = np.random.default_rng(seed)
    base = np.array([0, 1, 2, 3, 4, 5, 6, 5, 4, 3, 2, 1])
    stream = np.resize(base, n)
    noise = rng.random(n) < 0.1
    stream[noise] = rng.integers(0, len(VOCAB), noise.sum())
    return stream.astype(np.int32)


TRAIN, VAL = codes(72, 0), codes(24, 1)  # 64 and 16 windows: whole batches of 16, no retracing


def read_raw_history(run_dir):
    return pd.read_csv(run_dir / "history.csv")


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    """One run of 2 epochs with validation, shared by the tests that only read it."""
    config.set_seed(0)
    run_dir = tmp_path_factory.mktemp("runs") / "gru-001"
    model = tiny_model()
    history = training.train(model, VOCAB, TRAIN, VAL, run_dir, epochs=2, batch_size=16, extra_config={"note": "x"})
    return run_dir, model, history


def test_train_writes_a_complete_run_folder(trained_run):
    run_dir, _, history = trained_run
    for name in ("vocab.json", "config.json", "history.csv", "model.keras"):
        assert (run_dir / name).is_file(), name
    assert Vocabulary.load(run_dir / "vocab.json").tokens == VOCAB.tokens
    found = Run(run_dir).checkpoints
    assert 1 <= len(found) <= 2
    for path in found["path"]:
        assert CHECKPOINT_PATTERN.match(path.name), path.name
    assert list(found["loss"]) == sorted(found["loss"])  # best first


def test_checkpoint_names_carry_epoch_and_monitored_loss(trained_run):
    run_dir, _, history = trained_run
    found = Run(run_dir).checkpoints
    by_epoch = history.set_index("epoch")["val_loss"]
    for row in found.itertuples():
        assert row.path.name == f"weights-{row.epoch:02d}-{by_epoch[row.epoch]:.4f}.weights.h5"


def test_history_has_one_row_per_epoch(trained_run):
    run_dir, _, history = trained_run
    assert history["epoch"].tolist() == [1, 2]
    assert {"loss", "val_loss"} <= set(history.columns)
    assert np.isfinite(history[["loss", "val_loss"]].to_numpy()).all()
    assert Run(run_dir).history.equals(history)


def test_config_json_records_the_model_and_the_data(trained_run):
    run_dir, model, _ = trained_run
    settings = Run(run_dir).settings
    assert settings["vocab_size"] == len(VOCAB) and settings["seq_length"] == SEQ
    assert settings["units"] == [4] and settings["architecture"] == "gru"
    assert settings["monitor"] == "val_loss" and settings["epochs"] == 2
    assert settings["train_windows"] == len(TRAIN) - SEQ and settings["val_windows"] == len(VAL) - SEQ
    assert settings["note"] == "x"
    assert settings["parameters"] == model.count_params()


def test_config_json_records_the_builder_and_all_its_arguments(trained_run):
    """The chapter's GRU too, defaults included (the learning rate, the embedding size)."""
    settings = Run(trained_run[0]).settings
    assert settings["builder"] == "gru"
    assert settings["builder_args"] == {
        "vocab_size": len(VOCAB), "seq_length": SEQ, "units": [4], "dropout": 0.3, "dense_units": 4,
        "input_encoding": "scaled", "embedding_dim": 32, "learning_rate": 0.001,
    }
    assert settings["stopped_early"] is None  # both epochs ran


def test_a_run_is_rebuilt_with_its_own_learning_rate(tmp_path):
    run_dir = tmp_path / "run"
    training.train(tiny_model(learning_rate=0.01), VOCAB, TRAIN, None, run_dir, epochs=1, batch_size=32)
    rebuilt = Run(run_dir).build_model()
    assert float(keras.ops.convert_to_numpy(rebuilt.optimizer.learning_rate)) == pytest.approx(0.01)


def test_train_refuses_a_model_made_without_a_builder(tmp_path):
    model = keras.Sequential([keras.Input((SEQ,), dtype="int32"), keras.layers.Embedding(len(VOCAB), 2),
                              keras.layers.GRU(2), keras.layers.Dense(len(VOCAB), activation="softmax")])
    model.compile(loss="sparse_categorical_crossentropy")
    with pytest.raises(RunError, match="not made by a builder"):
        training.train(model, VOCAB, TRAIN, VAL, tmp_path / "run", epochs=1)
    assert not (tmp_path / "run" / "config.json").exists()


def test_train_refuses_another_model_or_vocabulary_in_a_run(trained_run, tmp_path):
    import shutil

    run_dir = tmp_path / "copy"
    shutil.copytree(trained_run[0], run_dir)
    before = (run_dir / "vocab.json").stat().st_mtime_ns
    with pytest.raises(RunError, match="not this one"):
        training.train(tiny_model(units=(5,)), VOCAB, TRAIN, VAL, run_dir, epochs=3, batch_size=16)
    with pytest.raises(RunError, match="is not this vocabulary"):
        training.train(tiny_model(), Vocabulary(["A4", "B4", "C4", "D4", "E4", "F4", "X"]), TRAIN, VAL, run_dir,
                       epochs=3, batch_size=16)
    assert (run_dir / "vocab.json").stat().st_mtime_ns == before  # read, never written back


def test_load_run_best_predicts_like_its_checkpoint(trained_run):
    run_dir, _, _ = trained_run
    run = Run(run_dir)
    loaded, vocab, settings = run.load_model("best"), run.vocab, run.settings
    best = Run(run_dir).checkpoints["path"].iloc[0]
    reference = tiny_model()
    reference.optimizer.build(reference.trainable_variables)
    reference.load_weights(best)
    windows = np.stack([VAL[i : i + SEQ] for i in range(5)])
    assert np.allclose(loaded.predict(windows, verbose=0), reference.predict(windows, verbose=0), atol=1e-6)
    assert vocab.tokens == VOCAB.tokens and settings["vocab_size"] == len(VOCAB)
    # and a checkpoint can be named explicitly
    named = run.load_model(best)
    assert np.allclose(named.predict(windows, verbose=0), reference.predict(windows, verbose=0), atol=1e-6)


def test_load_run_final_is_the_trained_model(trained_run):
    run_dir, model, _ = trained_run
    loaded = Run(run_dir).load_model("final")
    windows = np.stack([TRAIN[i : i + SEQ] for i in range(4)])
    assert np.allclose(loaded.predict(windows, verbose=0), model.predict(windows, verbose=0), atol=1e-6)


def test_load_run_with_a_vocabulary_of_another_size_is_a_run_error(trained_run, tmp_path):
    import shutil

    run_dir = tmp_path / "copy"
    shutil.copytree(trained_run[0], run_dir)
    Vocabulary(VOCAB.tokens + ["C5"]).save(run_dir / "vocab.json")
    with pytest.raises(RunError, match="vocab.json holds 8"):
        Run(run_dir).load_model()


@pytest.mark.filterwarnings("ignore:Skipping variable loading for optimizer")
def test_load_run_with_a_checkpoint_of_another_model_is_a_run_error(trained_run, tmp_path):
    other = tmp_path / "other"
    training.train(tiny_model(units=(3,), dense_units=None), VOCAB, TRAIN, None, other, epochs=1, batch_size=32)
    with pytest.raises(RunError, match="does not fit"):
        Run(trained_run[0]).load_model(Run(other).checkpoints["path"].iloc[0])


def test_train_refuses_a_vocabulary_that_does_not_fit_the_model(tmp_path):
    with pytest.raises(RunError, match="vocabulary has 7"):
        training.train(tiny_model(vocab_size=9), VOCAB, TRAIN, VAL, tmp_path / "run", epochs=1)


def test_without_validation_the_training_loss_is_watched(tmp_path):
    run_dir = tmp_path / "run"
    history = training.train(tiny_model(), VOCAB, TRAIN, VAL[:SEQ], run_dir, epochs=1, batch_size=32)
    settings = Run(run_dir).settings
    assert settings["monitor"] == "loss" and settings["val_windows"] == 0
    assert "val_loss" not in history.columns
    (checkpoint,) = Run(run_dir).checkpoints["path"]
    assert checkpoint.name == f"weights-01-{history['loss'].iloc[0]:.4f}.weights.h5"


def test_interrupted_run_resumes_after_the_last_finished_epoch(tmp_path, monkeypatch):
    run_dir = tmp_path / "run"

    class InterruptAtEpoch2(keras.callbacks.CSVLogger):
        def on_epoch_begin(self, epoch, logs=None):
            if epoch == 1:  # after epoch 1 has finished and been logged
                raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(keras.callbacks, "CSVLogger", InterruptAtEpoch2)
        with pytest.raises(KeyboardInterrupt):
            training.train(tiny_model(), VOCAB, TRAIN, VAL, run_dir, epochs=3, batch_size=16)
    assert read_raw_history(run_dir)["epoch"].tolist() == [0]
    assert not (run_dir / "model.keras").exists()

    # As after a crash: a fresh model object, the same folder.
    history = training.train(tiny_model(), VOCAB, TRAIN, VAL, run_dir, epochs=3, batch_size=16)
    assert history["epoch"].tolist() == [1, 2, 3]
    assert read_raw_history(run_dir)["epoch"].tolist() == [0, 1, 2]  # epoch 1 was not trained again
    assert (run_dir / "model.keras").exists()
    epochs = Run(run_dir).checkpoints["epoch"]
    assert epochs.is_unique and epochs.min() == 1


def test_resumed_run_restores_the_trained_weights(tmp_path):
    """The second call starts from the weights of the first, not from its fresh model's."""
    run_dir = tmp_path / "run"
    first = tiny_model()
    training.train(first, VOCAB, TRAIN, VAL, run_dir, epochs=1, batch_size=16)
    windows = np.stack([VAL[i : i + SEQ] for i in range(3)])
    fresh = tiny_model()
    before = fresh.predict(windows, verbose=0)

    seen = []  # (epoch, predictions when the epoch begins)

    class Spy(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            seen.append((epoch, np.asarray(self.model(windows, training=False))))

    # train() has no callbacks argument; watch the fit through the model's own method.
    fit = fresh.fit
    fresh.fit = lambda *args, callbacks=(), **kwargs: fit(*args, callbacks=[*callbacks, Spy()], **kwargs)
    history = training.train(fresh, VOCAB, TRAIN, VAL, run_dir, epochs=2, batch_size=16)
    assert history["epoch"].tolist() == [1, 2]
    assert read_raw_history(run_dir)["epoch"].tolist() == [0, 1]
    assert [epoch for epoch, _ in seen] == [1]  # only the second epoch ran
    assert np.allclose(seen[0][1], first.predict(windows, verbose=0), atol=1e-6)
    assert not np.allclose(seen[0][1], before, atol=1e-6)


# ----------------------------------------------------------------------------- the improved recipe's sequence models


def sequence_model(**kwargs):
    options = {"units": (8,), "embedding_dim": 4, "dropout": 0.0, **kwargs}
    return models.build_sequence_model(len(VOCAB), SEQ, **options)


#: Two code tables: the music as written, and every code one higher (the last one left as it is).
TABLES = np.stack([np.arange(len(VOCAB)), np.r_[np.arange(1, len(VOCAB)), -1]]).astype(np.int32)


@pytest.fixture(scope="module")
def sequence_run(tmp_path_factory):
    """A sequence model trained for 2 epochs with a plateau schedule and transposed copies."""
    config.set_seed(0)
    run_dir = tmp_path_factory.mktemp("runs") / "gru-improved-001"
    model = sequence_model()
    history = training.train(model, VOCAB, TRAIN, VAL, run_dir, epochs=2, batch_size=4, reduce_lr_patience=2,
                             transpositions=TABLES)
    return run_dir, model, history


def test_train_sequence_model_writes_the_run_folder(sequence_run):
    run_dir, model, history = sequence_run
    for name in ("vocab.json", "config.json", "history.csv", "model.keras"):
        assert (run_dir / name).is_file(), name
    assert history["epoch"].tolist() == [1, 2]
    assert np.isfinite(history[["loss", "val_loss"]].to_numpy()).all()
    found = Run(run_dir).checkpoints
    assert 1 <= len(found) <= 2 and set(found["epoch"]) <= {1, 2}
    settings = Run(run_dir).settings
    assert settings["reduce_lr_patience"] == 2 and settings["transpositions"] == 2
    assert settings["monitor"] == "val_loss"
    assert settings["train_windows"] == (len(TRAIN) - 1) // SEQ - 1 == 7
    assert settings["val_windows"] == (len(VAL) - 1) // SEQ - 1 == 1
    loaded = Run(run_dir).load_model("final")
    windows = np.stack([TRAIN[i : i + SEQ] for i in range(3)])
    assert np.allclose(loaded.predict(windows, verbose=0), model.predict(windows, verbose=0), atol=1e-6)


def test_train_records_no_schedule_and_no_transpositions_by_default(trained_run):
    settings = Run(trained_run[0]).settings
    assert settings["reduce_lr_patience"] is None and settings["transpositions"] == 0


def test_load_run_best_of_a_sequence_model_trained_directly(sequence_run):
    """train() alone (no builder in extra_config) must still record enough to rebuild the model."""
    run_dir, _, _ = sequence_run
    loaded = Run(run_dir).load_model("best")
    assert models.predicts_every_step(loaded)
    reference = sequence_model()
    reference.optimizer.build(reference.trainable_variables)
    reference.load_weights(Run(run_dir).checkpoints["path"].iloc[0])
    windows = np.stack([VAL[i : i + SEQ] for i in range(2)])
    assert np.allclose(loaded.predict(windows, verbose=0), reference.predict(windows, verbose=0), atol=1e-6)


def test_time_limit_stops_after_the_first_epoch(tmp_path):
    history = training.train(sequence_model(), VOCAB, TRAIN, VAL, tmp_path / "run", epochs=5, batch_size=4,
                             time_limit=1e-3)
    assert history["epoch"].tolist() == [1]
    assert (tmp_path / "run" / "model.keras").is_file() and len(Run(tmp_path / "run").checkpoints) == 1
    assert Run(tmp_path / "run").settings["stopped_early"] == {"epoch": 1, "by": "time limit"}


def test_time_limit_callback_stops_before_an_epoch_that_would_overrun(monkeypatch):
    now = [100.0]
    monkeypatch.setattr(training.time, "perf_counter", lambda: now[0])

    class Model:
        stop_training = False

    def run(seconds, epoch_lengths):
        limit, model = training.TimeLimit(seconds), Model()
        limit.set_model(model)
        limit.on_train_begin()
        done = 0
        for epoch, length in enumerate(epoch_lengths):
            limit.on_epoch_begin(epoch)
            now[0] += length
            limit.on_epoch_end(epoch)
            done += 1
            if model.stop_training:
                break
        return done, limit.stopped_early

    assert run(15, [10, 10, 10]) == (1, True)  # 10 s done: a second epoch would end at 20 s > 15
    assert run(25, [10, 10, 10]) == (2, True)  # a second would end at 20 s (fits), a third at 30 s
    # the next epoch is guessed as long as the last one: 15 s done after a 5 s epoch, 20 fits in 35
    assert run(35, [10, 5, 20, 10]) == (3, True)
    assert run(1000, [10, 10, 10]) == (3, False)
