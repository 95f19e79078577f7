#!/usr/bin/env python3
"""Checks that src/kvlab's folders include one another only downwards (docs/ARCHITECTURE.md, "Layers").

A file in folder F may include "kvlab/F/..." and "kvlab/G/..." for any folder G on a lower level than F;
folders on one level are independent of each other. Every quoted include must name its folder
("kvlab/<folder>/..."), so a relative path cannot slip past the check, and a new folder must be given a
level here before it can be included at all.

Usage: layering_check.py SRC_KVLAB_DIR   (exit 0: clean; 1: each violation printed as file:line: ...)
       layering_check.py --self-test      (the check itself: a planted upward include must be caught)
"""
import pathlib
import re
import sys
import tempfile

# Lowest first. Keep in step with the table in docs/ARCHITECTURE.md.
LEVELS = {
    "util": 0,
    "tensor": 1,     # dtypes, matrix views
    "sketch": 1,     # streaming sketches: util only, no engine dependency
    "template": 1,   # the Jinja interpreter for chat templates: util only
    "io": 2,         # file formats (gguf, safetensors), ModelFormat
    "ops": 2,        # kernels: matmul, attention over raw spans, RoPE
    "kv": 3,         # cache, codecs, quantized attention, policies
    "model": 4,      # ModelConfig, weights, loaders, the forward pass
    "tokenizer": 4,  # text <-> ids; reads GGUF vocabularies through io/
    "gen": 5,
    "eval": 6,
    "analysis": 6,
    "tasks": 7,      # long-context retrieval tasks: generator, runner (uses eval's AttentionRecorder)
    "sweep": 8,
}

INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')
SOURCE_SUFFIXES = {".h", ".cc", ".cpp", ".hpp", ".inc"}


def violations(root: pathlib.Path):
    for path in sorted(root.rglob("*")):
        if path.suffix not in SOURCE_SUFFIXES or not path.is_file():
            continue
        rel = path.relative_to(root)
        folder = rel.parts[0] if len(rel.parts) > 1 else None
        if folder not in LEVELS:
            yield f"{rel}: folder '{folder}' has no level (add it to LEVELS in {pathlib.Path(__file__).name})"
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            m = INCLUDE.match(line)
            if not m:
                continue
            bracket, target = m.groups()
            parts = target.split("/")
            if parts[0] != "kvlab" or len(parts) < 3:
                if bracket == '"':
                    yield f"{rel}:{number}: #include \"{target}\": project headers are included as \"kvlab/<folder>/...\""
                continue  # a system or third-party header
            dep = parts[1]
            if dep not in LEVELS:
                yield f"{rel}:{number}: includes {target}: folder '{dep}' has no level"
            elif dep != folder and LEVELS[dep] >= LEVELS[folder]:
                yield (f"{rel}:{number}: {folder}/ (level {LEVELS[folder]}) includes {target} "
                       f"({dep}/, level {LEVELS[dep]}): includes may only go to lower levels")


def self_test() -> int:
    """Plants one include in a scratch tree per case: downwards passes; upwards, sideways and relative fail."""
    cases = [  # (folder of the including file, include line, violations expected)
        ("kv", '#include "kvlab/ops/rope.h"', 0),
        ("kv", "#include <vector>", 0),
        ("kv", '#include "kvlab/model/config.h"', 1),  # upwards
        ("ops", '#include "kvlab/io/gguf.h"', 1),      # sideways: one level
        ("kv", '#include "../model/config.h"', 1),     # not named by folder
        ("newfolder", '#include "kvlab/util/error.h"', 1),  # a folder without a level
    ]
    failed = 0
    for folder, line, expected in cases:
        with tempfile.TemporaryDirectory() as tmp:
            (pathlib.Path(tmp) / folder).mkdir()
            (pathlib.Path(tmp) / folder / "file.h").write_text(line + "\n")
            found = len(list(violations(pathlib.Path(tmp))))
            if found != expected:
                print(f"self-test: {folder}/ with {line}: {found} violation(s), expected {expected}")
                failed += 1
    print("layering self-test: " + ("failed" if failed else "ok"))
    return 1 if failed else 0


def main() -> int:
    if sys.argv[1:] == ["--self-test"]:
        return self_test()
    if len(sys.argv) != 2:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    root = pathlib.Path(sys.argv[1])
    if not root.is_dir():
        print(f"{root}: not a directory", file=sys.stderr)
        return 2
    found = list(violations(root))
    for v in found:
        print(v)
    if found:
        print(f"layering: {len(found)} violation(s); the levels are in docs/ARCHITECTURE.md", file=sys.stderr)
        return 1
    print(f"layering: {root} includes only downwards")
    return 0


if __name__ == "__main__":
    sys.exit(main())
