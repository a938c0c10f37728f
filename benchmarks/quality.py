"""The quality stage (issue 10): does the improved recipe make better music than counting does?

    .venv/bin/python -m benchmarks --stages quality                       # 15 minutes of training + ~5
    .venv/bin/python -m benchmarks --stages quality --quality-minutes 3   # a quicker look

Both models are trained here, on the same files and the same split by piece: the improved
recipe (MIDI-like tokens of pieces moved to C major / A minor,
:func:`helpers.models.build_sequence_model`) for at most
``--quality-minutes`` of wall clock, and the chapter's GRU on voiced chord tokens for its 30
epochs (or the same time, whichever ends first). Each is then judged on the held-out pieces
with :func:`helpers.pipeline.evaluate_run`: its cross-entropy beside n-gram baselines on its
own tokens, the musical metrics of 8 sampled pieces (temperature 1) against windows of the
validation pieces, the argmax continuation, and the copy check. In the table the *chapter*
column holds the reference of each line (the best n-gram, the validation pieces, the
chapter's model), the *project* column the improved model.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from helpers import pipeline

#: The improved model's held-out cross-entropy must be at least this share below the best n-gram's.
QUALITY_MARGIN = 0.10
#: Of the six main metrics, at least this many must be inside the validation range.
MIN_METRICS_INSIDE = 5
#: The argmax continuation must have no run of one event this long or longer.
MAX_ARGMAX_RUN = 8
#: The chapter's number of epochs.
CHAPTER_EPOCHS = 30


def bench_quality(folder: Path, minutes: float = 15.0, files: int | None = None, samples: int = 8, n_notes: int = 200):
    """Train both models within the budget, judge them, and return the stage's rows and reports."""
    from benchmarks.run import Row, Stage  # run.py imports this module: import back at call time

    stage = Stage()
    with tempfile.TemporaryDirectory(prefix="quality-") as scratch:
        scratch = Path(scratch)
        improved_corpus = pipeline.prepare(folder, limit=files, seed=0, encoding="midilike", normalise_keys=True)
        chapter_corpus = pipeline.prepare(folder, limit=files, seed=0, encoding="voiced")
        start = time.perf_counter()
        improved_run = pipeline.train_run(
            improved_corpus, "gru", 128, epochs=1000, batch_size=32, seed=0, run_dir=scratch / "gru-improved",
            early_stopping=8, recipe="improved", time_limit=minutes * 60,
        )
        improved_seconds = time.perf_counter() - start
        start = time.perf_counter()
        chapter_run = pipeline.train_run(
            chapter_corpus, "gru", 100, epochs=CHAPTER_EPOCHS, batch_size=64, seed=0, run_dir=scratch / "gru",
            time_limit=minutes * 60,
        )
        chapter_seconds = time.perf_counter() - start
        improved = pipeline.evaluate_run(improved_run, samples=samples, n_notes=n_notes, corpus=improved_corpus)
        chapter = pipeline.evaluate_run(chapter_run, samples=samples, n_notes=n_notes, corpus=chapter_corpus)
        epochs = {"improved": improved_run.epochs_done, "chapter": chapter_run.epochs_done}

    def nats(evaluation) -> tuple[float, float, str]:
        table = evaluation.cross_entropy
        ngrams = table.loc[["unigram", "bigram", "trigram"], "nats_per_token"]
        return float(table["nats_per_token"].iloc[-1]), float(ngrams.min()), str(ngrams.idxmin())

    model_nats, best_nats, best_name = nats(improved)
    below = 1 - model_nats / best_nats
    stage.rows.append(Row(
        "quality: held-out nats/token vs best n-gram", f"{best_nats:.3f} ({best_name})", f"{model_nats:.3f}",
        f"{below:.0%} less", f"≥{QUALITY_MARGIN:.0%} less", below >= QUALITY_MARGIN,
    ))
    chapter_nats, chapter_best, chapter_best_name = nats(chapter)
    stage.rows.append(Row(
        "— the chapter's GRU vs its own best n-gram", f"{chapter_best:.3f} ({chapter_best_name})",
        f"{chapter_nats:.3f}", f"{1 - chapter_nats / chapter_best:.1%} less", "", None, "voiced chord tokens",
    ))
    inside = int(improved.verdicts["inside"].sum())
    chapter_inside = int(chapter.verdicts["inside"].sum())
    total = len(improved.verdicts)
    stage.rows.append(Row(
        f"quality: {samples} samples inside the data's range", f"{chapter_inside} of {total}",
        f"{inside} of {total}", "", f"≥{MIN_METRICS_INSIDE} of {total}", inside >= MIN_METRICS_INSIDE,
        "chapter column: the chapter's GRU",
    ))
    longest = improved.argmax_longest_run
    stage.rows.append(Row(
        "quality: argmax longest run of one event", str(chapter.argmax_longest_run), str(longest), "",
        f"<{MAX_ARGMAX_RUN}", longest is not None and longest < MAX_ARGMAX_RUN,
        "chapter column: the chapter's GRU" + ("" if longest is not None else "; improved argmax wrote no note"),
    ))
    copied, own = float(improved.copy["generated"]), float(improved.copy["validation"])
    stage.rows.append(Row(
        "quality: 8-event runs found in training", f"{own:.1%}", f"{copied:.1%}", "",
        "≤ data's", copied <= own, "chapter column: the validation pieces' own share",
    ))
    stage.lines.append(
        f"trained: improved {epochs['improved']} epochs in {improved_seconds / 60:.1f} min (budget {minutes:g} min, "
        f"early stopping 8); chapter {epochs['chapter']} epochs in {chapter_seconds / 60:.1f} min"
    )
    for name, evaluation in (("improved recipe", improved), ("chapter's GRU", chapter)):
        stage.lines.append(f"--- {name}")
        stage.lines.extend(str(evaluation).splitlines())
    return stage
