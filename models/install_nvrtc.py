#!/usr/bin/env python3
"""Installs NVRTC, CUDA's run-time compiler, for the `cuda` feature's tests
(`make nvrtc`).

From the wheel pinned by hash in `nvrtc.txt` it copies `libnvrtc.so.12` and
the builtins library it loads into DEST/lib (default .kino/nvrtc/lib), where
`make test` points LD_LIBRARY_PATH. Compiling kernels to PTX needs no GPU,
so the tests check that every kernel compiles on machines without one.
Nothing in the wheel is imported or executed.

Usage: install_nvrtc.py [DEST]
Run it again and it does nothing while DEST holds this version.
"""

import sys
import zipfile
from pathlib import Path

from install import HERE, extract, install_libraries

VERSION = "12.8.93"
LIBS = ["libnvrtc.so.12", "libnvrtc-builtins.so.12.8"]


def fill(wheels, staging):
    [wheel] = wheels.glob("nvidia_cuda_nvrtc_cu12-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        for lib in LIBS:
            extract(zf, f"nvidia/cuda_nvrtc/lib/{lib}", staging / "lib" / lib)


def main():
    dest = Path(sys.argv[1] if len(sys.argv) > 1 else ".kino/nvrtc")
    install_libraries("nvrtc", dest, VERSION, HERE / "nvrtc.txt", fill)


if __name__ == "__main__":
    main()
