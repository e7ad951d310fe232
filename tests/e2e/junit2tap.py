"""
junit2tap.py JUNIT.xml: print pytest's JUnit XML report as TAP version 12.

passed -> "ok N - name"; failure/error -> "not ok N - name" followed by the
first lines of the message as "#" comments; skipped -> "ok N - name # SKIP
reason"; xfail -> "not ok N - name # TODO reason".  Standard library only.
"""

import re
import sys
import xml.etree.ElementTree as ET


def clean(s):
    """One line, and no '#' that TAP would read as a directive."""
    return re.sub(r"\s+", " ", s or "").replace("#", "%23").strip()


def main(path):
    points, out = 0, []
    for case in ET.parse(path).getroot().iter("testcase"):
        points += 1
        name = clean("%s::%s" % (case.get("classname", ""),
                                 case.get("name", "")))
        bad = case.find("failure")
        if bad is None:
            bad = case.find("error")
        skipped = case.find("skipped")
        if bad is not None:
            out.append("not ok %d - %s" % (points, name))
            text = bad.get("message") or bad.text or ""
            out += ["# " + line[:200] for line in text.splitlines()[:5]]
        elif skipped is not None and skipped.get("type") == "pytest.xfail":
            out.append("not ok %d - %s # TODO %s" %
                       (points, name, clean(skipped.get("message"))))
        elif skipped is not None:
            out.append("ok %d - %s # SKIP %s" %
                       (points, name, clean(skipped.get("message"))))
        else:
            out.append("ok %d - %s" % (points, name))
    print("1..%d" % points)
    for line in out:
        print(line)
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: junit2tap.py JUNIT.xml")
    sys.exit(main(sys.argv[1]))
