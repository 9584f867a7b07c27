#!/usr/bin/env python3
"""A small IMAP client for the rig (imaplib, 127.0.0.1:10143), as a mail
program or a sync tool drives the server:

  imap_client.py USER PASSWORD has FOLDER TEXT    exit 0 when a message in FOLDER has TEXT in its Subject
  imap_client.py USER PASSWORD move FROM TO TEXT  UID MOVE the message with TEXT in its Subject
  imap_client.py USER PASSWORD append FOLDER FILE APPEND the file's message to FOLDER
"""
import imaplib
import sys
import time


def find(m, folder, text):
    typ, _ = m.select('"%s"' % folder)
    if typ != "OK":
        return None
    typ, data = m.uid("SEARCH", None, "SUBJECT", '"%s"' % text)
    uids = data[0].split() if typ == "OK" and data and data[0] else []
    return uids[-1] if uids else None


def main():
    user, password, cmd = sys.argv[1:4]
    args = sys.argv[4:]
    m = imaplib.IMAP4("127.0.0.1", 10143)
    m.login(user, password)
    m.capability()  # the capabilities after login (MOVE)
    try:
        if cmd == "has":
            folder, text = args
            for _ in range(100):  # delivery may still be under way
                if find(m, folder, text):
                    return 0
                time.sleep(0.1)
            return 1
        if cmd == "move":
            src, dst, text = args
            typ, caps = m.capability()
            if b"MOVE" not in caps[0].split():
                print("server has no MOVE")
                return 1
            uid = find(m, src, text)
            if uid is None:
                print("no message with %r in %s" % (text, src))
                return 1
            typ, resp = m.uid("MOVE", uid, '"%s"' % dst)
            print("UID MOVE %s %s -> %s: %s %s" % (uid.decode(), src, dst, typ, resp))
            return 0 if typ == "OK" else 1
        if cmd == "append":
            folder, path = args
            data = open(path, "rb").read().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
            typ, resp = m.append('"%s"' % folder, None, None, data)
            print("APPEND %s: %s %s" % (folder, typ, resp))
            return 0 if typ == "OK" else 1
        print("unknown command " + cmd)
        return 2
    finally:
        m.logout()


if __name__ == "__main__":
    sys.exit(main())
