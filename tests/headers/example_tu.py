#!/usr/bin/env python3
"""Writes a translation unit that compiles a public header's `Example:`.

usage: example_tu.py <header> <out.cpp>

The example is the indented comment text after "// Example:" (lines
"//   code", or "//" alone), up to the first other line. It becomes the body
of a function returning epoch::Status, with every public header included and
these names in scope: topology (a valid epoch::Topology), body and text
(JSON / cron text), now (epoch::Instant).
A header without an example fails the build."""
import pathlib
import sys

header, out = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
lines = header.read_text().splitlines()
try:
    start = lines.index("// Example:") + 1
except ValueError:
    sys.exit(f"{header}: no '// Example:' in its comment (every public header has one)")
code = []
for line in lines[start:]:
    if line == "//":
        code.append("")
    elif line.startswith("//   "):
        code.append(line[5:])
    else:
        break
while code and not code[-1]:
    code.pop()
if not code:
    sys.exit(f"{header}: the example is empty")
includes = sorted(p.name for p in header.parent.glob("*.h"))
body = "\n".join("  " + c if c else "" for c in code)
text = f"""// Generated from {header.name}'s example by example_tu.py: it must compile.
{chr(10).join(f'#include "epoch/{i}"' for i in includes)}

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <iostream>

#pragma GCC diagnostic ignored "-Wunused-variable"
#pragma GCC diagnostic ignored "-Wunused-but-set-variable"

namespace {{

[[maybe_unused]] epoch::Status example([[maybe_unused]] const epoch::Topology& topology,
                                       [[maybe_unused]] const std::string& body,
                                       [[maybe_unused]] const std::string& text,
                                       [[maybe_unused]] epoch::Instant now) {{
{body}
  return epoch::Status();
}}

}}  // namespace
"""
if not out.exists() or out.read_text() != text:
    out.write_text(text)
