"""Command line: ``python -m helpers {prepare,train,generate,run} --help``.

A thin face over helpers.pipeline, for training on a server or on your own MIDI
collection — the LSTM post's scripts, done properly. Every training run gets its own folder
``outputs/runs/<arch>-NNN/`` (model, vocabulary, settings, history, checkpoints, and the pieces
generated from it), never over an earlier one. Errors in the input end with one line on
stderr and exit status 2, no traceback (a folder with no usable MIDI: the files and their
reasons too); every option is checked before any work starts, and a command that fails leaves
no half-made file or run folder behind. Ctrl-C during training keeps the last finished epoch
(exit status 130), and ``train --resume RUN_FOLDER`` continues from it. ``prepare`` never
imports TensorFlow. For a collection larger than memory, ``--store FOLDER`` keeps the tokens
in an on-disk token store (helpers/token_store.py) and trains from it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from helpers import config, midi_reader
from helpers.errors import OptionError


def _number(convert, accept, wanted: str):
    """An argparse type: ``convert`` the text, then check it with ``accept``."""

    def parse(text: str):
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {wanted}, got {text!r}") from None
        if not accept(value):
            raise argparse.ArgumentTypeError(f"expected {wanted}, got {text}")
        return value

    return parse


_positive = _number(int, lambda value: value >= 1, "a whole number >= 1")
_positive_float = _number(float, lambda value: value > 0, "a number > 0")
_fraction = _number(float, lambda value: 0 <= value < 1, "a number from 0 up to (not including) 1")
_top_p = _number(float, lambda value: 0 < value <= 1, "a probability above 0 and at most 1")
_seconds = _number(float, lambda value: value >= 0, "seconds >= 0 (0: no limit)")


def _add_load_options(parser: argparse.ArgumentParser) -> None:
    """The per-file limits of :func:`helpers.midi_io.load_midi_files` and the whole load report."""
    group = parser.add_argument_group("reading MIDI: per-file limits and the load report")
    group.add_argument(
        "--max-file-mb", type=_positive_float, help=f"skip files larger than this many MiB (default {midi_reader.MAX_FILE_BYTES / 2**20:g})"
    )
    group.add_argument("--max-notes", type=_positive, help=f"skip files with more note-ons (default {midi_reader.MAX_NOTES:,})")
    group.add_argument(
        "--max-quarters",
        type=_positive_float,
        help=f"skip pieces longer than this many quarter notes (default {midi_reader.MAX_QUARTERS:,.0f})",
    )
    group.add_argument(
        "--timeout", type=_seconds, help=f"skip a file that takes longer to read, seconds; 0: no limit (default {midi_reader.TIMEOUT_S:g})"
    )
    group.add_argument(
        "--report", type=Path, metavar="FILE.csv", help="write the whole load report (every file, its status, reason and next step) as CSV"
    )
    group.add_argument(
        "--all", action="store_true", help="list every damaged and skipped file in the printed report (default: the first 20 of each)"
    )


def _load_options(args: argparse.Namespace) -> dict:
    """The limits given on the command line, as :class:`helpers.midi_reader.Limits` names them."""
    options = {}
    if args.max_file_mb is not None:
        options["max_file_bytes"] = int(args.max_file_mb * 2**20)
    if args.max_notes is not None:
        options["max_notes"] = args.max_notes
    if args.max_quarters is not None:
        options["max_quarters"] = args.max_quarters
    if args.timeout is not None:
        options["timeout"] = args.timeout or None
    return options


_MORE = "--all lists them all, --report FILE.csv saves the whole report"


def _add_data_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("data")
    group.add_argument("--data", type=Path, default=config.DATA_DIR, help="folder of MIDI files, searched recursively (default: data/midi)")
    group.add_argument("--limit", type=_positive, help="use only this many files, a random sample drawn with --seed")
    group.add_argument("--seed", type=int, default=0, help="seed of the sample, the split and the initial weights (default 0)")
    group.add_argument(
        "--encoding",
        choices=["voiced", "chapter", "midilike"],
        default="voiced",
        help="tokens: voiced chords (default), the chapter's chords, or midilike pitch/duration/time-shift "
        "events whose rhythm the model learns (notebook 08)",
    )
    group.add_argument(
        "--keys",
        choices=["as-written", "normalise"],
        help="normalise: move every piece to C major / A minor first (default for --encoding midilike; "
        "notebook 08); as-written: keep each piece's key (default for chord tokens)",
    )
    group.add_argument(
        "--store",
        type=Path,
        metavar="FOLDER",
        help="large collections (--encoding midilike only): keep the tokens in an on-disk token store in "
        "FOLDER, read a chunk of files at a time with a progress bar, and train from it without "
        "loading it; memory stays bounded by the model, not the data. Ctrl-C keeps every finished "
        "chunk: the same command goes on where it stopped, and a grown folder is appended",
    )


def _add_train_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("model and training")
    group.add_argument(
        "--arch",
        choices=["gru", "lstm"],
        default="gru",
        help="GRU (default) or LSTM; with the chapter's recipe: the chapter's GRU or the LSTM composer",
    )
    group.add_argument(
        "--recipe",
        choices=["chapter", "improved"],
        help="chapter: scaled input, one target per window, RMSprop (default for chord tokens); improved: "
        "embedding, a target at every step, Adam, learning rate schedule, early stopping, "
        "(default for --encoding midilike; notebook 08)",
    )
    group.add_argument(
        "--units",
        type=_positive,
        nargs="+",
        help="recurrent layer sizes (default: chapter GRU 16 64 64, LSTM 512 512 512; improved 256 256)",
    )
    group.add_argument("--dropout", type=_fraction, help="dropout rate (default 0.3)")
    group.add_argument("--dense-units", type=int, help="chapter recipe: hidden Dense layer size, 0 for none (default: GRU 16, LSTM 256)")
    group.add_argument(
        "--input",
        dest="input_encoding",
        choices=["scaled", "embedding"],
        help="chapter recipe: input encoding (default: scaled, the chapter's; the improved recipe always embeds)",
    )
    group.add_argument("--learning-rate", type=_positive_float, help="initial learning rate (default: RMSprop 0.001, Adam 0.002)")
    group.add_argument(
        "--epochs",
        type=_positive,
        help="epochs in all (default: 3 in fast mode, 30 with MUSICGEN_MODE=full; "
        "with --resume: as started, more to train a finished run on)",
    )
    group.add_argument("--batch-size", type=_positive, help="windows per batch (default: chapter 64, improved 32)")
    group.add_argument("--seq-length", type=_positive, help="tokens per input window (default: chapter 100, improved 128)")
    group.add_argument("--val-fraction", type=_fraction, default=0.2, help="share of pieces held out for validation (default 0.2)")
    group.add_argument(
        "--early-stopping", type=_positive, help="stop after this many epochs without improvement (default: chapter never, improved 5)"
    )
    group.add_argument(
        "--time-limit", type=_positive_float, metavar="MINUTES", help="stop after the last epoch that ends within this many minutes"
    )
    group.add_argument(
        "--strategy",
        choices=["default", "mirrored"],
        default="default",
        help="mirrored: one model copy per local GPU (or logical CPU device), --batch-size per copy (default: one device; "
        "several machines: not with Keras 3, see the README)",
    )
    group.add_argument(
        "--tensorboard", action="store_true", help="also write TensorBoard logs into RUN/logs (watch: tensorboard --logdir outputs/runs)"
    )
    group.add_argument(
        "--transpose",
        action="store_true",
        help="improved recipe: play each training window in one of 12 keys at random (augmentation; try with --keys as-written)",
    )


def _add_generate_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("generation")
    group.add_argument("--notes", type=_positive, default=500, help="notes (events) to generate (default 500)")
    group.add_argument("--method", choices=["sample", "argmax"], default="sample", help="sample (default) or argmax (the chapter's)")
    group.add_argument("--temperature", type=_positive_float, default=1.0, help="sampling temperature > 0 (default 1.0)")
    group.add_argument("--top-k", type=_positive, help="sample among the k likeliest tokens only")
    group.add_argument(
        "--top-p",
        type=_top_p,
        metavar="P",
        help="sample among the likeliest tokens that hold probability P together (nucleus, 0 < P <= 1; after temperature and top-k)",
    )
    group.add_argument("--gen-seed", type=int, default=0, help="sampling seed: the same seed gives the same piece (default 0)")
    group.add_argument(
        "--primer",
        type=Path,
        help="MIDI file whose opening starts the piece (default: the run's held-out primer); "
        "a run with the chapter's scaled input ignores it (see notebook 06)",
    )
    group.add_argument(
        "--rhythm",
        choices=["data", "even"],
        default="data",
        help="chord-token runs: rhythm from the data (default) or the chapter's even spacing; "
        "midilike runs play the rhythm the model wrote",
    )
    group.add_argument("--instrument", default="Piano", help="instrument name (e.g. Violin) or General MIDI program 0..127 (default Piano)")
    group.add_argument("--audio", choices=["wav", "mp3", "both"], help="also render the piece as WAV and/or MP3 beside the MIDI file")


def build_parser() -> argparse.ArgumentParser:
    prog = "musicgen" if Path(sys.argv[0]).name == "musicgen" else "python -m helpers"  # the installed command, or -m
    parser = argparse.ArgumentParser(
        prog=prog,
        description=__doc__.split("\n\n")[1].replace("\n", " ").replace("``", ""),
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    prepare = commands.add_parser(
        "prepare",
        help="read a MIDI folder, print the load report",
        description="Read every MIDI file of a folder, print the load report and the vocabulary size.",
    )
    _add_data_options(prepare)
    _add_load_options(prepare)
    train = commands.add_parser(
        "train",
        help="train a model into a new run folder under outputs/runs",
        description="Train the chapter's GRU or the LSTM composer into a new run folder outputs/runs/<arch>-NNN.",
    )
    _add_data_options(train)
    _add_load_options(train)
    _add_train_options(train)
    train.add_argument(
        "--resume",
        type=Path,
        metavar="RUN_FOLDER",
        help="continue this run from its last finished epoch (model and data options are taken from the run); "
        "a finished run trains on with --epochs M, M epochs in all",
    )
    generate = commands.add_parser(
        "generate",
        help="generate a piece from a run folder",
        description="Generate a piece from a trained run folder; no training data needed.",
    )
    generate.add_argument("run", type=Path, help="run folder, e.g. outputs/runs/gru-001")
    generate.add_argument("--weights", default="best", help="'best' checkpoint (default), 'final' model, or a checkpoint file")
    generate.add_argument("--output", type=Path, help="MIDI file to write, in an existing folder (default: a new file in RUN/generated/)")
    generate.add_argument(
        "--overwrite",
        action="store_true",
        help="let --output replace an existing file (its .wav/.mp3 from before are removed, or written anew with --audio)",
    )
    _add_generate_options(generate)
    evaluate = commands.add_parser(
        "evaluate",
        help="held-out cross-entropy beside n-gram baselines, and metrics of sampled pieces against the data",
        description="Judge a run on its own validation pieces (notebook 09): next-token cross-entropy and accuracy "
        "beside unigram/bigram/trigram baselines on the same tokens; musical metrics of sampled pieces "
        "against the range of the validation pieces; the share of 8-grams copied from the training pieces.",
    )
    evaluate.add_argument("run", type=Path, help="run folder, e.g. outputs/runs/gru-improved-001")
    evaluate.add_argument("--pieces", type=_positive, help="use only the first N validation pieces (default: all)")
    evaluate.add_argument("--samples", type=_positive, default=8, help="pieces to sample for the metrics (default 8)")
    evaluate.add_argument("--notes", type=_positive, default=200, help="notes per sampled piece (default 200)")
    evaluate.add_argument("--temperature", type=_positive_float, default=1.0, help="sampling temperature (default 1.0)")
    evaluate.add_argument("--top-k", type=_positive, help="sample among the k likeliest tokens only")
    evaluate.add_argument(
        "--top-p", type=_top_p, metavar="P", help="sample among the likeliest tokens that hold probability P together (nucleus, 0 < P <= 1)"
    )
    evaluate.add_argument("--gen-seed", type=int, default=0, help="sampling seed (default 0)")
    evaluate.add_argument("--weights", default="best", help="'best' checkpoint (default), 'final' model, or a checkpoint file")
    run = commands.add_parser(
        "run", help="prepare, train and generate in one go", description="prepare + train + generate, with the options of all three."
    )
    _add_data_options(run)
    _add_load_options(run)
    _add_train_options(run)
    _add_generate_options(run)
    return parser


def _recipe(args: argparse.Namespace) -> str:
    return args.recipe or ("improved" if args.encoding == "midilike" else "chapter")


def _model_options(args: argparse.Namespace) -> dict:
    options = {}
    if args.dropout is not None:
        options["dropout"] = args.dropout
    if args.units:
        options["units"] = tuple(args.units)
    if args.learning_rate is not None:
        options["learning_rate"] = args.learning_rate
    if args.dense_units is not None:
        options["dense_units"] = args.dense_units or None
    return options


def _check_recipe_options(args: argparse.Namespace) -> None:
    """Refuse options of the chapter's recipe given to the improved one, before any work starts."""
    if _recipe(args) != "improved":
        return
    if args.dense_units is not None:
        raise OptionError("--dense-units belongs to the chapter's recipe; the improved recipe has no hidden Dense layer")
    if args.input_encoding == "scaled":
        raise OptionError("--input scaled belongs to the chapter's recipe; the improved recipe always uses an embedding")


def _train(args: argparse.Namespace, corpus, run_dir: Path):
    """Train a new run into ``run_dir``, or with ``--resume`` train it on; returns the :class:`helpers.runs.Run`."""
    from helpers import distribute, pipeline

    verbose = 1 if sys.stderr.isatty() else 2  # Keras' progress bar on a terminal, a line per epoch in logs
    strategy = None if args.strategy == "default" else distribute.make_strategy(args.strategy)
    if getattr(args, "resume", None):
        from helpers import runs

        if runs.Run.open(run_dir).settings.get("store"):  # trained by --store: its codes come from the store again
            return pipeline.resume_store_run(run_dir, args.epochs, verbose=verbose, tensorboard=args.tensorboard, strategy=strategy)
        return pipeline.resume_run(run_dir, args.epochs, verbose=verbose, tensorboard=args.tensorboard, strategy=strategy)
    improved = _recipe(args) == "improved"
    options = {  # the same for a MIDI folder and a token store
        "architecture": args.arch,
        "seq_length": args.seq_length or (128 if improved else 100),
        "epochs": args.epochs or config.pick(3, 30),
        "batch_size": args.batch_size or (32 if improved else 64),
        "val_fraction": args.val_fraction,
        "seed": args.seed,
        "run_dir": run_dir,
        "early_stopping": args.early_stopping or (5 if improved else None),
        "verbose": verbose,
        "recipe": _recipe(args),
        "transpose": args.transpose,
        "tensorboard": args.tensorboard,
        "strategy": strategy,
        "time_limit": args.time_limit * 60 if args.time_limit else None,
        **_model_options(args),
    }
    if args.store is not None:
        encoding = {"input_encoding": args.input_encoding} if args.input_encoding and not improved else {}
        return pipeline.train_store_run(corpus, **options, **encoding)
    return pipeline.train_run(corpus, input_encoding=args.input_encoding or "scaled", **options)


def _check_options(args: argparse.Namespace) -> None:
    """Check every option that names a file, folder or instrument before any work starts, so that
    ``run`` never trains for an hour and then refuses its ``--instrument``. Raises the errors
    :func:`main` turns into one line on stderr, each saying what to do."""
    from helpers import export, midi_io

    if args.command in ("prepare", "run") or (args.command == "train" and not args.resume):
        if args.data.is_file():
            raise NotADirectoryError(
                f"--data {args.data} is a file, not a folder: give the folder that holds it "
                f"(--data {args.data.parent}), or a folder of your own with only the files to use"
            )
        if not args.data.is_dir():
            raise FileNotFoundError(f"MIDI folder not found: {args.data}; give --data a folder of .mid/.midi files")
    if getattr(args, "report", None) is not None and args.report.is_dir():
        raise OptionError(f"--report {args.report} is a folder: give a file name, such as load-report.csv")
    if getattr(args, "store", None) is not None and not getattr(args, "resume", None):
        if args.encoding != "midilike":
            raise OptionError(
                "--store keeps MIDI-like tokens only (a fixed vocabulary, so files can be written as they "
                "are read; chord tokens need the whole folder's vocabulary first): add --encoding midilike"
            )
        if args.store.is_file():
            raise OptionError(f"--store {args.store} is a file: give a folder (new, or one that prepare --store wrote)")
    run_folder = getattr(args, "resume", None) or (args.run if args.command in ("generate", "evaluate") else None)
    for needed in ("vocab.json", "config.json") if run_folder else ():
        if not (run_folder / needed).is_file():
            raise OptionError(
                f"{run_folder} is not a run folder (no {needed}): give a folder written by train, such as outputs/runs/gru-001"
            )
    if args.command in ("generate", "run"):
        export.make_instrument(args.instrument)  # ExportError: unknown instrument, with the names to use
        if args.primer is not None:
            midi_io.midi_to_notes(args.primer)  # MidiLoadError: the primer is no usable MIDI, and what to do
        weights = getattr(args, "weights", "best")
        if weights not in ("best", "final") and not Path(weights).is_file():
            raise FileNotFoundError(f"--weights {weights}: no such checkpoint file; give 'best', 'final' or a file in RUN/checkpoints/")
        if getattr(args, "output", None) is not None:
            _check_output(args.output, args.overwrite)
        if args.audio:
            from helpers import audio

            audio.default_soundfont()  # AudioError: no SoundFont, and where to get one


def _print_report(args: argparse.Namespace, report) -> None:
    """Print the load report (every file with ``--all``) and write ``--report FILE.csv``."""
    from helpers import load_report

    if getattr(args, "report", None) is not None:
        written = report.to_csv(args.report)
        print(f"wrote {config.relative(written)}: the load report, {len(report.to_frame()):,} files")
    print(report.to_text(None if getattr(args, "all", False) else load_report.REPORT_LIST_LIMIT, _MORE))


def _finished_epochs(run_dir: Path | None) -> int:
    from helpers import runs

    return runs.Run(run_dir).epochs_done if run_dir else 0


def _interrupted(command: str, run_dir: Path | None, created: Path | None) -> str:
    """What Ctrl-C leaves behind, and the next step."""
    if command == "generate":
        return "interrupted: no piece was written (a piece is written whole or not at all)"
    if run_dir is None:
        return "interrupted before training started: no run folder was made"
    where = config.relative(run_dir)
    epochs = _finished_epochs(run_dir)
    if not epochs and created is not None:
        return (
            f"interrupted during the first epoch: no epoch finished, so nothing is kept ({where} was removed); "
            "start again with the same command"
        )
    return f"interrupted: the last finished epoch ({epochs}) is kept in {where}; continue with: python -m helpers train --resume {where}"


def _nothing_to_train(finished, epochs: int | None) -> str:
    """``train --resume`` of a run with no epoch left (``finished``, a :class:`helpers.runs.RunFinished`):
    what it did, and the command that trains on."""
    where, done = finished.run.path, finished.done  # as the user gave it: the command below works from here
    if finished.stopped_by:
        what = f"{where} stopped early at epoch {done} of {finished.planned} ({finished.stopped_by})"
        more = max(finished.planned, done + 1)
    elif epochs is not None:
        what = f"{where} has already finished {done} epochs (--epochs {epochs} asks for {epochs} in all)"
        more = 2 * done
    else:
        what = f"{where} finished its {done} epochs"
        more = 2 * done
    return (
        f"{what}, nothing to train; to train on, give --epochs M with M > {done}: python -m helpers train --resume {where} --epochs {more}"
    )


def _remove_unfinished(created: Path | None) -> None:
    """Remove a run folder this command created when no epoch of it finished: nothing half-made stays."""
    import shutil

    if created is not None and created.is_dir() and not _finished_epochs(created):
        shutil.rmtree(created, ignore_errors=True)


def _input_errors() -> tuple[type[BaseException], ...]:
    """The errors that mean bad input (one line on stderr, status 2): the helpers' own, and missing files.

    A bare ``ValueError`` or ``TypeError`` is a programming error and keeps its traceback.
    """
    from helpers.errors import MusicGenError

    return (MusicGenError, FileNotFoundError, NotADirectoryError)


def _check_output(output: Path, overwrite: bool) -> None:
    """``generate --output``: a file name in a folder that exists, and no silent overwrite."""
    if output.is_dir():
        raise OptionError(f"--output {output} is a folder: give a file name, such as {output / 'piece.mid'}")
    if not output.parent.is_dir():
        raise OptionError(f"--output {output}: the folder {output.parent} does not exist; create it first or give another path")
    if output.exists() and not overwrite:
        raise OptionError(f"--output {output} exists: give another name, or add --overwrite to replace it")


def _remove_stale_audio(midi_path: Path, written: tuple[str, ...]) -> None:
    """After ``--overwrite``: the .wav/.mp3 beside the MIDI file were made from the piece it replaced."""
    for suffix in (".wav", ".mp3"):
        stale = midi_path.with_suffix(suffix)
        if suffix[1:] not in written and stale.is_file():
            stale.unlink()
            print(f"removed {config.relative(stale)} (made from the piece --overwrite replaced)")


def _primer_note(run_dir: Path) -> str | None:
    """A warning when ``--primer`` cannot matter: the chapter's scaled input, which the model learns to ignore."""
    from helpers import runs

    settings = runs.Run.open(run_dir).settings
    if settings.get("input_encoding") != "scaled" or settings.get("builder") == "sequence":
        return None
    return (
        "note: this run reads its input as one scaled number per step (the chapter's --input scaled); such a model "
        "learns to ignore its input, so --primer hardly changes the piece (measured: the same 500 tokens). "
        "Train with --input embedding or --encoding midilike for a model that follows its primer."
    )


def main(argv: list[str] | None = None) -> int:
    """Run one command; return the exit status (0 ok, 2 bad input, 130 interrupted)."""
    from helpers import load_report, pipeline, runs  # not training: prepare runs without TensorFlow

    args = build_parser().parse_args(argv)
    run_dir = created = None
    try:
        _check_options(args)
        if args.command == "run" or (args.command == "train" and not args.resume):
            _check_recipe_options(args)
        corpus = None
        if args.command in ("prepare", "run") or (args.command == "train" and not args.resume):
            normalise = (args.keys or ("normalise" if args.encoding == "midilike" else "as-written")) == "normalise"
            if args.store is not None:  # the large-collection path: the tokens stay on disk
                corpus = pipeline.prepare_store(
                    args.data, args.store, args.limit, args.seed, args.encoding, normalise, **_load_options(args)
                )
                _print_report(args, corpus.report())
                print(
                    f"{corpus.n_codes:,} events of {len(corpus.pieces):,} pieces in the token store "
                    f"{config.relative(args.store)}, {len(corpus.vocab):,} distinct tokens"
                )
            else:
                corpus = pipeline.prepare(args.data, args.limit, args.seed, args.encoding, normalise, **_load_options(args))
                _print_report(args, corpus.report)
                print(f"{len(corpus.events):,} events, {len(corpus.vocab):,} distinct tokens")
        if args.command in ("train", "run"):
            run_dir = getattr(args, "resume", None) or runs.Run.create(pipeline.run_name(args.arch, _recipe(args))).path
            created = None if getattr(args, "resume", None) else run_dir
            _train(args, corpus, run_dir)
            run = runs.Run(run_dir)
            history = run.history
            last = history.iloc[-1]
            losses = ", ".join(f"{name} {last[name]:.4f}" for name in ("loss", "val_loss") if name in history)
            best = run.checkpoints.iloc[0]  # what generate and evaluate use by default
            monitor = "val_loss" if "val_loss" in history else "loss"
            print(
                f"run folder: {config.relative(run_dir)} ({len(history)} epochs; {losses}); "
                f"generate uses the best checkpoint: epoch {best['epoch']}, {monitor} {best['loss']:.4f}"
            )
        if args.command == "evaluate":
            result = pipeline.evaluate_run(
                args.run,
                pieces=args.pieces,
                samples=args.samples,
                n_notes=args.notes,
                temperature=args.temperature,
                top_k=args.top_k,
                seed=args.gen_seed,
                weights=args.weights,
                top_p=args.top_p,
            )
            print(result)
        if args.command == "generate":
            run_dir = args.run
        if args.command in ("generate", "run"):
            note = _primer_note(run_dir) if args.primer is not None else None
            if note:
                print(note, file=sys.stderr)
            path, notes = pipeline.generate_piece(
                run_dir,
                args.notes,
                args.method,
                args.temperature,
                args.top_k,
                args.gen_seed,
                args.primer,
                args.rhythm,
                args.instrument,
                weights=getattr(args, "weights", "best"),
                output=getattr(args, "output", None),
                top_p=args.top_p,
            )
            print(f"wrote {config.relative(path)}: {len(notes):,} notes")
            formats = {None: (), "both": ("wav", "mp3")}.get(args.audio, (args.audio,))
            if getattr(args, "overwrite", False):
                _remove_stale_audio(path, formats)
            if args.audio:
                from helpers import audio

                try:
                    for written in audio.save_audio(path, formats).values():
                        print(f"wrote {config.relative(written)}")
                except audio.AudioError as error:
                    print(f"error: no audio for {path.name}: {error}".splitlines()[0], file=sys.stderr)
                    return 2
    except runs.RunFinished as error:
        print(f"error: {_nothing_to_train(error, getattr(args, 'epochs', None))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        if run_dir is None and getattr(args, "store", None) is not None and not getattr(args, "resume", None):
            print(
                f"interrupted while preparing: the token store {config.relative(args.store)} keeps every finished "
                "chunk of files; run the same command again to go on from there",
                file=sys.stderr,
            )
            return 130
        print(_interrupted(args.command, run_dir, created), file=sys.stderr)
        _remove_unfinished(created)
        return 130
    except load_report.NoUsableMidiError as error:  # the files and their reasons, not only the first line
        if getattr(args, "report", None) is not None:
            error.report.to_csv(args.report)
        limit = None if getattr(args, "all", False) else load_report.REPORT_LIST_LIMIT
        print(f"error: {error.message(limit, _MORE)}", file=sys.stderr)
        return 2
    except _input_errors() as error:
        _remove_unfinished(created)
        print(f"error: {error}".splitlines()[0], file=sys.stderr)
        return 2
    except BaseException:
        _remove_unfinished(created)
        raise
    return 0
