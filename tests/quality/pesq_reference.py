"""Scores WAV pairs with the ITU-T P.862 reference implementation (PyPI package `pesq`).

Used by tests/quality.rs to check callcert's scores. Usage:

    python3 pesq_reference.py LIST

LIST holds one pair per line, tab-separated: MODE (nb or wb), RATE (8000 or 16000), the
reference WAV and the degraded WAV (mono 16-bit PCM). Prints one MOS-LQO per line, in order
(narrowband: P.862.1 mapping of the raw score; wideband: P.862.2). Exits 3 when numpy or pesq
is missing.
"""

import sys
import wave

try:
    import numpy as np
    from pesq import pesq
except ImportError as error:
    sys.stderr.write(f"missing Python package: {error}\n")
    sys.exit(3)


def read(path):
    with wave.open(path, "rb") as wav:
        if wav.getnchannels() != 1 or wav.getsampwidth() != 2:
            raise SystemExit(f"{path}: not mono 16-bit PCM")
        return np.frombuffer(wav.readframes(wav.getnframes()), dtype=np.int16)


def main():
    with open(sys.argv[1], encoding="utf-8") as pairs:
        for line in pairs:
            mode, rate, reference, degraded = line.rstrip("\n").split("\t")
            score = pesq(int(rate), read(reference), read(degraded), mode)
            print(f"{score:.6f}", flush=True)


if __name__ == "__main__":
    main()
