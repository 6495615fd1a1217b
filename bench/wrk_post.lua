-- POST pre-signed webhook bodies, each wrk thread cycling through its own slice.
-- The file named by BODIES holds one "signature<TAB>body" per line.
local bodies = {}
local index = 0
local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  local path = os.getenv("BODIES")
  for line in io.lines(path) do
    local tab = line:find("\t", 1, true)
    table.insert(bodies, {line:sub(1, tab - 1), line:sub(tab + 1)})
  end
  index = id or 0
end

function request()
  index = index + 1
  local item = bodies[(index % #bodies) + 1]
  return wrk.format("POST", wrk.path, {
    ["Content-Type"] = "application/json",
    ["X-Hub-Signature-256"] = item[1],
  }, item[2])
end
