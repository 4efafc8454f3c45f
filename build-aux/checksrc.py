#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
#
# Source checker, run as a test in the `style` suite (after curl's checksrc). It reads every
# .c/.h under src/ tests/ fuzz/ bench/ and enforces the house rules the compiler cannot: SPDX
# header, banned libc calls, layer boundaries, no sleeping in tests, width and tabs. It only
# reads files; it never rewrites them. Output is TAP: one case per rule per directory.
#
# usage: checksrc.py [SOURCE_ROOT]

import os
import re
import sys

AREAS = ['src', 'tests', 'fuzz', 'bench']
ROOT = '.'  # the source root, set by main()
MAX_COLUMNS = 100

BANNED_CALLS = re.compile(r'\b(sprintf|vsprintf|strcpy|strcat|strtok|atoi|gets)\s*\(')
INSTEAD = {
    'sprintf': 'g_snprintf or g_strdup_printf',
    'vsprintf': 'g_vsnprintf or g_strdup_vprintf',
    'strcpy': 'g_strlcpy or g_strdup',
    'strcat': 'g_strlcat or g_strconcat',
    'strtok': 'g_strsplit',
    'atoi': 'g_ascii_string_to_signed/unsigned',
    'gets': 'fgets',
}
GIO_INCLUDE = re.compile(r'^\s*#\s*include\s*[<"]gio/')
SLEEP_CALLS = re.compile(r'\b(usleep|g_usleep|sleep|nanosleep)\s*\(')
# Comments and literals, so that "never call sprintf()" in a comment is not a violation.
CODE_NOISE = re.compile(r'/\*.*?\*/|//[^\n]*|"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'',
                        re.DOTALL)


def blank_noise(text):
    """Replaces comments and literals with spaces, keeping newlines so line numbers hold."""
    def repl(m):
        return re.sub(r'[^\n]', ' ', m.group(0))
    return CODE_NOISE.sub(repl, text)


def matching_lines(pattern, text):
    for n, line in enumerate(text.split('\n'), 1):
        for m in pattern.finditer(line):
            yield n, m.group(0).rstrip('( \t')


def rule_spdx(path, raw, code):
    first = raw.split('\n', 1)[0]
    if 'SPDX-License-Identifier:' not in first:
        yield 1, 'first line has no SPDX-License-Identifier'


def rule_banned(path, raw, code):
    for n, what in matching_lines(BANNED_CALLS, code):
        yield n, 'banned call %s() (use %s)' % (what, INSTEAD[what])


def rule_layers(path, raw, code):
    # Raw text: blanking literals would hide #include "gio/...".
    for n, _ in matching_lines(GIO_INCLUDE, raw):
        yield n, 'GIO include in a GLib-only layer (src/core, src/transport but webrtc/)'


def rule_no_sleep(path, raw, code):
    for n, what in matching_lines(SLEEP_CALLS, code):
        yield n, '%s() in a test: wait on a condition, never sleep' % what


def rule_width(path, raw, code):
    for n, line in enumerate(raw.split('\n'), 1):
        if len(line) > MAX_COLUMNS:
            yield n, 'line is %d columns (max %d)' % (len(line), MAX_COLUMNS)


def rule_tabs(path, raw, code):
    for n, line in enumerate(raw.split('\n'), 1):
        if '\t' in line:
            yield n, 'tab character (indent with spaces)'


def rule_registered(path, raw, code):
    """A test, fuzz target or benchmark that no meson.build names would silently never run."""
    name = os.path.basename(path)
    parts = path.split('/')
    if parts[0] == 'tests' and name.startswith('test-') and name.endswith('.c'):
        # tests/unit and tests/integration are listed in tests/meson.build; an area with its
        # own folder (tests/signal, tests/webrtc, …) lists its tests in that folder's file.
        own = os.path.join('tests', parts[1], 'meson.build') if len(parts) > 2 else None
        if own and os.path.exists(os.path.join(ROOT, own)):
            listing, needle = own, "'%s'" % '/'.join(parts[2:])
        else:
            listing, needle = 'tests/meson.build', "'%s'" % '/'.join(parts[1:])
    elif parts[0] == 'fuzz' and name.startswith('fuzz-') and name.endswith('.c'):
        listing, needle = 'fuzz/meson.build', "'%s'" % name[len('fuzz-'):-2]
    elif parts[0] == 'bench' and name.startswith('bench-') and name.endswith('.c'):
        listing, needle = 'bench/meson.build', "'%s'" % name[len('bench-'):-2]
    else:
        return
    try:
        with open(os.path.join(ROOT, listing), encoding='utf-8') as f:
            text = f.read()
    except OSError:
        text = ''
    if needle not in text:
        yield 1, 'not listed in %s (add %s there)' % (listing, needle)


def everywhere(directory):
    return True


def glib_only_layer(directory):
    # src/transport/webrtc is the one transport that needs GIO (libnice is built on it).
    parts = directory.split('/')
    return parts[:2] == ['src', 'core'] or parts == ['src', 'transport']


def under_tests(directory):
    return directory.split('/')[0] == 'tests'


def built_from_a_list(directory):
    return directory.split('/')[0] in ('tests', 'fuzz', 'bench')


# (name, check, which directories it applies to)
RULES = [
    ('spdx', rule_spdx, everywhere),
    ('banned-calls', rule_banned, everywhere),
    ('no-gio-in-core', rule_layers, glib_only_layer),
    ('no-sleep', rule_no_sleep, under_tests),
    ('max-columns', rule_width, everywhere),
    ('no-tabs', rule_tabs, everywhere),
    ('registered', rule_registered, built_from_a_list),
]


def rules_for(directory):
    return [(name, rule) for name, rule, applies in RULES if applies(directory)]


def source_files(root):
    """Yields repository-relative paths of C sources, sorted, skipping hidden directories."""
    found = []
    for area in AREAS:
        top = os.path.join(root, area)
        for dirpath, dirnames, filenames in os.walk(top):
            dirnames[:] = [d for d in dirnames if not d.startswith('.')]
            for name in filenames:
                if name.endswith('.c') or name.endswith('.h'):
                    found.append(os.path.relpath(os.path.join(dirpath, name), root))
    return sorted(found)


def group_files(files):
    groups = {}
    for path in files:
        groups.setdefault(os.path.dirname(path), []).append(path)
    return groups


def check_group(root, directory, files):
    """Returns {rule name: [diagnostic, ...]} for the files of one directory."""
    rules = rules_for(directory)
    problems = {name: [] for name, _ in rules}
    for path in files:
        with open(os.path.join(root, path), encoding='utf-8', errors='replace') as f:
            raw = f.read()
        code = blank_noise(raw)
        for name, rule in rules:
            for n, message in rule(path, raw, code):
                problems[name].append('%s:%d: %s' % (path, n, message))
    return problems


def unregistered_scripts(root):
    """End-to-end scripts (tests/e2e/**/test-*.sh|py) that no meson.build of their folder
    names: the file name, or the part after its family prefix when the build file makes the
    name from a list ('test-tunnel-' + name + '.sh')."""
    found = []
    for dirpath, dirnames, filenames in os.walk(os.path.join(root, 'tests', 'e2e')):
        dirnames[:] = [d for d in dirnames if not d.startswith('.')]
        try:
            with open(os.path.join(dirpath, 'meson.build'), encoding='utf-8') as f:
                listing = f.read()
        except OSError:
            listing = ''
        for name in sorted(filenames):
            stem, ext = os.path.splitext(name)
            if not name.startswith('test-') or ext not in ('.sh', '.py'):
                continue
            family = stem.split('-')
            short = "'%s'" % '-'.join(family[2:]) if len(family) > 2 else None
            if name not in listing and (short is None or short not in listing):
                found.append('%s: not listed in its meson.build'
                             % os.path.relpath(os.path.join(dirpath, name), root))
    return found


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), '..')
    root = os.path.abspath(root)
    global ROOT
    ROOT = root
    groups = group_files(source_files(root))
    if not groups:
        print('1..0 # SKIP no C sources found under %s' % root)
        return 0

    print('1..%d' % (sum(len(rules_for(d)) for d in groups) + 1))
    n = 0
    failed = 0
    scripts = unregistered_scripts(root)
    n += 1
    print('%s %d tests/e2e/registered-scripts' % ('not ok' if scripts else 'ok', n))
    for line in scripts:
        print('# ' + line)
        print(line, file=sys.stderr)
    failed += 1 if scripts else 0
    for directory in sorted(groups):
        problems = check_group(root, directory, groups[directory])
        for name, _ in rules_for(directory):
            n += 1
            found = problems[name]
            status = 'not ok' if found else 'ok'
            print('%s %d %s/%s (%d files)' % (status, n, directory, name, len(groups[directory])))
            # On stderr as well: meson shows a failing test's stderr, not its TAP comments.
            for line in found:
                print('# ' + line)
                print(line, file=sys.stderr)
            failed += 1 if found else 0
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
