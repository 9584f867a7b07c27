-- Two messages on one connection, the first aborted (RSET): the second is
-- scored on its own, with the connection's RBL result reused.
dofile(dir .. "/common.lua")
mk_run("miltertest abort then second message", function()
  local conn = mk_start("192.0.2.66", "MTTWO1")
  if mt.header(conn, "Subject", "first") ~= nil then error("header") end
  mk_expect(conn, SMFIR_CONTINUE, "header")
  if mt.abort(conn) ~= nil then error("abort") end
  mk_mail(conn, "MTTWO2")
  mk_message(conn, {{"From", "sender@example.org"}, {"Subject", "second"}}, "hi\r\n")
  mk_expect(conn, SMFIR_CONTINUE, "eom")
  if not mt.eom_check(conn, MT_HDRINSERT, "X-Spam-Flag", " YES") then error("no X-Spam-Flag: YES") end
  mt.disconnect(conn)
end)
