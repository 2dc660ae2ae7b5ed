-- wrk: POST /api/v1/crm/contacts with a unique e-mail and phone per request, or (with
-- NEXUS_BENCH_WRITE_EVERY=5) an 80/20 mix of GET one contact and POST a new one.
-- NEXUS_BENCH_RUN (one digit) keeps separate wrk runs from repeating e-mails and phones.
local key = os.getenv("NEXUS_BENCH_API_KEY")
local run = os.getenv("NEXUS_BENCH_RUN") or "0"
local contact = os.getenv("NEXUS_BENCH_CONTACT_ID")
local every = tonumber(os.getenv("NEXUS_BENCH_WRITE_EVERY") or "1")
local threads = 0
local counter = 0

function setup(thread)
  threads = threads + 1
  thread:set("tid", threads % 10)
end

function request()
  counter = counter + 1
  local headers = { ["Authorization"] = "Bearer " .. key }
  if counter % every ~= 0 then
    return wrk.format("GET", "/api/v1/crm/contacts/" .. contact, headers)
  end
  local n = string.format("%s%d%05d", run, tid or 0, counter % 100000)
  headers["Content-Type"] = "application/json"
  local body = '{"first_name":"Bench","last_name":"Contact ' .. n .. '",'
    .. '"email":"bench-' .. n .. '@example.com","phone":"+234803' .. n .. '"}'
  return wrk.format("POST", "/api/v1/crm/contacts", headers, body)
end
