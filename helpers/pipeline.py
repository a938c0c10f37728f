"""The whole way from a MIDI folder to a new piece, as three functions the CLI and notebooks share.

``prepare`` (MIDI folder → events and vocabulary), ``train_run`` (events → a run folder) and
``generate_piece`` (run folder → MIDI file). Each step is explained in its own notebook
(02, 05, 06); this module only strings them together.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from helpers import config, export, midi_io, sequences, tokens
from helpers.tokens import Vocabulary

#: Events of rhythm saved with a primer, so a run can generate without its training data.
PRIMER_RHYTHM_EVENTS = 2000


@dataclass
class Corpus:
    """A loaded folder: its notes, the load report, the events (with tokens) and vocabulary."""

    notes: pd.DataFrame
    report: midi_io.LoadReport
    events: pd.DataFrame
    vocab: Vocabulary
    folder: Path
    limit: int | None = None
    sample_seed: int | None = None
    #: The per-file limits the folder was read with, when not the defaults (recorded in a run's config.json).
    load_options: dict = field(default_factory=dict)


def prepare(
    folder: Path | str | None = None, limit: int | None = None, seed: int | None = None, encoding: str = "voiced",
    **load_options,
) -> Corpus:
    """Load a MIDI folder (default ``data/midi``), tokenise it and build its vocabulary.

    ``load_options`` go to :func:`helpers.midi_io.load_midi_files`: the per-file limits
    ``max_file_bytes``, ``max_notes``, ``max_quarters`` and ``timeout``. Nothing here imports
    TensorFlow.
    """
    folder = Path(folder or config.DATA_DIR)
    notes, report = midi_io.load_midi_folder(folder, limit=limit, seed=seed, **load_options)
    events = tokens.notes_to_events(notes, encoding)
    return Corpus(notes, report, events, Vocabulary(events["token"], encoding), folder, limit, seed, dict(load_options))


def primer_from_events(events: pd.DataFrame, seq_length: int, piece: str | None = None) -> dict:
    """The first ``seq_length`` events of ``piece`` (default: the longest piece) as a primer.

    Returns a dict with ``tokens`` and the ``steps``/``durations`` of up to
    :data:`PRIMER_RHYTHM_EVENTS` events from there on, for the ``"data"`` rhythm.
    """
    lengths = events.groupby("piece", sort=False).size()
    piece = piece or str(lengths.idxmax())
    chosen = events[events["piece"] == piece].head(max(seq_length, PRIMER_RHYTHM_EVENTS))
    if len(chosen) < 1:
        raise ValueError(f"piece {piece!r} has no events")
    return {
        "source": piece,
        "tokens": chosen["token"].head(seq_length).tolist(),
        "steps": [round(float(s), 6) for s in chosen["step"]],
        "durations": [round(float(d), 6) for d in chosen["duration"]],
    }


def primer_from_midi(path: Path | str, seq_length: int, encoding: str = "voiced") -> dict:
    """The opening ``seq_length`` events of a user's MIDI file as a primer (see :func:`primer_from_events`)."""
    notes, _ = midi_io.midi_to_notes(path)
    return primer_from_events(tokens.notes_to_events(notes, encoding), seq_length)


def write_primer(run_dir: Path | str, corpus: Corpus, pieces: list[str], seq_length: int) -> dict:
    """Save ``primer.json`` in a run folder: the opening window of the longest of ``pieces``
    (held-out pieces, preferably), its rhythm, and the chapter's even spacing of the data —
    all that :func:`generate_piece` needs, so a run can generate without its training data.
    """
    primer = primer_from_events(corpus.events[corpus.events["piece"].isin(pieces)], seq_length)
    primer["even_step"] = export.chapter_step(corpus.events["offset"])
    config.write_atomic(Path(run_dir) / "primer.json", json.dumps(primer))
    return primer


def _folder_record(folder: Path) -> str:
    """How a data folder is recorded in ``config.json``: relative to the repository when inside it."""
    folder = Path(folder).resolve()
    try:
        return folder.relative_to(config.ROOT).as_posix()
    except ValueError:
        return str(folder)


def train_run(
    corpus: Corpus,
    architecture: str = "gru",
    seq_length: int = 100,
    epochs: int = 30,
    batch_size: int = 64,
    val_fraction: float = 0.2,
    input_encoding: str = "scaled",
    seed: int = 0,
    run_dir: Path | str | None = None,
    early_stopping: int | None = None,
    verbose: int = 0,
    **model_options,
) -> Path:
    """Split by piece, build the model and train it into a new run folder; return the folder.

    The folder is ``run_dir`` if given, else a new ``outputs/runs/<architecture>-NNN``.
    ``model_options`` go to :func:`helpers.models.build_gru_model` / ``build_lstm_model``
    (``units``, ``dropout``, ``dense_units``, ``embedding_dim``, ``learning_rate``). To continue
    an interrupted or finished run, use :func:`resume_run`.
    """
    from helpers import models, training

    config.set_seed(seed)
    train_pieces, val_pieces = sequences.split_by_piece(corpus.events["piece"], val_fraction, seed)
    train_codes = sequences.events_to_codes(corpus.events, corpus.vocab, train_pieces)
    val_codes = sequences.events_to_codes(corpus.events, corpus.vocab, val_pieces) if val_pieces else None
    if architecture not in models.BUILDERS:
        raise ValueError(f"architecture={architecture!r}: expected one of {', '.join(models.BUILDERS)}")
    model = models.BUILDERS[architecture](len(corpus.vocab), seq_length, input_encoding=input_encoding, **model_options)
    run_dir = Path(run_dir) if run_dir else training.new_run_dir(architecture)
    write_primer(run_dir, corpus, val_pieces or train_pieces, seq_length)
    training.train(
        model, corpus.vocab, train_codes, val_codes, run_dir, epochs=epochs, batch_size=batch_size, seed=seed,
        early_stopping=early_stopping, verbose=verbose,
        extra_config={
            "data": _folder_record(corpus.folder), "encoding": corpus.vocab.encoding, "limit": corpus.limit,
            "sample_seed": corpus.sample_seed, "train_pieces": train_pieces, "val_pieces": val_pieces,
            **({"load_options": corpus.load_options} if corpus.load_options else {}),
        },
    )
    return run_dir


def resume_run(run_dir: Path | str, epochs: int | None = None, corpus: Corpus | None = None, verbose: int = 0) -> Path:
    """Continue a run from its last finished epoch, up to ``epochs`` (default: those it was started with).

    The model is rebuilt from ``config.json`` and the codes are made with the run's own
    ``vocab.json`` and its recorded training and validation pieces; the music is read again
    from the recorded data folder unless ``corpus`` is given.

    Raises:
        helpers.training.RunError: the folder is not a run, or the data no longer fits its vocabulary.
    """
    from helpers import training

    run_dir = Path(run_dir)
    model, vocab, settings = training.load_run(run_dir, weights=None)
    if corpus is None:
        folder = config.ROOT / settings["data"]
        corpus = prepare(folder, settings.get("limit"), settings.get("sample_seed"), settings.get("encoding", vocab.encoding),
                         **settings.get("load_options", {}))
    try:
        train_codes = sequences.events_to_codes(corpus.events, vocab, settings["train_pieces"])
        val_codes = sequences.events_to_codes(corpus.events, vocab, settings["val_pieces"]) if settings["val_pieces"] else None
    except tokens.TokenError as error:
        raise training.RunError(f"{run_dir}: the data changed since this run started ({error})") from error
    training.train(
        model, vocab, train_codes, val_codes, run_dir, epochs=epochs or settings["epochs"],
        batch_size=settings["batch_size"], seed=settings["seed"], verbose=verbose,
    )
    return run_dir


def generate_piece(
    run_dir: Path | str,
    n_notes: int = 500,
    method: str = "sample",
    temperature: float = 1.0,
    top_k: int | None = None,
    seed: int | None = 0,
    primer_midi: Path | str | None = None,
    rhythm: str = "data",
    instrument: str | int = "Piano",
    weights: str | Path = "best",
    output: Path | str | None = None,
) -> tuple[Path, pd.DataFrame]:
    """Generate a piece from a run folder and write it as MIDI; return ``(path, notes)``.

    The piece goes to ``output``, by default a new ``<run_dir>/generated/<arch>-<method>-NNN.mid``
    beside the model that made it, never over an earlier piece.

    The primer is the run's saved ``primer.json`` (a window of held-out data) unless
    ``primer_midi`` names a MIDI file; tokens the model does not know are mapped to the
    nearest known token (see :meth:`helpers.tokens.Vocabulary.encode`).
    """
    from helpers import generation, training

    export.make_instrument(instrument)  # an unknown instrument fails now, before any work
    run_dir = Path(run_dir)
    model, vocab, settings = training.load_run(run_dir, weights)
    seq_length = settings["seq_length"]
    if primer_midi:
        primer = primer_from_midi(primer_midi, seq_length, vocab.encoding)
    else:
        primer = json.loads((run_dir / "primer.json").read_text())
    codes = generation.generate_codes(
        model, vocab.encode(primer["tokens"], unknown="nearest"), n_notes, method, temperature, top_k, seed
    )
    generated = vocab.decode(codes)
    if rhythm == "data":
        rhythm_events = pd.DataFrame({"step": primer["steps"], "duration": primer["durations"]})
        offsets, durations = export.data_rhythm(rhythm_events, n_notes, start=len(primer["tokens"]))
    elif rhythm == "even":
        step = primer.get("even_step") or export.chapter_step(np.cumsum(primer["steps"]))
        offsets, durations = export.even_rhythm(n_notes, step)
    else:
        raise ValueError(f"rhythm={rhythm!r}: expected one of {', '.join(export.RHYTHMS)}")
    notes = export.tokens_to_notes(generated, offsets, durations)
    stem = f"{settings['architecture']}-{method}"
    target = Path(output) if output else config.unique_path(run_dir / "generated", stem, ".mid")
    try:
        path = export.notes_to_midi(notes, target, instrument)
    except BaseException:
        if not output and target.is_file() and not target.stat().st_size:  # the name claimed, nothing written
            target.unlink()
        raise
    return path, notes
