"""Train a model into a run folder that holds everything generation needs later.

Explained in notebook 05. A run folder (``outputs/runs/<name>-NNN/``) holds:

- ``vocab.json`` — the vocabulary, written before training starts: generation reads it from
  here and never rebuilds it from data (the chapter's mistake: any change of data then
  breaks the weights with a shape error);
- ``config.json`` — model sizes, input encoding, ``seq_length`` and training settings;
- ``checkpoints/weights-EE-L.LLLL.weights.h5`` — the best weights so far by the monitored
  loss, named as the LSTM post names them (epoch, loss);
- ``backup/`` — the last finished epoch (weights, optimizer state, epoch number), so that an
  interrupted run resumes where it stopped and a finished one can be trained for more epochs;
- ``history.csv`` — loss per epoch; ``model.keras`` — the final model.
"""

from __future__ import annotations

import json
import re
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from helpers import config, models, sequences
from helpers.errors import MusicGenError
from helpers.models import keras
from helpers.tokens import Vocabulary

CHECKPOINT_PATTERN = re.compile(r"^weights-(\d+)-(\d+\.\d+)\.weights\.h5$")


class RunError(MusicGenError):
    """A run folder is missing, incomplete, or does not match what is asked of it."""


def new_run_dir(name: str = "gru") -> Path:
    """Create ``outputs/runs/<name>-NNN`` with the next free number; earlier runs are never touched."""
    return config.unique_path(config.RUNS_DIR, name)


class TimeLimit(keras.callbacks.Callback):
    """Stops training after the epoch that would let the next one end past ``seconds`` of wall
    clock (counted from the start of training): a budget instead of a number of epochs."""

    def __init__(self, seconds: float):
        super().__init__()
        self.seconds = float(seconds)
        self.stopped_early = False

    def on_train_begin(self, logs=None):
        self._start = time.perf_counter()
        self._epoch_start = self._start

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        now = time.perf_counter()
        if now + (now - self._epoch_start) - self._start > self.seconds:
            self.model.stop_training = True
            self.stopped_early = True


class EpochTimer(keras.callbacks.Callback):
    """Times each epoch (wall clock, validation included): adds ``seconds`` to the epoch's logs
    and keeps the list in ``self.seconds``."""

    def __init__(self):
        super().__init__()
        self.seconds: list[float] = []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self._start)
        if logs is not None:
            logs["seconds"] = self.seconds[-1]


def latest_run(prefix: str = "gru", runs_dir: Path | None = None) -> Path | None:
    """The newest run folder ``<prefix>-NNN`` that holds a checkpoint, or ``None``."""
    runs_dir = Path(runs_dir or config.RUNS_DIR)
    pattern = re.compile(rf"^{re.escape(prefix)}-(\d+)$")
    found = [
        (int(m.group(1)), path)
        for path in (runs_dir.iterdir() if runs_dir.is_dir() else [])
        if (m := pattern.match(path.name)) and not checkpoints(path).empty
    ]
    return max(found)[1] if found else None


def checkpoints(run_dir: Path | str) -> pd.DataFrame:
    """The checkpoints of a run: ``path``, ``epoch``, ``loss``, sorted by loss (best first)."""
    folder = Path(run_dir) / "checkpoints"
    rows = []
    for path in folder.glob("weights-*.weights.h5") if folder.is_dir() else []:
        match = CHECKPOINT_PATTERN.match(path.name)
        if match:
            rows.append({"path": path, "epoch": int(match.group(1)), "loss": float(match.group(2))})
    return pd.DataFrame(rows, columns=["path", "epoch", "loss"]).sort_values(["loss", "epoch"], ignore_index=True)


def train(
    model,
    vocab: Vocabulary,
    train_codes: np.ndarray,
    val_codes: np.ndarray | None,
    run_dir: Path | str,
    epochs: int = 30,
    batch_size: int = 64,
    seed: int = 0,
    early_stopping: int | None = None,
    extra_config: dict | None = None,
    verbose: int = 0,
    reduce_lr_patience: int | None = None,
    transpositions: np.ndarray | None = None,
    time_limit: float | None = None,
) -> pd.DataFrame:
    """Fit ``model`` on windows of ``train_codes``, checkpointing into ``run_dir``.

    Calling it again on the same ``run_dir`` after an interruption (Ctrl-C, a closed laptop)
    resumes from the last finished epoch.

    Args:
        model: a compiled model from :mod:`helpers.models`; its input length is the window.
        vocab: the vocabulary the codes come from (saved as ``vocab.json``).
        train_codes: training stream of codes.
        val_codes: validation stream (other pieces), or ``None``/too short for no validation;
            the checkpoint then watches the training loss, as the LSTM post does.
        run_dir: the run folder (see :func:`new_run_dir`).
        epochs: total epochs, counting those done before an interruption.
        batch_size: windows per batch (the chapter: 64).
        seed: shuffling seed.
        early_stopping: stop after this many epochs without improvement (``None``: never).
        extra_config: more settings to record in ``config.json`` (data folder, pieces, …).
        verbose: Keras' verbosity (0 in notebooks).
        reduce_lr_patience: halve the learning rate after this many epochs without
            improvement (``None``: keep it; the improved recipe of notebook 08 uses 2).
        transpositions: code tables for transposed copies of the training windows (see
            :func:`helpers.sequences.sequence_windows_dataset`); models that predict every
            step only.
        time_limit: stop after the last epoch that ends within this many seconds (``None``:
            no limit), see :class:`TimeLimit`.

    A model that predicts the next token after every step (:func:`helpers.models.build_sequence_model`)
    trains on non-overlapping windows with a target at each step; the chapter's models on
    every window with one target after its last step.

    Returns:
        the whole history, one row per epoch (``epoch``, ``loss`` and, with validation,
        ``val_loss``), also saved as ``history.csv``.
    """
    run_dir = config.ensure_dir(Path(run_dir))
    seq_length = model.input_shape[1]
    description = models.describe(model)
    if description["vocab_size"] != len(vocab):
        raise RunError(f"the model predicts {description['vocab_size']} tokens but the vocabulary has {len(vocab)}")
    if models.predicts_every_step(model):
        count, windows, options = sequences.count_sequence_windows, sequences.sequence_windows_dataset, {
            "transpositions": transpositions}
    else:
        count, windows, options = sequences.count_windows, sequences.windows_dataset, {}
    train_data = windows(train_codes, seq_length, batch_size, shuffle=True, seed=seed, **options)
    has_val = val_codes is not None and count(len(val_codes), seq_length) > 0
    val_data = windows(val_codes, seq_length, batch_size, shuffle=False) if has_val else None
    monitor = "val_loss" if has_val else "loss"

    vocab.save(run_dir / "vocab.json")
    settings = {
        **description,
        "epochs": epochs,
        "batch_size": batch_size,
        "seed": seed,
        "monitor": monitor,
        "train_windows": count(len(train_codes), seq_length),
        "val_windows": count(len(val_codes), seq_length) if has_val else 0,
        "early_stopping": early_stopping,
        "reduce_lr_patience": reduce_lr_patience,
        "transpositions": 0 if transpositions is None else len(transpositions),
        **(extra_config or {}),
    }
    config_path = run_dir / "config.json"
    if config_path.exists():  # a resumed run keeps what was recorded before (data, pieces, …)
        settings = {**json.loads(config_path.read_text()), **settings}
    if "builder" not in settings and models.predicts_every_step(model):  # trained without pipeline.train_run
        settings["builder"], settings["builder_args"] = "sequence", models.sequence_builder_args(model)
    config_path.write_text(json.dumps(settings, indent=1, default=str))

    done = checkpoints(run_dir)
    callbacks = [
        # kept after the last epoch too, so that train(..., epochs=more) later continues the run
        keras.callbacks.BackupAndRestore(str(run_dir / "backup"), delete_checkpoint=False),
        keras.callbacks.ModelCheckpoint(
            str(run_dir / "checkpoints" / f"weights-{{epoch:02d}}-{{{monitor}:.4f}}.weights.h5"),
            monitor=monitor,
            save_best_only=True,
            save_weights_only=True,
            mode="min",
            initial_value_threshold=float(done["loss"].iloc[0]) if len(done) else None,
        ),
        EpochTimer(),  # before the logger, so that history.csv gets a "seconds" column
        keras.callbacks.CSVLogger(str(run_dir / "history.csv"), append=True),
    ]
    config.ensure_dir(run_dir / "checkpoints")
    if early_stopping:
        callbacks.append(keras.callbacks.EarlyStopping(monitor=monitor, patience=early_stopping))
    if time_limit:
        callbacks.append(TimeLimit(time_limit))
    if reduce_lr_patience:
        callbacks.append(keras.callbacks.ReduceLROnPlateau(monitor=monitor, factor=0.5, patience=reduce_lr_patience))
    model.fit(
        train_data, validation_data=val_data, epochs=epochs, callbacks=callbacks, verbose=verbose, shuffle=False
    )  # shuffle=False: the dataset shuffles its windows itself
    model.save(run_dir / "model.keras")
    return read_history(run_dir)


def read_history(run_dir: Path | str) -> pd.DataFrame:
    """``history.csv`` of a run, one row per finished epoch (epochs counted from 1)."""
    path = Path(run_dir) / "history.csv"
    if not path.exists():
        return pd.DataFrame(columns=["epoch", "loss"])
    # CSVLogger writes a val_ column of "NA" even without validation: leave such columns out
    history = pd.read_csv(path).dropna(axis="columns", how="all")
    history["epoch"] = history["epoch"] + 1
    return history.drop_duplicates("epoch", keep="last").reset_index(drop=True)


def load_run(run_dir: Path | str, weights: str | Path | None = "best"):
    """Load a finished (or interrupted) run for generation: ``(model, vocab, settings)``.

    Args:
        run_dir: the run folder.
        weights: ``"best"`` — the checkpoint with the lowest loss in its name (what the LSTM
            post's generation script picks); ``"final"`` — ``model.keras`` as saved at the end;
            the path of one checkpoint file; or ``None`` — the architecture untrained, for
            :func:`train` to restore its last epoch into when resuming.

    Raises:
        RunError: the folder lacks its vocabulary, configuration or weights, or the weights
            do not fit the vocabulary (a checkpoint from another run).
    """
    run_dir = Path(run_dir)
    for needed in ("vocab.json", "config.json"):
        if not (run_dir / needed).exists():
            raise RunError(f"{run_dir}: no {needed} — not a run folder written by helpers.training.train")
    vocab = Vocabulary.load(run_dir / "vocab.json")
    settings = json.loads((run_dir / "config.json").read_text())
    if settings["vocab_size"] != len(vocab):
        raise RunError(f"{run_dir}: config.json says {settings['vocab_size']} tokens, vocab.json holds {len(vocab)}")
    if weights == "final":
        if not (run_dir / "model.keras").exists():
            raise RunError(f"{run_dir}: no model.keras — the run did not finish; use weights='best'")
        return keras.models.load_model(run_dir / "model.keras"), vocab, settings
    if weights == "best":
        found = checkpoints(run_dir)
        if found.empty:
            raise RunError(f"{run_dir}: no checkpoint yet — train at least one epoch")
        weights = found["path"].iloc[0]
    model = rebuild_model(settings)
    if weights is None:
        return model, vocab, settings
    model.optimizer.build(model.trainable_variables)  # checkpoints hold optimizer slots too
    try:
        with warnings.catch_warnings():  # Keras warns before it raises on a mismatch
            warnings.simplefilter("ignore")
            model.load_weights(Path(weights))
    except (ValueError, OSError, KeyError) as error:
        raise RunError(
            f"{Path(weights).name} does not fit this run's model ({settings['vocab_size']} tokens, "
            f"{settings['architecture'].upper()} {settings['units']}): {error}"
        ) from error
    return model, vocab, settings


def rebuild_model(settings: dict):
    """An untrained model with the architecture recorded in ``config.json``.

    Runs that record their builder and its arguments (``builder``, ``builder_args``) are
    rebuilt from exactly those; older runs from the sizes read off their layers.
    """
    if "builder" in settings:
        if settings["builder"] not in models.BUILDERS:
            raise RunError(f"config.json names an unknown model builder {settings['builder']!r}")
        return models.BUILDERS[settings["builder"]](**settings["builder_args"])
    if settings["architecture"] not in models.BUILDERS:
        raise RunError(f"config.json names an unknown architecture {settings['architecture']!r}")
    return models.BUILDERS[settings["architecture"]](
        settings["vocab_size"],
        settings["seq_length"],
        units=settings["units"],
        dropout=settings["dropout"],
        dense_units=settings["dense_units"],
        input_encoding=settings["input_encoding"],
        embedding_dim=settings["embedding_dim"],
    )
