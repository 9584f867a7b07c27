#!/usr/bin/env python3
"""Sends each file named on stdin as one message over SMTP (one session per
file, as separate clients would) and prints "FILE CODE" per file: the
server's final reply code (250 accepted, 550 rejected, ...).
usage: send_files.py HOST PORT RCPT < list"""
import smtplib
import sys

host, port, rcpt = sys.argv[1], int(sys.argv[2]), sys.argv[3]
for path in sys.stdin.read().split("\n"):
    if not path:
        continue
    with open(path, "rb") as fh:
        data = fh.read()
    code = 0
    try:
        with smtplib.SMTP(host, port, timeout=60) as s:
            s.ehlo("client.example")
            s.sendmail("sender@example.org", [rcpt], data)
            code = 250
    except smtplib.SMTPDataError as e:
        code = e.smtp_code
    except smtplib.SMTPResponseException as e:
        code = e.smtp_code
    except Exception as e:  # a refused connection is a failure of the test
        print(f"{path} error {e!r}", file=sys.stderr)
        code = -1
    print(path, code, flush=True)
