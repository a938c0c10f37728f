"""Helpers for the music-generation notebooks: each module holds one step of the way.

MIDI files (midi_files) → notes (midi_io, midi_reader with its compiled inner loop
track_decoder; read in worker processes by reader_pool when asked, reported by load_report)
→ tokens and a vocabulary (tokens, midilike) → training windows (sequences) → model (models)
trained into a run folder (training, runs, distribute) → generated codes (generation,
fast_generation) → notes → MIDI (export) → audio, score, piano roll (audio, score, plots,
display). The chapter's own code is in chapter; the
judging of the music in evaluate; pipeline strings the steps together for the command line
(cli) and for notebook 10's playground. Every deliberate error is an errors.MusicGenError.
"""
