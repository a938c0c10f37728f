"""MIDI → sound: WAV and MP3 files rendered with a General MIDI SoundFont, and players for notebooks.

Explained in notebook 06 (the generated pieces) and used in notebook 02 (a training piece). It
replaces the chapter's "install MuseScore" and the LSTM post's ``convertMidi2Mp3``, which shells
out to timidity and ffmpeg: everything here comes from pip and runs headless.

- **Synthesizer**: `tinysoundfont <https://pypi.org/project/tinysoundfont/>`_, Python bindings
  of TinySoundFont — SoundFont 2 samples with their key and velocity ranges, loops, tuning,
  volume envelopes, filters and pan. It does not do reverb or chorus. It is installed with
  ``--no-deps`` (``requirements-no-deps.txt``): its declared dependency ``pyaudio`` is only
  needed to play through a sound card, which rendering to a file does not use.
- **SoundFont**: ``TimGM6mb.sf2`` (6 MB, all 128 General MIDI programs and a drum kit; by Tim
  Brechbill, GPL-2), which ships inside the ``pretty_midi`` package. Set the environment
  variable ``MUSICGEN_SOUNDFONT`` to the path of another ``.sf2`` to use that instead.
- **MP3 encoder**: `lameenc <https://pypi.org/project/lameenc/>`_ (LAME).

Every MIDI event is honoured as the file says: program changes (the instrument you chose is
the instrument you hear), drums on channel 10, volume, expression and pan, the sustain pedal
(played here: TinySoundFont lacks it) and pitch bends. Times are in **seconds**; audio is a
float32 array of shape ``(samples, 2)`` (stereo), values in -1..1.

Anything that goes wrong for a reason outside the code — a missing package, a broken
SoundFont, a MIDI file without notes — raises :class:`AudioError`; :func:`midi_to_player`
turns that into a one-line :class:`~helpers.display.Notice` so that a notebook says what is missing and goes on.
The player itself, :class:`~helpers.display.Player`, lives with the other things a cell shows.
"""

from __future__ import annotations

import importlib.util
import io
import os
import wave
from pathlib import Path

import mido
import numpy as np

from helpers import config
from helpers.constants import DRUM_CHANNEL
from helpers.display import Notice, Player
from helpers.errors import MusicGenError

#: Sample rate of rendered audio, in Hz (most of TimGM6mb's samples are recorded at 44.1 kHz).
SAMPLE_RATE = 44_100
#: Bit rate of MP3 files written next to a MIDI file, in kbit/s (stereo).
MP3_BITRATE = 128
#: Players in notebooks embed at most this many seconds of a piece.
PREVIEW_SECONDS = 20.0
#: Players embed mono MP3 at this bit rate (kbit/s) and sample rate (Hz): 5 KB a second.
PREVIEW_BITRATE = 40
PREVIEW_SAMPLE_RATE = 22_050
#: Seconds rendered after the last MIDI event, so that the last notes ring out.
RELEASE_SECONDS = 1.0
#: Length of the fade-out where a piece is cut short by ``max_seconds``, in seconds.
FADE_SECONDS = 0.5
#: Peak level after normalisation: -1 dBFS.
PEAK = 10 ** (-1 / 20)
#: Longest piece rendered whole, in seconds; longer ones need ``max_seconds`` (memory: 21 MB a minute).
MAX_RENDER_SECONDS = 20 * 60.0
#: Environment variable naming a SoundFont (``.sf2``/``.sf3``) to use instead of TimGM6mb.
SOUNDFONT_VARIABLE = "MUSICGEN_SOUNDFONT"
_INSTALL_HINT = "pip install --no-deps -r requirements-no-deps.txt (./run.sh and ./test.sh do it)"


class AudioError(MusicGenError, RuntimeError):
    """Audio cannot be made: a package or the SoundFont is missing or broken, or the MIDI has no notes."""


# ----------------------------------------------------------------------------- SoundFont


def default_soundfont() -> Path:
    """The SoundFont used when none is given: ``$MUSICGEN_SOUNDFONT``, else pretty_midi's TimGM6mb.sf2.

    Raises:
        AudioError: the variable names a missing file, or pretty_midi is not installed.
    """
    chosen = os.environ.get(SOUNDFONT_VARIABLE, "").strip()
    if chosen:
        path = Path(chosen).expanduser()
        if not path.is_file():
            raise AudioError(f"{SOUNDFONT_VARIABLE}={chosen!r} is not a file: give the path of a .sf2 SoundFont")
        return path
    spec = importlib.util.find_spec("pretty_midi")  # found without importing it
    locations = list(spec.submodule_search_locations or []) if spec else []
    path = Path(locations[0]) / "TimGM6mb.sf2" if locations else None
    if path is None or not path.is_file():
        raise AudioError(
            "no SoundFont: TimGM6mb.sf2 comes with pretty_midi (pip install -r requirements.txt), "
            f"or set {SOUNDFONT_VARIABLE} to a .sf2 file"
        )
    return path


def _load_synth(soundfont: Path | str | None, sample_rate: int):
    """A tinysoundfont synthesizer with the SoundFont loaded and every channel set to program 0."""
    try:
        import tinysoundfont
    except ImportError as error:
        raise AudioError(f"the synthesizer tinysoundfont is not installed: {_INSTALL_HINT}") from error
    path = Path(soundfont) if soundfont is not None else default_soundfont()
    if not path.is_file():
        raise AudioError(f"SoundFont {path.name} not found at {path}")
    synth = tinysoundfont.Synth(samplerate=int(sample_rate))
    try:
        sfid = synth.sfload(str(path))
        for channel in range(16):
            synth.program_select(channel, sfid, 0, 0, is_drums=channel == DRUM_CHANNEL)
    except Exception as error:  # tinysoundfont raises RuntimeError for a file it cannot parse
        raise AudioError(f"SoundFont {path.name} cannot be used ({error}): give a valid .sf2 file") from error
    return synth


# ----------------------------------------------------------------------------- rendering


def _read_midi(midi: Path | str | bytes | mido.MidiFile) -> tuple[mido.MidiFile, str]:
    """Open ``midi`` (a path, the bytes of a file, or a ``mido.MidiFile``) → (file, name for messages)."""
    if isinstance(midi, mido.MidiFile):
        return midi, Path(midi.filename).name if midi.filename else "MIDI data"
    if isinstance(midi, (bytes, bytearray)):
        name, opener = "MIDI data", lambda: mido.MidiFile(file=io.BytesIO(bytes(midi)))
    else:
        name, opener = Path(midi).name, lambda: mido.MidiFile(str(midi))
    try:
        return opener(), name
    except FileNotFoundError as error:
        raise AudioError(f"{name}: no such file") from error
    except Exception as error:  # mido raises OSError, EOFError, ValueError, KeyError on broken files
        raise AudioError(f"{name}: not a readable MIDI file ({type(error).__name__}: {error})") from error


def _events(song: mido.MidiFile, name: str) -> list[mido.Message]:
    """Every message of every track in playing order, ``time`` = seconds since the previous one."""
    try:
        events = list(song)  # mido merges the tracks and applies the tempo changes
    except Exception as error:  # e.g. type-2 files, whose tracks cannot be merged
        raise AudioError(f"{name}: cannot be played ({error})") from error
    if not any(message.type == "note_on" and message.velocity > 0 for message in events):
        raise AudioError(f"{name}: the file has no notes, nothing to play")
    return events


def midi_seconds(midi: Path | str | bytes | mido.MidiFile) -> float:
    """Length of a MIDI file in seconds, up to its last event (tempo changes applied)."""
    song, name = _read_midi(midi)
    return float(sum(message.time for message in _events(song, name)))


#: The sustain pedal's controller number; values from 64 up hold it down.
SUSTAIN_PEDAL = 64


def _send(synth, message: mido.Message, pedal: dict[int, set[int] | None]) -> None:
    """Pass one MIDI message to the synthesizer; messages without sound (meta, sysex) are skipped.

    TinySoundFont knows no sustain pedal, so it is played here: while a channel's pedal is down
    (``pedal[channel]`` is a set), its note-offs wait in that set until the pedal comes up.
    """
    kind, channel = message.type, getattr(message, "channel", None)
    held = pedal.get(channel)
    if kind == "note_on" and message.velocity > 0:
        if held is not None and message.note in held:
            synth.noteoff(channel, message.note)  # a key struck again under the pedal: its old sound stops
        synth.noteon(channel, message.note, message.velocity)
    elif kind in ("note_on", "note_off"):
        if held is not None:
            held.add(message.note)
        else:
            synth.noteoff(channel, message.note)
    elif kind == "program_change":  # on channel 10 it picks a drum kit (the standard kit where missing)
        try:
            synth.program_change(channel, message.program, is_drums=channel == DRUM_CHANNEL)
        except RuntimeError as error:
            raise AudioError(f"the SoundFont has no instrument for General MIDI program {message.program}") from error
    elif kind == "control_change" and message.control == SUSTAIN_PEDAL:
        if message.value >= 64 and held is None:
            pedal[channel] = set()
        elif message.value < 64 and held is not None:
            for note in held:
                synth.noteoff(channel, note)
            pedal[channel] = None
    elif kind == "control_change":
        synth.control_change(channel, message.control, message.value)
    elif kind == "pitchwheel":
        synth.pitchbend(channel, message.pitch + 8192)


def midi_to_audio(
    midi: Path | str | bytes | mido.MidiFile,
    soundfont: Path | str | None = None,
    sample_rate: int = SAMPLE_RATE,
    max_seconds: float | None = None,
    normalize: bool = True,
) -> np.ndarray:
    """Render a MIDI file with a SoundFont, as a General MIDI player would play it.

    Args:
        midi: a path, the bytes of a MIDI file, or a ``mido.MidiFile``.
        soundfont: a ``.sf2`` file; default :func:`default_soundfont`.
        sample_rate: samples per second.
        max_seconds: render at most this many seconds (the end fades out over
            :data:`FADE_SECONDS`); ``None`` renders the whole piece plus :data:`RELEASE_SECONDS`.
        normalize: scale the result so that its peak is :data:`PEAK` (-1 dBFS); otherwise the
            SoundFont's own level, which may exceed 1 where many notes sound together.

    Returns:
        float32 array of shape ``(samples, 2)``, ``samples = round(seconds * sample_rate)``.

    Raises:
        AudioError: see the module docstring; also for a piece longer than
            :data:`MAX_RENDER_SECONDS` without ``max_seconds``.
    """
    song, name = _read_midi(midi)
    events = _events(song, name)
    whole = sum(message.time for message in events) + RELEASE_SECONDS
    end = whole
    if max_seconds is not None:
        if max_seconds <= 0:
            raise AudioError(f"max_seconds={max_seconds}: give a positive number of seconds")
        end = min(whole, float(max_seconds))
    elif whole > MAX_RENDER_SECONDS:
        raise AudioError(f"{name}: lasts {whole / 60:.0f} minutes; render an excerpt with max_seconds")
    synth = _load_synth(soundfont, sample_rate)
    audio = np.zeros((int(round(end * sample_rate)), 2), dtype=np.float32)

    def render_until(upto: int) -> None:  # the sound up to sample ``upto``, straight into ``audio``
        nonlocal done
        if upto > done:
            synth.generate_simple(upto - done, buffer=memoryview(audio[done:upto]).cast("B"))
            done = upto

    done, now, pedal = 0, 0.0, {}
    for message in events:
        now += message.time
        render_until(min(int(round(now * sample_rate)), len(audio)))
        if done == len(audio):
            break
        _send(synth, message, pedal)
    render_until(len(audio))
    if end < whole:  # cut short: fade out instead of a click
        fade = min(len(audio), int(FADE_SECONDS * sample_rate))
        audio[len(audio) - fade :] *= np.linspace(1.0, 0.0, fade, dtype=np.float32)[:, None]
    peak = float(np.abs(audio).max()) if audio.size else 0.0
    if normalize and peak > 0:
        audio *= PEAK / peak
    return audio


# ----------------------------------------------------------------------------- encoding


def _int16(audio: np.ndarray) -> np.ndarray:
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim == 1:
        audio = audio[:, None]
    if audio.ndim != 2 or audio.shape[1] not in (1, 2):
        raise AudioError(f"audio of shape {audio.shape}: expected (samples,), (samples, 1) or (samples, 2)")
    return (np.clip(audio, -1.0, 1.0) * 32767).round().astype("<i2")


def audio_to_wav(audio: np.ndarray, path: Path | str, sample_rate: int = SAMPLE_RATE) -> Path:
    """Write audio (float, -1..1, shape ``(samples, channels)``) as a 16-bit PCM WAV file."""
    samples = _int16(audio)
    path = Path(path)
    config.ensure_dir(path.parent)
    with wave.open(str(path), "wb") as file:
        file.setnchannels(samples.shape[1])
        file.setsampwidth(2)
        file.setframerate(int(sample_rate))
        file.writeframes(samples.tobytes())
    return path


def audio_to_mp3(
    audio: np.ndarray,
    sample_rate: int = SAMPLE_RATE,
    bitrate: int = MP3_BITRATE,
    mono: bool = False,
    out_sample_rate: int | None = None,
) -> bytes:
    """Encode audio (float, -1..1, shape ``(samples, channels)``) as MP3 with LAME (lameenc).

    Args:
        audio: the samples.
        sample_rate: their rate in Hz.
        bitrate: constant bit rate in kbit/s.
        mono: mix the channels down to one (half the size for the same quality).
        out_sample_rate: resample to this rate (LAME does it); default: keep ``sample_rate``.

    Returns:
        the bytes of an MP3 file.
    """
    try:
        import lameenc
    except ImportError as error:
        raise AudioError("the MP3 encoder lameenc is not installed: pip install -r requirements.txt") from error
    samples = _int16(np.asarray(audio, dtype=np.float32).reshape(len(audio), -1).mean(axis=1) if mono else audio)
    encoder = lameenc.Encoder()
    try:
        encoder.set_bit_rate(int(bitrate))
        encoder.set_in_sample_rate(int(sample_rate))
        if out_sample_rate:
            encoder.set_out_sample_rate(int(out_sample_rate))
        encoder.set_channels(samples.shape[1])
        encoder.set_quality(2)  # 2 = high quality, 7 = fast
        return bytes(encoder.encode(samples.tobytes()) + encoder.flush())
    except Exception as error:  # lameenc raises RuntimeError for settings LAME rejects
        raise AudioError(f"MP3 encoding failed ({error})") from error


def save_audio(
    midi_path: Path | str, formats: tuple[str, ...] = ("wav", "mp3"), soundfont: Path | str | None = None
) -> dict[str, Path]:
    """Render a MIDI file once and write it as WAV and/or MP3 beside it, with the same stem.

    ``outputs/generated/gru-sample-001.mid`` gives ``gru-sample-001.wav`` and
    ``gru-sample-001.mp3`` (44.1 kHz stereo; the MP3 at :data:`MP3_BITRATE` kbit/s). Files of
    those names are replaced: they belong to that MIDI file.

    Returns:
        ``{"wav": path, "mp3": path}`` for the formats asked for.
    """
    unknown = set(formats) - {"wav", "mp3"}
    if unknown or not formats:
        raise AudioError(f"formats={formats!r}: choose from 'wav' and 'mp3'")
    midi_path = Path(midi_path)
    audio = midi_to_audio(midi_path, soundfont=soundfont)
    written = {}
    if "wav" in formats:
        written["wav"] = audio_to_wav(audio, midi_path.with_suffix(".wav"))
    if "mp3" in formats:
        written["mp3"] = midi_path.with_suffix(".mp3")
        written["mp3"].write_bytes(audio_to_mp3(audio))
    return written


def midi_to_mp3(midi_path: Path | str, soundfont: Path | str | None = None) -> Path:
    """The LSTM post's ``convertMidi2Mp3``, without timidity, ffmpeg or a shell: write ``<stem>.mp3``."""
    return save_audio(midi_path, ("mp3",), soundfont)["mp3"]


def midi_to_wav(midi_path: Path | str, soundfont: Path | str | None = None) -> Path:
    """Write ``<stem>.wav`` (16-bit, 44.1 kHz stereo) beside a MIDI file."""
    return save_audio(midi_path, ("wav",), soundfont)["wav"]


# ----------------------------------------------------------------------------- notebooks


def midi_to_player(
    midi: Path | str | bytes | mido.MidiFile,
    max_seconds: float = PREVIEW_SECONDS,
    soundfont: Path | str | None = None,
    title: str | None = None,
    save: bool = False,
) -> Player | Notice:
    """A player for a notebook: the first ``max_seconds`` of a MIDI file as embedded mono MP3.

    End a cell with it to show the player. When audio cannot be made (see :class:`AudioError`)
    the result is a one-line :class:`Notice` saying why, and the notebook goes on.

    Args:
        midi: a path, the bytes of a MIDI file, or a ``mido.MidiFile``.
        max_seconds: embed at most this many seconds (the notebook stays small).
        soundfont: see :func:`midi_to_audio`.
        title: shown above the player (default: the file name).
        save: also write the whole piece as WAV and MP3 beside the MIDI file
            (:func:`save_audio`); needs a path.
    """
    name = title or (Path(midi).name if isinstance(midi, (str, Path)) else "MIDI")
    try:
        if save and not isinstance(midi, (str, Path)):
            raise AudioError("save=True needs the path of a MIDI file to write beside")
        files = tuple(save_audio(midi, soundfont=soundfont).values()) if save else ()
        total = midi_seconds(midi) + RELEASE_SECONDS
        sound = midi_to_audio(midi, soundfont=soundfont, max_seconds=max_seconds)
        mp3 = audio_to_mp3(sound, bitrate=PREVIEW_BITRATE, mono=True, out_sample_rate=PREVIEW_SAMPLE_RATE)
    except AudioError as error:
        return Notice(f"no audio for {name}: {error}")
    return Player(mp3=mp3, title=name, seconds=len(sound) / SAMPLE_RATE, total_seconds=total, files=files)
