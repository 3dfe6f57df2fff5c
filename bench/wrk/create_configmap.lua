-- POST a ConfigMap whose name is unique to this run, wrk thread and request.
-- Usage: wrk -s create_configmap.lua -H "Authorization: Bearer T" \
--            URL/api/v1/namespaces/NS/configmaps -- RUNID
dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "report.lua")

local threads = {}
local counter = 0
local run_id = "r"
thread_id = 0

function setup(thread)
  thread:set("thread_id", #threads)
  table.insert(threads, thread)
end

function init(args)
  if args[1] then run_id = args[1] end
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  counter = counter + 1
  local name = string.format("cm-%s-%d-%d", run_id, thread_id, counter)
  local body = '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"' .. name ..
    '","labels":{"app":"bench"}},"data":{"key":"value","config.yaml":"a: 1\\nb: two\\n"}}'
  return wrk.format(nil, nil, nil, body)
end
