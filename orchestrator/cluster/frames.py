"""Messages between the controller and its cluster client process: pickled objects, each
after its length (4 bytes, big-endian), on the client's stdin and stdout."""

from __future__ import annotations

import pickle
import struct
from typing import Any, BinaryIO

_LENGTH = struct.Struct(">I")


def write(stream: BinaryIO, message: Any) -> None:
    write_bytes(stream, pickle.dumps(message))


def write_bytes(stream: BinaryIO, data: bytes) -> None:
    """A message already pickled."""
    stream.write(_LENGTH.pack(len(data)) + data)
    stream.flush()


def read(stream: BinaryIO) -> Any:
    """The next message; raises EOFError when the other side closed the stream."""
    head = _exactly(stream, _LENGTH.size)
    return pickle.loads(_exactly(stream, _LENGTH.unpack(head)[0]))


def _exactly(stream: BinaryIO, size: int) -> bytes:
    chunks, left = [], size
    while left:
        chunk = stream.read(left)
        if not chunk:
            raise EOFError("the other side closed the stream")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)
