#!/usr/bin/env python3
"""Rule agreement with SpamAssassin itself: the stock rules of Debian's
spamassassin package run by mailkeeper (test mode) and by spamassassin
(local tests only, no Bayes) over the same messages, in the same run; for
every rule both run and every message, did both hit or both not?

Messages: 500 of the training groups (spam-1, easy-ham-1) of the
SpamAssassin public corpus when it is installed (MK_CORPUS, see
bench/lib.sh), else every message of ../shared/testdata (what CI has).
Rules compared: those mailkeeper runs (mailkeeper-milter --list-rules),
except __ parts of metas and rules whose score without network and Bayes
(SpamAssassin's score set 0) is 0, which SpamAssassin does not run.

Prints the agreement over all rule x message pairs and over the pairs
where at least one engine hit, and the rules that disagree most. Exit 1
when the agreement over all pairs is under 99 %.
usage: agreement.py MILTER SHARED_TESTDATA [N]"""
import glob
import os
import re
import subprocess
import sys
import tempfile

milter, shared = sys.argv[1], sys.argv[2]
want = int(sys.argv[3]) if len(sys.argv) > 3 else 500
RULES = "/usr/share/spamassassin"

corpus = os.environ.get("MK_CORPUS", "/var/cache/mailkeeper-corpus")
train = sorted(glob.glob(f"{corpus}/eml/spam-1/*.eml")) + sorted(glob.glob(f"{corpus}/eml/easy-ham-1/*.eml"))
if len(train) >= want:
    step = len(train) / want
    files = [train[int(i * step)] for i in range(want)]
    source = f"{want} messages of the corpus's training groups ({corpus})"
else:
    files = sorted(f for f in glob.glob(f"{shared}/**/*", recursive=True)
                   if os.path.isfile(f) and re.search(r"\.(eml|msg|txt)$", f)
                   and not re.search(r"(README|LICENSE|COPYING|keys)", f))
    source = f"{len(files)} messages of {shared} (corpus not installed)"

work = tempfile.mkdtemp(prefix="mk-agree-")
# the same bytes for both: earlier X-Spam-* markup removed, LF line ends
msgs = []
for i, f in enumerate(files):
    data = open(f, "rb").read().replace(b"\r\n", b"\n")
    head, sep, body = data.partition(b"\n\n")
    lines, skip = [], False
    for line in head.split(b"\n"):
        if line[:1] in (b" ", b"\t"):
            if not skip:
                lines.append(line)
            continue
        skip = line.lower().startswith(b"x-spam-")
        if not skip and not line.startswith(b"From "):
            lines.append(line)
    path = os.path.join(work, f"{i:04d}.eml")
    with open(path, "wb") as out:
        out.write(b"\n".join(lines) + sep + body)
    msgs.append(path)

# SpamAssassin's set-0 scores: a rule scoring 0 there does not run
score0 = {}
for cf in sorted(glob.glob(f"{RULES}/*.cf")):
    for line in open(cf, encoding="latin-1"):
        m = re.match(r"\s*score\s+(\S+)\s+(-?[\d.]+)", line)
        if m:
            score0[m.group(1)] = float(m.group(2))

conf = os.path.join(work, "mk.conf")
with open(conf, "w") as fh:
    fh.write("[spf]\nenabled = no\n[dkim]\nenabled = no\n[dmarc]\nenabled = no\n"
             "[bayes]\nenabled = no\n[rules]\npaths = %s\n" % RULES)
listed = subprocess.run([milter, "-c", conf, "--list-rules"], capture_output=True, text=True, check=True)
rules = sorted({l.split()[1] for l in listed.stdout.splitlines() if l.startswith("rule ")})
rules = [r for r in rules if not r.startswith("__") and score0.get(r, 1.0) != 0.0]

# mailkeeper: the symbols of each file
mk = {}
out = subprocess.run([milter, "-c", conf, "-t"] + msgs, capture_output=True, text=True).stdout
cur, in_syms = None, False
for line in out.splitlines():
    if line.startswith("file: "):
        cur, in_syms = line[6:], False
        mk[cur] = set()
    elif line.startswith("symbols:"):
        in_syms = True
    elif in_syms and line.startswith("  ") and not line.startswith("  +"):
        mk[cur].add(line.split()[0])
    else:
        in_syms = False

# SpamAssassin: one process over an mbox of the same messages
site = os.path.join(work, "sa-site")
os.mkdir(site)
for pre in glob.glob("/etc/spamassassin/*.pre"):
    subprocess.run(["cp", pre, site])
with open(os.path.join(site, "local.cf"), "w") as fh:
    fh.write("use_bayes 0\nbayes_auto_learn 0\nskip_rbl_checks 1\nuse_razor2 0\nuse_pyzor 0\n"
             "use_dcc 0\nreport_safe 0\nclear_headers\nadd_header all Tests _TESTS_\n")
mbox = os.path.join(work, "all.mbox")
with open(mbox, "wb") as out_fh:
    for i, p in enumerate(msgs):
        data = open(p, "rb").read()
        data = re.sub(rb"(?m)^(>*From )", rb">\1", data)
        out_fh.write(b"From mk-%d@agreement Thu Jan  1 00:00:00 2026\n" % i + data.rstrip(b"\n") + b"\n\n")
res = subprocess.run(["spamassassin", "-L", "--mbox", "--siteconfigpath", site, mbox],
                     capture_output=True)
sa_out = res.stdout.decode("latin-1")
sa = {}
# each message's envelope line names it; its X-Spam-Tests header follows
parts = re.split(r"^From mk-(\d+)@agreement .*$", sa_out, flags=re.M)
for k in range(1, len(parts) - 1, 2):
    head = parts[k + 1].lstrip("\n").split("\n\n", 1)[0]
    m = re.search(r"^X-Spam-Tests: (.*(?:\n[ \t].*)*)", head, re.M)
    if m:
        names = re.sub(r"\s+", "", m.group(1))
        sa[msgs[int(parts[k])]] = set(n for n in names.split(",") if n and n != "none")
if len(sa) != len(msgs):
    print(f"SpamAssassin answered for {len(sa)} of {len(msgs)} messages", file=sys.stderr)
    print(res.stderr.decode("latin-1")[-2000:], file=sys.stderr)
    sys.exit(2)

pairs = agree = either = both = 0
diff = {}
for p in msgs:
    for r in rules:
        a, b = r in mk.get(p, set()), r in sa[p]
        pairs += 1
        if a == b:
            agree += 1
        if a or b:
            either += 1
            both += a and b
        if a != b:
            d = diff.setdefault(r, [0, 0])
            d[0 if a else 1] += 1
pct = 100.0 * agree / pairs
print(f"messages: {source}")
print(f"rules compared: {len(rules)} (those mailkeeper runs; no __ parts, none scoring 0 in set 0)")
print(f"agreement: {agree}/{pairs} rule x message pairs = {pct:.3f} %")
print(f"where either hit: {both}/{either} = {100.0 * both / max(either, 1):.2f} % hit in both")
for r, (m, s) in sorted(diff.items(), key=lambda kv: -sum(kv[1]))[:15]:
    print(f"  {r:32s} mailkeeper only {m:4d}  SpamAssassin only {s:4d}")
subprocess.run(["rm", "-rf", work])
sys.exit(0 if pct >= 99.0 else 1)
