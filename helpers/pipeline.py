"""The whole way from a MIDI folder to a new piece, as three functions the CLI and notebooks share.

``prepare`` (MIDI folder → events and vocabulary), ``train_run`` (events → a run folder) and
``generate_piece`` (run folder → MIDI file). Each step is explained in its own notebook
(02, 05, 06); this module only strings them together. For a folder larger than memory,
``prepare_store`` and ``train_store_run`` take the same steps through an on-disk token store
(:mod:`helpers.token_store`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from helpers import chapter, config, distribute, export, midi_io, midi_reader, midilike, sequences, token_store, tokens
from helpers.errors import DataError
from helpers.runs import Run, RunError, folder_record
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
    #: With ``normalise_keys``: each piece's shift to C major / A minor in semitones (already applied to ``notes``).
    key_shifts: dict = field(default_factory=dict)


#: Token encodings: the two of :mod:`helpers.tokens` and the MIDI-like one of :mod:`helpers.midilike`.
ENCODINGS = (*tokens.ENCODINGS, midilike.ENCODING)
#: At most this many MIDI-like tokens are generated per note asked for (see :func:`generate_midilike_notes`).
MAX_TOKENS_PER_NOTE = 8
#: Training recipes: the chapter's (notebook 05) and the improved one (notebook 08).
RECIPES = ("chapter", "improved")
#: Transpositions of the training data in the improved recipe with ``transpose=True``, in
#: semitones: every key from a fourth down to a tritone up (12 versions of each window).
TRANSPOSITIONS = tuple(range(-5, 7))


def prepare(
    folder: Path | str | None = None,
    limit: int | None = None,
    seed: int | None = None,
    encoding: str = "voiced",
    normalise_keys: bool = False,
    **load_options,
) -> Corpus:
    """Load a MIDI folder (default ``data/midi``), tokenise it and build its vocabulary.

    ``encoding`` is ``"voiced"``, ``"chapter"`` (one token per chord, :mod:`helpers.tokens`)
    or ``"midilike"`` (pitch, duration and time-shift tokens, :mod:`helpers.midilike`).
    ``normalise_keys`` transposes every piece to C major or A minor first
    (:func:`helpers.midilike.normalise_keys`; notebook 08). ``load_options`` go to
    :func:`helpers.midi_io.load_midi_files`: the per-file limits ``max_file_bytes``, ``max_notes``,
    ``max_quarters`` and ``timeout``. Nothing here imports
    TensorFlow.
    """
    if encoding not in ENCODINGS:
        raise ValueError(f"encoding={encoding!r}: expected one of {', '.join(ENCODINGS)}")
    folder = Path(folder or config.DATA_DIR)
    notes, report = midi_io.load_midi_folder(folder, limit=limit, seed=seed, limits=midi_reader.Limits(**load_options))
    shifts = {}
    if normalise_keys:
        notes, shifts = midilike.normalise_keys(notes)
    if encoding == midilike.ENCODING:
        events = midilike.notes_to_events(notes)
        vocab = midilike.vocabulary()
    else:
        events = tokens.notes_to_events(notes, encoding)
        vocab = Vocabulary(events["token"], encoding)
    return Corpus(notes, report, events, vocab, folder, limit, seed, dict(load_options), shifts)


def primer_from_events(events: pd.DataFrame, seq_length: int, piece: str | None = None) -> dict:
    """The first ``seq_length`` events of ``piece`` (default: the longest piece) as a primer.

    Returns a dict with ``tokens`` and the ``steps``/``durations`` of up to
    :data:`PRIMER_RHYTHM_EVENTS` events from there on, for the ``"data"`` rhythm.
    """
    lengths = events.groupby("piece", sort=False).size()
    piece = piece or str(lengths.idxmax())
    chosen = events[events["piece"] == piece].head(max(seq_length, PRIMER_RHYTHM_EVENTS))
    if len(chosen) < 1:
        raise DataError(f"piece {piece!r} has no events")
    primer = {"source": piece, "tokens": chosen["token"].head(seq_length).tolist()}
    if "step" in chosen:  # MIDI-like tokens carry their own rhythm
        primer["steps"] = [round(float(s), 6) for s in chosen["step"]]
        primer["durations"] = [round(float(d), 6) for d in chosen["duration"]]
    return primer


def primer_from_midi(path: Path | str, seq_length: int, encoding: str = "voiced", normalise_keys: bool = False) -> dict:
    """The opening ``seq_length`` events of a user's MIDI file as a primer (see :func:`primer_from_events`).

    With ``normalise_keys`` the file is first moved to C major / A minor, and the primer
    records that shift as ``key_shift``.
    """
    notes, _ = midi_io.midi_to_notes(path)
    if normalise_keys:
        notes, shifts = midilike.normalise_keys(notes)
        primer = primer_from_notes(notes, seq_length, encoding)
        return {**primer, "key_shift": next(iter(shifts.values()), 0)}
    return primer_from_notes(notes, seq_length, encoding)


def primer_from_notes(notes: pd.DataFrame, seq_length: int, encoding: str) -> dict:
    """The opening ``seq_length`` events of one piece's notes as a primer."""
    if encoding == midilike.ENCODING:
        return primer_from_events(midilike.notes_to_events(notes), seq_length)
    return primer_from_events(tokens.notes_to_events(notes, encoding), seq_length)


def corpus_to_primer(corpus: Corpus, pieces: list[str], seq_length: int) -> dict:
    """A run's primer (:meth:`helpers.runs.Run.write_primer` saves it): the opening window of
    the longest of ``pieces`` (held-out pieces, preferably), its rhythm, and the chapter's even
    spacing of the data — all that :func:`generate_piece` needs, so a run can generate without
    its training data.
    """
    primer = primer_from_events(corpus.events[corpus.events["piece"].isin(pieces)], seq_length)
    if corpus.key_shifts:
        primer["key_shift"] = corpus.key_shifts[primer["source"]]
    if "step" in corpus.events:
        primer["even_step"] = chapter.even_step(corpus.events["offset"])
    return primer


def run_name(architecture: str, recipe: str = "chapter") -> str:
    """The stem of a new run folder: ``gru``, ``lstm``; ``gru-improved`` for the improved recipe."""
    return architecture if recipe == "chapter" else f"{architecture}-improved"


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
    recipe: str = "chapter",
    transpose: bool = False,
    time_limit: float | None = None,
    tensorboard: bool = False,
    strategy=None,
    callbacks: list | None = None,
    **model_options,
) -> Run:
    """Split by piece, build the model and train it into a new run folder; return the run.

    Two recipes:

    ``"chapter"`` (notebook 05)
        :func:`helpers.models.build_gru_model` / ``build_lstm_model``, one target after each
        window, RMSprop; ``model_options`` are ``units``, ``dropout``, ``dense_units``,
        ``embedding_dim``, ``learning_rate``.
    ``"improved"`` (notebook 08)
        :func:`helpers.models.build_sequence_model` (embedding, a target at every step, Adam),
        the learning rate halved after 2 epochs without improvement, and on MIDI-like tokens
        with ``transpose=True`` every training window played in one of the
        :data:`TRANSPOSITIONS` at random (data augmentation; the default instead trains on
        keys normalised by :func:`prepare`, which measured better); ``model_options`` are ``units``, ``dropout``,
        ``embedding_dim``, ``learning_rate``; ``input_encoding`` is not used (always an
        embedding).

    ``time_limit`` (seconds) ends training after the last epoch that fits in it;
    ``tensorboard`` writes TensorBoard's logs into the run's ``logs/`` (see :func:`helpers.training.train`);
    ``strategy`` (from :func:`helpers.distribute.make_strategy`) trains on several devices,
    ``batch_size`` per device; ``callbacks`` are more Keras callbacks for ``fit`` (the benchmark's
    time-to-quality stage scores the model after each epoch).

    The folder is ``run_dir`` (a path or a :class:`helpers.runs.Run`) if given, else a new ``outputs/runs/<architecture>-NNN``
    (``<architecture>-improved-NNN`` for the improved recipe). To continue an interrupted or
    finished run, use :func:`resume_run`.
    """
    config.set_seed(seed)
    train_pieces, val_pieces = sequences.split_by_piece(corpus.events["piece"], val_fraction, seed)
    train_codes = sequences.events_to_codes(corpus.events, corpus.vocab, train_pieces)
    val_codes = sequences.events_to_codes(corpus.events, corpus.vocab, val_pieces) if val_pieces else None
    vocab_size = len(corpus.vocab)
    model = _new_model(recipe, architecture, vocab_size, seq_length, strategy, input_encoding=input_encoding, **model_options)
    run = Run(Path(run_dir)) if run_dir else Run.create(run_name(architecture, recipe))
    run.write_primer(corpus_to_primer(corpus, val_pieces or train_pieces, seq_length))
    recorded = {
        "normalise_keys": bool(corpus.key_shifts),
        "data": folder_record(corpus.folder),
        "limit": corpus.limit,
        "sample_seed": corpus.sample_seed,
        **({"load_options": corpus.load_options} if corpus.load_options else {}),
    }
    return _train_new(
        run, model, corpus.vocab, train_codes, val_codes, recipe, transpose,
        {**recorded, "train_pieces": train_pieces, "val_pieces": val_pieces},
        epochs=epochs, batch_size=batch_size, seed=seed, early_stopping=early_stopping, verbose=verbose,
        time_limit=time_limit, tensorboard=tensorboard, strategy=strategy, callbacks=callbacks,
    )


def _new_model(recipe: str, architecture: str, vocab_size: int, seq_length: int, strategy, input_encoding: str = "scaled",
               **model_options):
    """The untrained model of a recipe (see :func:`train_run`), built under ``strategy``."""
    from helpers import models

    if recipe not in RECIPES:
        raise ValueError(f"recipe={recipe!r}: expected one of {', '.join(RECIPES)}")
    if architecture not in ("gru", "lstm"):
        raise ValueError(f"architecture={architecture!r}: expected gru or lstm")
    if recipe == "chapter":
        builder, builder_args = architecture, {"input_encoding": input_encoding}
    else:
        builder, builder_args = "sequence", {"layer": architecture}
    with distribute.scope(strategy):  # the variables live where the strategy wants them
        # the model remembers its builder and arguments: the run records them
        return models.BUILDERS[builder](vocab_size=vocab_size, seq_length=seq_length, **builder_args, **model_options)


def _train_new(run: Run, model, vocab: Vocabulary, train_codes, val_codes, recipe: str, transpose: bool, recorded: dict,
               **train_options) -> Run:
    """Train a new run of ``recipe``: transposed copies when asked (MIDI-like tokens, improved
    recipe), the learning-rate schedule of the improved recipe, ``recorded`` in ``config.json``."""
    from helpers import training

    tables = None
    if recipe == "improved" and transpose and vocab.encoding == midilike.ENCODING:
        tables = np.stack([midilike.transposition_table(vocab, k) for k in TRANSPOSITIONS])
    training.train(
        model, vocab, train_codes, val_codes, run, reduce_lr_patience=2 if recipe == "improved" else None,
        transpositions=tables, extra_config={"recipe": recipe, "encoding": vocab.encoding, **recorded}, **train_options,
    )
    return run


def _train_on(run: Run, vocab: Vocabulary, train_codes, val_codes, epochs: int, verbose: int, tensorboard: bool, strategy) -> Run:
    """Train a run on to ``epochs`` in all with the settings it recorded (the resume of both paths)."""
    from helpers import training

    settings = run.settings
    tables = None
    if settings.get("transpositions"):
        tables = np.stack([midilike.transposition_table(vocab, k) for k in TRANSPOSITIONS])
    with distribute.scope(strategy):
        model = run.build_model()
    training.train(
        model, vocab, train_codes, val_codes, run, epochs=epochs, batch_size=settings["batch_size"], seed=settings["seed"],
        verbose=verbose, early_stopping=settings.get("early_stopping"), reduce_lr_patience=settings.get("reduce_lr_patience"),
        transpositions=tables, tensorboard=tensorboard, strategy=strategy,
    )
    return run


def run_corpus(run: Run | Path | str) -> Corpus:
    """The music a run was trained on, read again from the data folder its ``config.json`` records
    (see :attr:`helpers.runs.Run.data_folder`), the same way."""
    run = Run.open(run)
    settings = run.settings
    return prepare(
        run.data_folder,
        settings.get("limit"),
        settings.get("sample_seed"),
        settings.get("encoding", run.vocab.encoding),
        settings.get("normalise_keys", False),
        **settings.get("load_options", {}),
    )


def resume_run(
    run_dir: Run | Path | str,
    epochs: int | None = None,
    corpus: Corpus | None = None,
    verbose: int = 0,
    tensorboard: bool = False,
    strategy=None,
) -> Run:
    """Continue a run from its last finished epoch, up to ``epochs`` in all (default: those it was started with).

    ``strategy`` may differ from the one the run started with (``batch_size`` stays per device).

    The model is rebuilt from the builder and arguments in ``config.json`` and the codes are
    made with the run's own ``vocab.json`` and its recorded training and validation pieces; the
    music is read again from the recorded data folder unless ``corpus`` is given.

    Raises:
        helpers.runs.RunFinished: nothing to train — the run finished ``epochs`` (or those it
            was started with), or stopped early and no more epochs were asked for.
        helpers.runs.RunError: the folder is not a run, or the data no longer fits its vocabulary.
    """

    run = Run.open(run_dir)
    planned = run.check_epochs_left(epochs)  # before the data is read again
    vocab, settings = run.vocab, run.settings
    corpus = corpus or run_corpus(run)
    try:
        train_codes = sequences.events_to_codes(corpus.events, vocab, settings["train_pieces"])
        val_codes = sequences.events_to_codes(corpus.events, vocab, settings["val_pieces"]) if settings["val_pieces"] else None
    except tokens.TokenError as error:
        raise RunError(f"{run.path}: the data changed since this run started ({error})") from error
    return _train_on(run, vocab, train_codes, val_codes, planned, verbose, tensorboard, strategy)


def prepare_store(
    folder: Path | str | None,
    store: Path | str,
    limit: int | None = None,
    seed: int | None = None,
    encoding: str = midilike.ENCODING,
    normalise_keys: bool = False,
    progress: bool | None = None,
    **load_options,
) -> token_store.TokenStore:
    """:func:`prepare` for a folder larger than memory: MIDI folder → an on-disk token store.

    The files are read a chunk at a time and their MIDI-like codes appended to the store
    ``store`` (a folder); Ctrl-C keeps every finished chunk and the same call resumes. See
    :func:`helpers.token_store.folder_to_store` (``encoding`` must be ``"midilike"``). Nothing
    here imports TensorFlow.
    """
    return token_store.folder_to_store(
        folder or config.DATA_DIR, store, limit, seed, encoding, normalise_keys, progress=progress, **load_options
    )


def train_store_run(
    store: token_store.TokenStore | Path | str,
    architecture: str = "gru",
    seq_length: int = 128,
    epochs: int = 30,
    batch_size: int = 32,
    val_fraction: float = 0.2,
    seed: int = 0,
    run_dir: Path | str | None = None,
    early_stopping: int | None = None,
    verbose: int = 0,
    recipe: str = "improved",
    transpose: bool = False,
    time_limit: float | None = None,
    tensorboard: bool = False,
    strategy=None,
    **model_options,
) -> Run:
    """:func:`train_run` reading its windows from a token store (:func:`prepare_store`), never
    loading the codes whole: memory is bounded by the model and a batch, not by the data.

    The split by piece, the windows (for the same seed), the models and the run folder are
    those of :func:`train_run` on ``prepare(..., encoding="midilike")`` of the same folder;
    the run also records its ``store``, and :func:`resume_store_run` continues it.
    ``recipe`` is ``"improved"`` (default) or ``"chapter"`` (then ``input_encoding`` may be
    given in ``model_options``).
    """
    store = store if isinstance(store, token_store.TokenStore) else token_store.TokenStore.open(store)
    if not store.pieces:
        raise DataError(f"{store.path}: the token store holds no piece")
    config.set_seed(seed)
    vocab = store.vocab
    train_pieces, val_pieces = sequences.split_by_piece(store.pieces, val_fraction, seed)
    train_codes = store.stream(train_pieces)
    val_codes = store.stream(val_pieces) if val_pieces else None
    model = _new_model(recipe, architecture, len(vocab), seq_length, strategy, **model_options)
    run = Run(Path(run_dir)) if run_dir else Run.create(run_name(architecture, recipe))
    run.write_primer(store_to_primer(store, val_pieces or train_pieces, seq_length))
    settings = store.settings
    recorded = {
        "normalise_keys": bool(settings.get("normalise_keys")),
        "data": folder_record(Path(settings["folder"])),
        "limit": settings.get("limit"),
        "sample_seed": settings.get("sample_seed"),
        **({"load_options": settings["load_options"]} if settings.get("load_options") else {}),
        "train_pieces": train_pieces,
        "val_pieces": val_pieces,
        "store": str(Path(store.path).resolve()),
    }
    return _train_new(
        run, model, vocab, train_codes, val_codes, recipe, transpose, recorded,
        epochs=epochs, batch_size=batch_size, seed=seed, early_stopping=early_stopping, verbose=verbose,
        time_limit=time_limit, tensorboard=tensorboard, strategy=strategy,
    )


def store_to_primer(store: token_store.TokenStore, pieces: list[str], seq_length: int) -> dict:
    """:func:`corpus_to_primer` for a token store: the opening window of the longest of ``pieces``
    (the first of the longest, as :func:`primer_from_events` picks it), and its key shift."""
    where = {piece: i for i, piece in enumerate(store.pieces)}
    lengths = [int(store.lengths[where[piece]]) for piece in pieces]
    source = pieces[int(np.argmax(lengths))]
    primer = {"source": source, "tokens": store.vocab.decode(store.piece_codes(source)[:seq_length])}
    if store.key_shifts:
        primer["key_shift"] = store.key_shifts[source]
    return primer


def resume_store_run(
    run_dir: Run | Path | str,
    epochs: int | None = None,
    verbose: int = 0,
    tensorboard: bool = False,
    strategy=None,
) -> Run:
    """:func:`resume_run` of a run trained by :func:`train_store_run`: the codes come from the
    store the run recorded, not from the MIDI folder.

    Raises:
        helpers.runs.RunFinished: nothing to train (see :func:`resume_run`).
        helpers.runs.RunError: the run has no store, or its pieces are no longer in it.
    """

    run = Run.open(run_dir)
    planned = run.check_epochs_left(epochs)
    vocab, settings = run.vocab, run.settings
    if not settings.get("store"):
        raise RunError(f"{run.path}: the run was not trained from a token store; use resume_run")
    try:
        store = token_store.TokenStore.open(settings["store"])
        train_codes = store.stream(settings["train_pieces"])
        val_codes = store.stream(settings["val_pieces"]) if settings["val_pieces"] else None
    except (token_store.StoreError, DataError) as error:
        raise RunError(f"{run.path}: cannot read the run's token store again ({error})") from error
    return _train_on(run, vocab, train_codes, val_codes, planned, verbose, tensorboard, strategy)


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
    top_p: float | None = None,
) -> tuple[Path, pd.DataFrame]:
    """Generate a piece from a run folder and write it as MIDI; return ``(path, notes)``.

    The piece goes to ``output``, by default a new ``<run_dir>/generated/<arch>-<method>-NNN.mid``
    beside the model that made it, never over an earlier piece.

    The primer is the run's saved ``primer.json`` (a window of held-out data) unless
    ``primer_midi`` names a MIDI file; tokens the model does not know are mapped to the
    nearest known token (see :meth:`helpers.tokens.Vocabulary.encode`). A run trained on keys
    normalised to C major / A minor writes its piece in the primer's own key.
    """
    export.make_instrument(instrument)  # an unknown instrument fails now, before any work
    run_dir = Path(run_dir)
    run = Run.open(run_dir)
    model, vocab, settings = run.load_model(weights), run.vocab, run.settings
    seq_length = settings["seq_length"]
    if primer_midi:
        primer = primer_from_midi(primer_midi, seq_length, vocab.encoding, settings.get("normalise_keys", False))
    else:
        primer = run.primer
    notes = to_primer_key(
        generate_notes(model, vocab, primer, n_notes, method, temperature, top_k, seed, rhythm=rhythm, top_p=top_p), primer
    )
    stem = f"{settings['architecture']}-{method}"
    target = Path(output) if output else config.unique_path(run_dir / "generated", stem, ".mid")
    try:
        path = export.notes_to_midi(notes, target, instrument)
    except BaseException:
        if not output and target.is_file() and not target.stat().st_size:  # the name claimed, nothing written
            target.unlink()
        raise
    return path, notes


def to_primer_key(notes: pd.DataFrame, primer: dict) -> pd.DataFrame:
    """Notes generated by a run on keys normalised to C major / A minor, moved back to the key of
    their primer (``primer["key_shift"]``); notes moved outside MIDI's 0..127 are dropped."""
    if not primer.get("key_shift"):
        return notes
    notes = notes.assign(pitch=notes["pitch"] - primer["key_shift"])
    return notes[notes["pitch"].between(0, 127)].reset_index(drop=True)


def generate_notes(
    model_or_stepper,
    vocab: Vocabulary,
    primer: dict,
    n_notes: int = 500,
    method: str = "sample",
    temperature: float = 1.0,
    top_k: int | None = None,
    seed: int | None = 0,
    rhythm: str = "data",
    batch: int | None = None,
    top_p: float | None = None,
) -> pd.DataFrame | list[pd.DataFrame]:
    """New notes from a model and a primer (``primer.json``'s dict), for any token encoding.

    Chord tokens (``voiced``, ``chapter``) give ``n_notes`` events placed by ``rhythm``
    (``"data"``: the primer's passage; ``"even"``: the chapter's spacing). MIDI-like tokens
    carry their own timing (``rhythm`` is not used): see :func:`generate_midilike_notes`.
    With ``batch``, that many pieces from the same primer, returned as a list. ``method``,
    ``temperature``, ``top_k``, ``top_p``: see :func:`helpers.generation.choose_next`.
    """
    from helpers import fast_generation

    stepper = fast_generation.as_stepper(model_or_stepper)
    primer_codes = vocab.encode(primer["tokens"], unknown="nearest")
    if vocab.encoding == midilike.ENCODING:
        return generate_midilike_notes(stepper, vocab, primer_codes, n_notes, method, temperature, top_k, seed, batch, top_p=top_p)
    if rhythm == "data":
        rhythm_events = pd.DataFrame({"step": primer["steps"], "duration": primer["durations"]})
        offsets, durations = export.data_rhythm(rhythm_events, n_notes, start=len(primer["tokens"]))
    elif rhythm == "even":
        step = primer.get("even_step") or chapter.even_step(np.cumsum(primer["steps"]))
        offsets, durations = chapter.even_rhythm(n_notes, step)
    else:
        raise ValueError(f"rhythm={rhythm!r}: expected one of {', '.join(export.RHYTHMS)}")
    primers = np.repeat(primer_codes[None, :], batch or 1, axis=0)
    codes = fast_generation.generate_codes(stepper, primers, n_notes, method, temperature, top_k, seed, top_p=top_p)
    pieces = [export.tokens_to_notes(vocab.decode(row), offsets, durations) for row in codes]
    return pieces if batch else pieces[0]


def generate_midilike_notes(
    model_or_stepper,
    vocab: Vocabulary,
    primer_codes: np.ndarray,
    n_notes: int = 500,
    method: str = "sample",
    temperature: float = 1.0,
    top_k: int | None = None,
    seed: int | None = 0,
    batch: int | None = None,
    top_p: float | None = None,
) -> pd.DataFrame | list[pd.DataFrame]:
    """Continue a primer of MIDI-like codes until ``n_notes`` notes are written; decode them.

    The timing comes from the model's own ``T`` and ``D`` tokens (notebook 08). The primer is
    not part of the piece. With ``batch``, as many pieces are made at once from the same
    primer (different random draws) and a list of notes tables is returned.
    """
    from helpers import fast_generation

    stepper = fast_generation.as_stepper(model_or_stepper)
    primer = np.asarray(primer_codes)
    primers = np.repeat(primer[None, :], batch or 1, axis=0)
    # Music takes about 2 tokens a note: try 3 a note, then (the same seed draws the same numbers
    # first, so the piece starts the same) up to MAX_TOKENS_PER_NOTE; a model that writes fewer
    # notes than that (an untrained one) gives a shorter piece, or none.
    for length in (3 * max(n_notes, 1), MAX_TOKENS_PER_NOTE * max(n_notes, 1)):
        codes = fast_generation.generate_codes(stepper, primers, length, method, temperature, top_k, seed, top_p=top_p)
        pieces = [midilike.tokens_to_notes(vocab.decode(row)) for row in codes]
        if all(len(piece) >= n_notes for piece in pieces):
            break
    pieces = [piece.head(n_notes).reset_index(drop=True) for piece in pieces]
    return pieces if batch else pieces[0]


@dataclass
class Evaluation:
    """What :func:`evaluate_run` measured; ``str()`` gives the report the CLI prints.

    Attributes:
        run: the run folder.
        cross_entropy: :func:`helpers.evaluate.baseline_table` — the run (row named after its
            folder) beside the unigram, bigram and trigram on the same validation tokens.
        samples: the sampled pieces (notes tables).
        verdicts: :func:`helpers.evaluate.verdicts` of the samples against windows of the
            validation pieces of the same number of events.
        copy: :func:`helpers.evaluate.copy_check` of the samples.
        argmax_longest_run: longest run of one event in the argmax continuation of the primer
            (``None``: argmax wrote no note at all).
        silent_samples: sampled pieces left out because they hold no note.
    """

    run: Path
    encoding: str
    cross_entropy: pd.DataFrame
    samples: list[pd.DataFrame]
    verdicts: pd.DataFrame
    copy: pd.Series
    argmax_longest_run: int | None
    silent_samples: int = 0

    def __str__(self) -> str:
        with pd.option_context("display.width", 120, "display.max_columns", 20):
            inside = int(self.verdicts["inside"].sum())
            lines = [
                f"run {config.relative(self.run)} ({self.encoding} tokens), {int(self.cross_entropy['tokens'].iloc[0]):,} held-out tokens",
                "",
                "next-token cross-entropy on the validation pieces (nats/token; lower is better):",
                self.cross_entropy.round(3).to_string(),
                "",
                f"{len(self.samples)} sampled pieces against windows of the validation pieces "
                f"({inside} of {len(self.verdicts)} metrics inside the range):",
                self.verdicts.round(3).to_string(),
                "",
                f"copied 8-event runs: generated {self.copy['generated']:.1%}, "
                f"validation pieces {self.copy['validation']:.1%} (both against the training pieces)",
                "argmax: "
                + (
                    f"longest run of one event {self.argmax_longest_run}"
                    if self.argmax_longest_run is not None
                    else "no note at all (only time shifts or durations)"
                ),
            ]
            if self.silent_samples:
                lines.append(f"{self.silent_samples} sampled piece(s) without a single note were left out")
        return "\n".join(lines)


def evaluate_run(
    run_dir: Path | str,
    pieces: int | None = None,
    samples: int = 8,
    n_notes: int = 200,
    temperature: float = 1.0,
    top_k: int | None = None,
    seed: int | None = 0,
    weights: str | Path = "best",
    corpus: Corpus | None = None,
    top_p: float | None = None,
) -> Evaluation:
    """Judge a run on its own validation pieces (notebook 09; ``python -m helpers evaluate``).

    Args:
        run_dir: the run folder; its data folder is read again (or pass ``corpus``).
        pieces: use only the first ``pieces`` validation pieces (default: all).
        samples: pieces sampled from the run's primer for the musical metrics.
        n_notes: notes (MIDI-like) or events (chord tokens) per sampled piece.
        temperature, top_k, top_p, seed: sampling settings (see :mod:`helpers.generation`).
        weights: as for :meth:`helpers.runs.Run.load_model`.

    Raises:
        helpers.runs.RunError: the run has no validation pieces, or its data folder is gone.
    """
    from helpers import evaluate, fast_generation

    run_dir = Path(run_dir)
    run = Run.open(run_dir)
    model, vocab, settings = run.load_model(weights), run.vocab, run.settings
    val_pieces = list(settings.get("val_pieces") or [])[: pieces or None]
    if not val_pieces:
        raise RunError(f"{run_dir}: the run has no validation pieces to evaluate on (trained with --val-fraction 0)")
    try:
        corpus = corpus or run_corpus(run)
    except (midi_reader.MidiError, FileNotFoundError, NotADirectoryError) as error:
        raise RunError(f"{run_dir}: cannot read the run's data again ({error})") from error
    by_piece = dict(tuple(corpus.events.groupby("piece", sort=False)["token"]))
    missing = [p for p in [*settings["train_pieces"], *val_pieces] if p not in by_piece]
    if missing:
        raise RunError(f"{run_dir}: {len(missing)} of the run's pieces are no longer in its data folder, e.g. {missing[0]}")

    def codes(names):
        return [vocab.encode(by_piece[name].tolist(), unknown="nearest") for name in names]

    stepper = fast_generation.Stepper(model)
    val_codes = codes(val_pieces)
    table = evaluate.baseline_table(
        codes(settings["train_pieces"]),
        val_codes,
        len(vocab),
        {run_dir.name: evaluate.stepper_scores(stepper, val_codes)},
    )
    primer = run.primer
    sampled = generate_notes(stepper, vocab, primer, n_notes, "sample", temperature, top_k, seed, batch=samples, top_p=top_p)
    sampled = [notes.assign(piece=f"sample-{i + 1}") for i, notes in enumerate(sampled)]
    silent = sum(notes.empty for notes in sampled)  # a model may write only time shifts
    sampled = [notes for notes in sampled if not notes.empty]
    if not sampled:
        raise RunError(f"{run_dir}: none of the {samples} sampled pieces has a note; train the model longer")
    metrics = evaluate.metrics_table({notes["piece"].iloc[0]: notes for notes in sampled})
    val_notes = corpus.notes[corpus.notes["piece"].isin(val_pieces)]
    train_notes = corpus.notes[corpus.notes["piece"].isin(settings["train_pieces"])]
    n_events = int(np.median([len(evaluate.event_tokens(notes)[notes["piece"].iloc[0]]) for notes in sampled]))
    verdicts = evaluate.verdicts(metrics, evaluate.validation_ranges(val_notes, n_events))
    copy = evaluate.copy_check(pd.concat(sampled, ignore_index=True), train_notes, val_notes)
    argmax = generate_notes(stepper, vocab, primer, n_notes, "argmax")
    longest = int(evaluate.music_metrics(argmax)["longest_run"]) if len(argmax) else None
    return Evaluation(run_dir, vocab.encoding, table, sampled, verdicts, copy, longest, silent)
