"""The audit-log archive's file format: gzip-compressed JSON Lines, one row per line.

Writing compresses in a second thread (zlib releases the GIL) while the
caller reads and encodes rows; reading back recomputes what verification
compares. `manage.py restoreauditarchive` reads these files with json alone.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import queue
import threading
from pathlib import Path
from typing import Any

from maintenance.files import create_private

COLUMNS = (
    "id",
    "user_id",
    "action",
    "resource_type",
    "resource_id",
    "ip_address",
    "user_agent",
    "success",
    "details",
    "created_at",
)
PREFIX, SUFFIX, PARTIAL = "auditlog-", ".jsonl.gz", ".partial"
COMPRESS_LEVEL = 6
_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):  # never expected, but a string is already a timestamp
        return value
    if value.tzinfo is None:  # SQLite hands back naive UTC
        return value.isoformat() + "+00:00"
    return value.isoformat()


_text = json.encoder.encode_basestring  # the C escaper behind json.dumps(ensure_ascii=False)


def _text_or_null(value: str | None) -> str:
    return "null" if value is None else _text(value)


def encode_row(row: tuple) -> str:
    """One JSON line: the COLUMNS as keys, in order, with `details` last.

    Composed from the fixed schema because it runs once per archived row:
    json.dumps builds a dict and a new encoder per call, which made encoding
    the slowest step of the archive. Strings still go through json's own C
    escaper. `details` is already JSON text in the database; it is embedded
    as is unless it would break the line.
    """
    (pk, user_id, action, resource_type, resource_id, ip, agent, success, details, created) = row
    if not isinstance(details, str) or "\n" in details:
        details = _encode(json.loads(details) if isinstance(details, str) else details)
    user = "null" if user_id is None else int(user_id)
    return (
        f'{{"id":{int(pk)},"user_id":{user},"action":{_text(action)},'
        f'"resource_type":{_text(resource_type)},"resource_id":{_text(resource_id)},'
        f'"ip_address":{_text_or_null(ip)},"user_agent":{_text(agent)},'
        f'"success":{"true" if success else "false"},'
        f'"created_at":{_text_or_null(_iso(created))},"details":{details}}}\n'
    )


class _HashingFile:
    """The raw file under the gzip stream: counts and hashes what reaches the disk."""

    def __init__(self, handle):
        self.handle, self.sha256, self.bytes = handle, hashlib.sha256(), 0

    def write(self, data: bytes) -> int:
        self.sha256.update(data)
        self.bytes += len(data)
        return self.handle.write(data)

    def flush(self) -> None:
        self.handle.flush()


class CompressingWriter:
    """Gzip-compresses blocks in a background thread (zlib releases the GIL).

    The reader/encoder thread hands over ~1 MB blocks through a short queue,
    so memory stays flat and compression overlaps with reading.
    """

    def __init__(self, path: Path):
        self.path = path
        self.handle = os.fdopen(create_private(path), "wb")  # 0600; closed in close()
        self.raw = _HashingFile(self.handle)
        self.blocks: queue.Queue[bytes | None] = queue.Queue(maxsize=4)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="archive-gzip", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        received_end = False
        try:
            with gzip.GzipFile(
                filename="", mode="wb", fileobj=self.raw, compresslevel=COMPRESS_LEVEL, mtime=0
            ) as stream:
                while (block := self.blocks.get()) is not None:
                    stream.write(block)
                received_end = True
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller thread
            self.error = exc
            while not received_end and self.blocks.get() is not None:
                pass  # drain, so the producer never blocks on a full queue

    def write(self, block: bytes) -> None:
        if self.error is not None:
            raise self.error
        self.blocks.put(block)

    def close(self) -> tuple[str, int]:
        """Finish the stream, fsync the file, and return (sha256, bytes) of what was written."""
        self.blocks.put(None)
        self.thread.join()
        try:
            if self.error is not None:
                raise self.error
            self.handle.flush()
            _fsync(self.handle)
        finally:
            self.handle.close()
        return self.raw.sha256.hexdigest(), self.raw.bytes


def _fsync(handle) -> None:
    os.fsync(handle.fileno())


def read_back(path: Path) -> tuple[str, int, int | None, int | None]:
    """(sha256, line count, first id, last id) of an archive as it is on disk."""
    digest = hashlib.sha256()
    with open(path, "rb") as raw:
        while chunk := raw.read(1 << 20):
            digest.update(chunk)
    lines, first_id, tail = 0, None, b""
    with gzip.open(path, "rb") as stream:
        while chunk := stream.read(1 << 20):
            data = tail + chunk
            if first_id is None and b"\n" in data:
                first_id = json.loads(data.split(b"\n", 1)[0])["id"]
            lines += chunk.count(b"\n")
            tail = data[data.rfind(b"\n", 0, len(data) - 1) + 1 :]  # the last (partial) line
    last_id = json.loads(tail)["id"] if lines else None
    return digest.hexdigest(), lines, first_id, last_id
