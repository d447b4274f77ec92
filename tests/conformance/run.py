#!/usr/bin/env python3
"""Checks a running `kino serve` against its own OpenAPI document with
schemathesis: every operation, positive and negative cases, stateful
sequences along the links schemathesis infers, every check it has. Any
failure fails `make test`.

Usage: run.py KINO_BINARY [MAX_EXAMPLES]

It starts the server on a free loopback port with a fresh data directory,
makes a tenant, an API key and one completed caption job (a 1 s clip from
ffmpeg and an SRT) so the job routes reach real data, runs `st` with
`schemathesis.toml` and the hooks beside this file, and stops the server.
The seed is fixed (KINO_CONFORMANCE_SEED overrides it): a run is
reproducible, and a new seed is a new exploration.
"""

import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Api:
    def __init__(self, base):
        self.base = base

    def call(self, method, path, token, body=None, content_type=None):
        data = body if isinstance(body, (bytes, type(None))) else json.dumps(body).encode()
        request = urllib.request.Request(self.base + path, data=data, method=method)
        request.add_header("Authorization", f"Bearer {token}")
        if content_type or body is not None and not isinstance(body, bytes):
            request.add_header("Content-Type", content_type or "application/json")
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read() or b"null")


def wait_until_up(base, server):
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit(f"conformance: kino serve exited with {server.returncode}")
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    sys.exit("conformance: kino serve did not answer /healthz within 60 s")


def completed_job(api, key, work):
    """A caption job of a 1 s clip with its transcript, run to completion."""
    clip = work / "clip.mp4"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=160x120:rate=12",
         "-f", "lavfi", "-i", "sine=frequency=440", "-t", "1", "-pix_fmt", "yuv420p",
         "-c:v", "libx264", "-c:a", "aac", str(clip)],
        check=True,
    )
    video = api.call("POST", "/inputs", key, clip.read_bytes(), "application/octet-stream")
    srt = api.call("POST", "/inputs", key, b"1\n00:00:00,100 --> 00:00:00,900\nHello.\n",
                   "application/octet-stream")
    job = api.call("POST", "/jobs", key, {
        "pipeline": "caption",
        "inputs": {
            "video": {"sha256": video["sha256"], "name": "clip.mp4"},
            "transcript": {"sha256": srt["sha256"], "name": "clip.srt"},
        },
    })
    deadline = time.monotonic() + 300
    while job["state"] not in ("completed", "failed"):
        if time.monotonic() > deadline:
            sys.exit(f"conformance: the caption job did not finish in 300 s: {job}")
        time.sleep(0.5)
        job = api.call("GET", f"/jobs/{job['id']}", key)
    if job["state"] != "completed":
        sys.exit(f"conformance: the caption job failed: {job['error']}")
    return job["id"]


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    kino = Path(sys.argv[1]).resolve()
    max_examples = sys.argv[2] if len(sys.argv) == 3 else "100"
    st = Path(sys.executable).parent / "st"
    admin = secrets.token_hex(16)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="kino-conformance-") as tmp:
        work = Path(tmp)
        (work / "kino-serve.toml").write_text(
            f'listen = "127.0.0.1:{port}"\ndata-dir = "data"\nsignature-policy = "optional"\n'
        )
        log = open(work / "serve.log", "w")
        server = subprocess.Popen(
            [str(kino), "serve", "--config", str(work / "kino-serve.toml")],
            env={**os.environ, "KINO_ADMIN_TOKEN": admin, "RUST_LOG": "warn"},
            stdout=log, stderr=subprocess.STDOUT, cwd=work,
        )
        try:
            wait_until_up(base, server)
            api = Api(base)
            tenant = api.call("POST", "/admin/tenants", admin, {"name": "conformance"})
            key = api.call("POST", f"/admin/tenants/{tenant['id']}/keys", admin)["key"]
            job = completed_job(api, key, work)
            env = {
                **os.environ,
                "KINO_ADMIN_TOKEN": admin,
                "KINO_TENANT_KEY": key,
                "KINO_TENANT_ID": tenant["id"],
                "KINO_JOB_ID": job,
                "SCHEMATHESIS_HOOKS": "hooks",
                "PYTHONPATH": str(HERE),
            }
            seed = os.environ.get("KINO_CONFORMANCE_SEED", "20261130")
            command = [str(st), "--config-file", str(HERE / "schemathesis.toml"), "run",
                       f"{base}/openapi.json", "--seed", seed, "--max-examples", max_examples,
                       "--no-color"]
            print("conformance:", " ".join(command[1:]), flush=True)
            code = subprocess.run(command, env=env).returncode
            if server.poll() is not None:
                print(f"conformance: kino serve died during the run ({server.returncode})")
                code = code or 1
        finally:
            server.terminate()
            try:
                server.wait(10)
            except subprocess.TimeoutExpired:
                server.kill()
            log.close()
            if server.returncode not in (0, -15) or os.environ.get("KINO_CONFORMANCE_LOG"):
                print((work / "serve.log").read_text()[-4000:])
    sys.exit(code)


if __name__ == "__main__":
    main()
