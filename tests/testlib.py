"""testlib.py - Python helpers shared by the shell tests (tests/test_*.sh).

The tests' inline Python finds this module through the TESTS_DIR variable
that tests/testlib.sh exports:

    sys.path.insert(0, os.environ["TESTS_DIR"])
    from testlib import read_png
"""
import os
import struct
import zlib

import numpy as np

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_CHANNELS = {0: 1, 2: 3, 4: 2, 6: 4}  # colour type -> channels


def read_png(path, channels=3):
    """The pixels of an 8-bit, non-interlaced PNG file (as stb_image_write
    writes them) as a (height, width, channels) uint8 array, decoded here with
    zlib alone, so that no image library's reading is trusted. Raises
    ValueError for anything else, and for another number of channels than
    `channels` (3: RGB)."""
    data = open(path, "rb").read()
    if data[:8] != PNG_SIGNATURE:
        raise ValueError(f"{path}: not a PNG file")
    pos, idat, hdr = 8, b"", None
    while pos + 8 <= len(data):
        n, typ = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        pos += 12 + n
        if typ == b"IHDR":
            hdr = struct.unpack(">IIBBBBB", body)
        elif typ == b"IDAT":
            idat += body
        elif typ == b"IEND":
            break
    if hdr is None:
        raise ValueError(f"{path}: no IHDR chunk")
    w, h, depth, ctype, _, _, interlace = hdr
    if depth != 8 or interlace != 0 or ctype not in PNG_CHANNELS:
        raise ValueError(f"{path}: unsupported PNG {hdr}")
    ch = PNG_CHANNELS[ctype]
    if ch != channels:
        raise ValueError(f"{path}: {ch} channels, expected {channels}")
    raw = zlib.decompress(idat)
    stride = w * ch
    out = np.zeros((h, stride), dtype=np.int64)
    prev = np.zeros(stride, dtype=np.int64)
    for y in range(h):
        f = raw[y * (stride + 1)]
        line = np.frombuffer(raw, np.uint8, stride, y * (stride + 1) + 1).astype(np.int64)
        if f == 0:  # None
            cur = line
        elif f == 2:  # Up
            cur = (line + prev) & 255
        else:  # Sub, Average, Paeth: byte by byte
            cur = np.zeros(stride, dtype=np.int64)
            for i in range(stride):
                a = cur[i - ch] if i >= ch else 0
                b = prev[i]
                c = prev[i - ch] if i >= ch else 0
                if f == 1:
                    p = a
                elif f == 3:
                    p = (a + b) >> 1
                elif f == 4:
                    pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                    p = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                else:
                    raise ValueError(f"{path}: bad PNG filter {f}")
                cur[i] = (line[i] + p) & 255
        out[y] = cur
        prev = cur
    return out.reshape(h, w, ch).astype(np.uint8)


def alive(pid):
    """True while process pid runs; a zombie (exited, not yet reaped) counts as gone."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False
