"""Train a model into a run folder that holds everything generation needs later.

Explained in notebook 05. What a run folder holds, and every read and write of it, is
:mod:`helpers.runs`; this module is the training loop: Keras' ``fit`` with the callbacks that
checkpoint, back up, log and stop it.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd

from helpers import config, distribute, models, sequences
from helpers.models import keras
from helpers.runs import Run, RunError
from helpers.tokens import Vocabulary


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


def train(
    model,
    vocab: Vocabulary,
    train_codes: np.ndarray,
    val_codes: np.ndarray | None,
    run: Run | Path | str,
    epochs: int = 30,
    batch_size: int = 64,
    seed: int = 0,
    early_stopping: int | None = None,
    extra_config: dict | None = None,
    verbose: int = 0,
    reduce_lr_patience: int | None = None,
    transpositions: np.ndarray | None = None,
    time_limit: float | None = None,
    tensorboard: bool = False,
    callbacks: list | None = None,
    strategy=None,
) -> pd.DataFrame:
    """Fit ``model`` on windows of ``train_codes``, checkpointing into the run folder ``run``.

    Calling it again on the same run after an interruption (Ctrl-C, a closed laptop)
    resumes from the last finished epoch; with more ``epochs``, a finished run trains on.

    Args:
        model: a compiled model from a builder of :mod:`helpers.models` (the run records the
            builder and its arguments, and is rebuilt from them); its input length is the window.
        vocab: the vocabulary the codes come from (saved as ``vocab.json``).
        train_codes: training stream of codes.
        val_codes: validation stream (other pieces), or ``None``/too short for no validation;
            the checkpoint then watches the training loss, as the LSTM post does.
        run: the run folder (a :class:`helpers.runs.Run` or its path; see :meth:`~helpers.runs.Run.create`).
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
        tensorboard: also write TensorBoard's logs (losses and learning rate per epoch) into
            the run's ``logs/`` folder; watch them with ``tensorboard --logdir outputs/runs``.
        callbacks: more Keras callbacks for ``fit`` (a progress display, say).
        strategy: a ``tf.distribute`` strategy the model was built under (see
            :mod:`helpers.distribute`); ``batch_size`` is then per replica, and each step
            sees ``batch_size × replicas`` windows.

    A model that predicts the next token after every step (:func:`helpers.models.build_sequence_model`)
    trains on non-overlapping windows with a target at each step; the chapter's models on
    every window with one target after its last step.

    Returns:
        the whole history, one row per epoch (``epoch``, ``loss`` and, with validation,
        ``val_loss``), also saved as ``history.csv``.

    Raises:
        helpers.runs.RunError: the model does not fit the vocabulary, was not made by a builder
            of :mod:`helpers.models`, or is not the model the run holds.
    """
    run = Run(Path(run))
    seq_length = model.input_shape[1]
    description = models.describe(model)
    if description["vocab_size"] != len(vocab):
        raise RunError(f"the model predicts {description['vocab_size']} tokens but the vocabulary has {len(vocab)}")
    built_by = _builder_of(model, run)
    if models.predicts_every_step(model):
        count, windows, options = sequences.count_sequence_windows, sequences.sequence_windows_dataset, {
            "transpositions": transpositions}
    else:
        count, windows, options = sequences.count_windows, sequences.windows_dataset, {}
    step_batch = distribute.global_batch_size(batch_size, strategy)  # all replicas together
    train_data = windows(train_codes, seq_length, step_batch, shuffle=True, seed=seed, **options)
    has_val = val_codes is not None and count(len(val_codes), seq_length) > 0
    val_data = windows(val_codes, seq_length, step_batch, shuffle=False) if has_val else None
    monitor = "val_loss" if has_val else "loss"

    run.write_vocab(vocab)
    run.write_settings({  # a resumed run keeps what was recorded before (data, pieces, …)
        **description,
        **built_by,
        "epochs": epochs,
        "batch_size": batch_size,
        "strategy": distribute.strategy_name(strategy),
        "replicas": distribute.replicas(strategy),
        "seed": seed,
        "monitor": monitor,
        "train_windows": count(len(train_codes), seq_length),
        "val_windows": count(len(val_codes), seq_length) if has_val else 0,
        "early_stopping": early_stopping,
        "reduce_lr_patience": reduce_lr_patience,
        "transpositions": 0 if transpositions is None else len(transpositions),
        **(extra_config or {}),
    })

    done = run.checkpoints
    limit = TimeLimit(time_limit) if time_limit else None
    every_epoch = [
        # kept after the last epoch too, so that train(..., epochs=more) later continues the run
        keras.callbacks.BackupAndRestore(str(run.backup_dir), delete_checkpoint=False),
        keras.callbacks.ModelCheckpoint(
            run.checkpoint_template(monitor),
            monitor=monitor,
            save_best_only=True,
            save_weights_only=True,
            mode="min",
            initial_value_threshold=float(done["loss"].iloc[0]) if len(done) else None,
        ),
        EpochTimer(),  # before the logger, so that history.csv gets a "seconds" column
        keras.callbacks.CSVLogger(str(run.history_path), append=True),
    ]
    config.ensure_dir(run.checkpoint_dir)
    if early_stopping:
        every_epoch.append(keras.callbacks.EarlyStopping(monitor=monitor, patience=early_stopping))
    if limit:
        every_epoch.append(limit)
    if reduce_lr_patience:
        every_epoch.append(keras.callbacks.ReduceLROnPlateau(monitor=monitor, factor=0.5, patience=reduce_lr_patience))
    if tensorboard:
        every_epoch.append(keras.callbacks.TensorBoard(str(run.logs_dir), histogram_freq=0, write_graph=False))
    model.fit(
        train_data, validation_data=val_data, epochs=epochs, callbacks=every_epoch + list(callbacks or ()),
        verbose=verbose, shuffle=False,
    )  # shuffle=False: the dataset shuffles its windows itself
    model.save(run.model_path)
    history = run.history
    stopped_by = ("time limit" if limit and limit.stopped_early else "early stopping") if len(history) < epochs else None
    run.write_settings({"stopped_early": {"epoch": len(history), "by": stopped_by} if stopped_by else None})
    return history


def _builder_of(model, run: Run) -> dict:
    """``builder`` and ``builder_args`` to record for ``model`` in ``run``: the model's own
    (see :func:`helpers.models.builder_record`), which must match what the run recorded before."""
    record = models.builder_record(model)
    recorded = None
    if run.config_path.is_file():
        builder, args = run.builder
        recorded = {"builder": builder, "builder_args": args}
    if record is None and recorded is None:
        raise RunError("the model was not made by a builder of helpers.models (build_gru_model, build_lstm_model, "
                       "build_sequence_model): the run could not rebuild it")
    if record is not None and recorded is not None and not _same_builder(record, recorded):
        raise RunError(f"{run.path}: the run holds a model built by {recorded}, not this one ({record}); "
                       "train into a new run folder")
    return record or recorded


def _same_builder(record: dict, recorded: dict) -> bool:
    """Whether a model's builder record fits a run's: same builder, and every argument the run
    recorded given the same value (older runs recorded fewer arguments, no defaults)."""
    args = record["builder_args"]
    return record["builder"] == recorded["builder"] and all(
        key in args and args[key] == value for key, value in recorded["builder_args"].items()
    )
