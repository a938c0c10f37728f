"""Helpers for the music-generation notebooks: each module holds one step of the way.

MIDI files → notes (midi_io) → tokens and a vocabulary (tokens) → training windows
(sequences) → model (models, training) → generated codes (generation) → notes → MIDI
(export). pipeline strings them together for the command line (cli).
"""
