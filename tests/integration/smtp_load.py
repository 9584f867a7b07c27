#!/usr/bin/env python3
"""Sends generated messages over SMTP from several sessions at once, each
session its own client address (XCLIENT), and prints one line per
message: "SUBJECT CODE" (250: the server took it; anything else: it did
not). Used for the archive's tests: every message the server acknowledged
must be in the archive.

usage: smtp_load.py HOST PORT --count N --sessions S --client ADDR
                    --sender ADDR --rcpt ADDR[,ADDR...] --prefix TEXT
"""
import argparse
import smtplib
import sys
import threading

ap = argparse.ArgumentParser()
ap.add_argument("host")
ap.add_argument("port", type=int)
ap.add_argument("--count", type=int, required=True)
ap.add_argument("--sessions", type=int, default=1)
ap.add_argument("--client", required=True)
ap.add_argument("--sender", required=True)
ap.add_argument("--rcpt", required=True)
ap.add_argument("--prefix", required=True)
args = ap.parse_args()
rcpts = args.rcpt.split(",")
lock = threading.Lock()
pending = list(range(args.count))


def message(subject):
    return (f"From: <{args.sender}>\r\nTo: {', '.join(rcpts)}\r\nSubject: {subject}\r\n"
            f"Message-ID: <{subject}@load.example>\r\n\r\nMessage {subject}, for the archive.\r\n")


def worker():
    while True:
        with lock:
            if not pending:
                return
            n = pending.pop(0)
        subject = f"{args.prefix}-{n:05d}"
        code = 0
        try:
            with smtplib.SMTP(args.host, args.port, timeout=60) as s:
                s.ehlo("client.example")
                s.docmd("XCLIENT", f"ADDR={args.client} NAME=[UNAVAILABLE]")
                s.ehlo("client.example")
                s.sendmail(args.sender, rcpts, message(subject).encode())
                code = 250
        except smtplib.SMTPRecipientsRefused as e:
            code = list(e.recipients.values())[0][0]
        except smtplib.SMTPResponseException as e:
            code = e.smtp_code
        except (OSError, smtplib.SMTPException):
            code = -1
        with lock:
            print(subject, code, flush=True)


threads = [threading.Thread(target=worker) for _ in range(args.sessions)]
for t in threads:
    t.start()
for t in threads:
    t.join()
