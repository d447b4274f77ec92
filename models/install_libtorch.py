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
import zipfile
from pathlib import Path

from install import HERE, extract, install_libraries

VERSION = "2.11.0"
TORCH_LIBS = ["libc10.so", "libtorch.so", "libtorch_cpu.so", "libtorch_global_deps.so", "libgomp.so.1"]
CUDA_LIBS = {"nvidia_cuda_runtime": "libcudart.so.13", "nvidia_cuda_cupti": "libcupti.so.13"}


def fill(wheels, staging):
    [torch] = wheels.glob("torch-*.whl")
    with zipfile.ZipFile(torch) as zf:
        for name in zf.namelist():
            if name.startswith("torch/include/"):
                zf.extract(name, staging / "unpacked")
        for lib in TORCH_LIBS:
            extract(zf, f"torch/lib/{lib}", staging / "lib" / lib)
    (staging / "unpacked" / "torch" / "include").rename(staging / "include")
    shutil.rmtree(staging / "unpacked")
    for package, lib in CUDA_LIBS.items():
        [wheel] = wheels.glob(f"{package}-*.whl")
        with zipfile.ZipFile(wheel) as zf:
            extract(zf, f"nvidia/cu13/lib/{lib}", staging / "lib" / lib)


def main():
    dest = Path(sys.argv[1] if len(sys.argv) > 1 else ".kino/libtorch")
    # tch checks `build-version` against the torch it was made for.
    install_libraries("libtorch", dest, VERSION, HERE / "libtorch.txt", fill, stamp="build-version")


if __name__ == "__main__":
    main()
