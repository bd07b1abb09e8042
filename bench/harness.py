"""What the benchmarks share: the server they drive, the machine they report, and figures
rounded in the honest direction (rates and ratios down, times and memory up), so that no
figure looks better than it measured."""

from __future__ import annotations

import math
import os
import platform
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil


def machine() -> dict[str, object]:
    cpu = "unknown"
    with open("/proc/cpuinfo") as info:
        for line in info:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "ram_gib": math.floor(psutil.virtual_memory().total / 1024**3 * 10) / 10,
        "python": platform.python_version(),
        "system": platform.system(),
    }


def rate(value: float, digits: int = 1) -> float:
    """A higher-is-better figure, rounded down."""
    scale = 10**digits
    return math.floor(value * scale) / scale


def cost(value: float, digits: int = 2) -> float:
    """A lower-is-better figure (seconds, MiB), rounded up."""
    scale = 10**digits
    return math.ceil(value * scale) / scale


BIN = Path(sys.executable).parent
TOKEN = re.compile(r"\bqa_[A-Za-z0-9_-]{20,}")
STORE = re.compile(r"embedded SeaweedFS at (127\.0\.0\.1:\d+)")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Serve:
    """``qualarchive serve`` on embedded defaults in ``work``, as a user would run it.

    Gives the admin token it prints on first start, the embedded store's endpoint, and its PID.
    """

    def __init__(self, work: Path, **env: str) -> None:
        self.work = work
        self.data_dir = work / "data"
        self.port = free_port()
        self.log = work / "serve.log"
        environment = {k: v for k, v in os.environ.items() if not k.startswith("QUALARCHIVE_")}
        environment |= {"QUALARCHIVE_DATA_DIR": str(self.data_dir), "HOME": str(work), **env}
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                [str(BIN / "qualarchive"), "serve", "--port", str(self.port)],
                env=environment,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 120
        self.token = self.store_endpoint = ""
        while not self.ready():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                sys.exit(f"the server did not start:\n{self.output()}")
            time.sleep(0.2)

    def ready(self) -> bool:
        text = self.output()
        token, store = TOKEN.search(text), STORE.search(text)
        self.token = token.group(0) if token else ""
        self.store_endpoint = store.group(1) if store else ""
        if not (self.token and self.store_endpoint):
            return False
        try:
            return httpx.get(f"{self.url}/readyz", timeout=5).status_code == 200
        except httpx.HTTPError:
            return False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        return self.process.pid

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def api(self) -> httpx.Client:
        return httpx.Client(
            base_url=f"{self.url}/api/v1",
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=120,
        )

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
