"""Tests of helpers.audio: MIDI files written here rendered with the shipped SoundFont, listened to
with NumPy (length, level, pitch, decay), and the WAV and MP3 files decoded back with soundfile.

soundfile (libsndfile 1.2 with mpg123) decodes the MP3 that lameenc (LAME) encoded: two
independent codecs, so a decodable file is a real check.
"""

from __future__ import annotations

import base64
import io
import re
import sys

import mido
import numpy as np
import pandas as pd
import pytest
import soundfile
from conftest import C_MAJOR_SCALE, DRUMS, Track, write_midi

from helpers import audio, display, export, midi_io

SR = audio.SAMPLE_RATE
#: At 120 beats a minute a quarter length lasts half a second.
SECONDS_PER_QUARTER = 0.5


@pytest.fixture(autouse=True)
def shipped_soundfont(monkeypatch):
    """Every test renders with TimGM6mb.sf2 from pretty_midi, whatever the environment says."""
    monkeypatch.delenv(audio.SOUNDFONT_VARIABLE, raising=False)


def rms(samples: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(samples, dtype=np.float64))))


def dominant_pitch(samples: np.ndarray, sample_rate: int = SR) -> float:
    """The MIDI pitch (fractional) of the strongest frequency in a stretch of mono audio."""
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples)), n=1 << 16))
    frequency = np.fft.rfftfreq(1 << 16, 1 / sample_rate)[np.argmax(spectrum[1:]) + 1]
    return 69 + 12 * np.log2(frequency / 440.0)


def one_long_note(path, program: int, quarters: float = 8.0):
    """Middle C held for ``quarters`` quarter lengths (4 s) on one instrument."""
    return write_midi(path, [Track([(60, 0.0, quarters)], program=program)])


# ----------------------------------------------------------------------------- rendering


def test_scale_renders_for_its_length_plus_the_release(midi_files):
    sound = audio.midi_to_audio(midi_files["scale"], normalize=False)
    seconds = len(C_MAJOR_SCALE) * SECONDS_PER_QUARTER
    assert audio.midi_seconds(midi_files["scale"]) == pytest.approx(seconds)
    assert sound.shape == (round((seconds + audio.RELEASE_SECONDS) * SR), 2)
    assert sound.dtype == np.float32
    for index in range(len(C_MAJOR_SCALE)):  # every note sounds, none is silent
        start = int((index * SECONDS_PER_QUARTER + 0.05) * SR)
        assert rms(sound[start : start + int(0.3 * SR)]) > 1e-3
    assert rms(sound[-int(0.2 * SR) :]) < 0.05 * rms(sound[: int(seconds * SR)])  # the release dies away


def test_normalised_audio_peaks_at_minus_one_dbfs(midi_files):
    sound = audio.midi_to_audio(midi_files["chords"])
    assert np.abs(sound).max() == pytest.approx(audio.PEAK, rel=1e-5)
    assert rms(sound) > 0.02


def test_every_note_sounds_at_its_pitch_and_time(tmp_path):
    path = write_midi(tmp_path / "violin_scale.mid", [Track(C_MAJOR_SCALE, program=40)])  # violin
    sound = audio.midi_to_audio(path).mean(axis=1)
    for pitch, start, duration in C_MAJOR_SCALE:
        begin = int((start * SECONDS_PER_QUARTER + 0.1) * SR)
        heard = dominant_pitch(sound[begin : begin + int(0.35 * SR)])
        assert heard == pytest.approx(pitch, abs=0.2), f"note {pitch} at {start} sounds as {heard:.2f}"


def test_program_change_chooses_the_instrument_heard(tmp_path):
    def decay(program):  # loudness of the last half second of a 4-second note over its first
        sound = audio.midi_to_audio(one_long_note(tmp_path / f"p{program}.mid", program), normalize=False)[:, 0]
        return rms(sound[int(3.4 * SR) : int(3.9 * SR)]) / rms(sound[: int(0.5 * SR)])

    piano, violin, organ = decay(0), decay(40), decay(19)
    assert piano < 0.2  # a struck string dies away
    assert violin > 0.5 and organ > 0.5  # a bowed string and an organ pipe hold the note


def test_instrument_chosen_at_export_is_the_instrument_heard(tmp_path):
    notes = midi_io.tidy_notes(pd.DataFrame([("p", 0, "", 0.0, 8.0, 60, 90)], columns=midi_io.NOTE_COLUMNS))
    held = {}
    for instrument in ("Piano", "Violin"):
        sound = audio.midi_to_audio(export.notes_to_midi(notes, tmp_path / f"{instrument}.mid", instrument), normalize=False)
        held[instrument] = rms(sound[int(3.4 * SR) : int(3.9 * SR)]) / rms(sound[: int(0.5 * SR)])
    assert held["Piano"] < 0.2 < 0.5 < held["Violin"]


def test_drums_play_on_channel_ten(midi_files, tmp_path):
    drums = audio.midi_to_audio(midi_files["drums_only"], normalize=False)
    same_notes_on_piano = audio.midi_to_audio(write_midi(tmp_path / "p.mid", [Track(DRUMS, program=0)]), normalize=False)
    assert rms(drums) > 1e-3
    assert drums.shape == same_notes_on_piano.shape
    assert rms(drums - same_notes_on_piano) > 0.5 * rms(drums)  # a drum kit, not piano notes


def test_both_parts_of_a_two_part_file_sound(midi_files):
    sound = audio.midi_to_audio(midi_files["two_part"]).mean(axis=1)
    first = sound[int(0.1 * SR) : int(0.45 * SR)]  # melody C5 over bass C2
    spectrum = np.abs(np.fft.rfft(first * np.hanning(len(first)), n=1 << 16))
    freqs = np.fft.rfftfreq(1 << 16, 1 / SR)
    near = lambda pitch: spectrum[np.abs(freqs - 440 * 2 ** ((pitch - 69) / 12)) < 3].max()  # noqa: E731
    assert near(72) > 0.05 * spectrum.max() and near(36) > 0.05 * spectrum.max()


def test_max_seconds_cuts_and_fades_out(midi_files):
    sound = audio.midi_to_audio(midi_files["scale"], max_seconds=2.0)
    assert sound.shape == (2 * SR, 2)
    assert np.abs(sound[-10:]).max() < 1e-3  # faded to silence, no click
    assert rms(sound[int(1.0 * SR) : int(1.4 * SR)]) > 0.01


def test_bytes_and_mido_files_render_like_the_path(midi_files):
    from_path = audio.midi_to_audio(midi_files["scale"], max_seconds=1.0)
    from_bytes = audio.midi_to_audio(midi_files["scale"].read_bytes(), max_seconds=1.0)
    from_mido = audio.midi_to_audio(mido.MidiFile(midi_files["scale"]), max_seconds=1.0)
    np.testing.assert_array_equal(from_path, from_bytes)
    np.testing.assert_array_equal(from_path, from_mido)


# ----------------------------------------------------------------------------- files


def test_save_audio_writes_wav_and_mp3_with_the_midi_stem(midi_files):
    written = audio.save_audio(midi_files["scale"])
    assert written == {"wav": midi_files["scale"].with_suffix(".wav"), "mp3": midi_files["scale"].with_suffix(".mp3")}
    expected = audio.midi_to_audio(midi_files["scale"])

    wav, wav_rate = soundfile.read(written["wav"], dtype="float32")
    assert wav_rate == SR and wav.shape == expected.shape
    assert np.abs(wav - expected).max() < 1 / 16000  # 16-bit PCM of the same samples

    assert soundfile.info(str(written["mp3"])).format == "MP3"
    mp3, mp3_rate = soundfile.read(written["mp3"], dtype="float32")
    assert mp3_rate == SR and mp3.shape[1] == 2
    assert abs(len(mp3) - len(expected)) < 0.1 * SR  # the encoder adds a few ms of padding at most
    assert rms(mp3) == pytest.approx(rms(expected), rel=0.1)
    mono = mp3.mean(axis=1)
    begin = int(0.1 * SR)  # first note, C4 on the piano (strongest partial: C5 or C4)
    assert round(dominant_pitch(mono[begin : begin + int(0.35 * SR)])) % 12 == 0


def test_midi_to_mp3_and_to_wav_write_one_file_each(midi_files):
    mp3 = audio.midi_to_mp3(midi_files["chords"])
    assert mp3.suffix == ".mp3" and not mp3.with_suffix(".wav").exists()
    decoded, rate = soundfile.read(mp3)
    assert rate == SR and len(decoded) / rate == pytest.approx(audio.midi_seconds(midi_files["chords"]) + 1, abs=0.1)
    wav = audio.midi_to_wav(midi_files["chords"])
    assert soundfile.info(str(wav)).frames == round((audio.midi_seconds(midi_files["chords"]) + 1) * SR)


def test_mp3_encoder_keeps_mono_and_resamples():
    tone = 0.5 * np.sin(2 * np.pi * 440 * np.arange(2 * SR) / SR).astype(np.float32)
    mp3 = audio.audio_to_mp3(np.stack([tone, tone], axis=1), bitrate=32, mono=True, out_sample_rate=22_050)
    decoded, rate = soundfile.read(io.BytesIO(mp3))
    assert rate == 22_050 and decoded.ndim == 1
    assert len(decoded) / rate == pytest.approx(2.0, abs=0.1)
    assert dominant_pitch(decoded[5000:30000], rate) == pytest.approx(69, abs=0.1)
    assert len(mp3) == pytest.approx(2 * 32_000 / 8, rel=0.15)  # 32 kbit/s


# ----------------------------------------------------------------------------- players


def test_player_embeds_a_short_mono_mp3(midi_files):
    player = audio.midi_to_player(midi_files["scale"], max_seconds=2.0)
    assert isinstance(player, display.Player)
    assert player.seconds == pytest.approx(2.0) and player.total_seconds == pytest.approx(5.0)
    assert "the first 2 s of 5 s" in player.caption
    page = player._repr_html_()
    embedded = base64.b64decode(re.search(r'src="data:audio/mpeg;base64,([^"]+)"', page).group(1))
    assert embedded == player.mp3
    decoded, rate = soundfile.read(io.BytesIO(embedded))
    assert rate == audio.PREVIEW_SAMPLE_RATE and decoded.ndim == 1
    assert len(decoded) / rate == pytest.approx(2.0, abs=0.1) and rms(decoded) > 0.01


def test_a_whole_short_piece_is_played_whole(midi_files):
    player = audio.midi_to_player(midi_files["scale"])
    assert player.seconds == pytest.approx(player.total_seconds) == pytest.approx(5.0)
    assert "first" not in player.caption


# ----------------------------------------------------------------------------- failures: one line, no crash


def test_a_piece_without_notes_gives_a_notice(tmp_path):
    empty = mido.MidiFile()
    empty.tracks.append(mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=500000, time=0)]))
    path = tmp_path / "empty.mid"
    empty.save(path)
    with pytest.raises(audio.AudioError, match="no notes"):
        audio.midi_to_audio(path)
    notice = audio.midi_to_player(path)
    assert isinstance(notice, display.Notice)
    assert "\n" not in repr(notice) and "empty.mid" in repr(notice) and "no notes" in repr(notice)
    assert notice._repr_markdown_().startswith("**Not shown:**")


@pytest.mark.parametrize("damage", [lambda data: data[:1000], lambda data: b"RIFF" + bytes(5000), lambda data: b""])
def test_a_broken_soundfont_gives_a_notice(midi_files, tmp_path, damage):
    broken = tmp_path / "broken.sf2"
    broken.write_bytes(damage(audio.default_soundfont().read_bytes()))
    with pytest.raises(audio.AudioError, match="broken.sf2 cannot be used"):
        audio.midi_to_audio(midi_files["scale"], soundfont=broken)
    assert "broken.sf2 cannot be used" in repr(audio.midi_to_player(midi_files["scale"], soundfont=broken))


def test_soundfont_from_the_environment(monkeypatch, tmp_path, midi_files):
    monkeypatch.setenv(audio.SOUNDFONT_VARIABLE, str(tmp_path / "missing.sf2"))
    with pytest.raises(audio.AudioError, match="MUSICGEN_SOUNDFONT"):
        audio.default_soundfont()
    assert "MUSICGEN_SOUNDFONT" in repr(audio.midi_to_player(midi_files["scale"]))
    monkeypatch.delenv(audio.SOUNDFONT_VARIABLE)
    assert audio.default_soundfont().name == "TimGM6mb.sf2"


def test_missing_synthesizer_or_encoder_gives_a_notice(monkeypatch, midi_files):
    monkeypatch.setitem(sys.modules, "tinysoundfont", None)  # import fails as if not installed
    notice = audio.midi_to_player(midi_files["scale"])
    assert isinstance(notice, display.Notice) and "requirements-no-deps.txt" in repr(notice)
    monkeypatch.undo()
    monkeypatch.setitem(sys.modules, "lameenc", None)
    assert "lameenc is not installed" in repr(audio.midi_to_player(midi_files["scale"]))


def test_unreadable_input_gives_a_notice(tmp_path):
    text = tmp_path / "notes.mid"
    text.write_text("not a MIDI file")
    assert "not a readable MIDI file" in repr(audio.midi_to_player(text))
    assert "no such file" in repr(audio.midi_to_player(tmp_path / "missing.mid"))


def test_very_long_pieces_need_an_excerpt(monkeypatch, midi_files):
    monkeypatch.setattr(audio, "MAX_RENDER_SECONDS", 3.0)
    with pytest.raises(audio.AudioError, match="max_seconds"):
        audio.midi_to_audio(midi_files["scale"])
    assert audio.midi_to_audio(midi_files["scale"], max_seconds=1.0).shape == (SR, 2)
    with pytest.raises(audio.AudioError, match="positive"):
        audio.midi_to_audio(midi_files["scale"], max_seconds=0)


def test_bad_audio_shapes_and_formats_are_refused(midi_files):
    with pytest.raises(audio.AudioError, match="shape"):
        audio.audio_to_mp3(np.zeros((10, 3), dtype=np.float32))
    with pytest.raises(audio.AudioError, match="formats"):
        audio.save_audio(midi_files["scale"], ("ogg",))


def test_player_can_save_the_whole_piece_beside_the_midi(midi_files):
    player = audio.midi_to_player(midi_files["chords"], max_seconds=1.0, save=True)
    assert player.files == (midi_files["chords"].with_suffix(".wav"), midi_files["chords"].with_suffix(".mp3"))
    assert "saved as chords.wav, chords.mp3" in player.caption
    whole, rate = soundfile.read(player.files[1])
    assert len(whole) / rate == pytest.approx(player.total_seconds, abs=0.1) and player.seconds == pytest.approx(1.0)
    assert "needs the path" in repr(audio.midi_to_player(midi_files["chords"].read_bytes(), save=True))


def test_sustain_pedal_holds_notes_until_it_is_released(tmp_path):
    def render(pedal: bool):
        song = mido.MidiFile(ticks_per_beat=480)  # 120 bpm: 960 ticks a second
        track = mido.MidiTrack([mido.Message("program_change", program=0, time=0)])
        if pedal:
            track.append(mido.Message("control_change", control=64, value=127, time=0))
        track.append(mido.Message("note_on", note=60, velocity=100, time=0))
        track.append(mido.Message("note_off", note=60, velocity=0, time=480))  # key up at 0.5 s
        track.append(mido.Message("control_change", control=64, value=0, time=960))  # pedal up at 1.5 s
        song.tracks.append(track)
        return audio.midi_to_audio(song, normalize=False)[:, 0]

    plain, pedalled = render(False), render(True)
    onset = rms(plain[: int(0.25 * SR)])
    assert rms(plain[int(1.0 * SR) : int(1.25 * SR)]) < 0.01 * onset  # released at 0.5 s: gone
    assert rms(pedalled[int(1.0 * SR) : int(1.25 * SR)]) > 0.1 * onset  # the pedal holds it
    assert rms(pedalled[int(2.0 * SR) :]) < 0.01 * onset  # and lets it go at 1.5 s


def test_a_program_the_soundfont_lacks_is_named():
    class SoundFontWithoutPresets:  # tinysoundfont raises RuntimeError for a preset it does not hold
        def program_change(self, channel, preset, is_drums=False):
            raise RuntimeError("no matching preset")

    with pytest.raises(audio.AudioError, match="no instrument for General MIDI program 5"):
        audio._send(SoundFontWithoutPresets(), mido.Message("program_change", channel=0, program=5), {})
