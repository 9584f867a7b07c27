-- A clean message: accepted, our X-Spam-* headers inserted, the sender's
-- forged X-Spam-Flag removed.
dofile(dir .. "/common.lua")
mk_run("miltertest clean message", function()
  local conn = mk_start("192.0.2.10", "MTCLEAN1")
  mk_message(conn, {{"From", "Sender <sender@example.org>"}, {"To", "alice@mk.test"},
                    {"Subject", "miltertest clean"}, {"X-Spam-Flag", "YES"}},
             "hello alice\r\n")
  mk_expect(conn, SMFIR_CONTINUE, "eom")
  if not mt.eom_check(conn, MT_HDRINSERT, "X-Spam-Status") then error("no X-Spam-Status inserted") end
  if not mt.eom_check(conn, MT_HDRINSERT, "X-Spam-Score", " -0.0") then error("no X-Spam-Score: -0.0 (SPF_PASS; with the leading space of SMFIP_HDR_LEADSPC)") end
  if mt.eom_check(conn, MT_HDRINSERT, "X-Spam-Flag") then error("X-Spam-Flag inserted on ham") end
  if not (mt.eom_check(conn, MT_HDRDELETE, "X-Spam-Flag") or mt.eom_check(conn, MT_HDRCHANGE, "X-Spam-Flag")) then
    error("forged X-Spam-Flag not removed")
  end
  mt.disconnect(conn)
end)
