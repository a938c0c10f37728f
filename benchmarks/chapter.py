"""The chapter's pipeline, re-implemented faithfully for measurement.

Each function is the code of one step of the chapter (*Deep Learning Projects Using
TensorFlow 2*, chapter 5), kept line for line — its loops, its lists of lists, its float64
arrays, its ``model.predict`` per note — so that ``benchmarks/run.py`` can time it beside the
project's code on the same data. Only what no longer runs, or cannot run outside the
author's computer, is changed, each marked ``# changed:``:

- file names come in as a list instead of ``os.listdir`` of a hard-coded Windows folder after
  ``os.chdir``, and every file is read (the chapter's ``random.sample(..., 5)`` and its
  ``matching[random.randint(1, len(matching))]``, which can index past the end, pick files at
  random; a benchmark must read the same files on both sides);
- ``string_midi.flat`` no longer exists in music21: ``string_midi.flatten()``;
- ``from keras.layers.core import ...`` and ``keras.utils.np_utils`` no longer exist in Keras 3:
  ``keras.layers`` and ``keras.utils``; the first GRU's ``input_shape=`` argument becomes a
  ``keras.Input`` (Keras 3 warns about the argument, the model is the same);
- what a file costs the loop (how many notes it kept, or the exception that would have stopped
  the chapter's notebook) is recorded, so that a benchmark run is not aborted by one file;
- ``force_source=True`` passes ``forceSource=True`` to ``converter.parse``, to measure a first
  read: music21 otherwise loads the pickles it stored of files it parsed before (in its scratch
  folder, ``/tmp/music21`` on Linux) — the chapter's loop, run again, has that cache.

Nothing here is used by the notebooks or ``helpers``; the notebooks show the same code in
small steps (notebooks 01, 03, 04 and 06).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

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


def extract(files: list[Path | str], names: list[str] | None = None, force_source: bool = False) -> ChapterNotes:
    """Step 3, feature extraction: ``converter.parse`` and ``partitionByInstrument(...).parts[0]``.

    ``force_source=True`` bypasses music21's own cache of parsed files (see the module docstring).
    """
    from music21 import chord, converter, instrument, note

    result = ChapterNotes()
    musical_note, offset, instrumentlist = result.musical_note, result.offset, result.instrumentlist
    names = names or [Path(f).name for f in files]
    for r1, name in zip(files, names):  # changed: every given file, no random pick
        kept = 0
        try:
            string_midi = converter.parse(r1, forceSource=force_source)  # changed: forceSource
            parsednotes = None
            parts = instrument.partitionByInstrument(string_midi)
            instrumentlist.append(parts.parts[0].getInstrument().instrumentName)
            if parts:  # file has instrument parts
                parsednotes = parts.parts[0].recurse()
            else:  # file has flat notes
                parsednotes = string_midi.flatten().notes  # changed: .flat no longer exists
            for element in parsednotes:  # detect offsets
                offset.append(element.offset)
                if isinstance(element, note.Note):
                    musical_note.append(str(element.pitch))
                    kept += _pitched_notes(element)  # changed: counted for the benchmark
                elif isinstance(element, chord.Chord):
                    musical_note.append(".".join(str(n) for n in element.normalOrder))
                    kept += _pitched_notes(element)  # changed: counted for the benchmark
        except Exception as error:  # changed: the chapter's notebook would stop here
            result.per_file[name] = f"{type(error).__name__}: {error}"
            continue
        result.per_file[name] = kept
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
    for note_index in range(n_notes):
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
