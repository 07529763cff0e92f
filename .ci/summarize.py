#!/usr/bin/env python3
"""Count the Check test cases in meson test logs and print 'N passed, N failed'.

A test program that ran Check reports 'Checks: N, Failures: F, Errors: E';
each case counts once. A program that failed without such a line (a crash,
a timeout, a build problem) counts as one failure. --extra NAME=STATUS adds
one test per argument (status 0 = pass).
"""
import re
import sys

CHECKS = re.compile(r"(\d+)%: Checks: (\d+), Failures: (\d+), Errors: (\d+)")
RESULT = re.compile(r"^=+ (\d+)/(\d+) =+\ntest:\s+(\S+).*?\nresult:\s+(.*?)\n", re.S | re.M)


def count_log(path):
    text = open(path, encoding="utf-8", errors="replace").read()
    passed = failed = 0
    # meson's testlog.txt holds one section per test program
    sections = re.split(r"\n(?==+ \d+/\d+ =+\n)", text)
    for section in sections:
        m = re.search(r"^result:\s+(.*)$", section, re.M)
        if not m:
            continue
        ok = "exit status 0" in m.group(1) or m.group(1).startswith("ok")
        checks = CHECKS.findall(section)
        if checks:
            for _, n, f, e in checks:
                n, f, e = int(n), int(f), int(e)
                passed += n - f - e
                failed += f + e
            if not ok and all(int(f) + int(e) == 0 for _, _, f, e in checks):
                failed += 1  # passed its cases but exited badly (sanitizer, leak)
        else:
            if ok:
                passed += 1
            else:
                failed += 1
    return passed, failed


def main(argv):
    passed = failed = 0
    extras = []
    args = iter(argv[1:])
    for a in args:
        if a == "--extra":
            extras.append(next(args))
            continue
        try:
            p, f = count_log(a)
        except OSError:
            print(f"summarize: missing log {a}", file=sys.stderr)
            p, f = 0, 1
        print(f"{a}: {p} passed, {f} failed", file=sys.stderr)
        passed += p
        failed += f
    for e in extras:
        name, _, status = e.partition("=")
        ok = status.strip() == "0"
        print(f"{name}: {'passed' if ok else 'failed'}", file=sys.stderr)
        passed += ok
        failed += not ok
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
