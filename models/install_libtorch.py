#!/usr/bin/env python3
"""Installs a CPU libtorch for the `torch` feature (`make libtorch`).

From the wheels pinned by hash in `libtorch.txt` it copies out libtorch's
CPU libraries and headers, and the two CUDA libraries libtorch_cpu links
(the CUDA runtime and CUPTI; they load without a GPU), into DEST (default
.kino/libtorch) in the layout tch's build expects: `LIBTORCH=DEST`. Nothing
in the wheels is imported or executed. It writes `DEST/build-version`, which
tch checks against the torch version it was made for.

Usage: install_libtorch.py [DEST]
Run it again and it does nothing while DEST holds this version.
"""

import shutil
import sys
import tempfile
import zipfile
from pathlib import Path

from install import HERE, download
VERSION = "2.11.0"
TORCH_LIBS = ["libc10.so", "libtorch.so", "libtorch_cpu.so", "libtorch_global_deps.so", "libgomp.so.1"]
CUDA_LIBS = {"nvidia_cuda_runtime": "libcudart.so.13", "nvidia_cuda_cupti": "libcupti.so.13"}


def main():
    dest = Path(sys.argv[1] if len(sys.argv) > 1 else ".kino/libtorch")
    stamp = dest / "build-version"
    if stamp.exists() and stamp.read_text().strip() == VERSION:
        print(f"libtorch: {VERSION} is installed in {dest}")
        return
    with tempfile.TemporaryDirectory() as tmp:
        wheels = Path(tmp)
        download(HERE / "libtorch.txt", wheels)
        staging = dest.with_name(dest.name + ".partial")
        shutil.rmtree(staging, ignore_errors=True)
        (staging / "lib").mkdir(parents=True)
        [torch] = wheels.glob("torch-*.whl")
        with zipfile.ZipFile(torch) as zf:
            for name in zf.namelist():
                if name.startswith("torch/include/"):
                    zf.extract(name, staging / "unpacked")
            for lib in TORCH_LIBS:
                with zf.open(f"torch/lib/{lib}") as src, open(staging / "lib" / lib, "wb") as out:
                    shutil.copyfileobj(src, out, 1 << 20)
        (staging / "unpacked" / "torch" / "include").rename(staging / "include")
        shutil.rmtree(staging / "unpacked")
        for package, lib in CUDA_LIBS.items():
            [wheel] = wheels.glob(f"{package}-*.whl")
            with zipfile.ZipFile(wheel) as zf, zf.open(f"nvidia/cu13/lib/{lib}") as src, \
                    open(staging / "lib" / lib, "wb") as out:
                shutil.copyfileobj(src, out, 1 << 20)
        (staging / "build-version").write_text(VERSION + "\n")
        shutil.rmtree(dest, ignore_errors=True)
        staging.rename(dest)
    size = sum(p.stat().st_size for p in dest.rglob("*") if p.is_file()) / 1e6
    print(f"libtorch: installed {VERSION} ({size:.0f} MB) in {dest}")


if __name__ == "__main__":
    main()
