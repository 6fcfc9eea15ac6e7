-- wrk script for every HTTP scenario of the paygate bench.
--
-- BENCH_WRK_RESULT=<result file> wrk -t<threads> <opts> -s paygate.lua <url> -- <mode> <data file> <nonce> <threads> [service token]
--
-- modes:
--   checkout      POST /payment-gateway/reservations/checkout   data: "<reservation_id> <jwt>"
--   create        POST /api/payments (payment_ms, service token) data: "<reservation_id> <user_id> <amount> <currency>"
--   floor         POST /payments (the raw-INSERT floor app)     data: as create
--   floor_outbox, floor_outbox_no_notify, floor_contract: the floor app's diagnostic routes
--   floor_hop, floor_hop_typed: the floor app forwarding a create to payment_ms (the hop's floor)
--   read_gateway  GET /payment-gateway/{id}                      data: "<payment_id> <jwt>"
--   read_direct   GET /api/payments/{id} (service token)         data: "<payment_id>"
--
-- Each wrk thread takes its own slice of the data file (line k goes to thread k mod threads), so no
-- two requests of a run use the same reservation; every mutating request carries a fresh
-- Idempotency-Key. done() writes the summary and the latency percentiles as JSON.

local threads = {}
local thread_count = 0

function setup(thread)
   thread:set("index", thread_count)
   thread_count = thread_count + 1
   table.insert(threads, thread)
end

local function split(line)
   local fields = {}
   for field in string.gmatch(line, "%S+") do
      table.insert(fields, field)
   end
   return fields
end

local mode, rows, cursor, counter, nonce, service_token
local FLOOR_PATHS = {
   floor = "/payments",
   floor_outbox = "/payments/outbox",
   floor_outbox_no_notify = "/payments/outbox-no-notify",
   floor_contract = "/payments/contract",
   floor_hop = "/proxy/payments",
   floor_hop_typed = "/proxy/payments/typed",
}
local RETURN_URL = "http://127.0.0.1:3000/return"
local CANCEL_URL = "http://127.0.0.1:3000/cancel"

function init(args)
   mode = args[1]
   local data_file = args[2]
   nonce = args[3]
   local total = tonumber(args[4])
   service_token = args[5]
   local index = tonumber(wrk.thread:get("index"))
   rows = {}
   local n = 0
   for line in io.lines(data_file) do
      if n % total == index then
         table.insert(rows, split(line))
      end
      n = n + 1
   end
   cursor = 0
   counter = 0
   wrk.thread:set("row_count", #rows)
end

local function next_row()
   cursor = cursor + 1
   if cursor > #rows then
      cursor = 1
      wrk.thread:set("wrapped", 1)
   end
   return rows[cursor]
end

local function idempotency_key()
   counter = counter + 1
   return string.format("bench-%s-%d-%d", nonce, wrk.thread:get("index"), counter)
end

function request()
   local row = next_row()
   if mode == "checkout" then
      local body = string.format(
         '{"reservation_id":"%s","return_url":"%s","cancel_url":"%s"}', row[1], RETURN_URL, CANCEL_URL)
      return wrk.format("POST", "/payment-gateway/reservations/checkout", {
         ["Authorization"] = "Bearer " .. row[2],
         ["Content-Type"] = "application/json",
         ["Idempotency-Key"] = idempotency_key(),
      }, body)
   elseif mode == "create" or FLOOR_PATHS[mode] then
      local body = string.format(
         '{"reservation_id":"%s","user_id":"%s","amount":%s,"currency":"%s","description":"bench reservation",'
            .. '"payer_email":"bench-user@bench.paygate.test","return_url":"%s","cancel_url":"%s",'
            .. '"metadata":{"checkout_key":"%032x"}}',
         row[1], row[2], row[3], row[4], RETURN_URL, CANCEL_URL, counter)
      local key = idempotency_key()
      local headers = {["Content-Type"] = "application/json", ["Idempotency-Key"] = key}
      local path = FLOOR_PATHS[mode]
      if mode == "create" then
         headers["X-Service-Token"] = service_token
         path = "/api/payments"
      end
      return wrk.format("POST", path, headers, body)
   elseif mode == "read_gateway" then
      return wrk.format("GET", "/payment-gateway/" .. row[1], {["Authorization"] = "Bearer " .. row[2]})
   elseif mode == "read_direct" then
      return wrk.format("GET", "/api/payments/" .. row[1], {["X-Service-Token"] = service_token})
   end
   error("unknown mode " .. tostring(mode))
end

function done(summary, latency, requests)
   local wrapped, rows_total = 0, 0
   for _, thread in ipairs(threads) do
      rows_total = rows_total + (tonumber(thread:get("row_count")) or 0)
      if thread:get("wrapped") then
         wrapped = 1
      end
   end
   -- done() runs in wrk's main Lua state, where init() never ran: the path comes from the environment.
   local out = assert(io.open(os.getenv("BENCH_WRK_RESULT"), "w"))
   out:write(string.format(
      '{"requests":%d,"duration_us":%d,"bytes":%d,'
         .. '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},'
         .. '"latency_us":{"p50":%d,"p90":%d,"p99":%d,"p999":%d,"max":%d,"mean":%.1f},'
         .. '"rows":%d,"wrapped":%s}',
      summary.requests, summary.duration, summary.bytes,
      summary.errors.connect, summary.errors.read, summary.errors.write, summary.errors.status,
      summary.errors.timeout,
      latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9),
      latency.max, latency.mean, rows_total, wrapped == 1 and "true" or "false"))
   out:close()
end
