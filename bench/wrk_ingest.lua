-- wrk script for bench/bench_ingest.py: every request carries a fresh, valid transaction
-- (or a batch of them) and its own Idempotency-Key. Prints one JSON line when done.
local key = os.getenv("SENTINEL_BENCH_KEY")
local batch = tonumber(os.getenv("SENTINEL_BENCH_BATCH") or "1")
local threads = {}

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  math.randomseed(os.time() * 1000 + tid)
end

local function hex(n)
  local out = {}
  for i = 1, n do out[i] = string.format("%x", math.random(0, 15)) end
  return table.concat(out)
end

local function uuid()
  return hex(8) .. "-" .. hex(4) .. "-4" .. hex(3) .. "-a" .. hex(3) .. "-" .. hex(12)
end

local function transaction(now)
  return string.format(
    '{"transaction_id":"%s","account_id":"acct-%d","card_token":"tok_5d41402abc4b",' ..
    '"amount":"%d.%02d","currency":"INR","merchant_id":"m-%d","country":"IN",' ..
    '"channel":"ECOM","timestamp":"%s","type":"debit"}',
    uuid(), math.random(1, 5000), math.random(1, 900), math.random(0, 99),
    math.random(1, 900), now)
end

request = function()
  local now = os.date("!%Y-%m-%dT%H:%M:%SZ")
  local headers = {
    ["Authorization"] = "Bearer " .. key,
    ["Idempotency-Key"] = uuid(),
    ["Content-Type"] = "application/json",
  }
  if batch == 1 then
    return wrk.format("POST", "/v1/transactions", headers, transaction(now))
  end
  local items = {}
  for i = 1, batch do items[i] = transaction(now) end
  return wrk.format("POST", "/v1/transactions/batch", headers,
    '{"transactions":[' .. table.concat(items, ",") .. ']}')
end

done = function(summary, latency, requests)
  local non2xx = summary.errors.status
  io.write(string.format(
    '{"requests":%d,"duration_s":%.3f,"non_2xx":%d,"socket_errors":%d,' ..
    '"p50_ms":%.3f,"p90_ms":%.3f,"p99_ms":%.3f,"max_ms":%.3f}\n',
    summary.requests, summary.duration / 1e6, non2xx,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000))
end
