#!/usr/bin/env python3
"""The layout rules of `src/` (docs/ARCHITECTURE.md), checked:

- no import cycle between files: a file imports another when one of its
  paths (`use`, or a path written in the code) names an item of the other's
  module; an inline `mod x { ... }` (tests) belongs to its file, and a file
  and its parent module (`ingest/csv/mod.rs` and `ingest/csv/dialect.rs`)
  are one unit, so only the edges between other files count;
- no file over 600 lines, not counting a `#[cfg(test)] mod tests { ... }`
  at its end.

    python3 scripts/layout.py [--graph]   (exit 1 and a report when broken)
"""
import os
import re
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src")
MAX_LINES = 600


def module_of(rel):
    """`ingest/csv/mod.rs` -> ('ingest', 'csv'); `lib.rs` -> ()."""
    parts = rel[:-3].split("/")
    if parts[-1] in ("mod", "lib"):
        parts = parts[:-1]
    return tuple(parts)


def strip(text):
    """Code without comments, strings and char literals (kept: line breaks)."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif text.startswith("/*", i):
            depth, i = 1, i + 2
            while i < n and depth:
                if text.startswith("/*", i):
                    depth, i = depth + 1, i + 2
                elif text.startswith("*/", i):
                    depth, i = depth - 1, i + 2
                else:
                    out.append("\n" if text[i] == "\n" else "")
                    i += 1
        elif re.match(r'(b?r)(#*)"', text[i:i + 20]) and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
            m = re.match(r'(b?r)(#*)"', text[i:])
            end = '"' + m.group(2)
            j = text.find(end, i + len(m.group(0)))
            j = n if j < 0 else j + len(end)
            out.append('""' + "\n" * text.count("\n", i, j))
            i = j
        elif c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append('""' + "\n" * text.count("\n", i, j))
            i = j + 1
        elif c == "'":
            m = re.match(r"'(\\(x..|u\{[0-9a-fA-F]+\}|.)|[^\\'])'", text[i:i + 12])
            if m:
                out.append("' '")
                i += len(m.group(0))
            else:
                out.append(c)
                i += 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def expand_use(tree):
    """`a::{b, c::{d, e}}` -> [a::b, a::c::d, a::c::e] (`self` and `as` handled)."""
    tree = re.sub(r"\s+", "", re.sub(r"\s+as\s+\w+", "", tree))
    m = re.match(r"^(.*?)\{(.*)\}$", tree)
    if not m:
        return [tree]
    prefix, body = m.group(1), m.group(2)
    items, depth, cur = [], 0, ""
    for ch in body:
        if ch == "," and depth == 0:
            items.append(cur)
            cur = ""
            continue
        depth += ch == "{"
        depth -= ch == "}"
        cur += ch
    items.append(cur)
    out = []
    for item in filter(None, items):
        for sub in expand_use(item):
            out.append(prefix.rstrip(":") if sub == "self" else prefix + sub)
    return out


def main():
    files = {}
    for dirpath, _, names in os.walk(ROOT):
        for name in names:
            if name.endswith(".rs") and not (dirpath == ROOT and name == "main.rs"):
                rel = os.path.relpath(os.path.join(dirpath, name), ROOT).replace(os.sep, "/")
                files[module_of(rel)] = rel
    problems = []
    edges = {m: set() for m in files}

    def resolve(path):
        """The file module an absolute path (tuple) lands in: its longest module prefix."""
        for k in range(len(path), -1, -1):
            if path[:k] in files:
                return path[:k]
        return None

    for mod, rel in files.items():
        raw = open(os.path.join(ROOT, rel), encoding="utf-8").read()
        lines = raw.split("\n")
        tests_at = None
        for i, line in enumerate(lines):
            if line.strip() == "#[cfg(test)]" and i + 1 < len(lines) and re.match(r"^mod \w+ \{", lines[i + 1]):
                tests_at = i
                break
        counted = tests_at if tests_at is not None else len(lines) - (1 if raw.endswith("\n") else 0)
        if counted > MAX_LINES:
            problems.append(f"{rel}: {counted} lines (at most {MAX_LINES} outside its tests)")

        code = strip(raw)
        children = set(re.findall(r"^\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+(\w+)\s*;", code, re.M))
        # Walk the code keeping the inline module we are in, for `super`/`self`.
        tokens = re.finditer(r"\bmod\s+(\w+)\s*\{|[{}]|\buse\s+([^;]+);|(?<![\w:])((?:crate|super|self|[a-z_]\w*)(?:::\w+)+)", code)
        stack, depth = [], 0  # inline mods: (name, depth at open)
        for t in tokens:
            if t.group(1):
                stack.append((t.group(1), depth))
                depth += 1
                continue
            if t.group(0) == "{":
                depth += 1
                continue
            if t.group(0) == "}":
                depth -= 1
                if stack and stack[-1][1] == depth:
                    stack.pop()
                continue
            here = mod + tuple(name for name, _ in stack)
            paths = expand_use(t.group(2)) if t.group(2) else [t.group(3)]
            for p in paths:
                segs = [s for s in p.split("::") if s]
                if not segs:
                    continue
                if segs[0] == "crate":
                    absolute = tuple(segs[1:])
                elif segs[0] in ("super", "self"):
                    base = list(here)
                    while segs and segs[0] in ("super", "self"):
                        if segs.pop(0) == "super":
                            base = base[:-1]
                    absolute = tuple(base + segs)
                elif not stack and segs[0] in children:
                    absolute = mod + tuple(segs)
                else:
                    continue  # an outside crate, a local item or a type's path
                target = resolve(tuple(s for s in absolute if s != "*"))
                # A file and its parent module are one unit: the child
                # uses its parent's items, the parent declares and
                # re-exports its children.
                if target is not None and target != mod and target != mod[:-1] and target[:-1] != mod:
                    edges[mod].add(target)

    # Cycles: strongly connected components (Tarjan).
    index, low, on, st, sccs, counter = {}, {}, set(), [], [], [0]
    sys.setrecursionlimit(10000)

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        st.append(v)
        on.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = st.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                sccs.append(comp)

    for v in sorted(edges):
        if v not in index:
            visit(v)
    for comp in sccs:
        names = sorted(files[m] for m in comp)
        inside = sorted(f"{files[a]} -> {files[b]}" for a in comp for b in edges[a] if b in comp)
        problems.append("import cycle between " + ", ".join(names) + ":\n    " + "\n    ".join(inside))

    if "--graph" in sys.argv:
        for m in sorted(edges, key=lambda m: files[m]):
            print(files[m], "->", " ".join(sorted(files[t] for t in edges[m])))
    for p in problems:
        print("layout:", p)
    if problems:
        sys.exit(1)
    print(f"layout: {len(files)} files, no import cycle, none over {MAX_LINES} lines")


if __name__ == "__main__":
    main()
