#!/usr/bin/env python3
"""Writes the README's C example (the ```c block after `<!-- c-snippet: NAME -->`)
into a C file, with a #line directive so messages point into README.md.

  extract_readme.py README.md NAME OUTPUT"""
import sys

readme, name, output = sys.argv[1:4]
lines = open(readme, encoding="utf-8").read().split("\n")
marker = f"<!-- c-snippet: {name} -->"
for i, line in enumerate(lines):
    if line.strip() == marker:
        if lines[i + 1].strip() != "```c":
            sys.exit(f"{readme}:{i + 2}: no ```c block after {marker}")
        end = lines.index("```", i + 2)
        body = lines[i + 2:end]
        with open(output, "w", encoding="utf-8") as f:
            f.write(f'#line {i + 3} "README.md"\n' + "\n".join(body) + "\n")
        break
else:
    sys.exit(f"{readme}: no {marker}")
