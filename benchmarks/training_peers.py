"""Training beside its peers (issue 13): a larger batch, the event encoding, the GPU, and time to quality.

Two parts, both used by :mod:`benchmarks.run`:

The training stage's extra rows (:func:`contenders`, :func:`peer_rows`, :func:`device_rows`).
Beside the chapter's GRU and the project's same model at batch 64 (the stage's first row),
more models train in the same loop, one epoch each in turn, fastest epoch after the first:

- the same project model (``models.build_gru_model``, the chapter's tokens) at batch
  :data:`LARGE_BATCH`;
- the improved recipe of the music-quality work (``models.build_sequence_model``, GRU 256×2,
  an embedding, a target at every step) on MIDI-like event tokens (``encoding="midilike"``)
  at its batch of :data:`EVENT_BATCH` windows of :data:`EVENT_SEQ_LENGTH` tokens, as
  ``benchmarks/quality.py`` and notebook 08 train it. A sample there is one window of 128
  tokens with 128 targets, against one window with one target for the chapter's model, and an
  event token holds less music than a chord token: so the stage also prints the *notes of
  music* the targets of one epoch hold, per second of training (a chord token holds its
  pitches, an event token one note if it is a pitch token ``P..``, none otherwise);
- with a GPU (``tf.config.list_physical_devices("GPU")`` not empty), each project model again
  on ``/CPU:0`` (its recurrent layers with ``use_cudnn=False``, else soft placement would put
  cuDNN's kernel on the GPU anyway), printed beside the figure on the default device.

The time-to-quality stage (:func:`bench_time_to_quality`, ``--stages time-to-quality``): the
improved recipe and, for comparison, the chapter's GRU on its voiced chord tokens train epoch
by epoch on the shipped data, and after each epoch the model as it stands is scored on the
held-out pieces exactly as ``pipeline.evaluate_run`` scores it (``evaluate.stepper_scores``
beside ``evaluate.baseline_table``'s unigram, bigram and trigram, the same split by piece as
``pipeline.train_run``). It reports the wall seconds of training until the held-out nats per
token first reach the best n-gram's.
"""

from __future__ import annotations

import math
import tempfile
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from helpers import chapter, config, midilike, pipeline, sequences, tokens

#: The larger batch of the project's model (the chapter's is 64).
LARGE_BATCH = 256
#: The improved recipe's window and batch, as the quality stage and notebook 08 train it.
EVENT_SEQ_LENGTH = 128
EVENT_BATCH = 32
#: The device the GPU's figures are set beside.
CPU = "/CPU:0"
#: Time to quality: the improved recipe must reach the best n-gram within the budget.
TTQ_MINUTES = 3.0
#: Time to quality: the share of pieces held out, as ``pipeline.train_run``'s default and the quality stage.
VAL_FRACTION = 0.2


# ----------------------------------------------------------------------------- the training stage's rows


@dataclass
class Contender:
    """One more model in the training stage's turns: it trains one epoch per :meth:`epoch`."""

    label: str
    model: object
    dataset: object
    samples: int  # windows trained per epoch (whole batches only, as the dataset serves them)
    targets: int  # targets per window: 1 (the chapter's models) or the window's length (the improved recipe)
    notes: float | None  # notes of music the targets of one epoch hold (None: the tokens name no notes)
    device: str | None = None  # None: TensorFlow's default placement
    seconds: list[float] = field(default_factory=list)

    def epoch(self) -> None:
        tf = config.import_tensorflow()
        with tf.device(self.device) if self.device else nullcontext():
            start = time.perf_counter()
            self.model.fit(self.dataset, epochs=1, verbose=0, shuffle=False)  # the dataset shuffles
            self.seconds.append(time.perf_counter() - start)

    @property
    def rate(self) -> float:
        """Samples per second of the fastest epoch after the first (tracing)."""
        return self.samples / min(self.seconds[1:] or self.seconds)

    @property
    def notes_rate(self) -> float | None:
        return None if self.notes is None else self.notes * self.rate / self.samples


def notes_in_chord_tokens(stream: list[str]) -> float | None:
    """Pitches named by chord tokens (voiced or the chapter's), or ``None`` if a token names none."""
    try:
        return float(sum(len(tokens.token_to_pitches(token)) for token in stream))
    except (tokens.TokenError, ValueError, KeyError):
        return None


def event_stream(notes, n_windows: int, target_notes: float | None) -> tuple[np.ndarray, int, float]:
    """The MIDI-like codes of ``notes`` for the event model: enough windows of
    :data:`EVENT_SEQ_LENGTH` for ``target_notes`` notes in the targets (whole batches of
    :data:`EVENT_BATCH`; ``n_windows`` windows when ``target_notes`` is None), the stream
    repeated if the notes are too few. Keys as written: the speed does not depend on them.

    Returns:
        ``(codes, windows per epoch, notes the targets of one epoch hold)``.
    """
    names: list[str] = []
    pitches = 0
    for _, piece in notes.groupby("piece", sort=False):  # only the pieces needed (a large run holds many copies)
        piece_names = midilike.notes_to_tokens(piece)
        names += piece_names
        pitches += sum(name[0] == "P" for name in piece_names)
        per_token = pitches / max(len(names), 1)
        wanted = n_windows if target_notes is None else math.ceil(target_notes / max(per_token, 1e-9) / EVENT_SEQ_LENGTH)
        windows = max(1, math.ceil(wanted / EVENT_BATCH)) * EVENT_BATCH
        needed = (windows + 1) * EVENT_SEQ_LENGTH + 1  # sequences.count_sequence_windows keeps one window spare
        if len(names) >= needed:
            break
    if not pitches:
        raise ValueError("no notes for the event model")
    if len(names) < needed:
        names = (names * (needed // len(names) + 1))[:needed]
    names = names[:needed]
    codes = midilike.vocabulary().encode(names)
    # every epoch starts at a new phase: its targets are windows × 128 tokens from here, about this share of pitches
    targets_notes = windows * EVENT_SEQ_LENGTH * sum(name[0] == "P" for name in names[1:]) / (len(names) - 1)
    return codes, windows, targets_notes


def on_cpu(model):
    """A copy of compiled ``model`` (fresh weights, same layers and optimiser) built on
    :data:`CPU` with ``use_cudnn=False`` on its recurrent layers."""
    import keras

    tf = config.import_tensorflow()
    settings = model.get_config()
    for layer in settings["layers"]:
        if layer["class_name"] in ("GRU", "LSTM"):
            layer["config"]["use_cudnn"] = False
    with tf.device(CPU):
        copy = keras.Sequential.from_config(settings)
        copy.compile(loss=model.loss, optimizer=type(model.optimizer).from_config(model.optimizer.get_config()))
    return copy


def variable_device(model) -> str:
    """Where the first weight of ``model`` lives, short: ``GPU:0``, ``CPU:0``."""
    variable = model.weights[0]
    name = str(getattr(getattr(variable, "value", variable), "device", "") or "")
    return name.rsplit("device:", 1)[-1] if name else "?"


def contenders(codes: np.ndarray, vocab_size: int, n_windows: int, notes=None, target_notes: float | None = None,
               accelerators: list[str] | None = None) -> list[Contender]:
    """The models that train beside the chapter's and the project's in the training stage.

    Args:
        codes: the project's codes of the chapter's tokens (``n_windows`` windows of 100 and their targets).
        vocab_size: their vocabulary.
        n_windows: windows of the stage.
        notes: the notes table the tokens came from; ``None`` leaves out the event model.
        target_notes: notes held by the chapter's targets of one epoch: the event model trains on
            as many (``None``: ``n_windows`` windows).
        accelerators: the GPUs found; not empty adds every project model again on :data:`CPU`.
    """
    import keras

    from helpers import models

    seq_length = chapter.SEQUENCE_LENGTH
    chord_notes_per_window = None if target_notes is None else target_notes / n_windows
    found: list[Contender] = []
    served = (n_windows // LARGE_BATCH) * LARGE_BATCH if n_windows >= LARGE_BATCH else n_windows
    keras.utils.set_random_seed(0)
    found.append(Contender(
        f"batch {LARGE_BATCH}", models.build_gru_model(vocab_size),
        sequences.windows_dataset(codes, seq_length, LARGE_BATCH, seed=0), served, 1,
        None if chord_notes_per_window is None else served * chord_notes_per_window,
    ))
    if notes is not None and len(notes):
        event_codes, windows, event_notes = event_stream(notes, n_windows, target_notes)
        keras.utils.set_random_seed(0)
        found.append(Contender(
            "event tokens", models.build_sequence_model(len(midilike.vocabulary()), EVENT_SEQ_LENGTH),
            sequences.sequence_windows_dataset(event_codes, EVENT_SEQ_LENGTH, EVENT_BATCH, seed=0), windows, EVENT_SEQ_LENGTH,
            event_notes,
        ))
    if accelerators:
        keras.utils.set_random_seed(0)
        found.append(Contender(
            f"batch {chapter.BATCH_SIZE}, {CPU}", on_cpu(models.build_gru_model(vocab_size)),
            sequences.windows_dataset(codes, seq_length, chapter.BATCH_SIZE, seed=0), n_windows, 1, None, CPU,
        ))
        for contender in list(found[:-1]):
            found.append(Contender(
                f"{contender.label}, {CPU}", on_cpu(contender.model), contender.dataset, contender.samples, contender.targets,
                contender.notes, CPU,
            ))
    return found


def peer_rows(found: list[Contender], chapter_rate: float, project_rate: float, chapter_notes: float | None,
              n_windows: int) -> tuple[list, list[str]]:
    """The rows of the larger batch and of the event model (default device), and lines of detail.

    ``chapter_notes``: notes held by the chapter's targets of one epoch (``None``: unknown).
    """
    from benchmarks.run import compare, number

    rows, lines = [], []
    by_label = {contender.label: contender for contender in found if contender.device is None}
    large = by_label.get(f"batch {LARGE_BATCH}")
    if large is not None:
        rows.append(compare(
            f"training, same GRU, batch {LARGE_BATCH}", "samples/s", chapter_rate, large.rate,
            note=f"{large.samples:,} windows (whole batches); {large.rate / project_rate:.2f}× the project at batch {chapter.BATCH_SIZE}",
        ))
    event = by_label.get("event tokens")
    if event is not None:
        parameters = event.model.count_params()
        rows.append(compare(
            f"training, event tokens, batch {EVENT_BATCH}", "samples/s", chapter_rate, event.rate,
            note=f"improved GRU 256×2: {event.samples:,} windows of {EVENT_SEQ_LENGTH} MIDI-like tokens, a target at each; "
            f"{parameters:,} parameters",
        ))
        if chapter_notes is not None:
            chapter_notes_rate = chapter_notes * chapter_rate / n_windows
            rows.append(compare(
                "training, notes in the targets", "notes/s", chapter_notes_rate, event.notes_rate,
                note=f"chapter's GRU on chord tokens vs the event model; batch {chapter.BATCH_SIZE}: "
                f"{number(chapter_notes * project_rate / n_windows)} notes/s",
            ))
        lines.append(
            f"a sample: the chapter's tokens — a window of {chapter.SEQUENCE_LENGTH} chord tokens, 1 target"
            + (f" ({chapter_notes / n_windows:.2f} notes)" if chapter_notes is not None else "")
            + f"; event tokens — a window of {EVENT_SEQ_LENGTH} tokens, {EVENT_SEQ_LENGTH} targets "
            f"({event.notes / event.samples / EVENT_SEQ_LENGTH:.2f} notes a token, {event.notes / event.samples:.1f} a window)"
        )
    return rows, lines


def device_rows(found: list[Contender], default_rates: dict[str, float], default_device: str, accelerator: str) -> list:
    """With a GPU: each project model's samples/s on :data:`CPU` (the *chapter* column) beside the
    default device's (the *project* column; TensorFlow puts the model on the GPU), the ratio
    GPU / CPU. ``default_rates``: label → samples/s on the default device."""
    from benchmarks.run import compare

    rows = []
    for contender in found:
        if contender.device != CPU:
            continue
        label = contender.label.removesuffix(f", {CPU}")
        if label not in default_rates:
            continue
        rows.append(compare(
            f"training, GPU/CPU, {label}", "samples/s", contender.rate, default_rates[label],
            note=f"{accelerator}; chapter column: {CPU} (use_cudnn=False, weights on {variable_device(contender.model)}); "
            f"project column: the default device (weights on {default_device})",
        ))
    return rows


# ----------------------------------------------------------------------------- time to quality


def first_reached(trace: list[tuple[float, float]], target: float) -> int | None:
    """The index of the first ``(seconds, nats)`` of ``trace`` with nats at or below ``target``, or ``None``."""
    return next((i for i, (_, nats) in enumerate(trace) if nats <= target), None)


@dataclass
class Race:
    """One model's way to the best n-gram: its trace and the n-gram it ran against."""

    name: str
    encoding: str
    best_nats: float
    best_name: str
    ngram_seconds: float  # counting, fitting and scoring the three n-grams
    budget: float  # seconds
    trace: list[tuple[float, float]] = field(default_factory=list)  # (training seconds so far, held-out nats) per epoch
    held_out_tokens: int = 0

    @property
    def reached(self) -> int | None:
        return first_reached(self.trace, self.best_nats)

    @property
    def seconds(self) -> float | None:
        return None if self.reached is None else self.trace[self.reached][0]

    @property
    def in_budget(self) -> bool:
        return self.seconds is not None and self.seconds <= self.budget

    def best_gap(self) -> float:
        """The best epoch's nats above the n-gram's, as a share (negative: below)."""
        return min(nats for _, nats in self.trace) / self.best_nats - 1 if self.trace else float("nan")

    def text(self) -> str:
        if self.seconds is not None:
            return f"{self.seconds:.1f} ({self.reached + 1} ep)"
        return f"not in {self.budget / 60:g} min"


def _watch(race: Race, val_pieces: list[np.ndarray], max_epochs: int):
    """A Keras callback that scores the model on ``val_pieces`` after each epoch (the scoring's
    time left out of the clock), stops it once it reaches ``race.best_nats``, and stops it as
    :class:`helpers.training.TimeLimit` does when the next epoch would end past the budget."""
    import keras

    from helpers import evaluate, fast_generation

    class Watch(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.start, self.left_out, self.last = time.perf_counter(), 0.0, 0.0

        def on_epoch_end(self, epoch, logs=None):
            clock = time.perf_counter()
            seconds = clock - self.start - self.left_out
            scores = evaluate.stepper_scores(fast_generation.Stepper(self.model), val_pieces)
            race.trace.append((seconds, scores.cross_entropy))
            race.held_out_tokens = scores.tokens
            epoch_seconds, self.last = seconds - self.last, seconds
            if scores.cross_entropy <= race.best_nats or seconds + epoch_seconds > race.budget or len(race.trace) >= max_epochs:
                self.model.stop_training = True
            self.left_out += time.perf_counter() - clock

    return Watch()


def race_to_ngram(corpus: pipeline.Corpus, recipe: str, budget: float, run_dir: Path, seed: int = 0, max_epochs: int = 1000,
                  **model_options) -> Race:
    """Train ``recipe`` (``"improved"`` or ``"chapter"``) on ``corpus`` with ``pipeline.train_run``
    — its split by piece, model, batch, learning-rate schedule — until its held-out nats/token
    reach the best n-gram's, the budget (seconds) is spent or ``max_epochs`` are done."""
    from helpers import evaluate

    train_pieces, val_pieces = sequences.split_by_piece(corpus.events["piece"], VAL_FRACTION, seed)
    if not val_pieces:
        raise ValueError("time to quality needs at least two pieces (one held out)")
    by_piece = dict(tuple(corpus.events.groupby("piece", sort=False)["token"]))

    def piece_codes(names):  # as pipeline.evaluate_run encodes them
        return [corpus.vocab.encode(by_piece[name].tolist(), unknown="nearest") for name in names]

    val_codes_by_piece = piece_codes(val_pieces)
    start = time.perf_counter()
    table = evaluate.baseline_table(piece_codes(train_pieces), val_codes_by_piece, len(corpus.vocab))
    ngram_seconds = time.perf_counter() - start
    ngrams = table.loc[["unigram", "bigram", "trigram"], "nats_per_token"]
    race = Race(recipe, corpus.vocab.encoding, float(ngrams.min()), str(ngrams.idxmin()), ngram_seconds, budget)

    improved = recipe == "improved"
    pipeline.train_run(  # the same split by piece: split_by_piece with the same fraction and seed
        corpus, "gru", seq_length=EVENT_SEQ_LENGTH if improved else chapter.SEQUENCE_LENGTH, epochs=max_epochs,
        batch_size=EVENT_BATCH if improved else chapter.BATCH_SIZE, val_fraction=VAL_FRACTION, seed=seed, run_dir=run_dir,
        recipe=recipe, callbacks=[_watch(race, val_codes_by_piece, max_epochs)], **model_options,
    )
    return race


def race_rows(improved: Race, chapter_race: Race) -> list:
    """The stage's two rows: the improved recipe (judged) and the chapter's GRU (beside it)."""
    from benchmarks.run import Row

    rows = []
    for race, label, judged in (
        (improved, "time to quality: improved recipe (s)", True),
        (chapter_race, "— the chapter's GRU, voiced chord tokens (s)", False),
    ):
        last = race.trace[race.reached if race.reached is not None else -1]
        note = (
            f"epoch {race.reached + 1}: {last[1]:.3f} nats/token on {race.held_out_tokens:,} held-out {race.encoding} tokens"
            if race.reached is not None
            else f"best {min(n for _, n in race.trace):.3f} nats/token after {len(race.trace)} epochs, "
            f"{race.best_gap():+.1%} above; {race.held_out_tokens:,} held-out {race.encoding} tokens"
        )
        ratio = ""
        if judged and improved.seconds is not None and chapter_race.seconds is not None:
            ratio = f"{chapter_race.seconds / improved.seconds:.2f}×"
        rows.append(Row(
            label, f"{race.best_nats:.3f} ({race.best_name})", race.text(), ratio,
            f"≤ {race.budget / 60:g} min" if judged else "", race.in_budget if judged else None, note,
        ))
    return rows


def bench_time_to_quality(folder: Path, minutes: float = TTQ_MINUTES, files: int | None = None, chapter_epochs: int = 30,
                          improved_options: dict | None = None, chapter_options: dict | None = None):
    """Wall seconds of training until the held-out nats/token reach the best n-gram's, improved
    recipe and chapter's GRU, each within ``minutes`` (the chapter's GRU also stops after its
    ``chapter_epochs``). ``*_options`` go to the model builders (smaller models in the tests)."""
    from benchmarks.run import Stage

    stage = Stage()
    improved_corpus = pipeline.prepare(folder, limit=files, seed=0, encoding="midilike", normalise_keys=True)
    chapter_corpus = pipeline.prepare(folder, limit=files, seed=0, encoding="voiced")
    with tempfile.TemporaryDirectory(prefix="time-to-quality-") as scratch:
        improved = race_to_ngram(improved_corpus, "improved", minutes * 60, Path(scratch) / "improved", **(improved_options or {}))
        chapter_race = race_to_ngram(chapter_corpus, "chapter", minutes * 60, Path(scratch) / "chapter", max_epochs=chapter_epochs,
                                     **(chapter_options or {}))
    stage.rows.extend(race_rows(improved, chapter_race))
    stage.lines.append(
        "chapter column: the best of unigram, bigram and trigram on the same tokens and held-out pieces "
        f"(counted in {improved.ngram_seconds:.1f} s and {chapter_race.ngram_seconds:.1f} s); "
        "project column: wall seconds of training (tracing, Keras's validation and checkpoints included; "
        "the scoring after each epoch and the reading of the MIDI files left out)"
    )
    for race, name in ((improved, "improved recipe, MIDI-like tokens, keys normalised"), (chapter_race, "chapter's GRU, voiced tokens")):
        trace = ", ".join(f"{seconds:.0f} s {nats:.3f}" for seconds, nats in race.trace)
        stage.lines.append(f"{name} (seconds, held-out nats/token after each epoch): {trace}")
    stage.values.update(improved=improved, chapter=chapter_race)
    return stage
