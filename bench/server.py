"""Start a WSGI app under gunicorn on a loopback port, watch its workers' memory, always stop it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == pid:
            found.append(int(entry))
    return found


def _status_kib(pid: int, key: str) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def rss_kib(pid: int) -> int:
    return _status_kib(pid, "VmRSS:")


class Server:
    """``with Server(...) as s:`` runs gunicorn; ``s.take_peak()`` is the workers' peak RSS since the last call."""

    def __init__(self, name: str, app: str, *, python_bin: str, env: dict[str, str], workers: int = 2,
                 threads: int = 4, cwd: Path = ROOT, log_dir: Path, ready_path: str = "/",
                 ready_timeout: float = 120.0, extra_args: list[str] | None = None) -> None:
        self.name = name
        self.port = free_port()
        gunicorn = str(Path(python_bin).parent / "gunicorn")
        self.args = [gunicorn, app, "--bind", f"127.0.0.1:{self.port}", "--workers", str(workers),
                     "--worker-class", "gthread", "--threads", str(threads), "--keep-alive", "60",
                     "--timeout", "300", "--graceful-timeout", "5", "--log-level", "warning",
                     *(extra_args or [])]
        self.env = {**os.environ, **env}
        self.cwd = cwd
        self.log_path = log_dir / f"{name}.log"
        self.ready_path = ready_path
        self.ready_timeout = ready_timeout
        self.proc: subprocess.Popen[bytes] | None = None
        self._peak = 0
        self._peak_all = 0
        self._stop = threading.Event()
        self._sampler: threading.Thread | None = None
        self._log: Any = None

    # -- lifecycle -----------------------------------------------------------
    def __enter__(self) -> Server:
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(self.args, cwd=self.cwd, env=self.env, stdout=self._log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        self._sampler = threading.Thread(target=self._sample, daemon=True)
        self._sampler.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def _wait_ready(self) -> None:
        import http.client

        deadline = time.monotonic() + self.ready_timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}; see {self.log_path}:\n"
                                   + self.log_path.read_text(errors="replace")[-3000:])
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                conn.request("GET", self.ready_path)
                conn.getresponse().read()
                conn.close()
                return
            except OSError:
                time.sleep(0.3)
        raise RuntimeError(f"{self.name} not ready after {self.ready_timeout:.0f} s; see {self.log_path}")

    def stop(self) -> None:
        self._stop.set()
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.proc.wait(10)
        if self._sampler is not None:
            self._sampler.join(2)
        if self._log is not None:
            self._log.close()
            self._log = None

    # -- memory ---------------------------------------------------------------
    def workers_rss(self) -> int:
        assert self.proc is not None
        return sum(rss_kib(pid) for pid in _children(self.proc.pid))

    def _sample(self) -> None:
        while not self._stop.is_set():
            rss = self.workers_rss()
            self._peak = max(self._peak, rss)
            self._peak_all = max(self._peak_all, rss)
            self._stop.wait(0.25)

    def take_peak(self) -> int:
        """Peak RSS (KiB, summed over the workers) since the previous call, and reset it."""
        peak = max(self._peak, self.workers_rss())
        self._peak = 0
        return peak

    @property
    def peak_overall(self) -> int:
        return self._peak_all

    def reset_worker_peaks(self) -> int:
        """Reset each worker's peak RSS (VmHWM, through /proc/<pid>/clear_refs); the largest current RSS."""
        assert self.proc is not None
        current = 0
        for pid in _children(self.proc.pid):
            try:
                with open(f"/proc/{pid}/clear_refs", "w") as f:
                    f.write("5")
            except OSError:
                pass
            current = max(current, rss_kib(pid))
        return current

    def take_worker_peak(self) -> int:
        """The largest peak RSS (VmHWM, KiB) of any one worker since :meth:`reset_worker_peaks`: exact, not sampled."""
        assert self.proc is not None
        return max((_status_kib(pid, "VmHWM:") for pid in _children(self.proc.pid)), default=0)
