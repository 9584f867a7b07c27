#!/usr/bin/env python3
"""One SMTP session that stays open across an event: connects, sends the
envelope, the headers and half the body, runs COMMAND (a shell command,
e.g. one that sends SIGHUP to the milter and waits for its log line),
then ends the message and prints the server's reply code and text.
usage: session_across.py HOST PORT RCPT SUBJECT COMMAND"""
import smtplib
import subprocess
import sys

host, port, rcpt, subject, command = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
s = smtplib.SMTP(host, port, timeout=60)
s.ehlo("client.example")
s.mail("sender@example.org")
s.rcpt(rcpt)
code, _ = s.docmd("DATA")
assert code == 354, code
s.send(("From: sender@example.org\r\nTo: %s\r\nSubject: %s\r\n\r\nfirst half\r\n" % (rcpt, subject)).encode())
rc = subprocess.call(command, shell=True)
s.send(b"second half\r\n.\r\n")
code, text = s.getreply()
print(code, text.decode(errors="replace"), "event-rc=%d" % rc, flush=True)
s.quit()
