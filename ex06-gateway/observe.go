package gateway

// TODO(ex06.metrics-logging): wrap every routed request (not /health, /ready or /metrics) in
// one Middleware that records its outcome once the rest has answered:
//   - in Prometheus, on Config.Metrics:
//     gateway_requests_total{route, method, code}       a counter
//     gateway_request_duration_seconds{route, method}   a histogram, in seconds
//     gateway_upstream_errors_total{route}              requests no upstream answered (502, 503, 504)
//     gateway_rate_limited_total{route}                 requests refused with 429
//     gateway_auth_rejected_total{route}                requests refused with 401
//     where route is the matched route's Path, or "unmatched";
//   - in one access-log record at Info level on Config.Logger, with the attributes request_id,
//     route, method, path, status, duration and client (the subject, else the IP address).
//     Never log the Authorization header or the query string.
//
// To learn the status code, wrap the http.ResponseWriter; give the wrapper an
// Unwrap() http.ResponseWriter method, or the proxy cannot flush a streamed response through it.
