"""The playground of notebook 10: turn a knob, hear the new piece at once.

Every control of notebook 10 is a field of :class:`Choice`. :class:`Playground` turns a choice
into a :class:`Piece` — the generated notes, a MIDI file, a player, a piano roll and the score
of the opening — and keeps each run's model and each primer loaded, so that a change costs
only the generation (milliseconds) and the drawing. :func:`controls` wraps it in ipywidgets;
the callbacks are the plain methods here, tested without a browser.

With ``MUSICGEN_STATIC=1`` (set by the tests and by ``scripts/run_notebooks.py``, so that the
committed outputs stay comparable), or without ipywidgets, :func:`show` displays the piece of
the given choice as plain cell outputs instead of the controls.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from helpers import config, pipeline
from helpers.runs import Run

#: The primer named so in the controls is the run's own ``primer.json`` (a held-out opening).
RUN_PRIMER = "the run's own primer (held out)"
#: Instruments offered in the controls (music21 names; every General MIDI program works in code).
INSTRUMENTS = ("Piano", "Harpsichord", "Electric Piano", "Vibraphone", "Marimba", "Organ", "Acoustic Guitar",
               "Violin", "Cello", "Flute", "Clarinet", "Oboe", "Trumpet", "Choir")
#: Quarter lengths engraved in the score (two bars): enough to read, quick to draw.
SCORE_QUARTERS = 8.0
#: The environment variable that asks for plain outputs instead of widgets.
STATIC_VARIABLE = "MUSICGEN_STATIC"


@dataclass(frozen=True)
class Choice:
    """Everything a reader can turn in the playground.

    Attributes:
        run: the run folder's name under ``outputs/runs`` (e.g. ``"gru-improved-001"``).
        primer: :data:`RUN_PRIMER`, or the file name of a piece in the run's data folder whose
            opening starts the piece.
        temperature: > 0; below 1 sharper (safer), above 1 flatter (wilder).
        top_k: sample among the ``top_k`` likeliest tokens only; 0: all.
        top_p: sample among the likeliest tokens that hold this share of the probability; 1: all.
        notes: notes (MIDI-like runs) or events (chord-token runs) to generate.
        seed: the same seed and settings give the same piece.
        instrument: a name of :data:`INSTRUMENTS` or any General MIDI program 0..127.
    """

    run: str
    primer: str = RUN_PRIMER
    temperature: float = 1.0
    top_k: int = 0
    top_p: float = 1.0
    notes: int = 120
    seed: int = 0
    instrument: str | int = "Piano"

    def sampling(self) -> dict:
        """The sampling settings as :func:`helpers.pipeline.generate_notes` takes them."""
        return {"temperature": self.temperature, "top_k": self.top_k or None, "top_p": self.top_p if self.top_p < 1 else None}

    def title(self) -> str:
        """A short name of the piece for captions: run, primer and the settings that differ from plain sampling."""
        parts = [f"T={self.temperature:g}"]
        parts += [f"top-k {self.top_k}"] if self.top_k else []
        parts += [f"top-p {self.top_p:g}"] if self.top_p < 1 else []
        primer = "own primer" if self.primer == RUN_PRIMER else Path(self.primer).stem
        return f"{self.run}, {primer}, {', '.join(parts)}, seed {self.seed}"


@dataclass
class Piece:
    """What one choice gave: the notes, the MIDI file, and what a cell shows of them."""

    choice: Choice
    notes: pd.DataFrame
    path: Path
    shown: list = field(default_factory=list)  # player, piano roll, score: displayed in this order

    def summary(self) -> str:
        """One line of numbers about the piece (notes, distinct pitches, length in quarters)."""
        end = float((self.notes["offset"] + self.notes["duration"]).max()) if len(self.notes) else 0.0
        return (f"{len(self.notes)} notes, {self.notes['pitch'].nunique()} distinct pitches, "
                f"{end:.0f} quarter lengths — {self.choice.title()}")


def interactive() -> bool:
    """Whether :func:`show` may draw widgets: not with ``MUSICGEN_STATIC=1``, and only when ipywidgets imports."""
    if os.environ.get(STATIC_VARIABLE, "").strip() not in ("", "0"):
        return False
    try:
        import ipywidgets  # noqa: F401
    except ImportError:
        return False
    return True


def run_names(runs_dir: Path | str | None = None) -> list[str]:
    """The runs that can generate (a vocabulary, settings and a best checkpoint), newest first."""
    folder = Path(runs_dir or config.RUNS_DIR)
    found = []
    for path in folder.iterdir() if folder.is_dir() else ():
        run = Run(path)
        if run.vocab_path.is_file() and run.config_path.is_file() and len(run.checkpoints):
            found.append((path.stat().st_mtime, path.name))
    return [name for _, name in sorted(found, reverse=True)]


class Playground:
    """Turns a :class:`Choice` into a :class:`Piece`, with every run and primer loaded once.

    Args:
        runs_dir: where the runs are (default ``outputs/runs``).
        output: the MIDI file the current piece is written to, overwritten at every change
            (default ``outputs/generated/playground.mid``); :meth:`save` keeps one for good.
    """

    def __init__(self, runs_dir: Path | str | None = None, output: Path | str | None = None):
        self.runs_dir = Path(runs_dir or config.RUNS_DIR)
        self.output = Path(output or config.GENERATED_DIR / "playground.mid")
        self._models: dict[str, tuple] = {}
        self._primers: dict[tuple[str, str], dict] = {}

    def model(self, run_name: str) -> tuple:
        """``(stepper, vocab, settings, run)`` of a run, loaded once (the best checkpoint)."""
        if run_name not in self._models:
            from helpers import fast_generation

            run = Run.open(self.runs_dir / run_name)
            stepper = fast_generation.as_stepper(run.load_model("best"))
            self._models[run_name] = (stepper, run.vocab, run.settings, run)
        return self._models[run_name]

    def primer_names(self, run_name: str) -> list[str]:
        """The primers a run offers: its own, then its held-out pieces, then its training pieces."""
        settings = self.model(run_name)[2]
        return [RUN_PRIMER, *sorted(settings.get("val_pieces", [])), *sorted(settings.get("train_pieces", []))]

    def primer(self, run_name: str, name: str = RUN_PRIMER) -> dict:
        """The primer called ``name`` (see :meth:`primer_names`), read once."""
        key = (run_name, name)
        if key not in self._primers:
            _, vocab, settings, run = self.model(run_name)
            if name == RUN_PRIMER:
                self._primers[key] = run.primer
            else:
                self._primers[key] = pipeline.primer_from_midi(
                    run.data_folder / name, settings["seq_length"], vocab.encoding, settings.get("normalise_keys", False)
                )
        return self._primers[key]

    def notes(self, choice: Choice) -> pd.DataFrame:
        """The notes of a choice: generated from its primer, in the primer's key."""
        stepper, vocab, _, _ = self.model(choice.run)
        primer = self.primer(choice.run, choice.primer)
        notes = pipeline.generate_notes(stepper, vocab, primer, choice.notes, "sample", seed=choice.seed, **choice.sampling())
        return pipeline.to_primer_key(notes, primer)

    def piece(self, choice: Choice, draw: bool = True) -> Piece:
        """Generate, write :attr:`output` and, with ``draw``, make the player, the piano roll and the score."""
        from helpers import export

        notes = self.notes(choice)
        config.ensure_dir(self.output.parent)
        path = export.notes_to_midi(notes, self.output, choice.instrument)
        piece = Piece(choice, notes, path)
        if draw:
            import matplotlib.pyplot as plt

            from helpers import audio, plots, score

            piece.shown.append(audio.midi_to_player(path, title=choice.title()))
            roll = plots.plot_piano_roll(notes, title=choice.title())
            plt.close(roll)  # shown once, by whoever displays the piece
            piece.shown.append(roll)
            piece.shown.append(score.notes_to_sheet(notes, SCORE_QUARTERS, title=choice.title()))
        return piece

    def save(self, choice: Choice) -> Path:
        """Keep the piece of ``choice`` as a new ``outputs/generated/playground-NNN.mid``."""
        from helpers import export

        return export.notes_to_midi(self.notes(choice), instrument=choice.instrument, stem="playground")


def show(playground: Playground, choice: Choice):
    """The controls, or — without a live front end (:func:`interactive`) — the piece of ``choice``.

    Returns the controls' widget, or the :class:`Piece` shown.
    """
    from IPython.display import display

    if interactive():
        widget = controls(playground, choice)
        display(widget)
        return widget
    piece = playground.piece(choice)
    print(piece.summary())
    for item in piece.shown:
        display(item)
    return piece


def controls(playground: Playground, choice: Choice):
    """ipywidgets for every field of :class:`Choice`; each change regenerates and redraws the piece.

    Sliders act when released. A "Keep this piece" button writes it to a new file.
    """
    import ipywidgets as w
    from IPython.display import display

    runs = run_names(playground.runs_dir)
    if choice.run not in runs:
        runs = [choice.run, *runs]
    style = {"description_width": "8em"}
    layout = w.Layout(width="32em")
    fields = {
        "run": w.Dropdown(options=runs, value=choice.run, description="run"),
        "primer": w.Dropdown(options=playground.primer_names(choice.run), value=choice.primer, description="primer"),
        "temperature": w.FloatSlider(value=choice.temperature, min=0.1, max=2.0, step=0.05, description="temperature"),
        "top_k": w.IntSlider(value=choice.top_k, min=0, max=64, description="top-k (0: off)"),
        "top_p": w.FloatSlider(value=choice.top_p, min=0.05, max=1.0, step=0.05, description="top-p (1: off)"),
        "notes": w.IntSlider(value=choice.notes, min=16, max=500, step=8, description="notes"),
        "seed": w.IntText(value=choice.seed, description="seed"),
        "instrument": w.Dropdown(options=sorted({*INSTRUMENTS, choice.instrument}, key=str), value=choice.instrument,
                                 description="instrument"),
    }
    for widget in fields.values():
        widget.style, widget.layout = style, layout
        if hasattr(widget, "continuous_update"):
            widget.continuous_update = False
    keep = w.Button(description="Keep this piece", tooltip="write it to a new file in outputs/generated/")
    status = w.Label()
    out = w.Output()

    def current() -> Choice:
        return Choice(**{name: widget.value for name, widget in fields.items()})

    def redraw(_=None) -> None:
        with out:
            out.clear_output(wait=True)
            piece = playground.piece(current())
            status.value = piece.summary()
            for item in piece.shown:
                display(item)

    def new_run(change) -> None:
        fields["primer"].unobserve(redraw, "value")
        fields["primer"].options = playground.primer_names(change["new"])
        fields["primer"].value = RUN_PRIMER
        fields["primer"].observe(redraw, "value")
        redraw()

    def keep_piece(_) -> None:
        status.value = f"kept as {config.relative(playground.save(current()))}"

    for name, widget in fields.items():
        widget.observe(new_run if name == "run" else redraw, "value")
    keep.on_click(keep_piece)
    redraw()
    return w.VBox([w.HBox([w.VBox(list(fields.values())[:4]), w.VBox([*list(fields.values())[4:], keep])]), status, out])
