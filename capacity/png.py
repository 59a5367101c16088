"""PNG files of rendered figures: unfiltered rows compressed by zlib.

matplotlib hands the figure over as an RGBA pixel buffer. Pillow's PNG encoder chooses one of the
five PNG row filters for every row by trying them all, which for our figures (large flat areas of
colour, antialiased lines and text) took half of the encoding time and made the files no smaller:
the unfiltered rows compress better. Here every row is written unfiltered (PNG filter type 0) and
the image is compressed by zlib in one call. For the baseline plan's 21 figures (48.7 million
pixels): 0.65 CPU-seconds and 4.06 MB against Pillow's 1.33 CPU-seconds and 4.27 MB at zlib level 4
(``benchmarks/README.md``; level 3, :data:`COMPRESS_LEVEL`, halves the time again for files 11%
larger). The pixels are the same.

The file holds the chunks ``IHDR`` (8-bit RGB), ``pHYs`` (the resolution, so that the figure
prints at its size), ``IDAT`` and ``IEND``: no time and no software name, so the same pixels give
the same bytes.
"""

from __future__ import annotations

import struct
import zlib

import numpy as np

__all__ = ["COMPRESS_LEVEL", "png_bytes", "rgb_rows"]

#: zlib level. On the baseline's 21 figures (unfiltered rows, zlib alone): level 3 0.27-0.28
#: CPU-seconds and 4.50 MB, level 4 0.49-0.53 s and 4.03 MB, levels 1-2 no faster than 3 and larger,
#: level 6 0.63-0.65 s and 3.84 MB (``benchmarks/README.md``): 3 is the fast level with the smallest
#: files, about 22 KB a figure more than 4.
COMPRESS_LEVEL = 3

_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def rgb_rows(rgba: np.ndarray) -> np.ndarray:
    """The PNG scanlines of an RGBA image: each row's filter byte (0, none) and its RGB bytes.

    Parameters
    ----------
    rgba : ndarray of uint8, shape (height, width, 4)
        Pixels, top row first (as ``FigureCanvasAgg.buffer_rgba()``); alpha is dropped, so the
        image must be opaque (a figure with a white face colour).

    Returns
    -------
    ndarray of uint8, shape (height, 1 + 3 * width)
    """
    rgba = np.asarray(rgba)
    if rgba.dtype != np.uint8 or rgba.ndim != 3 or rgba.shape[2] != 4:
        raise ValueError(f"rgba must be a (height, width, 4) uint8 array, got {rgba.dtype} {rgba.shape}")
    height, width = rgba.shape[:2]
    # one strided copy per channel, straight into the scanlines: 3 ms for a 3.6-million-pixel
    # figure, where one copy of three bytes in four took 16 ms (numpy's loop over an innermost
    # axis of length 3) and Pillow's conversion with the copies around it 25-28 ms
    rows = np.empty((height, 1 + 3 * width), dtype=np.uint8)
    rows[:, 0] = 0
    pixels = rows[:, 1:].reshape(height, width, 3)
    for channel in range(3):
        pixels[:, :, channel] = rgba[:, :, channel]
    return rows


def png_bytes(rgba, dpi: float, level: int = COMPRESS_LEVEL) -> bytes:
    """An opaque RGBA image as the bytes of an 8-bit RGB PNG file.

    Parameters
    ----------
    rgba : array_like of uint8, shape (height, width, 4)
        Pixels, top row first; the alpha channel is dropped.
    dpi : float
        Resolution (dots per inch), written as pixels per metre in the ``pHYs`` chunk.
    level : int
        zlib compression level, 0-9.

    Returns
    -------
    bytes
    """
    rows = rgb_rows(rgba)
    height, width = rows.shape[0], (rows.shape[1] - 1) // 3
    per_metre = round(dpi / 0.0254)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8 bits, RGB, deflate, no interlace
    return b"".join((_SIGNATURE, _chunk(b"IHDR", header),
                     _chunk(b"pHYs", struct.pack(">IIB", per_metre, per_metre, 1)),
                     _chunk(b"IDAT", zlib.compress(rows, level)), _chunk(b"IEND", b"")))
