#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Write the seed corpus of the fuzz targets (run from this directory)."""
import os
import struct

OP = dict(DBUF_CREATE=0x10, DBUF_DESTROY=0x11, FB_ATTACH=0x12, FB_DETACH=0x13,
          SET_CONFIG=0x14, PG_FLIP=0x15, GET_EDID=0x16)
XRGB8888 = 0x34325258
RGB565 = 0x36314752
YUYV = 0x56595559


def header(version=2, w=1024, h=768, maxbytes=64 << 20, maxw=8192, maxh=8192):
    return struct.pack('<B3xIIIII', version - 1, w, h, maxbytes, maxw, maxh)


def req(op, body, rid=1):
    raw = struct.pack('<HB5x', rid, op) + body
    return raw + b'\0' * (64 - len(raw))


def write(d, name, data):
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), 'wb') as f:
        f.write(data)


r = 'corpus/request'
write(r, 'dbuf-create', header() + req(OP['DBUF_CREATE'],
      struct.pack('<QIIIIIII', 0xffff888000001000, 640, 480, 32, 640 * 480 * 4, 0, 5, 0))
      + struct.pack('<III', 640, 480, XRGB8888))
write(r, 'dbuf-create-odd', header() + req(OP['DBUF_CREATE'],
      struct.pack('<QIIIIIII', 7, 641, 479, 16, 1282 * 479, 0, 5, 0))
      + struct.pack('<III', 640, 479, RGB565))
write(r, 'dbuf-create-be-alloc', header() + req(OP['DBUF_CREATE'],
      struct.pack('<QIIIIIII', 7, 800, 600, 24, 2400 * 600, 1, 5, 0)))
write(r, 'dbuf-create-prime', header() + req(OP['DBUF_CREATE'],
      struct.pack('<QIIIIIII', 7, 0, 0, 0, 300 * 4096, 0, 5, 64))
      + struct.pack('<III', 640, 480, YUYV))
write(r, 'dbuf-create-v1', header(version=1) + req(OP['DBUF_CREATE'],
      struct.pack('<QIIIIIII', 7, 64, 64, 32, 16384, 0, 5, 0xdeadbeef)))
write(r, 'dbuf-destroy', header() + req(OP['DBUF_DESTROY'], struct.pack('<Q', 7)))
write(r, 'fb-attach', header() + req(OP['FB_ATTACH'],
      struct.pack('<QQIII', 7, 8, 640, 480, XRGB8888)))
write(r, 'fb-detach', header() + req(OP['FB_DETACH'], struct.pack('<Q', 8)))
write(r, 'set-config', header() + req(OP['SET_CONFIG'],
      struct.pack('<QIIIII', 8, 0, 0, 1024, 768, 32)))
write(r, 'set-config-reset', header() + req(OP['SET_CONFIG'], b''))
write(r, 'pg-flip', header() + req(OP['PG_FLIP'], struct.pack('<Q', 8)))
write(r, 'get-edid', header() + req(OP['GET_EDID'], struct.pack('<II', 32768, 9)))

p = 'corpus/pgdir'


def chunk(present, nxt, fill):
    return bytes([0 if present else 0xff, nxt]) + bytes([fill]) * 30


write(p, 'one-page', struct.pack('>HBB', 300, 1, 0) + chunk(True, 0, 9))
write(p, 'two-pages', struct.pack('>HBB', 2000, 1, 0) + chunk(True, 2, 9) + chunk(True, 0, 3))
write(p, 'loop', struct.pack('>HBB', 3000, 1, 0) + chunk(True, 2, 9) + chunk(True, 1, 3))
write(p, 'short', struct.pack('>HBB', 3000, 1, 0) + chunk(True, 0, 9))
write(p, 'write', struct.pack('>HBB', 1500, 1, 1) + chunk(True, 2, 0) + chunk(True, 0, 0))
write(p, 'zero-ref', struct.pack('>HBB', 10, 1, 0) + chunk(True, 0, 0))
write(p, 'unmapped', struct.pack('>HBB', 2000, 1, 0) + chunk(True, 2, 9) + chunk(False, 0, 3))

c = 'corpus/control-request'
for name, line in [
        ('status', '{"cmd":"status"}'),
        ('stats', '{"cmd":"stats"}'),
        ('reload', '{"cmd":"reload"}'),
        ('screenshot', '{"cmd":"screenshot"}'),
        ('screenshot-screen', '{"cmd":"screenshot","screen":"main"}'),
        ('screenshot-connector', '{"cmd":"screenshot","connector":"1/0/0"}'),
        ('screenshot-target', '{"cmd":"screenshot","target":"cluster0"}'),
        ('layout', '{"cmd":"layout","connector":"cluster0","screen":"side","x":-100,'
         '"y":2147483647,"z":10,"visible":false}'),
        ('layout-null', '{"cmd":"layout","connector":null,"x":1.5}'),
        ('layout-range', '{"cmd":"layout","connector":"c","z":9223372036854775808}'),
        ('two-targets', '{"cmd":"screenshot","screen":"main","target":"x"}'),
        ('unknown-key', '{"cmd":"status","colour":"red"}'),
        ('nested', '{"cmd":"status","a":[{"b":[]}]}'),
        ('escapes', '{"cmd":"layout","connector":"a\\u0000\\n\\"b\\ud83d\\ude00"}'),
        ('not-object', '["status"]'),
        ('number', '42'),
        ('trailing', '{"cmd":"stats"} {"cmd":"stats"}'),
]:
    write(c, name, line.encode())
