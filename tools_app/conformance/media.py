"""The small image and sound the fixtures return: a real 1x1 PNG and a real WAV, built once."""

from __future__ import annotations

import base64
import io
import struct
import wave
import zlib


def png_1x1(red: int, green: int, blue: int) -> bytes:
    """A valid PNG of one opaque pixel."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)  # 1x1, 8 bits, truecolour
    pixels = zlib.compress(bytes([0, red, green, blue]))  # filter byte, then RGB
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


def wav_silence(milliseconds: int = 10, rate: int = 8000) -> bytes:
    """A valid mono 16-bit PCM WAV of silence."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(b"\x00\x00" * (rate * milliseconds // 1000))
    return buffer.getvalue()


RED_PIXEL_PNG = png_1x1(255, 0, 0)
RED_PIXEL_PNG_B64 = base64.b64encode(RED_PIXEL_PNG).decode()
SILENCE_WAV_B64 = base64.b64encode(wav_silence()).decode()
