#!/usr/bin/env bash
# The include graph of each C tree has no cycle: a module (foo.c with
# foo.h) may include another module's header only if that module does not
# include its own, directly or through others. Dependencies point one way
# (docs/lbtls.md, "Structure"). A private header foo_int.h belongs to
# module foo. Prints one line per tree and ends with
# "N passed, N failed".
#
# Usage: bash tests/unit/test_include_cycles.sh [BUILD_DIR]   (BUILD unused)
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
python3 - "$root" tls-tier user <<'PY'
import os, re, sys

root, trees = sys.argv[1], sys.argv[2:]
passed = failed = 0
inc = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)
for tree in trees:
    d = os.path.join(root, tree)
    # a tree's layers are folders: a module is named by its file alone
    files = [os.path.relpath(os.path.join(w, f), d)
             for w, _, fs in os.walk(d) for f in fs
             if f.endswith(('.c', '.h'))]
    def module(name):
        return re.sub(r'_int$', '', os.path.splitext(os.path.basename(name))[0])

    mods = {module(f) for f in files}
    names = {os.path.basename(f) for f in files}
    graph = {m: set() for m in mods}
    for f in files:
        m = module(f)
        for h in inc.findall(open(os.path.join(d, f)).read()):
            t = module(h)
            if t in mods and t != m and h in names:
                graph[m].add(t)
    # depth-first search; a grey node reached again closes a cycle
    colour, stack, cycle = {}, [], None

    def visit(m):
        global cycle
        colour[m] = 'grey'
        stack.append(m)
        for t in sorted(graph[m]):
            if cycle:
                return
            if colour.get(t) == 'grey':
                cycle = stack[stack.index(t):] + [t]
                return
            if t not in colour:
                visit(t)
        stack.pop()
        colour[m] = 'black'

    for m in sorted(graph):
        if m not in colour and not cycle:
            visit(m)
    if cycle:
        failed += 1
        print("FAIL - %s: include cycle %s" % (tree, " -> ".join(cycle)))
    else:
        passed += 1
        print("ok   - %s: no include cycle among %d modules" %
              (tree, len(mods)))
print("%d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
PY
