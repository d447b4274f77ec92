#!/usr/bin/env python3
"""librosa's beat tracker on WAV files, for `cargo bench --bench beats`.

Usage: reference.py WAV...

Prints one JSON object on stdout:

    {"librosa": VERSION, "warmup_seconds": S,
     "results": [{"path": P, "tempo_bpm": T, "beats": [seconds...],
                  "seconds": S}, ...]}

Each file is read first (soundfile, at its own rate: nothing is resampled);
only `librosa.beat.beat_track(y=..., sr=...)` with its defaults (hop 512,
start_bpm 120, tightness 100, trimmed) is timed, once per file, after one
untimed call on the first file that compiles librosa's numba kernels (that
first call's time is `warmup_seconds`).
"""

import json
import sys
import time

import librosa
import numpy as np
import soundfile


def beat_track(y, sr):
    tempo, beats = librosa.beat.beat_track(y=y, sr=sr, units="time")
    return float(np.atleast_1d(tempo)[0]), [float(t) for t in beats]


def main(paths):
    audio = []
    for path in paths:
        y, sr = soundfile.read(path, dtype="float32", always_2d=True)
        audio.append((path, np.ascontiguousarray(y.mean(axis=1)), sr))
    warmup = 0.0
    if audio:
        start = time.perf_counter()
        beat_track(audio[0][1], audio[0][2])
        warmup = time.perf_counter() - start
    results = []
    for path, y, sr in audio:
        start = time.perf_counter()
        tempo, beats = beat_track(y, sr)
        elapsed = time.perf_counter() - start
        results.append(
            {"path": path, "tempo_bpm": tempo, "beats": beats, "seconds": elapsed}
        )
    json.dump(
        {"librosa": librosa.__version__, "warmup_seconds": warmup, "results": results},
        sys.stdout,
    )
    print()


if __name__ == "__main__":
    main(sys.argv[1:])
