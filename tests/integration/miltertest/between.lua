-- Client 192.0.2.66 scores between the thresholds: delivered, flagged.
dofile(dir .. "/common.lua")
mk_run("miltertest add_header", function()
  local conn = mk_start("192.0.2.66", "MTMID1")
  mk_message(conn, {{"From", "sender@example.org"}, {"Subject", "grey"}}, "hi\r\n")
  mk_expect(conn, SMFIR_CONTINUE, "eom")
  if not mt.eom_check(conn, MT_HDRINSERT, "X-Spam-Flag", " YES") then error("no X-Spam-Flag: YES") end
  if not mt.eom_check(conn, MT_HDRINSERT, "X-Spam-Level", " ******") then error("no X-Spam-Level ******") end
  mt.disconnect(conn)
end)
