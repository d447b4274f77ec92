"""faster-whisper (CTranslate2) on a 16 kHz WAV, for the `asr` bench's
side-by-side table: prints one JSON line {text, seconds, load_seconds,
segments}.

Run by `cargo bench -p kino-whisper --bench asr`, with the Python named by
KINO_FASTER_WHISPER_PYTHON:

    python faster_whisper.py MODEL_DIR FILE.wav COMPUTE_TYPE THREADS WORD_TIMES(0|1)

`seconds` is the transcription alone (model load excluded, as for ours).
Decoding matches ours as far as faster-whisper allows: greedy (beam 1), no
temperature fallback, English, no VAD filter (its own 30 s seek loop).
"""

import json
import os
import sys
import time
import wave

# This file is named like the package: drop its folder from the import path
# (Python puts it first) so `faster_whisper` is the installed package.
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path = [p for p in sys.path if os.path.abspath(p or os.curdir) != HERE]

import numpy as np  # noqa: E402
from faster_whisper import WhisperModel  # noqa: E402


def read_wav(path):
    with wave.open(path, "rb") as w:
        if w.getnchannels() != 1 or w.getframerate() != 16000 or w.getsampwidth() != 2:
            sys.exit(f"{path}: expected 16 kHz mono 16-bit PCM")
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)
    return pcm.astype(np.float32) / 32768.0


def main():
    model_dir, wav, compute_type, threads, word_times = sys.argv[1:6]
    audio = read_wav(wav)
    started = time.perf_counter()
    model = WhisperModel(
        model_dir, device="cpu", compute_type=compute_type, cpu_threads=int(threads)
    )
    load_seconds = time.perf_counter() - started
    started = time.perf_counter()
    segments, _info = model.transcribe(
        audio,
        language="en",
        beam_size=1,
        temperature=0.0,
        word_timestamps=word_times == "1",
        vad_filter=False,
    )
    # The generator decodes lazily: consume it inside the timed span.
    segments = [(s.start, s.end, s.text.strip()) for s in segments]
    seconds = time.perf_counter() - started
    print(
        json.dumps(
            {
                "text": " ".join(s[2] for s in segments),
                "seconds": seconds,
                "load_seconds": load_seconds,
                "segments": segments,
            }
        )
    )


if __name__ == "__main__":
    main()
