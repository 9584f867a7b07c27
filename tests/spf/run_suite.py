#!/usr/bin/env python3
"""SPF conformance: runs every test of an openspf YAML suite (rfc7208-tests.yml,
rfc4408-tests.yml) through mailkeeper's SPF evaluation (spf_driver) with each
scenario's zonedata as its DNS, and prints passed/total.

Driver rules of the suite: an SPF entry is served as TXT unless the name has
its own TXT entry (TXT: NONE means none); TIMEOUT makes every query of that
name a temporary error; CNAME chains are followed here (libspf2's zone layer
has none), a loop is a temporary error as a resolver's SERVFAIL would be.

A mismatch listed in known-deviations.txt (suite, test, reason) is reported
but does not fail the run; an unlisted mismatch, or a listed test that now
passes, does. usage: run_suite.py DRIVER SUITE.yml [NAME]"""
import os
import subprocess
import sys

import yaml


def esc(s):
    if isinstance(s, bytes):
        b = s
    else:
        b = str(s).encode("utf-8")
    out = []
    for c in b:
        if c == 0x5C:
            out.append("\\\\")
        elif c == 0x09:
            out.append("\\t")
        elif c == 0x0A:
            out.append("\\n")
        elif c < 0x20 or c > 0x7E:
            out.append("\\x%02x" % c)
        else:
            out.append(chr(c))
    return "".join(out)


def txt_value(v):
    return "".join(v) if isinstance(v, list) else str(v)


def zone_lines(zonedata):
    """The records of a scenario, as driver lines."""
    recs = {}
    for name, items in (zonedata or {}).items():
        name = name.rstrip(".").lower()
        for item in items:
            if item == "TIMEOUT" or (isinstance(item, dict) and "TIMEOUT" in item):
                recs.setdefault(name, []).append(("TIMEOUT", ""))
                continue
            (rtype, value), = item.items()
            recs.setdefault(name, []).append((rtype, value))

    def resolve(name, seen):
        """Records of name after following CNAMEs; None on a loop."""
        rr = recs.get(name, [])
        for rtype, value in rr:
            if rtype == "CNAME":
                target = str(value).rstrip(".").lower()
                if target in seen:
                    return None
                return resolve(target, seen | {target})
        return rr

    lines = []
    for name in recs:
        rr = resolve(name, {name})
        if rr is None:
            lines.append(("Z", name, "TIMEOUT", ""))
            continue
        has_txt = any(t == "TXT" for t, _ in rr)
        mx = []
        for rtype, value in rr:
            if rtype == "TIMEOUT":
                lines.append(("Z", name, "TIMEOUT", ""))
            elif rtype == "TXT":
                if value != "NONE":
                    lines.append(("Z", name, "TXT", txt_value(value)))
            elif rtype == "SPF":
                if not has_txt:
                    lines.append(("Z", name, "TXT", txt_value(value)))
            elif rtype == "MX":
                mx.append((int(value[0]), str(value[1]).rstrip(".")))
            elif rtype in ("A", "AAAA"):
                lines.append(("Z", name, rtype, str(value)))
            elif rtype == "PTR":
                lines.append(("Z", name, "PTR", str(value).rstrip(".")))
        for _, host in sorted(mx):
            lines.append(("Z", name, "MX", host))
    return lines


def main():
    driver, suite = sys.argv[1], sys.argv[2]
    label = sys.argv[3] if len(sys.argv) > 3 else os.path.basename(suite)
    here = os.path.dirname(os.path.abspath(__file__))
    known = {}
    with open(os.path.join(here, "known-deviations.txt"), encoding="utf-8") as fh:
        for line in fh:
            line = line.strip()
            if line and not line.startswith("#"):
                s, name, reason = line.split(None, 2)
                if s == label:
                    known[name] = reason
    with open(suite, encoding="utf-8") as fh:
        scenarios = list(yaml.safe_load_all(fh))
    script, expected = [], {}
    for sc in scenarios:
        script.append(("R",))
        script.extend(zone_lines(sc.get("zonedata")))
        for name, t in sc["tests"].items():
            want = t["result"]
            expected[name] = want if isinstance(want, list) else [want]
            script.append(("T", name, t.get("host", ""), t.get("helo", ""), t.get("mailfrom", "")))
    data = "".join("\t".join([f[0]] + [esc(x) for x in f[1:]]) + "\n" for f in script)
    out = subprocess.run([driver], input=data.encode(), capture_output=True, check=True).stdout
    got = {}
    for line in out.decode("utf-8", "replace").splitlines():
        name, result, comment = (line.split("\t") + ["", ""])[:3]
        got[name] = (result, comment)
    passed, unexpected, fixed, deviations = 0, [], [], []
    for name, want in expected.items():
        result, comment = got.get(name, ("missing", ""))
        if result in want:
            passed += 1
            if name in known:
                fixed.append(name)
        elif name in known:
            deviations.append((name, result, want, known[name]))
        else:
            unexpected.append((name, result, want, comment))
    for name, result, want, reason in deviations:
        print(f"  known deviation {name}: got {result}, want {'|'.join(want)}: {reason}")
    for name, result, want, comment in unexpected:
        print(f"FAIL: {label} {name}: got {result}, want {'|'.join(want)} ({comment})")
    for name in fixed:
        print(f"FAIL: {label} {name} passes now: remove it from known-deviations.txt")
    print(f"{label}: {passed}/{len(expected)} passed, {len(deviations)} known deviations")
    return 1 if unexpected or fixed else 0


if __name__ == "__main__":
    sys.exit(main())
