#!/usr/bin/env python3
"""A recipient's walk through mailkeeper-webvault over HTTPS, for the rig
(tests/integration/vault.sh), in its network namespace. Each check is a
subcommand; it prints what went wrong and exits 1, or exits 0.

  flow LINK BOB_MAILDIR ALICE_MAILDIR FILE   the whole way: the address
        page, a code mailed to bob, wrong codes, the right one, the message,
        the attachment byte for byte, the headers, a reply with a file that
        reaches alice; and the session does not open another message
  stranger LINK                              a non-recipient gets the same page
  lockout LINK ADDR                          five wrong codes lock the address out
  status LINK WANT_CODE WORDS                a link's page: status and words
  bad LINK                                   forged and cut links, a 10 MB post,
        header injection in the reply, a broken TLS handshake, a slow client
"""
import email
import email.policy
import glob
import http.client
import os
import re
import socket
import ssl
import sys
import time
import uuid

HOST, PORT = "127.0.0.1", int(os.environ.get("MK_WEB_PORT", "8443"))
CA = os.environ.get("MK_WEB_CA")


def fail(why):
    print(why)
    sys.exit(1)


def conn():
    ctx = ssl.create_default_context(cafile=CA)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    return _Conn(ctx)


class _Conn(http.client.HTTPSConnection):
    def __init__(self, ctx):
        super().__init__("vault.mk.test", PORT, context=ctx, timeout=20)

    def connect(self):  # vault.mk.test is 127.0.0.1 here, no DNS
        sock = socket.create_connection((HOST, PORT), timeout=20)
        self.sock = self._context.wrap_socket(sock, server_hostname="vault.mk.test")


class Browser:
    def __init__(self):
        self.cookies = {}

    def req(self, method, path, body=None, ctype=None):
        c = conn()
        headers = {}
        if self.cookies:
            headers["Cookie"] = "; ".join("%s=%s" % kv for kv in self.cookies.items())
        if ctype:
            headers["Content-Type"] = ctype
        c.request(method, path, body=body, headers=headers)
        r = c.getresponse()
        data = r.read()
        for k, v in r.getheaders():
            if k.lower() == "set-cookie":
                name, _, rest = v.partition("=")
                value = rest.split(";", 1)[0]
                if "Max-Age=0" in v:
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = value
        c.close()
        return r.status, dict((k.lower(), v) for k, v in r.getheaders()), data.decode("utf-8", "replace"), data, r.getheaders()

    def form(self, path, fields):
        from urllib.parse import urlencode
        return self.req("POST", path, urlencode(fields), "application/x-www-form-urlencoded")


def path_of(link):
    return "/m/" + link.rsplit("/", 1)[1]


def wait_mail(maildir, words, timeout=15):
    end = time.time() + timeout
    while time.time() < end:
        for f in glob.glob(os.path.join(maildir, "new", "*")):
            text = open(f, "rb").read().decode("utf-8", "replace")
            if all(w in text for w in words):
                return f, text
        time.sleep(0.1)
    return None, None


def code_of(maildir, after):
    """The newest code mail delivered after the time `after`."""
    end = time.time() + 15
    while time.time() < end:
        best = None
        for f in glob.glob(os.path.join(maildir, "new", "*")):
            if os.path.getmtime(f) < after:
                continue
            text = open(f, "rb").read().decode("utf-8", "replace")
            m = re.search(r"Your one-time code: (\d{8})", text)
            if m and (best is None or os.path.getmtime(f) > best[0]):
                best = (os.path.getmtime(f), m.group(1))
        if best:
            return best[1]
        time.sleep(0.1)
    fail("no code mail in %s" % maildir)


def csrf_of(html):
    m = re.search(r'name="csrf" value="([A-Za-z0-9_-]+)"', html)
    return m.group(1) if m else fail("no csrf token in the page")


def check_headers(h, what):
    for name, want in (("strict-transport-security", "max-age="),
                       ("referrer-policy", "no-referrer"),
                       ("x-content-type-options", "nosniff")):
        if want not in h.get(name, ""):
            fail("%s: header %s is %r" % (what, name, h.get(name)))
    csp = h.get("content-security-policy", "")
    if "default-src 'none'" not in csp or "frame-ancestors 'none'" not in csp:
        fail("%s: CSP %r" % (what, csp))


def multipart(fields, files):
    b = "----mk" + uuid.uuid4().hex
    out = b""
    for k, v in fields.items():
        out += ("--%s\r\nContent-Disposition: form-data; name=\"%s\"\r\n\r\n%s\r\n" % (b, k, v)).encode()
    for k, (name, data) in files.items():
        out += ("--%s\r\nContent-Disposition: form-data; name=\"%s\"; filename=\"%s\"\r\n"
                "Content-Type: application/octet-stream\r\n\r\n" % (b, k, name)).encode() + data + b"\r\n"
    out += ("--%s--\r\n" % b).encode()
    return out, "multipart/form-data; boundary=" + b


def flow(link, bob, alice, attachment):
    p = path_of(link)
    br = Browser()
    st, h, html, _, _ = br.req("GET", p)
    if st != 200 or "confirm your email address" not in html:
        fail("the address page: %d %s" % (st, html[:300]))
    check_headers(h, "the address page")
    t0 = time.time() - 1
    st, h, html, _, _ = br.form(p + "/code", {"addr": "Bob@MK.test"})
    if st != 200 or "Enter your code" not in html:
        fail("asking for a code: %d" % st)
    code = code_of(bob, t0)
    # wrong codes: a wrong one, letters
    st, h, html, _, _ = br.form(p + "/verify", {"addr": "bob@mk.test", "code": "%08d" % ((int(code) + 1) % 10**8)})
    if "not right" not in html:
        fail("a wrong code: %s" % html[:300])
    st, h, html, _, _ = br.form(p + "/verify", {"addr": "bob@mk.test", "code": "12ab5678"})
    if "8 digits" not in html:
        fail("a code with letters: %s" % html[:300])
    st, h, html, _, raw = br.form(p + "/verify", {"addr": "bob@mk.test", "code": code})
    if st != 303:
        fail("the right code: %d %s" % (st, html[:300]))
    cookies = [v for k, v in raw if k.lower() == "set-cookie"]
    if len(cookies) != 1 or not cookies[0].startswith("__Host-mkv-") or \
            not all(a in cookies[0] for a in ("; Path=/", "; Secure", "; HttpOnly", "; SameSite=Strict")):
        fail("the session cookie: %r" % cookies)
    # the code is used up
    _, _, html, _, _ = Browser().form(p + "/verify", {"addr": "bob@mk.test", "code": code})
    if "not right" not in html:
        fail("a code used twice: %s" % html[:300])
    # the message
    st, h, html, _, _ = br.req("GET", p)
    if st != 200 or "PLAINTEXT-MARKER-4711" not in html or "report.bin" not in html:
        fail("the message page: %d %s" % (st, html[:500]))
    check_headers(h, "the message page")
    m = re.search(r'href="(/m/[^"]+/att/\d+)"', html)
    if not m:
        fail("no attachment link")
    st, h, _, data, _ = br.req("GET", m.group(1))
    if st != 200 or data != open(attachment, "rb").read():
        fail("the attachment: %d, %d bytes" % (st, len(data)))
    if not h.get("content-disposition", "").startswith("attachment;") or h.get("x-content-type-options") != "nosniff":
        fail("the attachment's headers: %r" % h)
    # the reply, with a file, reaches alice From bob
    csrf = csrf_of(html)
    token = uuid.uuid4().hex
    body, ctype = multipart({"csrf": csrf, "subject": "Re: Quarterly payroll 2027",
                             "text": "Thanks, reply-%s" % token}, {"files": ("answer.txt", b"ANSWER-FILE-" + token.encode())})
    st, h, html, _, _ = br.req("POST", p + "/reply", body, ctype)
    if st != 200 or "Reply sent" not in html:
        fail("the reply: %d %s" % (st, html[:300]))
    f, text = wait_mail(alice, ["reply-" + token])
    if f is None:
        fail("the reply did not reach alice")
    msg = email.message_from_string(text, policy=email.policy.default)
    if "bob@mk.test" not in str(msg["From"]) or "alice@mk.test" not in str(msg["To"]):
        fail("the reply's From/To: %s / %s" % (msg["From"], msg["To"]))
    att = [a for a in msg.iter_attachments() if a.get_filename() == "answer.txt"]
    if not att or att[0].get_content() != b"ANSWER-FILE-" + token.encode():
        fail("the reply's attachment")
    # without the form's token: refused
    body, ctype = multipart({"csrf": "forged", "text": "x"}, {})
    st, _, _, _, _ = br.req("POST", p + "/reply", body, ctype)
    if st != 403:
        fail("a reply without the token: %d" % st)
    print("ok")


def other(link, link2):
    """A session of one message does not open another."""
    # re-use flow's cookies is not possible across processes: the caller
    # passes a cookie in MK_WEB_COOKIE
    br = Browser()
    name, _, value = os.environ["MK_WEB_COOKIE"].partition("=")
    br.cookies[name] = value
    st, _, html, _, _ = br.req("GET", path_of(link2))
    if "PLAINTEXT-MARKER" in html or "confirm your email address" not in html:
        fail("another message with this session: %d %s" % (st, html[:300]))


def stranger(link):
    p = path_of(link)
    br = Browser()
    st1, _, html1, _, _ = br.form(p + "/code", {"addr": "eve@example.org"})
    st2, _, html2, _, _ = br.form(p + "/code", {"addr": "bob@mk.test"})
    if st1 != st2 or html1.replace("eve@example.org", "X") != html2.replace("bob@mk.test", "X"):
        fail("a stranger's page differs from a recipient's")


def lockout(link, addr):
    p = path_of(link)
    br = Browser()
    br.form(p + "/code", {"addr": addr})
    for i in range(4):
        st, _, html, _, _ = br.form(p + "/verify", {"addr": addr, "code": "00000000"})
        if "not right" not in html:
            fail("wrong code %d: %d %s" % (i + 1, st, html[:200]))
    st, _, html, _, _ = br.form(p + "/verify", {"addr": addr, "code": "00000000"})
    if st != 429 or "Please wait" not in html:
        fail("the fifth wrong code: %d %s" % (st, html[:200]))
    st, _, html, _, _ = br.form(p + "/code", {"addr": addr})
    if st != 429:
        fail("a new code while locked out: %d" % st)


def status(link, want, words):
    st, h, html, _, _ = Browser().req("GET", path_of(link))
    if st != int(want) or words not in html:
        fail("%s: %d %s" % (link[-8:], st, html[:300]))
    check_headers(h, "the status page")


def tls_versions():
    """TLS 1.2 and 1.3 both work, with an AEAD suite."""
    for v in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
        ctx = ssl.create_default_context(cafile=CA)
        ctx.minimum_version = ctx.maximum_version = v
        s = ctx.wrap_socket(socket.create_connection((HOST, PORT), timeout=10), server_hostname="vault.mk.test")
        cipher = s.cipher()
        s.close()
        if not ("GCM" in cipher[0] or "CHACHA20" in cipher[0]):
            fail("%s: cipher %s" % (v, cipher))


def bad(link):
    tls_versions()
    p = path_of(link)
    br = Browser()
    secret = p.rsplit("/", 1)[1]
    for forged in (secret[:-4], secret[:-1] + ("A" if secret[-1] != "A" else "B"), "x" * 43, "%00" * 3):
        st, _, html, _, _ = br.req("GET", "/m/" + forged)
        if st != 404 or "does not open a message" not in html:
            fail("forged link %r: %d" % (forged, st))
    # 10 MB of form: refused (413) or the connection closed, nothing else
    try:
        st, _, _, _, _ = br.req("POST", p + "/code", b"addr=" + b"a" * (13 << 20), "application/x-www-form-urlencoded")
        if st != 413:
            fail("a 13 MB post: %d" % st)
    except (ConnectionError, http.client.HTTPException, ssl.SSLError, socket.timeout):
        pass
    # a broken TLS handshake and a slow client: the server goes on serving
    s = socket.create_connection((HOST, PORT))
    s.sendall(b"\x16\x03\x01\x00\x05hello-not-tls\r\n\r\n")
    s.settimeout(5)
    try:
        s.recv(100)
    except socket.timeout:
        fail("garbage instead of a handshake: not closed")
    except ConnectionError:
        pass
    s.close()
    slow = socket.create_connection((HOST, PORT))
    slow.sendall(b"\x16\x03\x01")  # a handshake begun, never finished
    t = time.time()
    st, _, html, _, _ = Browser().req("GET", "/")
    if st != 200 or time.time() - t > 2:
        fail("served while a client is slow: %d in %.1f s" % (st, time.time() - t))
    slow.close()


def revoke(revoke_url, link):
    """The sender's revoke link: GET asks, a forged token does nothing,
    POST withdraws; the recipients' link then says so."""
    br = Browser()
    p = "/r/" + revoke_url.split("/r/", 1)[1]
    st, h, html, _, _ = br.req("GET", p)
    if st != 200 or "Withdraw your secure message?" not in html:
        fail("the revoke page: %d %s" % (st, html[:300]))
    check_headers(h, "the revoke page")
    st, _, html, _, _ = br.req("GET", path_of(link))
    if st != 200:
        fail("the message was withdrawn by a GET: %d" % st)
    token = p.rsplit("/", 1)[1]
    forged = p[:-len(token)] + ("A" if token[0] != "A" else "B") + token[1:]
    st, _, html, _, _ = br.req("POST", forged, "", "application/x-www-form-urlencoded")
    if st != 404:
        fail("a forged revoke token: %d" % st)
    st, _, html, _, _ = br.req("POST", p, "", "application/x-www-form-urlencoded")
    if st != 200 or "was withdrawn" not in html:
        fail("withdrawing: %d %s" % (st, html[:300]))
    st, _, html, _, _ = br.req("GET", path_of(link))
    if st != 410 or "withdrawn" not in html:
        fail("the link after withdrawal: %d" % st)


def header_injection(link, bob):
    """A reply subject with a line break: refused, nothing sent."""
    p = path_of(link)
    br = Browser()
    t0 = time.time() - 1
    br.form(p + "/code", {"addr": "bob@mk.test"})
    code = code_of(bob, t0)
    st, _, _, _, _ = br.form(p + "/verify", {"addr": "bob@mk.test", "code": code})
    if st != 303:
        fail("verify: %d" % st)
    st, _, html, _, _ = br.req("GET", p)
    csrf = csrf_of(html)
    body, ctype = multipart({"csrf": csrf, "subject": "hi\r\nBcc: evil@example.org", "text": "x"}, {})
    st, _, html, _, _ = br.req("POST", p + "/reply", body, ctype)
    if st != 400 or "cannot be sent" not in html:
        fail("a subject with a line break: %d %s" % (st, html[:300]))
    print("\n".join("%s=%s" % kv for kv in br.cookies.items()))


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    {"flow": flow, "stranger": stranger, "lockout": lockout, "status": status, "bad": bad,
     "inject": header_injection, "other": other, "revoke": revoke}[cmd](*args)
