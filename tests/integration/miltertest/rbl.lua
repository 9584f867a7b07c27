-- Client 192.0.2.99 is on the test block list: rejected with the list's reason.
dofile(dir .. "/common.lua")
mk_run("miltertest RBL reject", function()
  local conn = mk_start("192.0.2.99", "MTRBL1")
  mk_message(conn, {{"From", "sender@example.org"}, {"Subject", "from a listed client"}}, "hi\r\n")
  mk_expect(conn, SMFIR_REPLYCODE, "eom")
  if not mt.eom_check(conn, MT_SMTPREPLY, "550", "5.7.1",
      "Message rejected as spam (score 21.5): 192.0.2.99 listed in rbl.test: 192.0.2.99 is a known spam source, see https://rbl.test/q?192.0.2.99; Client address 192.0.2.99 is listed in bl2.test") then error("no 550 5.7.1 reply") end
  mt.disconnect(conn)
end)
