-- wrk script: the oracle's valid broadcast POST, with the static token.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer test-token-0123456789abcdef0123456789"
wrk.body = '{"recipients":{"type":"broadcast"},"payload":{"title":"Deployed order-service","description":"Sync succeeded","link":"https://argocd.example.com/applications/order-service","severity":"normal","topic":"argocd"}}'
