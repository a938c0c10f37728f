"""A run folder and everything in it: the one place that reads and writes a training run.

Explained in notebook 05. A run folder (``outputs/runs/<name>-NNN/``) holds:

- ``config.json`` — the settings: the model builder and its own arguments (``builder``,
  ``builder_args``: the model is rebuilt from exactly these), a description of the model
  for reading (``architecture``, ``units``, ``parameters`` …), the training settings, and the
  data folder and pieces it was trained on;
- ``vocab.json`` — the vocabulary, written once before training starts: generation reads it
  from here and never rebuilds it from data (the chapter's mistake: any change of data then
  breaks the weights with a shape error);
- ``primer.json`` — the opening window of a held-out piece and its rhythm, so that a run
  can generate without its training data;
- ``checkpoints/weights-EE-L.LLLL.weights.h5`` — the best weights so far by the monitored
  loss, named as the LSTM post names them (epoch, loss);
- ``backup/`` — the last finished epoch (weights, optimizer state, epoch number), so that an
  interrupted run resumes where it stopped and a finished one can be trained for more epochs;
- ``history.csv`` — loss per epoch; ``model.keras`` — the final model; ``generated/`` — the
  pieces made from it; ``logs/`` — TensorBoard's event files, when training was asked to
  write them (``tensorboard --logdir outputs/runs``).

The data folder is recorded relative to the repository when it lies inside it (committed
runs stay portable) and as an absolute path otherwise (see :func:`folder_record`), so a run
on a folder of your own resumes from that folder. Importing this module does not import
TensorFlow; only :meth:`Run.build_model` and :meth:`Run.load_model` do.
"""

from __future__ import annotations

import json
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from helpers import config
from helpers.errors import MusicGenError
from helpers.tokens import Vocabulary

#: Checkpoint file names: epoch (from 1) and the monitored loss, as the LSTM post names them.
CHECKPOINT_PATTERN = re.compile(r"^weights-(\d+)-(\d+\.\d+)\.weights\.h5$")


class RunError(MusicGenError):
    """A run folder is missing, incomplete, or does not match what is asked of it."""


class RunFinished(RunError):
    """A run asked to train on has no epoch left to train: it finished or stopped early.

    Attributes:
        run: the run.
        done: epochs finished.
        planned: epochs asked for.
        stopped_by: what ended it before ``planned`` (``"early stopping"``, ``"time limit"``), or ``None``.
    """

    def __init__(self, run: Run, done: int, planned: int, stopped_by: str | None):
        self.run, self.done, self.planned, self.stopped_by = run, done, planned, stopped_by
        if stopped_by:
            what = f"stopped early at epoch {done} of {planned} ({stopped_by})"
        else:
            what = f"finished its {done} epochs"
        super().__init__(f"{config.relative(run.path)} {what}: nothing to train; ask for more than {done} epochs to train on")


def folder_record(folder: Path | str) -> str:
    """How a data folder is recorded in ``config.json``: relative to the repository (POSIX)
    when inside it, else the absolute path. :attr:`Run.data_folder` reads it back."""
    folder = Path(folder).resolve()
    try:
        return folder.relative_to(config.ROOT).as_posix()
    except ValueError:
        return str(folder)


def builder_args_from_old_config(settings: dict) -> tuple[str, dict]:
    """``(builder, builder_args)`` for a ``config.json`` written before runs recorded their builder.

    Such runs are the chapter's GRU or the LSTM composer; their sizes were recorded under
    ``architecture``, ``units``, ``dropout``, ``dense_units``, ``input_encoding`` and
    ``embedding_dim``. The learning rate was not recorded: the builder's default.
    """
    try:
        builder = settings["architecture"]
        args = {key: settings[key] for key in ("vocab_size", "seq_length", "units", "dropout", "dense_units", "input_encoding")}
    except KeyError as error:
        raise RunError(f"config.json records neither a model builder nor the old key {error}") from error
    if settings.get("input_encoding") == "embedding":
        args["embedding_dim"] = settings["embedding_dim"]
    return builder, args


@dataclass(frozen=True)
class Run:
    """One run folder: its settings, vocabulary, primer, checkpoints, history and model.

    ``Run(path)`` names a folder (it need not exist yet); :meth:`create` makes a new numbered
    one, :meth:`open` an existing run, :meth:`latest` finds the newest. A ``Run`` is a path
    to the standard library (``Path(run)``, ``open``), and its properties read the files
    every time, so they are never stale.

    >>> run = Run.create("gru")  # doctest: +SKIP
    >>> run.path.name  # doctest: +SKIP
    'gru-001'
    """

    path: Path

    def __post_init__(self):
        object.__setattr__(self, "path", Path(self.path))

    def __fspath__(self) -> str:
        return str(self.path)

    # ------------------------------------------------------------------------- finding runs

    @classmethod
    def create(cls, name: str = "gru", runs_dir: Path | None = None) -> Run:
        """A new folder ``<runs_dir>/<name>-NNN`` (default ``outputs/runs``) with the next free number."""
        return cls(config.unique_path(Path(runs_dir or config.RUNS_DIR), name))

    @classmethod
    def open(cls, path: Path | str | Run) -> Run:
        """An existing run folder.

        Raises:
            RunError: the folder lacks its ``vocab.json`` or ``config.json``.
        """
        run = cls(Path(path))
        for needed in (run.vocab_path, run.config_path):
            if not needed.is_file():
                raise RunError(f"{run.path}: no {needed.name} — not a run folder written by helpers.training.train")
        return run

    @classmethod
    def latest(cls, prefix: str = "gru", runs_dir: Path | None = None) -> Run | None:
        """The newest run ``<prefix>-NNN`` that holds a checkpoint, or ``None``."""
        runs_dir = Path(runs_dir or config.RUNS_DIR)
        pattern = re.compile(rf"^{re.escape(prefix)}-(\d+)$")
        found = [
            (int(m.group(1)), path)
            for path in (runs_dir.iterdir() if runs_dir.is_dir() else [])
            if (m := pattern.match(path.name)) and not cls(path).checkpoints.empty
        ]
        return cls(max(found)[1]) if found else None

    # ------------------------------------------------------------------------- file names

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def config_path(self) -> Path:
        return self.path / "config.json"

    @property
    def vocab_path(self) -> Path:
        return self.path / "vocab.json"

    @property
    def primer_path(self) -> Path:
        return self.path / "primer.json"

    @property
    def history_path(self) -> Path:
        return self.path / "history.csv"

    @property
    def model_path(self) -> Path:
        return self.path / "model.keras"

    @property
    def backup_dir(self) -> Path:
        return self.path / "backup"

    @property
    def checkpoint_dir(self) -> Path:
        return self.path / "checkpoints"

    @property
    def logs_dir(self) -> Path:
        return self.path / "logs"

    def checkpoint_template(self, monitor: str) -> str:
        """The file name Keras' ``ModelCheckpoint`` fills in (epoch, ``monitor``); see :data:`CHECKPOINT_PATTERN`."""
        return str(self.checkpoint_dir / f"weights-{{epoch:02d}}-{{{monitor}:.4f}}.weights.h5")

    # ------------------------------------------------------------------------- settings

    @property
    def settings(self) -> dict:
        """``config.json`` as a dict."""
        if not self.config_path.is_file():
            raise RunError(f"{self.path}: no config.json — not a run folder written by helpers.training.train")
        return json.loads(self.config_path.read_text())

    def write_settings(self, settings: dict) -> dict:
        """Add ``settings`` to ``config.json`` (what was recorded before stays unless replaced); return the whole."""
        merged = {**(self.settings if self.config_path.is_file() else {}), **settings}
        config.write_atomic(self.config_path, json.dumps(merged, indent=1, default=str))
        return merged

    @property
    def builder(self) -> tuple[str, dict]:
        """``(builder, builder_args)``: the name in :data:`helpers.models.BUILDERS` and its arguments."""
        settings = self.settings
        if "builder_args" in settings:
            return settings["builder"], settings["builder_args"]
        return builder_args_from_old_config(settings)

    @property
    def data_folder(self) -> Path:
        """The data folder the run was trained on (recorded by :func:`folder_record`)."""
        return config.ROOT / self.settings["data"]  # an absolute path stays as it is

    # ------------------------------------------------------------------------- vocabulary and primer

    @property
    def vocab(self) -> Vocabulary:
        """The run's vocabulary (``vocab.json``)."""
        if not self.vocab_path.is_file():
            raise RunError(f"{self.path}: no vocab.json — not a run folder written by helpers.training.train")
        return Vocabulary.load(self.vocab_path)

    def write_vocab(self, vocab: Vocabulary) -> None:
        """Write ``vocab.json`` once; a run that has one keeps it.

        Raises:
            RunError: the run already holds a different vocabulary.
        """
        if not self.vocab_path.is_file():
            config.ensure_dir(self.path)
            config.write_atomic(self.vocab_path, json.dumps({"encoding": vocab.encoding, "tokens": vocab.tokens}, indent=1))
        elif (recorded := self.vocab).tokens != vocab.tokens or recorded.encoding != vocab.encoding:
            raise RunError(f"{self.path}: the run's vocab.json ({len(recorded)} tokens) is not this vocabulary "
                           f"({len(vocab)} tokens); train into a new run folder")

    @property
    def primer(self) -> dict:
        """``primer.json``: ``tokens``, ``source`` and the rhythm of a held-out passage."""
        if not self.primer_path.is_file():
            raise RunError(f"{self.path}: no primer.json — give a primer MIDI file instead")
        return json.loads(self.primer_path.read_text())

    def write_primer(self, primer: dict) -> None:
        """Save ``primer.json`` (see :func:`helpers.pipeline.corpus_to_primer`)."""
        config.write_atomic(self.primer_path, json.dumps(primer))

    # ------------------------------------------------------------------------- progress

    @property
    def checkpoints(self) -> pd.DataFrame:
        """The checkpoints: ``path``, ``epoch``, ``loss``, sorted by loss (best first)."""
        rows = []
        for path in self.checkpoint_dir.glob("weights-*.weights.h5") if self.checkpoint_dir.is_dir() else []:
            if match := CHECKPOINT_PATTERN.match(path.name):
                rows.append({"path": path, "epoch": int(match.group(1)), "loss": float(match.group(2))})
        return pd.DataFrame(rows, columns=["path", "epoch", "loss"]).sort_values(["loss", "epoch"], ignore_index=True)

    @property
    def best_checkpoint(self) -> Path:
        """The checkpoint with the lowest loss in its name (what the LSTM post's generation script picks)."""
        found = self.checkpoints
        if found.empty:
            raise RunError(f"{self.path}: no checkpoint yet — train at least one epoch")
        return found["path"].iloc[0]

    @property
    def history(self) -> pd.DataFrame:
        """``history.csv``, one row per finished epoch (epochs counted from 1)."""
        if not self.history_path.is_file():
            return pd.DataFrame(columns=["epoch", "loss"])
        # CSVLogger writes a val_ column of "NA" even without validation: leave such columns out
        history = pd.read_csv(self.history_path).dropna(axis="columns", how="all")
        history["epoch"] = history["epoch"] + 1
        return history.drop_duplicates("epoch", keep="last").reset_index(drop=True)

    @property
    def epochs_done(self) -> int:
        """Epochs finished (rows of the history)."""
        return len(self.history) if self.path.is_dir() else 0

    def check_epochs_left(self, epochs: int | None = None) -> int:
        """The total of epochs to train to (``epochs``, default: those the run was started with).

        Raises:
            RunFinished: the run has finished that many epochs, or stopped early at the last
                one it finished and no more epochs were asked for.
        """
        settings, done = self.settings, self.epochs_done
        stopped = settings.get("stopped_early")
        if epochs is None and stopped and stopped.get("epoch") == done:
            raise RunFinished(self, done, settings["epochs"], stopped.get("by"))
        planned = epochs or settings["epochs"]
        if done >= planned:
            raise RunFinished(self, done, planned, None)
        return planned

    # ------------------------------------------------------------------------- the model

    def build_model(self):
        """An untrained model made by the recorded builder with its recorded arguments."""
        from helpers import models

        builder, args = self.builder
        if builder not in models.BUILDERS:
            raise RunError(f"{self.config_path}: names an unknown model builder {builder!r}")
        return models.BUILDERS[builder](**args)

    def load_model(self, weights: str | Path | None = "best"):
        """The run's model for generation.

        Args:
            weights: ``"best"`` — :attr:`best_checkpoint`; ``"final"`` — ``model.keras`` as
                saved at the end; the path of one checkpoint file; or ``None`` — the
                architecture untrained, for :func:`helpers.training.train` to restore its
                last epoch into when resuming.

        Raises:
            RunError: the folder lacks its vocabulary, configuration or weights, or the weights
                do not fit the vocabulary (a checkpoint from another run).
        """
        from helpers import models

        run = Run.open(self.path)
        settings, vocab = run.settings, run.vocab
        if settings["vocab_size"] != len(vocab):
            raise RunError(f"{self.path}: config.json says {settings['vocab_size']} tokens, vocab.json holds {len(vocab)}")
        if weights == "final":
            if not self.model_path.is_file():
                raise RunError(f"{self.path}: no model.keras — the run did not finish; use weights='best'")
            return models.keras.models.load_model(self.model_path)
        if weights == "best":
            weights = self.best_checkpoint
        model = self.build_model()
        if weights is None:
            return model
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
        return model
