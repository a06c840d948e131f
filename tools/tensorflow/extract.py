"""Extract selected members of a wheel (a zip file) for tools/setup-tensorflow.

Usage: python3 extract.py <wheel> <dest> <prefix> [<prefix> ...]
Every member whose name starts with one of the prefixes is written below <dest> under its own
path. Python's zipfile streams each member, so the ~1 GB libtensorflow is never held in memory
(Node's zip readers would buffer it). Prints the number of files and bytes written.
"""
import os
import sys
import zipfile


def main() -> int:
    if len(sys.argv) < 4:
        print(__doc__, file=sys.stderr)
        return 2
    wheel, dest, prefixes = sys.argv[1], sys.argv[2], tuple(sys.argv[3:])
    count = 0
    size = 0
    with zipfile.ZipFile(wheel) as z:
        for info in z.infolist():
            if info.is_dir() or not info.filename.startswith(prefixes):
                continue
            # zipfile.extract refuses absolute paths and '..'; the wheel is hash-pinned anyway.
            z.extract(info, dest)
            count += 1
            size += info.file_size
    if count == 0:
        print(f"no member of {wheel} starts with any of {list(prefixes)}", file=sys.stderr)
        return 1
    print(f"{count} files, {size / 1e6:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
