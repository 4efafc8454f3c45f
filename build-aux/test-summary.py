#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
#
# Counts individual test cases across one or more `meson test` runs and prints one verdict line.
# It reads meson-logs/testlog.json (one JSON object per test binary), counts the TAP lines each
# binary printed, and lists what failed by name. It never runs tests itself; a binary that died
# without saying which case failed still counts as one failure, so a crash is never a pass.
#
# usage: test-summary.py [--fail TEXT]... LOG|BUILDDIR...
# The last line is exactly "N passed, N failed" (", N skipped" appended when N > 0).
# Exit status: 0 when nothing failed, 1 otherwise.

import argparse
import json
import os
import re
import sys

TAP_RESULT = re.compile(r'^(not ok|ok)\b\s*(\d+)?\s*(?:-\s*)?([^#]*?)\s*(?:#\s*(.*))?$')
BAD_RESULTS = {'FAIL', 'ERROR', 'TIMEOUT', 'INTERRUPT', 'UNEXPECTEDPASS'}


class Tally:
    def __init__(self):
        self.passed = 0
        self.failed = 0
        self.skipped = 0
        self.failures = []  # (run label, binary, case description)

    def fail(self, label, binary, what):
        self.failed += 1
        self.failures.append((label, binary, what))


def directive(comment):
    """Returns 'SKIP', 'TODO' or None for the text after '#' on a TAP result line."""
    if not comment:
        return None
    word = comment.split(None, 1)[0].upper() if comment.split() else ''
    if word.startswith('SKIP'):
        return 'SKIP'
    if word.startswith('TODO'):
        return 'TODO'
    return None


def count_tap(tally, label, entry):
    """Counts the TAP results of one binary; returns (results seen, failures seen, last case)."""
    name = entry.get('name', '?')
    seen = 0
    bad = 0
    last = None
    for line in (entry.get('stdout') or '').splitlines():
        if line.startswith('Bail out!'):
            # GLib bails out on a failed g_assert without naming the case: name its predecessor.
            where = ' (the case after %s)' % last if last else ' (the first case)'
            tally.fail(label, name, line.strip() + where)
            bad += 1
            continue
        m = TAP_RESULT.match(line)
        if m is None:
            continue
        seen += 1
        ok = m.group(1) == 'ok'
        desc = (m.group(3) or '').strip() or 'test %s' % (m.group(2) or seen)
        kind = directive(m.group(4))
        last = desc
        if kind == 'SKIP' or (kind == 'TODO' and not ok):
            tally.skipped += 1
        elif kind == 'TODO' and ok:
            # meson treats an unexpected pass of a TODO case as a failure; so do we.
            tally.fail(label, name, 'unexpected pass: ' + desc)
            bad += 1
        elif ok:
            tally.passed += 1
        else:
            tally.fail(label, name, desc)
            bad += 1
    return seen, bad, last


def describe_death(entry, seen, last):
    result = entry.get('result', 'ERROR')
    rc = entry.get('returncode')
    why = result
    if isinstance(rc, int) and rc < 0:
        why += ' (killed by signal %d)' % -rc
    elif result != 'TIMEOUT' and rc not in (None, 0, 1):
        why += ' (exit status %s)' % rc
    if seen > 0:
        why += ' after %d TAP result(s), the last %s' % (seen, last)
    return why


def count_entry(tally, label, entry):
    result = entry.get('result', 'ERROR')
    seen, bad, last = count_tap(tally, label, entry)
    if result in BAD_RESULTS and bad == 0:
        # Crashed, timed out or exited non-zero without naming a case: one failure.
        tally.fail(label, entry.get('name', '?'), describe_death(entry, seen, last))
        return
    if seen > 0 or bad > 0:
        return
    # Not TAP (a script, a checker): the binary is one case, judged by its result.
    if result == 'SKIP':
        tally.skipped += 1
    else:
        tally.passed += 1


def log_path(arg):
    if os.path.isdir(arg):
        return os.path.join(arg, 'meson-logs', 'testlog.json')
    return arg


def run_label(path):
    """build-asan/meson-logs/testlog.json -> build-asan."""
    parent = os.path.dirname(os.path.abspath(path))
    if os.path.basename(parent) == 'meson-logs':
        parent = os.path.dirname(parent)
    return os.path.basename(parent)


def read_log(tally, path):
    label = run_label(path)
    try:
        with open(path, encoding='utf-8', errors='replace') as f:
            lines = f.readlines()
    except OSError as e:
        tally.fail(label, '(no test log)', '%s: %s' % (path, e.strerror))
        return
    for n, line in enumerate(lines, 1):
        line = line.strip()
        if not line:
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            tally.fail(label, '(test log)', '%s:%d: not JSON' % (path, n))
            continue
        count_entry(tally, label, entry)


def print_failures(tally):
    if not tally.failures:
        return
    print('Failures:')
    for label, binary, what in tally.failures:
        print('  [%s] %s: %s' % (label, binary, what))


def verdict(tally):
    line = '%d passed, %d failed' % (tally.passed, tally.failed)
    if tally.skipped > 0:
        line += ', %d skipped' % tally.skipped
    return line


def main():
    parser = argparse.ArgumentParser(description='Count TAP test cases in meson test logs.')
    parser.add_argument('--fail', action='append', default=[], metavar='TEXT',
                        help='count one extra failure (e.g. a build that did not compile)')
    parser.add_argument('logs', nargs='*', metavar='LOG|BUILDDIR')
    args = parser.parse_args()

    tally = Tally()
    for text in args.fail:
        tally.fail('make', 'step', text)
    for arg in args.logs:
        read_log(tally, log_path(arg))
    print_failures(tally)
    sys.stdout.flush()
    print(verdict(tally))
    return 1 if tally.failed > 0 else 0


if __name__ == '__main__':
    sys.exit(main())
