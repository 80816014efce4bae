package connector

import (
	"context"
	"net"
	"net/http"
	"strings"
	"time"
)

// The access log: one Info line per HTTP request to a vendor ("vendor request"), per OAuth2 token
// refresh ("vendor token refresh") and per request the webhook receiver gets ("webhook request").
// The runtime's logger adds the tenant and the integration. A line names the call, never what it
// carried: no query string (it holds search terms and cursors), no body, no header, and the path
// only as its template, with IDs (a patient's, a QuickBooks realm's) replaced by their names.
const (
	accessVendorRequest = "vendor request"
	accessTokenRefresh  = "vendor token refresh"
	accessWebhook       = "webhook request"
	// unlistedRoute stands for a path no template below matches: it is never logged as sent.
	unlistedRoute = "{unlisted}"
	// maxUserAgent bounds the sender-chosen User-Agent kept in a webhook line.
	maxUserAgent = 200
)

// routeTemplates are the paths each adapter calls, relative to the system's base URL; a segment
// in braces matches any one segment. Literal templates come before those with placeholders.
var routeTemplates = map[string][]string{
	SystemCerbo:       {"/patients", "/patients/{id}"},
	SystemQuickBooks:  {"/v3/company/{realm}/query", "/v3/company/{realm}/customer", "/v3/company/{realm}/batch", "/v3/company/{realm}/customer/{id}"},
	SystemZoho:        {zohoContacts, zohoContacts + "/upsert", zohoContacts + "/{id}"},
	SystemGoHighLevel: {"/contacts/search", "/contacts/upsert", "/contacts/{id}"},
	// The webhook's URL is the practice's own and may carry a token in its path: only "" is logged.
	SystemWebhook: {""},
}

// routeOf is the template of a call's path, or unlistedRoute.
func routeOf(system, path string) string {
	segments := strings.Split(path, "/")
	for _, tmpl := range routeTemplates[system] {
		if routeMatches(strings.Split(tmpl, "/"), segments) {
			return tmpl
		}
	}
	return unlistedRoute
}

func routeMatches(tmpl, segments []string) bool {
	if len(tmpl) != len(segments) {
		return false
	}
	for i, t := range tmpl {
		placeholder := strings.HasPrefix(t, "{") && strings.HasSuffix(t, "}")
		if (placeholder && segments[i] == "") || (!placeholder && t != segments[i]) {
			return false
		}
	}
	return true
}

// sendLogged is send with its access log line: attempt is the try of the call (1-based); a
// request sent again after a token refresh keeps its attempt number.
func (c *apiClient) sendLogged(ctx context.Context, cl call, body []byte, attempt int) (*http.Response, error) {
	start := time.Now()
	resp, err := c.send(ctx, cl, body)
	kv := []any{"op", cl.op, "method", cl.method, "host", c.base.Host, "path", routeOf(c.system, cl.path),
		"attempt", attempt, "latencyMs", time.Since(start).Milliseconds()}
	if err != nil {
		// send's errors are built to be logged: statuses, codes and hosts, no URL query or body.
		c.log.Info(accessVendorRequest, append(kv, "status", 0, "error", err.Error())...)
		return nil, err
	}
	c.log.Info(accessVendorRequest, append(kv, "status", resp.StatusCode)...)
	return resp, nil
}

// accessRecorder keeps what the webhook receiver answered, for its access log line.
type accessRecorder struct {
	http.ResponseWriter
	status int
	// refusal is the receiver's own error message (never the sender's words).
	refusal string
}

func (r *accessRecorder) WriteHeader(status int) {
	r.status = status
	r.ResponseWriter.WriteHeader(status)
}

// receiveLogged serves one webhook request and logs it, refusals and failed authentication
// included: who sent it (source IP, User-Agent), what was answered and how long it took. The
// path, query string, headers and body are the sender's and are not logged.
func (w *webhook) receiveLogged(rw http.ResponseWriter, req *http.Request) {
	start := time.Now()
	rec := &accessRecorder{ResponseWriter: rw, status: http.StatusOK}
	w.receive(rec, req)
	source, _, err := net.SplitHostPort(req.RemoteAddr)
	if err != nil {
		source = req.RemoteAddr
	}
	ua := req.UserAgent()
	if len(ua) > maxUserAgent {
		ua = ua[:maxUserAgent]
	}
	kv := []any{"method", req.Method, "sourceIP", source, "userAgent", ua, "status", rec.status,
		"bytes", max(req.ContentLength, 0), "latencyMs", time.Since(start).Milliseconds()}
	if rec.refusal != "" {
		kv = append(kv, "refusal", rec.refusal)
	}
	w.api.log.Info(accessWebhook, kv...)
}
