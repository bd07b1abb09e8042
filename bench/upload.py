"""Upload benchmark: a large original through the API, beside a direct put to the same S3 server.

Runs ``qualarchive serve`` on embedded defaults in a temporary data directory (so the API and its
SeaweedFS are exactly what a user gets), uploads one file of ``--mib`` MiB with curl, then puts
the same file straight into the same server with the ``minio`` client. Reports MiB/s for both
and their ratio (medians of alternating runs), and the API process's resident memory before
and at its peak during the uploads.

    python bench/upload.py [--mib 2048] [--runs 5] [--out bench/results]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import psutil
from minio import Minio

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.harness import Serve, cost, machine, rate  # noqa: E402

BIN = Path(sys.executable).parent
TOKEN = re.compile(r"\bqa_[A-Za-z0-9_-]{20,}")
STORE = re.compile(r"embedded SeaweedFS at (127\.0\.0\.1:\d+)")
MIB = 1024 * 1024


def make_wav(path: Path, mib: int) -> None:
    """A WAV file of ``mib`` MiB: a real header and incompressible sample data."""
    data_bytes = mib * MIB - 44
    header = b"RIFF" + struct.pack("<I", 36 + data_bytes) + b"WAVEfmt "
    header += struct.pack("<IHHIIHH", 16, 1, 2, 48000, 48000 * 4, 4, 16)
    header += b"data" + struct.pack("<I", data_bytes)
    block = os.urandom(4 * MIB)
    with path.open("wb") as out:
        out.write(header)
        remaining = data_bytes
        while remaining > 0:
            out.write(block[: min(len(block), remaining)])
            remaining -= len(block)


class RssSampler(threading.Thread):
    """Samples one process's resident set size every 20 ms."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.process = psutil.Process(pid)
        self.peak = 0
        self.stop_event = threading.Event()

    def run(self) -> None:
        while not self.stop_event.is_set():
            self.peak = max(self.peak, self.process.memory_info().rss)
            time.sleep(0.02)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mib", type=int, default=2048, help="file size in MiB")
    parser.add_argument("--runs", type=int, default=5, help="alternating runs of each path")
    parser.add_argument("--out", type=Path, default=Path("bench/results"))
    args = parser.parse_args()
    if shutil.which("curl") is None:
        sys.exit("curl is needed to send the upload")

    with tempfile.TemporaryDirectory(prefix="qa-bench-upload-") as tmp:
        work = Path(tmp)
        sample = work / "recording.wav"
        make_wav(sample, args.mib)
        size = sample.stat().st_size

        server = Serve(work)
        api_seconds: list[float] = []
        direct_seconds: list[float] = []
        try:
            time.sleep(1.0)
            creds = json.loads((server.data_dir / "objects" / "s3-credentials.json").read_text())
            client = Minio(
                server.store_endpoint,
                access_key=creds["access_key"],
                secret_key=creds["secret_key"],
                secure=False,
            )
            rss_before = psutil.Process(server.pid).memory_info().rss
            sampler = RssSampler(server.pid)
            sampler.start()
            # Alternate the two paths so that both see the same machine; report medians.
            for run in range(args.runs):
                started = time.perf_counter()
                result = subprocess.run(
                    [
                        "curl",
                        "-sS",
                        "--fail-with-body",
                        "-H",
                        f"Authorization: Bearer {server.token}",
                        "-F",
                        f"title=Benchmark recording {run}",
                        "-F",
                        "source_type=interview",
                        "-F",
                        "file_kind=recording",
                        "-F",
                        f"file=@{sample}",
                        f"{server.url}/api/v1/sources",
                    ],
                    capture_output=True,
                    text=True,
                )
                api_seconds.append(time.perf_counter() - started)
                if result.returncode != 0:
                    sys.exit(f"upload failed: {result.stdout} {result.stderr}")
                uploaded = json.loads(result.stdout)
                assert uploaded["files"][0]["size_bytes"] == size

                started = time.perf_counter()
                client.fput_object("derived", f"bench/direct-put-{run}.wav", str(sample))
                direct_seconds.append(time.perf_counter() - started)
                client.remove_object("derived", f"bench/direct-put-{run}.wav")
            sampler.stop_event.set()
            sampler.join()
        finally:
            server.stop()

    api_rate = size / MIB / statistics.median(api_seconds)
    direct_rate = size / MIB / statistics.median(direct_seconds)
    report = {
        "benchmark": "upload",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "file_mib": size / MIB,
        "runs": args.runs,
        "api_seconds": [cost(t) for t in api_seconds],
        "direct_put_seconds": [cost(t) for t in direct_seconds],
        "api_mib_per_s": rate(api_rate),
        "direct_put_mib_per_s": rate(direct_rate),
        "api_over_direct": rate(api_rate / direct_rate, 3),
        "api_rss_before_mib": cost(rss_before / MIB, 1),
        "api_rss_peak_mib": cost(sampler.peak / MIB, 1),
        "api_rss_growth_mib": cost((sampler.peak - rss_before) / MIB, 1),
        "notes": "medians of alternating runs; client: curl -F; server: qualarchive serve with "
        "its embedded SeaweedFS; direct: minio fput_object of the same file to the same server",
    }
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"upload-{datetime.now(UTC):%Y-%m-%d}.json"
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
