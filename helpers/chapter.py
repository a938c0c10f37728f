"""The chapter's code, as printed, fixed only where it no longer runs.

*Deep Learning Projects Using TensorFlow 2*, chapter 5, step by step: read the notes
(:func:`extract_file`, :func:`extract`), cut the windows (:func:`prepare`, and
:func:`codes_to_windows` from codes), build and train the GRU (:func:`build_model`,
:func:`train`), predict note after note (:func:`generate`, :func:`generate_codes`) and space the
notes evenly (:func:`even_step`, :func:`even_rhythm`). Its loops, lists of lists, float64 arrays
and ``model.predict`` per note are kept, so that the notebooks can show them (01, 03, 06) and
``benchmarks/`` can time them beside the project's code on the same data. Each change is
marked ``# changed:``:

- file names come in as a list instead of ``os.listdir`` of a hard-coded Windows folder after
  ``os.chdir``, and every file is read (the chapter's ``random.sample(..., 5)`` and its
  ``matching[random.randint(1, len(matching))]``, which can index past the end, pick files at
  random; a benchmark must read the same files on both sides);
- ``string_midi.flat`` no longer exists in music21: ``string_midi.flatten()``;
- the chapter reads the first part's instrument name *before* checking that there are parts,
  which fails on a file without instrument parts; :func:`extract_file` reads it after the
  check unless ``as_printed=True`` (what :func:`extract`, the benchmark's loop, does);
- ``from keras.layers.core import ...`` and ``keras.utils.np_utils`` no longer exist in Keras 3:
  ``keras.layers`` and ``keras.utils``; the first GRU's ``input_shape=`` argument becomes a
  ``keras.Input`` (Keras 3 warns about the argument, the model is the same);
- what a file costs the loop (how many notes it kept, or the exception that would have stopped
  the chapter's notebook) is recorded, so that a benchmark run is not aborted by one file;
- ``force_source=True`` passes ``forceSource=True`` to ``converter.parse``, to measure a first
  read: music21 otherwise loads the pickles it stored of files it parsed before (in its scratch
  folder, ``/tmp/music21`` on Linux) — the chapter's loop, run again, has that cache.

Nothing here imports TensorFlow or music21 until a function needs it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from helpers.errors import DataError

SEQUENCE_LENGTH = 100  # the chapter's sequence_length
BATCH_SIZE = 64  # the chapter's batch_size


@dataclass
class ChapterNotes:
    """What the chapter's step 3 leaves behind, plus what each file gave.

    ``musical_note``, ``offset`` and ``instrumentlist`` are the chapter's three lists.
    ``per_file`` maps each file to the number of pitched notes its tokens hold (a chord token
    counts its pitches; a note tied over from a previous one is not counted again), or to the
    exception the chapter's loop would have stopped on.
    """

    musical_note: list[str] = field(default_factory=list)
    offset: list[float] = field(default_factory=list)
    instrumentlist: list[str] = field(default_factory=list)
    per_file: dict[str, int | str] = field(default_factory=dict)

    @property
    def notes_kept(self) -> int:
        return sum(count for count in self.per_file.values() if isinstance(count, int))


def _pitched_notes(element) -> int:
    """Pitched notes in one of the chapter's elements, a note tied over from the last one not again."""
    tie = getattr(element, "tie", None)
    if tie is not None and tie.type in ("stop", "continue"):
        return 0
    return len(element.pitches)


@dataclass
class ChapterFile:
    """What the chapter's step 3 takes from one file.

    ``instrument`` is the name of the part kept (``None`` for a file without instrument
    parts), ``musical_note`` its tokens (a note's name with octave, ``"C4"``, or a chord's
    ``normalOrder`` joined by dots, ``"0.4.7"``), ``offset`` the offset of *every* element
    walked (in quarter lengths; clefs, rests and instrument changes too), ``kept`` the pitched
    notes the tokens stand for.
    """

    instrument: str | None
    musical_note: list[str]
    offset: list[float]
    kept: int


def extract_file(path: Path | str, force_source: bool = False, as_printed: bool = False) -> ChapterFile:
    """Step 3 for one file: ``converter.parse`` and ``partitionByInstrument(...).parts[0]`` (notebook 01).

    Args:
        path: a MIDI file.
        force_source: bypass music21's own cache of parsed files (see the module docstring).
        as_printed: read the instrument name before checking that there are parts, as the
            chapter does: a file without instrument parts then raises ``AttributeError``.
    """
    from music21 import chord, converter, instrument, note

    musical_note, offset, kept, name = [], [], 0, None
    string_midi = converter.parse(path, forceSource=force_source)  # changed: forceSource
    parsednotes = None
    parts = instrument.partitionByInstrument(string_midi)
    if as_printed or parts:  # changed: the name is read after the check, unless as printed
        name = parts.parts[0].getInstrument().instrumentName
    if parts:  # file has instrument parts
        parsednotes = parts.parts[0].recurse()
    else:  # file has flat notes
        parsednotes = string_midi.flatten().notes  # changed: .flat no longer exists
    for element in parsednotes:  # detect offsets
        offset.append(element.offset)
        if isinstance(element, note.Note):
            musical_note.append(str(element.pitch))
            kept += _pitched_notes(element)  # changed: counted
        elif isinstance(element, chord.Chord):
            musical_note.append(".".join(str(n) for n in element.normalOrder))
            kept += _pitched_notes(element)  # changed: counted
    return ChapterFile(name, musical_note, offset, kept)


def extract(files: list[Path | str], names: list[str] | None = None, force_source: bool = False) -> ChapterNotes:
    """Step 3, the chapter's loop over the files, as printed (:func:`extract_file` with ``as_printed``).

    A file that would have stopped the chapter's notebook is recorded in ``per_file`` with
    its exception, and the loop goes on (the benchmark reads every file).
    """
    result = ChapterNotes()
    names = names or [Path(f).name for f in files]
    for r1, name in zip(files, names):  # changed: every given file, no random pick
        try:
            found = extract_file(r1, force_source, as_printed=True)
        except Exception as error:  # changed: the chapter's notebook would stop here
            result.per_file[name] = f"{type(error).__name__}: {error}"
            continue
        result.instrumentlist.append(found.instrument)
        result.musical_note.extend(found.musical_note)
        result.offset.extend(found.offset)
        result.per_file[name] = found.kept
    return result


def prepare(musical_note: list[str], sequence_length: int = SEQUENCE_LENGTH):
    """Step 5, data preparation: every window as its own list, then float64 arrays and one-hot targets.

    Returns:
        ``(model_input, model_output, model_input_original, pitchcategory)`` as the chapter
        leaves them: ``model_input`` ``(n, sequence_length, 1)`` float64 scaled by
        ``Len_Notes``, ``model_output`` ``(n, Len_Notes)`` float64 one-hot, the list of integer
        windows (the chapter takes its primer from it) and the sorted tokens.
    """
    from keras import utils as np_utils  # changed: keras.utils.np_utils no longer exists

    # Arranging notes and chords in ascending order
    pitchcategory = sorted(set(item for item in musical_note))

    # One hot encoding
    note_encoding = dict((note, number) for number, note in enumerate(pitchcategory))
    model_input_original = []
    model_output = []

    # Prepare input and output data for model
    for i in range(0, len(musical_note) - sequence_length, 1):
        sequence_in = musical_note[i : i + sequence_length]
        sequence_out = musical_note[i + sequence_length]
        model_input_original.append([note_encoding[char] for char in sequence_in])
        model_output.append(note_encoding[sequence_out])

    n_patterns = len(model_input_original)

    # converting data for compatibility with GRU
    model_input = np.reshape(model_input_original, (n_patterns, sequence_length, 1))

    # standardizing model input data
    model_output = np_utils.to_categorical(model_output)
    Len_Notes = model_output.shape[1]  # noqa: N806 - the chapter's name
    model_input = model_input / float(Len_Notes)
    return model_input, model_output, model_input_original, pitchcategory


def build_model(sequence_length: int, Len_Notes: int):  # noqa: N803 - the chapter's name
    """Step 6, the model: GRU 16/64/64, Dropout 0.3, Dense 16, Dropout, Dense, softmax; RMSprop."""
    from helpers import config

    config.import_tensorflow()
    import keras
    from keras import layers

    model_GRU = keras.models.Sequential()  # noqa: N806 - the chapter's name
    model_GRU.add(keras.Input(shape=(sequence_length, 1)))  # changed: input_shape= on the first GRU
    model_GRU.add(layers.GRU(16, return_sequences=True))
    model_GRU.add(layers.Dropout(0.3))
    model_GRU.add(layers.GRU(64, return_sequences=True))
    model_GRU.add(layers.Dropout(0.3))
    model_GRU.add(layers.GRU(64))
    model_GRU.add(layers.Dense(16))
    model_GRU.add(layers.Dropout(0.3))
    model_GRU.add(layers.Dense(Len_Notes))
    model_GRU.add(layers.Activation("softmax"))
    model_GRU.compile(loss="categorical_crossentropy", optimizer="rmsprop")
    return model_GRU


def train(model_GRU, model_input, model_output, epochs: int = 30, batch_size: int = BATCH_SIZE, callbacks=None):  # noqa: N803
    """Step 7, training: ``model_GRU.fit(model_input, model_output, epochs=30, batch_size=64)``."""
    return model_GRU.fit(
        model_input, model_output, epochs=epochs, batch_size=batch_size, verbose=0, callbacks=callbacks
    )  # changed: verbose=0 and callbacks, to time the epochs quietly


def generate(model_GRU, pattern, pitchcategory: list[str], Len_Notes: int, n_notes: int = 500) -> list[str]:  # noqa: N803
    """Step 8, prediction: one ``model.predict`` over the whole sliding window per note, argmax."""
    int_to_note = dict((number, note) for number, note in enumerate(pitchcategory))
    prediction_output = []
    for note_index in range(n_notes):  # noqa: B007 — the chapter's name, unused as printed
        prediction_input = np.reshape(pattern, (1, len(pattern), 1))
        prediction_input = prediction_input / float(Len_Notes)
        prediction_GRU = model_GRU.predict(prediction_input, verbose=0)  # noqa: N806
        index_GRU = np.argmax(prediction_GRU)  # noqa: N806
        index = index_GRU
        result = int_to_note[index]
        prediction_output.append(result)
        pattern = np.append(pattern, index)
        pattern = pattern[1 : len(pattern)]
    return prediction_output


# ----------------------------------------------------------------------------- the same steps, from codes


def codes_to_windows(codes: np.ndarray, seq_length: int, vocab_size: int) -> tuple[np.ndarray, np.ndarray]:
    """The chapter's arrays from integer codes: scaled inputs ``(n, seq_length, 1)`` and one-hot targets.

    What :func:`prepare` gives, in a few array operations; shown in notebook 03 beside the
    streaming windows of :mod:`helpers.sequences`, which avoid them. ``vocab_size`` is passed
    on purpose: ``to_categorical`` without ``num_classes`` gives too few columns whenever the
    last token never occurs as a target.
    """
    n = max(0, len(codes) - int(seq_length))
    inputs = np.array([codes[i : i + seq_length] for i in range(n)], dtype=np.float64)
    inputs = inputs.reshape(n, seq_length, 1) / float(vocab_size)
    targets = np.zeros((n, vocab_size), dtype=np.float64)
    targets[np.arange(n), codes[seq_length : seq_length + n]] = 1.0
    return inputs, targets


def generate_codes(model, primer: np.ndarray, n_notes: int = 500) -> np.ndarray:
    """:func:`generate` for a model of :mod:`helpers.models` (notebook 06): ``model.predict`` on
    the whole sliding window for every note, argmax. Slow by design; see
    :func:`helpers.generation.generate_codes`.

    Returns:
        int32 codes ``(n_notes,)``.
    """
    pattern = np.asarray(primer, dtype=np.int32).copy()
    out = np.empty(n_notes, dtype=np.int32)
    for t in range(n_notes):
        probs = model.predict(pattern[None, :], verbose=0)
        out[t] = int(np.argmax(probs))
        pattern = np.append(pattern[1:], out[t])
    return out


def even_step(data_offsets: Sequence[float]) -> float:
    """The chapter's ``DifferentialOffset``: ``(max(offset) - min(offset)) / len(offset)``, in quarter lengths.

    ``offset`` is every onset of the data, all pieces joined, each piece counted from 0.
    """
    data_offsets = np.asarray(data_offsets, dtype=float)
    if data_offsets.size == 0:
        raise DataError("no offsets to space the notes by")
    return float((data_offsets.max() - data_offsets.min()) / data_offsets.size)


def even_rhythm(n_events: int, step: float, duration: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """The chapter's evenly spaced offsets: ``(offsets, durations)`` in quarter lengths (notebook 06).

    Args:
        n_events: how many events to place.
        step: distance between onsets (see :func:`even_step`).
        duration: length of every note (music21's default: one quarter).
    """
    return np.arange(n_events) * float(step), np.full(n_events, float(duration))
