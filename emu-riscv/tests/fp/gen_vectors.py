#!/usr/bin/env python3
"""Generates tests/fp/vectors.txt: RISC-V F/D results and flags computed by Berkeley SoftFloat
(the `softfloatpy` binding from PyPI), for tests/fp_vectors.rs.

SoftFloat's x86 conventions differ from RISC-V's in two places, which this script adjusts:
NaN results become the canonical NaN, and invalid float-to-integer conversions saturate
(NaN and positive overflow to the maximum, negative overflow to the minimum).

Usage: python3 gen_vectors.py [cases per (operation, rounding mode)] [seed] > vectors.txt
Line format (hex without 0x): op fmt kind rm a b c result flags
"""
import random
import sys

import softfloatpy as sf

RMS = [sf.RoundingMode.NEAR_EVEN, sf.RoundingMode.MIN_MAG, sf.RoundingMode.MIN,
       sf.RoundingMode.MAX, sf.RoundingMode.NEAR_MAX_MAG]
CANON = {"s": 0x7FC00000, "d": 0x7FF8000000000000}
WIDTH = {"s": 32, "d": 64}


def operand(rng, fmt):
    """A random encoding, biased towards the edges: specials, tiny, huge, short significands."""
    e_bits, m_bits = (8, 23) if fmt == "s" else (11, 52)
    emax = (1 << e_bits) - 1
    bias = emax >> 1
    r = rng.random()
    sign = rng.getrandbits(1)
    if r < 0.06:
        e, m = rng.choice([(0, 0), (emax, 0), (emax, 1 << (m_bits - 1)), (emax, 1), (0, 1),
                           (0, (1 << m_bits) - 1), (1, 0), (emax - 1, (1 << m_bits) - 1)])
    else:
        e = rng.choice([rng.randrange(emax), rng.randrange(4), emax - 1 - rng.randrange(4),
                        bias + rng.randrange(-30, 30), bias + rng.randrange(-3, 3)])
        m = rng.getrandbits(m_bits)
        if rng.random() < 0.3:
            m &= ~((1 << rng.randrange(m_bits)) - 1)
        if rng.random() < 0.1:
            m |= (1 << rng.randrange(m_bits)) - 1
    return (sign << (WIDTH[fmt] - 1)) | (e << m_bits) | m


def to_sf(fmt, bits):
    cls = sf.Float32 if fmt == "s" else sf.Float64
    return cls.from_bytes(bits.to_bytes(WIDTH[fmt] // 8, "big"))


def from_sf(fmt, v):
    bits = int.from_bytes(v.to_bytes(), "big")
    nan = v.is_nan()
    return CANON[fmt] if nan else bits


def run(fn):
    sf.set_exception_flags(0)
    r = fn()
    return r, int(sf.get_exception_flags())


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 25
    rng = random.Random(int(sys.argv[2]) if len(sys.argv) > 2 else 1)
    sf.set_tininess_mode(sf.TininessMode.AFTER_ROUNDING)
    out = []
    for rm_i, rm in enumerate(RMS):
        sf.set_rounding_mode(rm)
        for fmt in ("s", "d"):
            p = "f32" if fmt == "s" else "f64"
            for op in ("add", "sub", "mul", "div", "sqrt", "fma"):
                for _ in range(n):
                    a, b, c = (operand(rng, fmt) for _ in range(3))
                    if op == "fma" and rng.random() < 0.5:
                        # Make cancellation likely: c close to -(a*b).
                        prod, _ = run(lambda: getattr(sf, p + "_mul")(to_sf(fmt, a), to_sf(fmt, b)))
                        c = from_sf(fmt, prod) ^ (1 << (WIDTH[fmt] - 1))
                        if rng.random() < 0.5:
                            c ^= rng.getrandbits(3)
                    args = {"sqrt": [a], "fma": [a, b, c]}.get(op, [a, b])
                    f = getattr(sf, p + ("_mul_add" if op == "fma" else "_" + op))
                    r, fl = run(lambda: f(*[to_sf(fmt, x) for x in args]))
                    out.append(("fma" if op == "fma" else op, fmt, 0, rm_i, a, b, c, from_sf(fmt, r), fl))
            # Float to float, converting into fmt.
            src = "d" if fmt == "s" else "s"
            for _ in range(n):
                a = operand(rng, src)
                r, fl = run(lambda: getattr(sf, ("f64_to_f32" if fmt == "s" else "f32_to_f64"))(to_sf(src, a)))
                out.append(("cvtff", fmt, 0, rm_i, a, 0, 0, from_sf(fmt, r), fl))
            # Float to integer.
            for kind, (name, bits, signed) in enumerate([("i32", 32, True), ("ui32", 32, False),
                                                         ("i64", 64, True), ("ui64", 64, False)]):
                for _ in range(n):
                    a = operand(rng, fmt)
                    if rng.random() < 0.5:
                        # Values near the integer range's edges.
                        edge = rng.choice([bits - 1, bits, 0, 1]) if signed or bits else bits
                        v = rng.choice([1, -1]) * (2.0 ** edge) * (1 + rng.choice([0, 1e-9, -1e-9, 0.5, -0.3]))
                        a = from_sf(fmt, getattr(sf, "Float32" if fmt == "s" else "Float64").from_float(v))
                    r, fl = run(lambda: getattr(sf, f"{p}_to_{name}")(to_sf(fmt, a), rm, True))
                    val = r.to_int()
                    if fl & 16:
                        x = to_sf(fmt, a)
                        neg = (a >> (WIDTH[fmt] - 1)) and not x.is_nan()
                        lo = -(1 << (bits - 1)) if signed else 0
                        hi = (1 << (bits - 1)) - 1 if signed else (1 << bits) - 1
                        val = lo if neg else hi
                        fl = 16
                    val &= (1 << bits) - 1
                    if bits == 32 and val >> 31:
                        val |= 0xFFFFFFFF00000000  # 32-bit results are sign-extended
                    out.append(("f2i", fmt, kind, rm_i, a, 0, 0, val, fl))
            # Integer to float.
            for kind, (name, bits, signed) in enumerate([("i32", 32, True), ("ui32", 32, False),
                                                         ("i64", 64, True), ("ui64", 64, False)]):
                for _ in range(n):
                    v = rng.getrandbits(rng.choice([bits, bits, 8, bits - 1, 25, 54])) & ((1 << bits) - 1)
                    if signed and rng.random() < 0.5:
                        v = (-v) & ((1 << bits) - 1)
                    ival = v - (1 << bits) if signed and v >> (bits - 1) else v
                    cls = {"i32": sf.Int32, "ui32": sf.UInt32, "i64": sf.Int64, "ui64": sf.UInt64}[name]
                    r, fl = run(lambda: getattr(sf, f"{name}_to_{p}")(cls.from_int(ival)))
                    # The x register holds the 32-bit source sign-extended (as RV64 keeps it).
                    xv = v | (0xFFFFFFFF00000000 if bits == 32 and v >> 31 else 0)
                    out.append(("i2f", fmt, kind, rm_i, xv, 0, 0, from_sf(fmt, r), fl))
    for op, fmt, kind, rm_i, a, b, c, r, fl in out:
        print(f"{op} {fmt} {kind} {rm_i} {a:x} {b:x} {c:x} {r:x} {fl:x}")


if __name__ == "__main__":
    main()
