#!/usr/bin/env python3
"""Writes every ```cpp block of README.md into one C++ file, each block the
body of its own function `int snippet_NAME()`, for tests/test_readme.cpp.

Each block must follow a line `<!-- snippet: NAME -->`, so a new block cannot
go untested. Its #include lines move to the top of the file; a #line directive
keeps compiler messages pointing into README.md. `reader::open("FILE")` with
no options becomes `reader::open("FILE", readme::options())` (`sw::open` and
`load_state_dict(m, "FILE")` likewise), so the test runs every snippet in each
io_mode."""
import re
import sys


def with_options(line):
    """The read options of the run for opens that take the defaults."""
    line = re.sub(r'\b((?:reader::)?open)\(("[^"]*")\)', r"\1(\2, readme::options())", line)
    return re.sub(r'load_state_dict\((\w+), ("[^"]*")\)', r"load_state_dict(\1, \2, {}, readme::options())", line)


readme_path, out_path = sys.argv[1], sys.argv[2]
lines = open(readme_path, encoding="utf-8").read().split("\n")
snippets, includes = [], []
marker = re.compile(r"<!-- snippet: ([a-z_0-9]+) -->")
i = 0
while i < len(lines):
    if lines[i].strip() == "```cpp":
        m = marker.fullmatch(lines[i - 1].strip()) if i > 0 else None
        if not m:
            sys.exit(f"{readme_path}:{i + 1}: a ```cpp block without a `<!-- snippet: NAME -->` line before it")
        body, start = [], i + 2
        i += 1
        while lines[i].strip() != "```":
            body.append(lines[i])
            i += 1
        code = []
        for n, line in enumerate(body):
            if line.startswith("#include"):
                includes.append(line)
                code.append("")  # keeps the line numbers
            else:
                code.append(with_options(line))
        snippets.append((m.group(1), start, code))
    i += 1
names = [n for n, _, _ in snippets]
if len(set(names)) != len(names):
    sys.exit(f"{readme_path}: two snippets share a name: {names}")
out = ["// Generated from README.md by tests/readme/extract.py: do not edit."]
out += sorted(set(includes))
out.append("namespace readme {")
for name, start, code in snippets:
    out.append(f"int snippet_{name}() {{")
    out.append(f"  README_CONTEXT_{name}")
    out.append(f'#line {start} "README.md"')
    out += code
    out.append("  return 0;")
    out.append("}")
out.append("inline const snippet all_snippets[] = {")
out += [f'    {{"{n}", snippet_{n}}},' for n in names]
out.append("};")
out.append("}  // namespace readme")
open(out_path, "w", encoding="utf-8").write("\n".join(out) + "\n")
