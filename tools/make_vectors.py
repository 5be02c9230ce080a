"""Write tests/net/vectors.json, the protocol's known-answer vectors (docs/PROTOCOL.md §9).

    python tools/make_vectors.py            # rewrite the file
    python tools/make_vectors.py --check    # exit 1 if the file differs from a fresh build

The vectors come from one real session with every random input fixed (tests/net/
vector_builder.py: Alice joins and sends, Bob joins and receives her sender key in a share, Bob
leaves and Alice sends under a fresh epoch); tests/net/test_vectors.py checks them
independently. Run this after a deliberate protocol change, and update the excerpts in
docs/PROTOCOL.md section 9 to match (the test checks that every value shown there is in the file).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.net.vector_builder import build  # noqa: E402 - after the path set-up above

OUT = ROOT / "tests" / "net" / "vectors.json"


def render() -> str:
    return json.dumps(build(), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        same = OUT.exists() and OUT.read_text(encoding="utf-8") == text
        print("vectors up to date" if same else f"{OUT} differs from a fresh build")
        return 0 if same else 1
    OUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
