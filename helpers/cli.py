"""Command line: ``python -m helpers {prepare,train,generate,run} --help``.

A thin face over :mod:`helpers.pipeline`, for training on a server or on your own MIDI
collection. Errors in the input end with one line on stderr and exit status 2, no traceback.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from helpers import config


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text}")
    return value


def _temperature(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text}")
    return value


def _add_data_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", type=Path, default=config.DATA_DIR, help="folder of MIDI files (default: data/midi)")
    parser.add_argument("--limit", type=_positive, help="use only this many files, a random sample")
    parser.add_argument("--seed", type=int, default=0, help="seed of the sample, the split and training")
    parser.add_argument("--encoding", choices=["voiced", "chapter"], default="voiced", help="token encoding")


def _add_train_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--arch", choices=["gru", "lstm"], default="gru", help="the chapter's GRU or the LSTM composer")
    parser.add_argument("--units", type=_positive, nargs="+", help="recurrent layer sizes (default: the source's)")
    parser.add_argument("--epochs", type=_positive, default=config.pick(3, 30), help="epochs (default: 3 fast, 30 full)")
    parser.add_argument("--batch-size", type=_positive, default=64)
    parser.add_argument("--seq-length", type=_positive, default=100)
    parser.add_argument("--input", dest="input_encoding", choices=["scaled", "embedding"], default="scaled")
    parser.add_argument("--resume", type=Path, help="continue the interrupted run in this folder")


def _add_generate_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--notes", type=_positive, default=500, help="notes to generate (default 500)")
    parser.add_argument("--method", choices=["sample", "argmax"], default="sample")
    parser.add_argument("--temperature", type=_temperature, default=1.0)
    parser.add_argument("--top-k", type=_positive)
    parser.add_argument("--primer", type=Path, help="MIDI file whose opening starts the piece")
    parser.add_argument("--rhythm", choices=["data", "even"], default="data")
    parser.add_argument("--instrument", default="Piano", help="instrument name or General MIDI program 0..127")
    parser.add_argument("--gen-seed", type=int, default=0, help="sampling seed")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m helpers", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    prepare = commands.add_parser("prepare", help="read and cache a MIDI folder, print the load report")
    _add_data_options(prepare)
    train = commands.add_parser("train", help="train a model into a new run folder under outputs/runs")
    _add_data_options(train)
    _add_train_options(train)
    generate = commands.add_parser("generate", help="generate a piece from a run folder")
    generate.add_argument("run", type=Path, help="run folder (outputs/runs/gru-001)")
    generate.add_argument("--weights", default="best", help="'best' (default), 'final' or a checkpoint file")
    generate.add_argument("--output", type=Path, help="MIDI file to write (default: new file in outputs/generated)")
    _add_generate_options(generate)
    run = commands.add_parser("run", help="prepare, train and generate in one go")
    _add_data_options(run)
    _add_train_options(run)
    _add_generate_options(run)
    return parser


def main(argv: list[str] | None = None) -> int:
    from helpers import export, midi_io, pipeline, tokens

    args = build_parser().parse_args(argv)
    try:
        if args.command in ("prepare", "train", "run"):
            corpus = pipeline.prepare(args.data, args.limit, args.seed, args.encoding)
            print(corpus.report)
            print(f"{len(corpus.events):,} events, {len(corpus.vocab):,} distinct tokens")
        if args.command in ("train", "run"):
            options = {"units": tuple(args.units)} if args.units else {}
            run_dir = pipeline.train_run(
                corpus, args.arch, args.seq_length, args.epochs, args.batch_size,
                input_encoding=args.input_encoding, seed=args.seed, run_dir=args.resume, **options,
            )
            print(f"run folder: {config.relative(run_dir)}")
        if args.command == "generate":
            run_dir = args.run
        if args.command in ("generate", "run"):
            path, notes = pipeline.generate_piece(
                run_dir, args.notes, args.method, args.temperature, args.top_k, args.gen_seed,
                args.primer, args.rhythm, args.instrument,
                weights=getattr(args, "weights", "best"), output=getattr(args, "output", None),
            )
            print(f"wrote {config.relative(path)}: {len(notes):,} notes")
    except (midi_io.MidiError, tokens.TokenError, export.ExportError, FileNotFoundError, ValueError) as error:
        print(f"error: {error}".splitlines()[0], file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: the last finished epoch is kept; continue with train --resume RUN_FOLDER", file=sys.stderr)
        return 130
    except Exception as error:  # run folders that do not fit, and the like
        from helpers.training import RunError

        if isinstance(error, RunError):
            print(f"error: {error}".splitlines()[0], file=sys.stderr)
            return 2
        raise
    return 0
