-- GET the URL given to wrk on every request (keep-alive); report as JSON.
-- Usage: wrk -s get.lua -H "Authorization: Bearer T" URL
dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "report.lua")
