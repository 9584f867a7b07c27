-- Shared steps for the mailkeeper miltertest scripts. Run with
--   miltertest -D sock=inet:8894@127.0.0.1 -D dir=THIS_DIR -s SCRIPT.lua
-- This miltertest build prints no Lua error() text: scripts run under
-- pcall and echo the error before exiting non-zero.
-- miltertest offers SMFIP_HDR_LEADSPC, which the milter takes: inserted
-- header values then carry their own leading space (" YES").

function mk_expect(conn, want, what)
  local got = mt.getreply(conn)
  if got ~= want then
    error(what .. ": reply " .. tostring(got) .. ", expected " .. tostring(want))
  end
end

-- Connects, sends connect info, HELO and MAIL FROM (with queue ID qid).
function mk_start(ip, qid)
  local conn = mt.connect(sock or "inet:8894@127.0.0.1", 40, 0.25)
  if conn == nil then error("mt.connect failed") end
  mt.macro(conn, SMFIC_CONNECT, "j", "mx.mk.test", "_", "client.example [" .. ip .. "]")
  if mt.conninfo(conn, "client.example", ip) ~= nil then error("conninfo") end
  mk_expect(conn, SMFIR_CONTINUE, "connect")
  if mt.helo(conn, "client.example") ~= nil then error("helo") end
  mk_expect(conn, SMFIR_CONTINUE, "helo")
  mk_mail(conn, qid)
  return conn
end

-- One message's envelope: MAIL FROM with queue ID, RCPT TO.
function mk_mail(conn, qid)
  mt.macro(conn, SMFIC_MAIL, "i", qid)
  if mt.mailfrom(conn, "<sender@example.org>") ~= nil then error("mailfrom") end
  mk_expect(conn, SMFIR_CONTINUE, "mail from")
  mt.macro(conn, SMFIC_RCPT, "i", qid)
  if mt.rcptto(conn, "<alice@mk.test>") ~= nil then error("rcptto") end
  mk_expect(conn, SMFIR_CONTINUE, "rcpt to")
end

-- Headers (a list of {name, value}), then the body, then end of message.
function mk_message(conn, headers, body)
  for _, h in ipairs(headers) do
    if mt.header(conn, h[1], h[2]) ~= nil then error("header " .. h[1]) end
    mk_expect(conn, SMFIR_CONTINUE, "header " .. h[1])
  end
  if mt.eoh(conn) ~= nil then error("eoh") end
  mk_expect(conn, SMFIR_CONTINUE, "eoh")
  if mt.bodystring(conn, body) ~= nil then error("body") end
  mk_expect(conn, SMFIR_CONTINUE, "body")
  if mt.eom(conn) ~= nil then error("eom") end
end

function mk_run(name, fn)
  local ok, err = pcall(fn)
  if not ok then mt.echo("FAIL: " .. name .. ": " .. tostring(err)); os.exit(1) end
  mt.echo("PASS: " .. name)
end
