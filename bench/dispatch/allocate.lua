-- wrk script: POST /api/v1/allocate with a room drawn from 200,000 names (new rooms and affinity hits).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
math.randomseed(os.time())
request = function()
  return wrk.format(nil, nil, nil, '{"room":"room-' .. math.random(1, 200000) .. '"}')
end
