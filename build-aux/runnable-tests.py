#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
#
# After a partly failed build, names the tests that can still run honestly: those whose program
# exists and is up to date (ninja has no work left for it), so a stale binary from an earlier
# build never stands in for source that no longer compiles. Prints one test name per line.
#
# usage: runnable-tests.py BUILDDIR

import json
import os
import subprocess
import sys


def up_to_date(builddir, program):
    if not os.path.exists(program):
        return False
    rel = os.path.relpath(program, os.path.abspath(builddir))
    if rel.startswith('..'):
        return True  # not built here (an interpreter such as python3)
    dry = subprocess.run(['ninja', '-C', builddir, '-n', rel], capture_output=True, text=True)
    return dry.returncode == 0 and 'no work to do' in dry.stdout


def main():
    builddir = sys.argv[1]
    out = subprocess.run(['meson', 'introspect', '--tests', builddir],
                         capture_output=True, text=True, check=True)
    for test in json.loads(out.stdout):
        if up_to_date(builddir, test['cmd'][0]):
            print(test['name'])
    return 0


if __name__ == '__main__':
    sys.exit(main())
