"""What every database benchmark measures the same way: wall and CPU seconds of a piece of work,
this process's and its PostgreSQL backend's, and the machine's load when it starts."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from sqlalchemy import text
from sqlalchemy.orm import Session

T = TypeVar("T")


def load_average() -> str:
    return ", ".join(f"{value:.2f}" for value in os.getloadavg())


def backend_cpu(session: Session) -> float | None:
    """CPU-seconds the session's PostgreSQL backend has used so far, read from /proc when the
    server runs on this machine; None when it cannot be read (another host, another OS)."""
    pid = session.scalar(text("SELECT pg_backend_pid()"))
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Timed:
    wall: float
    cpu: float
    database_cpu: float | None

    def line(self) -> str:
        database = (
            "database not measurable"
            if self.database_cpu is None
            else f"database {self.database_cpu:.2f} s"
        )
        return f"{self.wall:.3f} s wall, CPU: ours {self.cpu:.2f} s, {database}"


def timed(session: Session, work: Callable[[], T]) -> tuple[T, Timed]:
    """The work's result, its wall seconds, CPU seconds of this process and of the backend."""
    before = backend_cpu(session)
    wall, cpu = time.perf_counter(), time.process_time()
    result = work()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    after = backend_cpu(session)
    used = None if before is None or after is None else after - before
    return result, Timed(wall, cpu, used)
