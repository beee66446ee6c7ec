"""Prints the first fenced code block of one language in a section of a
Markdown file, so that tests run a document's commands and programs as
written.

  doc_block.py FILE SECTION LANG [--build DIR]

SECTION is the start of a heading's text (without the #s); --build DIR replaces the
block's `build/` and `$PWD/build/` paths with DIR, the build directory of
the test run."""

import argparse
import re
import sys


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("file")
    parser.add_argument("section")
    parser.add_argument("lang")
    parser.add_argument("--build")
    args = parser.parse_args()
    with open(args.file) as f:
        text = f.read()
    heading = re.search(r"^#+ " + re.escape(args.section), text, re.M)
    if not heading:
        sys.exit(f"{args.file}: no section '{args.section}'")
    block = re.compile(r"^```" + re.escape(args.lang) + r"\n(.*?)^```", re.M | re.S)
    found = block.search(text, heading.end())
    following = re.compile(r"^#+ ", re.M).search(text, heading.end())
    if not found or (following and found.start() > following.start()):
        sys.exit(f"{args.file}: no {args.lang} block in '{args.section}'")
    code = found.group(1)
    if args.build:
        # build/ as a path of its own: at a word's start, after -L or -I.
        code = re.sub(r"(?:^|(?<=[\s=,:'\"])|(?<=-[LI]))(\$PWD/)?build/",
                      args.build.rstrip("/") + "/", code, flags=re.M)
    sys.stdout.write(code)


if __name__ == "__main__":
    main()
