#!/usr/bin/env python3
"""Regenerate the small default MIDI dataset from the corpus shipped with music21.

Every piece listed in :data:`PIECES` is read from the corpus that is bundled
inside the ``music21`` pip package (nothing is downloaded), exported to MIDI
with ``score.write('midi', fp=...)`` and then checked: each file must be
readable by both ``mido`` and ``music21`` and every written part must contain
notes.  A ``manifest.json`` describing the files is written next to the output
folder.

Usage::

    python data/make_dataset.py                 # writes data/midi/ and data/manifest.json
    python data/make_dataset.py --out /tmp/midi # writes /tmp/midi/ and /tmp/manifest.json

Requires ``music21==10.5.1`` and ``mido``.  The output is deterministic: running
the script twice produces byte-identical MIDI files and manifest.  The exit
status is 1 if any piece could not be exported or failed verification (such
pieces are skipped and reported), 0 otherwise.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mido
import music21
from music21 import bar, converter, corpus, spanner, stream

#: The music21 version the shipped files were generated with.  Other versions
#: may write slightly different bytes.
EXPECTED_MUSIC21_VERSION = "10.5.1"

DATA_DIR = Path(__file__).resolve().parent
DEFAULT_OUT = DATA_DIR / "midi"


@dataclass(frozen=True)
class Piece:
    """One entry of the dataset.

    Attributes:
        source: Path of the file inside music21's corpus, relative to the
            corpus folder and including the extension (e.g. ``"bach/bwv66.6.mxl"``).
        out: Output file name without extension.  The part before the first
            underscore is the composer/collection (the notebooks group files
            by ``name.split('_')[0]``).
        composer: Human-readable composer (or ``"Traditional"``).
        title: Human-readable title of the piece or movement.
        number: For corpus files that hold several pieces (ABC tune books),
            the number (``X:`` field) of the piece to extract; ``None`` otherwise.
    """

    source: str
    out: str
    composer: str
    title: str
    number: int | None = None


JSB = "Johann Sebastian Bach"
HAYDN = "Joseph Haydn"
MOZART = "Wolfgang Amadeus Mozart"
BEETHOVEN = "Ludwig van Beethoven"
TRAD = "Traditional"

#: The complete, ordered list of pieces in the dataset.
#:
#: Tried and left out because music21 cannot expand their repeats for MIDI
#: export: chopin/mazurka06-2.krn, haydn/opus74no1/movement3.mxl and
#: mozart/k458/movement2.mxl (first/second endings without start-repeats).
#: Left out on purpose: schumann_clara/* (encodings are CC BY-SA 4.0),
#: essenFolksong/* (non-commercial permission only) and oneills1850/* (ABC
#: ties between different pitches are merged on export, dropping notes).
PIECES: list[Piece] = [
    # --- J. S. Bach: four-part chorales (SATB) ---
    Piece("bach/bwv66.6.mxl", "bach_bwv66.6", JSB,
          "Christ ist erstanden (Alleluja! Des soll'n wir alle froh sein)"),
    Piece("bach/bwv269.mxl", "bach_bwv269", JSB, "Aus meines Herzens Grunde"),
    Piece("bach/bwv347.mxl", "bach_bwv347", JSB, "Ich dank' dir, lieber Herre"),
    Piece("bach/bwv153.1.mxl", "bach_bwv153.1", JSB, "Ach Gott, vom Himmel sieh' darein"),
    Piece("bach/bwv86.6.mxl", "bach_bwv86.6", JSB, "Es ist das Heil uns kommen her"),
    Piece("bach/bwv281.mxl", "bach_bwv281", JSB, "Christus, der ist mein Leben"),
    Piece("bach/bwv40.8.mxl", "bach_bwv40.8", JSB, "Freuet euch, ihr Christen alle"),
    Piece("bach/bwv65.7.mxl", "bach_bwv65.7", JSB, "Was mein Gott will, das g'scheh' allzeit"),
    Piece("bach/bwv26.6.mxl", "bach_bwv26.6", JSB, "Ach wie nichtig, ach wie flüchtig"),
    Piece("bach/bwv110.7.mxl", "bach_bwv110.7", JSB, "Wir Christenleut'"),
    Piece("bach/bwv244.3.mxl", "bach_bwv244.3", JSB, "Herzliebster Jesu, was hast du verbrochen"),
    Piece("bach/bwv244.10.mxl", "bach_bwv244.10", JSB, "Nun ruhen alle Wälder"),
    Piece("bach/bwv244.62.mxl", "bach_bwv244.62", JSB, "O Haupt voll Blut und Wunden"),
    Piece("bach/bwv245.15.mxl", "bach_bwv245.15", JSB, "Christus, der uns selig macht"),
    Piece("bach/bwv140.7.mxl", "bach_bwv140.7", JSB, "Wachet auf, ruft uns die Stimme"),
    Piece("bach/bwv80.8.mxl", "bach_bwv80.8", JSB, "Ein' feste Burg ist unser Gott"),
    Piece("bach/bwv253.mxl", "bach_bwv253", JSB, "Ach bleib bei uns, Herr Jesu Christ"),
    Piece("bach/bwv254.mxl", "bach_bwv254", JSB, "Ach Gott, erhör' mein Seufzen"),
    Piece("bach/bwv262.mxl", "bach_bwv262", JSB, "Alle Menschen müssen sterben"),
    Piece("bach/bwv10.7.mxl", "bach_bwv10.7", JSB, "Meine Seel' erhebt den Herren"),
    # --- Keyboard music ---
    Piece("bach/bwv846.mxl", "bach_bwv846_prelude", JSB,
          "Prelude in C major, BWV 846 (Well-Tempered Clavier I)"),
    Piece("cpebach/h186.mxl", "cpebach_h186_mvt2", "Carl Philipp Emanuel Bach",
          "Sonata in A major, H. 186 (Wq. 55/4), 2nd mvt., Poco adagio"),
    Piece("mozart/k545/movement1_exposition.mxl", "mozart_k545_mvt1_exposition", MOZART,
          "Piano Sonata in C major, K. 545, 1st mvt. (exposition only)"),
    Piece("joplin/maple_leaf_rag.mxl", "joplin_maple_leaf_rag", "Scott Joplin",
          "Maple Leaf Rag"),
    # --- String quartets ---
    Piece("haydn/opus1no1/movement1.mxl", "haydn_op1no1_mvt1", HAYDN,
          "String Quartet in B-flat major, Op. 1 No. 1, 1st mvt. (Presto)"),
    Piece("haydn/opus1no1/movement2.mxl", "haydn_op1no1_mvt2", HAYDN,
          "String Quartet in B-flat major, Op. 1 No. 1, 2nd mvt. (Menuetto)"),
    Piece("haydn/opus1no1/movement5.mxl", "haydn_op1no1_mvt5", HAYDN,
          "String Quartet in B-flat major, Op. 1 No. 1, 5th mvt. (Finale: Presto)"),
    Piece("haydn/opus74no1/movement2.mxl", "haydn_op74no1_mvt2", HAYDN,
          "String Quartet in C major, Op. 74 No. 1, 2nd mvt. (Andantino grazioso)"),
    Piece("mozart/k80/movement1.mxl", "mozart_k80_mvt1", MOZART,
          "String Quartet No. 1 in G major, K. 80, 1st mvt. (Adagio)"),
    Piece("mozart/k80/movement3.mxl", "mozart_k80_mvt3", MOZART,
          "String Quartet No. 1 in G major, K. 80, 3rd mvt. (Menuetto)"),
    Piece("mozart/k156/movement2.mxl", "mozart_k156_mvt2", MOZART,
          "String Quartet No. 3 in G major, K. 156, 2nd mvt. (Adagio)"),
    Piece("mozart/k458/movement3.mxl", "mozart_k458_mvt3", MOZART,
          "String Quartet No. 17 in B-flat major, K. 458 'The Hunt', 3rd mvt. (Adagio)"),
    Piece("beethoven/opus18no1/movement3.mxl", "beethoven_op18no1_mvt3", BEETHOVEN,
          "String Quartet in F major, Op. 18 No. 1, 3rd mvt. (Scherzo: Allegro molto)"),
    Piece("beethoven/opus59no3/movement3.mxl", "beethoven_op59no3_mvt3", BEETHOVEN,
          "String Quartet in C major, Op. 59 No. 3, 3rd mvt. (Menuetto: Grazioso)"),
    # --- Folk tunes (single-line melodies) ---
    Piece("ryansMammoth/MasonsApronReel.abc", "folk_masons_apron", TRAD,
          "The Mason's Apron (reel), Ryan's Mammoth Collection (1883)"),
    Piece("ryansMammoth/LanigansBallJig.abc", "folk_lanigans_ball", TRAD,
          "Lanigan's Ball (jig), Ryan's Mammoth Collection (1883)"),
    Piece("ryansMammoth/WindThatShakesTheBarleyReel.abc", "folk_wind_that_shakes_the_barley", TRAD,
          "The Wind That Shakes the Barley (reel), Ryan's Mammoth Collection (1883)"),
    Piece("ryansMammoth/KissTheBrideReel.abc", "folk_kiss_the_bride", TRAD,
          "Kiss the Bride (reel), Ryan's Mammoth Collection (1883)"),
    Piece("airdsAirs/book1.abc", "folk_lads_of_the_village", TRAD,
          "The Lads of the Village, Aird's Airs vol. 1 (1778) No. 3", number=3),
    Piece("airdsAirs/book1.abc", "folk_campbells_are_coming", TRAD,
          "The Campbells Are Coming, Aird's Airs vol. 1 (1778) No. 21", number=21),
]


def load_score(piece: Piece) -> stream.Score:
    """Parse one piece from music21's bundled corpus.

    ``forceSource=True`` makes music21 parse the original file every time and
    neither read nor write its pickle cache.

    Args:
        piece: The piece to load.

    Returns:
        The parsed score.

    Raises:
        TypeError: If the corpus entry does not parse to a single score.
    """
    score = corpus.parse(piece.source, number=piece.number, forceSource=True)
    if not isinstance(score, stream.Score):
        raise TypeError(f"{piece.source} parsed to {type(score).__name__}, not a Score")
    return score


def add_implied_start_repeats(score: stream.Score) -> int:
    """Add the start-repeat barlines that some encodings leave implicit.

    In ``A :| B :|`` the second end-repeat conventionally goes back to the
    start of ``B``, but music21's repeat expansion (which ``write('midi')``
    always applies) goes back to the beginning of the piece instead, playing
    ``A`` far too often.  For every end-repeat that has no start-repeat since
    the previous end-repeat, this puts a start-repeat on the measure right
    after that previous end-repeat.  Modifies ``score`` in place.

    Args:
        score: The score to fix.

    Returns:
        The number of start-repeats added (summed over parts).

    Raises:
        ValueError: If a start-repeat is missing in a score with first/second
            endings, where the correct place cannot be inferred this simply.
    """
    added = 0
    has_endings = bool(score[spanner.RepeatBracket])
    for part in score.parts:
        measures = list(part.getElementsByClass(stream.Measure))
        start_open = True  # the beginning counts as a start for the first end-repeat
        previous_end: int | None = None
        for index, measure in enumerate(measures):
            left = measure.leftBarline
            if isinstance(left, bar.Repeat) and left.direction == "start":
                start_open = True
            right = measure.rightBarline
            if not (isinstance(right, bar.Repeat) and right.direction == "end"):
                continue
            if not start_open and previous_end is not None:
                if has_endings:
                    raise ValueError(f"missing start-repeat before measure {measure.number} "
                                     "in a score with repeat endings")
                measures[previous_end + 1].leftBarline = bar.Repeat(direction="start")
                added += 1
            start_open = False
            previous_end = index
    return added


def count_pitches(s: stream.Stream[Any]) -> int:
    """Count sounding pitches in a stream (each pitch of a chord counts once).

    Args:
        s: Any music21 stream.

    Returns:
        The number of pitches of all notes and chords in ``s``.
    """
    return sum(len(n.pitches) for n in s.recurse().notes)


def sha256_of(path: Path) -> str:
    """Return the hex SHA-256 digest of a file.

    Args:
        path: File to hash.

    Returns:
        The hex digest.
    """
    return hashlib.sha256(path.read_bytes()).hexdigest()


def inspect_midi(path: Path) -> dict[str, Any]:
    """Read a MIDI file with mido and summarise it.

    Args:
        path: The MIDI file.

    Returns:
        A dict with ``notes`` (note-on events with velocity > 0), ``parts``
        (tracks that contain notes), ``empty_tracks`` (non-conductor tracks
        without notes), ``duration_ql`` (end of the last note, in quarter
        notes), ``programs`` (sorted GM program numbers used) and
        ``tempos_bpm`` (distinct tempos, in order of appearance).
    """
    mid = mido.MidiFile(path)
    notes = 0
    parts = 0
    empty_tracks = 0
    end_ticks = 0
    programs: set[int] = set()
    tempos: list[float] = []
    for index, track in enumerate(mid.tracks):
        ticks = 0
        track_notes = 0
        for msg in track:
            ticks += msg.time
            if msg.type in ("note_on", "note_off"):
                end_ticks = max(end_ticks, ticks)
            if msg.type == "note_on" and msg.velocity > 0:
                track_notes += 1
            elif msg.type == "program_change":
                programs.add(msg.program)
            elif msg.type == "set_tempo":
                bpm = round(mido.tempo2bpm(msg.tempo), 2)
                if bpm not in tempos:
                    tempos.append(bpm)
        notes += track_notes
        if track_notes:
            parts += 1
        elif index > 0:  # track 0 is music21's conductor (tempo/meter) track
            empty_tracks += 1
    return {
        "notes": notes,
        "parts": parts,
        "empty_tracks": empty_tracks,
        "duration_ql": round(end_ticks / mid.ticks_per_beat, 4),
        "programs": sorted(programs),
        "tempos_bpm": tempos,
    }


def verify_with_music21(path: Path) -> list[int]:
    """Re-parse a written MIDI file with music21 and count notes per part.

    Args:
        path: The MIDI file.

    Returns:
        The number of pitches in each part found by music21.
    """
    parsed = converter.parse(path, quantizePost=False, forceSource=True)
    parts = list(parsed.parts) if isinstance(parsed, stream.Score) else [parsed]
    return [count_pitches(p) for p in parts]


def export_piece(piece: Piece, out_dir: Path) -> dict[str, Any]:
    """Export one piece to MIDI, verify it and return its manifest entry.

    Args:
        piece: The piece to export.
        out_dir: Folder receiving the ``.mid`` file.

    Returns:
        The manifest entry for the written file.

    Raises:
        ValueError: If the written file fails verification.
    """
    score = load_score(piece)
    repeats_added = add_implied_start_repeats(score)
    # What the MIDI file should contain: repeats expanded, tied notes merged.
    expected_notes = count_pitches(score.expandRepeats().stripTies())
    path = out_dir / f"{piece.out}.mid"
    score.write("midi", fp=path)

    info = inspect_midi(path)
    m21_counts = verify_with_music21(path)
    if info["notes"] == 0 or info["empty_tracks"]:
        raise ValueError(f"{info['empty_tracks']} track(s) without notes")
    if info["notes"] != expected_notes:
        raise ValueError(f"{info['notes']} notes written, {expected_notes} expected")
    if not m21_counts or min(m21_counts) == 0:
        raise ValueError(f"music21 re-parse found a part without notes: {m21_counts}")

    return {
        "name": path.name,
        "source": piece.source,
        "number": piece.number,
        "composer": piece.composer,
        "title": piece.title,
        "parts": info["parts"],
        "notes": info["notes"],
        "score_notes": count_pitches(score),
        "implied_start_repeats_added": repeats_added,
        "duration_ql": info["duration_ql"],
        "programs": info["programs"],
        "tempos_bpm": info["tempos_bpm"],
        "bytes": path.stat().st_size,
        "sha256": sha256_of(path),
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse the command line.

    Args:
        argv: Arguments (defaults to ``sys.argv[1:]``).

    Returns:
        The parsed arguments.
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help="folder for the .mid files (default: data/midi)")
    parser.add_argument("--manifest", type=Path, default=None,
                        help="manifest path (default: <out>/../manifest.json)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Export all pieces, verify them and write the manifest.

    Args:
        argv: Command-line arguments (defaults to ``sys.argv[1:]``).

    Returns:
        Process exit status: 0 if every piece was written, 1 otherwise.
    """
    args = parse_args(argv)
    out_dir: Path = args.out
    manifest_path: Path = args.manifest or out_dir.parent / "manifest.json"
    out_dir.mkdir(parents=True, exist_ok=True)

    if music21.__version__ != EXPECTED_MUSIC21_VERSION:
        print(f"warning: music21 {music21.__version__} installed, dataset was made with "
              f"{EXPECTED_MUSIC21_VERSION}; files may differ byte-wise", file=sys.stderr)
    names = [p.out for p in PIECES]
    if len(set(names)) != len(names):
        raise SystemExit("duplicate output names in PIECES")

    # music21 emits warnings for harmless quirks of some encodings; keep output readable.
    warnings.filterwarnings("ignore", module=r"music21(\..*)?")

    entries: list[dict[str, Any]] = []
    failed: list[str] = []
    for piece in PIECES:
        try:
            entry = export_piece(piece, out_dir)
        except Exception as exc:  # noqa: BLE001 - report and skip any failure
            failed.append(piece.out)
            (out_dir / f"{piece.out}.mid").unlink(missing_ok=True)
            print(f"SKIPPED {piece.out}.mid ({piece.source}): {type(exc).__name__}: {exc}")
            continue
        entries.append(entry)
        print(f"wrote {entry['name']:<40} parts={entry['parts']} notes={entry['notes']:<5} "
              f"size={entry['bytes'] / 1024:.1f} KiB")

    manifest = {
        "description": "MIDI files exported from the corpus bundled with music21; "
                       "see data/README.md",
        "music21_version": music21.__version__,
        "files": entries,
    }
    manifest_path.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n",
                             encoding="utf-8")

    expected = {f"{n}.mid" for n in names}
    extra = sorted(p.name for p in out_dir.glob("*.mid") if p.name not in expected)
    if extra:
        print(f"note: {out_dir} also holds files not in PIECES: {', '.join(extra)}")

    total = sum(e["bytes"] for e in entries)
    print(f"{len(entries)} files, {sum(e['notes'] for e in entries)} notes, "
          f"{total / 1024:.1f} KiB in {out_dir}; manifest: {manifest_path}")
    if failed:
        print(f"{len(failed)} piece(s) skipped: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
