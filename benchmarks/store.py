"""The store stage (issue 12, item 5): a large folder through the token store beside the in-memory path.

    .venv/bin/python -m benchmarks --stages store                      # 20,000 files: about half an hour on 2 cores
    .venv/bin/python -m benchmarks --stages store --store-files 5000   # a quicker look

A synthetic folder of ``--store-files`` MIDI files is made in a temporary folder from the
shipped pieces: copies transposed by -3..+3 semitones with their tempo scaled by a different
factor each, so that no two files have the same bytes (the loader skips duplicates) and each
is read. Then, each in a fresh Python process of its own:

``store``
    :func:`helpers.pipeline.prepare_store` (a chunk of files at a time into a token store on
    disk) and one epoch of :func:`helpers.pipeline.train_store_run` (windows read from the
    memory map);
``memory``
    :func:`helpers.pipeline.prepare` (every note and token in pandas tables) and one epoch of
    :func:`helpers.pipeline.train_run`.

Both train the same small improved-recipe model (a GRU of 64 units, embedding 16, windows of
128, batches of 64) on the same MIDI-like tokens (keys as written: normalising the keys costs
about 80 ms a piece with music21 on either side and would only add the same time to both).
The table gives each side's peak resident memory (the kernel's high-water mark of the
process, ``ru_maxrss``, TensorFlow included; the reader's worker processes are not counted,
on either side), the same above the process's memory once TensorFlow and the helpers are
imported, and the files per second of ``prepare``; the ratios are in the store's favour.
"""

from __future__ import annotations

import argparse
import io
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

#: Transpositions of the synthetic copies, semitones.
TRANSPOSITIONS = range(-3, 4)
#: The model both sides train for one epoch.
MODEL = {"units": (64,), "embedding_dim": 16}
SEQ_LENGTH, BATCH_SIZE = 128, 64


def _transposed_bytes(path: Path, semitones: int) -> bytes:
    """The file as MIDI bytes with every pitched note moved (drums kept) and a tempo event."""
    import mido

    midi = mido.MidiFile(str(path), clip=True)
    has_tempo = False
    for track in midi.tracks:
        for i, message in enumerate(track):
            if message.type in ("note_on", "note_off") and message.channel != 9:
                track[i] = message.copy(note=min(127, max(0, message.note + semitones)))
            has_tempo = has_tempo or message.type == "set_tempo"
    if not has_tempo:
        midi.tracks[0].insert(0, mido.MetaMessage("set_tempo", tempo=500_000, time=0))
    buffer = io.BytesIO()
    midi.save(file=buffer)
    return buffer.getvalue()


def _scaled_tempi(data: bytes, factor: float) -> bytes:
    """``data`` with the microseconds per quarter of every tempo event (``FF 51 03 tt tt tt``) times ``factor``."""
    out, start = bytearray(data), 0
    while (at := data.find(b"\xff\x51\x03", start)) >= 0:
        tempo = int.from_bytes(data[at + 3: at + 6], "big")
        out[at + 3: at + 6] = min(0xFFFFFF, max(1, round(tempo * factor))).to_bytes(3, "big")
        start = at + 6
    return bytes(out)


def make_folder(sources: list[Path], n_files: int, into: Path) -> Path:
    """``n_files`` distinct MIDI files below ``into`` (``vNNNN/<name>``), made from ``sources``."""
    bases = {}
    for k in range(n_files):
        source = sources[k % len(sources)]
        copy = k // len(sources)
        semitones = TRANSPOSITIONS[copy % len(TRANSPOSITIONS)]
        if (source, semitones) not in bases:
            bases[source, semitones] = _transposed_bytes(source, semitones)
        factor = 1.0 + 0.001 * (copy // len(TRANSPOSITIONS) + 1)  # a different tempo for each copy
        target = into / f"v{copy:04d}" / source.name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(_scaled_tempi(bases[source, semitones], factor))
    return into


def _status_kib(key: str) -> int:
    with open("/proc/self/status") as handle:
        return next(int(line.split()[1]) for line in handle if line.startswith(key + ":"))


def measure_side(side: str, folder: Path, work: Path) -> dict:
    """Prepare and train one epoch on one side, in this process; what was measured."""
    from helpers import config, models, pipeline  # noqa: F401 - TensorFlow and the helpers in the baseline

    config.RUNS_DIR = work / "runs"
    baseline = _status_kib("VmRSS")
    start = time.perf_counter()
    if side == "store":
        data = pipeline.prepare_store(folder, work / "store", progress=False)
        files, pieces, codes = len(data.entries), len(data.pieces), data.n_codes
    else:
        data = pipeline.prepare(folder, encoding="midilike")
        files = len(data.report.used) + len(data.report.skipped)
        pieces, codes = int(data.events["piece"].nunique()), len(data.events)
    prepare_seconds = time.perf_counter() - start
    prepare_peak = _status_kib("VmHWM")
    start = time.perf_counter()
    options = dict(seq_length=SEQ_LENGTH, epochs=1, batch_size=BATCH_SIZE, seed=0, run_dir=work / "run", **MODEL)
    if side == "store":
        pipeline.train_store_run(data, "gru", **options)
    else:
        pipeline.train_run(data, "gru", recipe="improved", **options)
    epoch_seconds = time.perf_counter() - start
    return {
        "side": side, "files": files, "pieces": pieces, "codes": codes, "prepare_s": prepare_seconds,
        "epoch_s": epoch_seconds, "baseline_kib": baseline, "prepare_peak_kib": prepare_peak,
        "peak_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    }


def _run_side(side: str, folder: Path, work: Path) -> dict:
    work.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.store", "--side", side, "--data", str(folder), "--work", str(work)],
        capture_output=True, text=True, check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"the {side} side failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def bench_store(source_folder: Path, n_files: int = 20_000):
    """Make the synthetic folder, measure both sides in fresh processes, return the stage's rows."""
    from benchmarks.run import Stage, compare, number
    from helpers import midi_files

    stage = Stage()
    sources = midi_files.find_midi_files(source_folder)
    with tempfile.TemporaryDirectory(prefix="store-bench-") as scratch:
        scratch = Path(scratch)
        start = time.perf_counter()
        folder = make_folder(sources, n_files, scratch / "midi")
        made = time.perf_counter() - start
        sides = {side: _run_side(side, folder, scratch / side) for side in ("memory", "store")}
    memory, store = sides["memory"], sides["store"]
    mib = 1024.0

    def per_second(side):
        return side["files"] / side["prepare_s"]

    stage.rows += [
        compare(f"store: prepare {n_files:,} files", "files/s", per_second(memory), per_second(store)),
        compare("store: prepare + 1 epoch, peak RSS", "MiB", memory["peak_kib"] / mib, store["peak_kib"] / mib,
                higher_is_better=False),
        compare("store: the same above TF + helpers", "MiB", (memory["peak_kib"] - memory["baseline_kib"]) / mib,
                (store["peak_kib"] - store["baseline_kib"]) / mib, higher_is_better=False),
        compare("store: prepare alone, peak RSS", "MiB", memory["prepare_peak_kib"] / mib,
                store["prepare_peak_kib"] / mib, higher_is_better=False),
        compare("store: one training epoch", "s", memory["epoch_s"], store["epoch_s"], higher_is_better=False),
    ]
    stage.lines += [
        f"synthetic folder: {n_files:,} files made in {made:.0f} s from {len(sources)} shipped pieces (±3 semitones, "
        "each copy at its own tempo); 'chapter' column: the in-memory path, 'project' column: the token store",
        *(f"{name}: {side['pieces']:,} pieces, {side['codes']:,} tokens; prepare {side['prepare_s']:.0f} s, "
          f"1 epoch {side['epoch_s']:.0f} s; peak RSS {number(side['peak_kib'] / mib)} MiB "
          f"(TF + helpers imported: {number(side['baseline_kib'] / mib)} MiB)" for name, side in sides.items()),
    ]
    stage.values = sides
    return stage


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.store", description=__doc__.split("\n\n")[0])
    parser.add_argument("--side", choices=["store", "memory"], help="measure one side in this process (used by the stage)")
    parser.add_argument("--data", type=Path, required=True, help="the MIDI folder")
    parser.add_argument("--work", type=Path, help="a folder for this side's store and run")
    args = parser.parse_args(argv)
    print(json.dumps(measure_side(args.side, args.data, args.work)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
