-- GTUBE: rejected at end of message with 550 5.7.1 and a reason.
dofile(dir .. "/common.lua")
mk_run("miltertest GTUBE reject", function()
  local conn = mk_start("192.0.2.10", "MTGTUBE1")
  mk_message(conn, {{"From", "spam@example.com"}, {"Subject", "GTUBE"}},
             "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X\r\n")
  mk_expect(conn, SMFIR_REPLYCODE, "eom")
  if not mt.eom_check(conn, MT_SMTPREPLY, "550", "5.7.1",
      "Message rejected as spam (score 1000.0): GTUBE test string found") then error("no 550 5.7.1 reply") end
  if mt.eom_check(conn, MT_HDRINSERT) then error("headers inserted into a rejected message") end
  mt.disconnect(conn)
end)
