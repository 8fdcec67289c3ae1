#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Check that a manual page (scdoc source) documents what the code has, and
nothing it does not.

usage:
  check-man.py options PAGE PROGRAM [--commands] [SOURCE.c...]
      every long option PROGRAM --help prints (with its short form) is a
      term of PAGE's OPTIONS, and every option there is in --help or in the
      getopt_long() table of a SOURCE; with --commands, the same for the
      commands of its usage text and COMMANDS
  check-man.py config PAGE CONFIG_C
      every key server/config.c accepts, section by section, is a term of
      PAGE's section of that name ("# [server]", "# [screen.NAME]"), and no
      term there is a key it refuses; a limits table's ranges are in the text
  check-man.py json PAGE CONTROL_C
      every key of the JSON answers server/control.c makes is in PAGE's
      JSON OUTPUT
  check-man.py api PAGE MAP
      the functions of the library's version script are the ones PAGE
      describes

Each check fails loudly when it finds nothing to check: a pattern that no
longer matches the code must not pass for a page that covers everything.
"""
import re
import subprocess
import sys

C_LIMITS = {
    "UINT32_MAX": 2**32 - 1,
    "UINT64_MAX": 2**64 - 1,
    "INT32_MAX": 2**31 - 1,
}

failures = []


def fail(msg):
    failures.append(msg)


def need(things, what):
    if not things:
        print(f"FAIL: found no {what}: has the code changed shape? Update this script.",
              file=sys.stderr)
        sys.exit(1)
    return things


def read_page(path):
    with open(path) as f:
        # scdoc escapes: \_ and \* are the characters themselves.
        return re.sub(r"\\([_*\[\]\\])", r"\1", f.read())


def sections(page, level="#"):
    """{heading: text} of the page's headings of this level."""
    out = {}
    parts = re.split(rf"^{level} (.+)$", page, flags=re.M)
    for i in range(1, len(parts), 2):
        out[parts[i].strip()] = parts[i + 1]
    return out


def term_lines(text):
    """The terms of definitions: lines at the margin that start with * and are
    followed by the indented definition, or by another term (after ++)."""
    lines = text.split("\n")
    return [line for i, line in enumerate(lines) if line.startswith("*") and (
        line.endswith("++") or (i + 1 < len(lines) and lines[i + 1].startswith("\t")))]


def bold_words(lines):
    words = set()
    for line in lines:
        words.update(re.findall(r"\*([^*\s][^*]*?)\*", line))
    return words


def source_options(paths):
    """The long options of getopt_long() tables in C sources."""
    names = set()
    for path in paths:
        with open(path) as f:
            names.update(re.findall(r'\{\s*"([a-z][a-z0-9-]*)",\s*(?:no|required|optional)_argument',
                                    f.read()))
    return names


def check_options(page_path, program, with_commands, sources):
    page = read_page(page_path)
    out = subprocess.run([program, "--help"], capture_output=True, text=True, timeout=30)
    if out.returncode != 0:
        fail(f"{program} --help exited {out.returncode}")
        return
    text = out.stdout
    longs = need(sorted(set(re.findall(r"(?<![\w-])--([a-z][a-z0-9-]*)", text))),
                 f"long options in {program} --help")
    shorts = dict((lng, sht) for sht, lng in re.findall(r"(?<![\w-])(-[A-Za-z0-9]), --([a-z][a-z0-9-]*)", text))
    page_sections = sections(page)
    options = page_sections.get("OPTIONS")
    if options is None:
        fail(f"{page_path}: no OPTIONS section")
        return
    terms = term_lines(options)
    documented = set()
    for line in terms:
        documented.update(re.findall(r"(?<![\w-])--([a-z][a-z0-9-]*)", line))
    for opt in longs:
        lines = [line for line in terms if re.search(rf"(?<![\w-])--{opt}(?![\w-])", line)]
        if not lines:
            fail(f"{page_path}: --{opt} ({program} --help) is not in OPTIONS")
        elif opt in shorts and not any(re.search(rf"(?<![\w-]){shorts[opt]}(?![\w-])", l)
                                       for l in lines):
            fail(f"{page_path}: --{opt} is documented without its short form {shorts[opt]}")
    # What --help leaves out may still be an option (--help itself, often).
    accepted = set(longs) | (need(source_options(sources), f"options in {sources}")
                             if sources else set())
    for opt in sorted(documented - accepted):
        fail(f"{page_path}: OPTIONS documents --{opt}, which {program} does not have")
    count = f"{len(longs)} options"

    if with_commands:
        usage_commands = need(re.findall(r"^  ([a-z]+)\b", text, flags=re.M),
                              f"commands in {program} --help")
        commands = page_sections.get("COMMANDS")
        if commands is None:
            fail(f"{page_path}: no COMMANDS section")
            return
        documented = {line.split("*")[1] for line in term_lines(commands)}
        for cmd in usage_commands:
            if cmd not in documented:
                fail(f"{page_path}: command {cmd} ({program} --help) is not in COMMANDS")
        for cmd in sorted(documented - set(usage_commands)):
            fail(f"{page_path}: COMMANDS documents {cmd}, which {program} --help does not have")
        count += f", {len(usage_commands)} commands"
    print(f"{page_path}: {count} of {program} checked")


def c_function(source, name):
    """The body of the C function name (from its opening brace to the closing one)."""
    m = re.search(rf"^[^\n;]*\b{name}\([^;{{]*\)\s*\{{", source, flags=re.M)
    if not m:
        return None
    depth, i = 1, m.end()
    while depth and i < len(source):
        depth += {"{": 1, "}": -1}.get(source[i], 0)
        i += 1
    return source[m.end():i]


def config_sections(source):
    """[(section, is_prefix, key function)] from handle_ini()'s dispatch."""
    body = need(c_function(source, "handle_ini"), "handle_ini() in the configuration parser")
    tests = list(re.finditer(r'\b(strn?cmp)\(section, "([^"]+)"', body))
    need(tests, "section names in handle_ini()")
    out = []
    for i, m in enumerate(tests):
        block = body[m.end():tests[i + 1].start() if i + 1 < len(tests) else len(body)]
        fn = re.search(r"\b(\w+_key)\(", block)
        if not fn:
            fail(f"handle_ini(): no key function for section {m.group(2)}")
            continue
        out.append((m.group(2), m.group(1) == "strncmp", fn.group(1)))
    return out


def config_keys(source, fn):
    """{key: (min, max) or None} that the key function fn accepts."""
    body = c_function(source, fn)
    if body is None:
        fail(f"no function {fn}() in the configuration parser")
        return {}
    keys = {k: None for k in re.findall(r'!strcmp\(name, "([^"]+)"\)', body)}
    # A table of { "name", offsetof(...), wide, min, max }, matched by strcmp(name, ...).
    for name, lo, hi in re.findall(
            r'\{\s*"([^"]+)",\s*offsetof\([^)]*\),\s*\w+,\s*(\w+),\s*(\w+)\s*\}', body):
        keys[name] = tuple(int(v) if v.isdigit() else C_LIMITS[v] for v in (lo, hi))
    return keys


def check_config(page_path, source_path):
    page = read_page(page_path)
    with open(source_path) as f:
        source = f.read()
    page_sections = sections(page)
    total = 0
    for section, prefix, fn in config_sections(source):
        keys = need(config_keys(source, fn), f"keys in {fn}()")
        total += len(keys)
        if prefix:
            heading = next((h for h in page_sections if h.startswith(f"[{section}")), None)
        else:
            heading = f"[{section}]" if f"[{section}]" in page_sections else None
        if heading is None:
            fail(f"{page_path}: no section \"# [{section}{'NAME]' if prefix else ']'}\"")
            continue
        text = page_sections[heading]
        terms = term_lines(text)
        documented = bold_words(terms)
        for key, limits in keys.items():
            if key not in documented:
                fail(f"{page_path}: {heading} does not document {key}")
                continue
            if limits is None:
                continue
            # The entry: from its term to the next term.
            entry = re.search(rf"^\*{re.escape(key)}\*.*?(?=^\*|\Z)", text, flags=re.M | re.S)
            entry_text = entry.group(0) if entry else ""
            for v in limits:
                if not re.search(rf"(?<!\d){v}(?!\d)", entry_text):
                    fail(f"{page_path}: {heading} {key}: its range {limits[0]} to "
                         f"{limits[1]} is not in the text (no {v})")
        # Every term names keys only: no page for a key the parser refuses.
        for word in sorted(documented):
            if re.fullmatch(r"[a-z][a-z0-9-]*", word) and word not in keys:
                fail(f"{page_path}: {heading} documents {word}, which {fn}() refuses")
    print(f"{page_path}: {total} keys of {source_path} checked")


def check_json(page_path, source_path):
    page = read_page(page_path)
    with open(source_path) as f:
        source = f.read()
    keys = need(sorted(set(re.findall(r'json_object_object_add\(\w+, "([a-z_]+)"', source))),
                f"JSON keys in {source_path}")
    text = sections(page).get("JSON OUTPUT")
    if text is None:
        fail(f"{page_path}: no JSON OUTPUT section")
        return
    for key in keys:
        if not re.search(rf'[*"]{key}[*"]', text):
            fail(f"{page_path}: JSON OUTPUT does not document {key}")
    print(f"{page_path}: {len(keys)} JSON keys of {source_path} checked")


def check_api(page_path, map_path):
    page = read_page(page_path)
    with open(map_path) as f:
        exported = need(set(re.findall(r"^\s*(\w+);", f.read(), flags=re.M)) - {"local"},
                        f"symbols in {map_path}")
    documented = set()
    for line in term_lines(page):
        documented.update(re.findall(r"\b(dmab_\w+)\(", line))
    for sym in sorted(exported - documented):
        fail(f"{page_path}: {sym}() is exported but not described")
    for sym in sorted(documented - exported):
        fail(f"{page_path}: {sym}() is described but not exported")
    print(f"{page_path}: {len(exported)} functions of {map_path} checked")


def main(argv):
    if len(argv) < 4:
        print(__doc__, file=sys.stderr)
        return 2
    what, page, source = argv[1:4]
    if what == "options":
        rest = argv[4:]
        sources = [a for a in rest if a != "--commands"]
        check_options(page, source, "--commands" in rest, sources)
    elif what == "config":
        check_config(page, source)
    elif what == "json":
        check_json(page, source)
    elif what == "api":
        check_api(page, source)
    else:
        print(__doc__, file=sys.stderr)
        return 2
    for msg in failures:
        print(f"FAIL: {msg}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
