package connector

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/go-logr/logr"
)

const (
	// maxResponseBytes bounds a decoded answer; a page of records is far below it.
	maxResponseBytes = 32 << 20
	// maxErrorBodyBytes bounds what is read of an error answer to find the vendor's error code.
	maxErrorBodyBytes = 64 << 10
)

// authorizer puts credentials on a request.
type authorizer interface {
	authorize(req *http.Request) error
	// refresh drops a credential the server rejected with 401 so the next authorize gets a new
	// one. It returns false when there is nothing to refresh (static credentials).
	refresh() bool
}

// apiClient is one system's HTTP API: its base URL, authentication and retry policy.
type apiClient struct {
	system string
	base   *url.URL
	http   *http.Client
	auth   authorizer
	// header is sent on every call (API version headers).
	header http.Header
	opts   Options
	log    logr.Logger
	// errorCode extracts the vendor's error code from an error body; it must return no field
	// values.
	errorCode func(body []byte) string
	// rateLimitWait tells how long to wait on a 429 without Retry-After, from a vendor's own
	// rate-limit headers.
	rateLimitWait func(h http.Header) (time.Duration, bool)
	// limiter paces calls under the vendor's published rate limit, batchLimiter batch calls under
	// the vendor's limit of batch requests besides.
	limiter, batchLimiter *clientLimiter
}

func newAPIClient(system string, base *url.URL, httpClient *http.Client, auth authorizer, o Options) *apiClient {
	c := &apiClient{
		system: system,
		base:   base,
		http:   httpClient,
		auth:   auth,
		header: http.Header{},
		opts:   o,
		log:    o.Logger.WithValues("system", system),
	}
	c.limiter, c.batchLimiter = newClientLimiter(o.rateLimitFor(system), o.jitterAllowance()), newClientLimiter(o.batchRateLimitFor(system), o.jitterAllowance())
	return c
}

// call is one API request.
type call struct {
	// op names the call in errors and logs ("list patients").
	op     string
	method string
	// path is appended to the base URL's path.
	path   string
	query  url.Values
	header http.Header
	// body is sent as JSON when not nil, rawBody as is (when its bytes are signed); out receives
	// the JSON answer when not nil.
	body    any
	rawBody []byte
	out     any
	// batch marks a call to the vendor's batch endpoint, paced by its batch limit as well.
	batch bool
}

// response is what callers need of an answer besides its decoded body.
type response struct {
	status int
	header http.Header
}

// do runs a call with retries: 429 (after Retry-After), 5xx and transport errors are retried up
// to MaxAttempts; every other 4xx and every TLS or plain-HTTP refusal fails at once.
func (c *apiClient) do(ctx context.Context, cl call) (response, error) {
	body := cl.rawBody
	if cl.body != nil {
		var err error
		if body, err = json.Marshal(cl.body); err != nil {
			return response{}, fmt.Errorf("connector: %s: %s: encoding request: %w", c.system, cl.op, err)
		}
	}
	attempts := 0
	permanent := false
	resp, err := backoff.Retry(ctx, func() (response, error) {
		attempts++
		resp, err := c.attempt(ctx, cl, body, attempts)
		var perm *backoff.PermanentError
		permanent = errors.As(err, &perm)
		return resp, err
	},
		backoff.WithBackOff(newBackOff(c.opts)),
		backoff.WithMaxTries(uint(c.opts.MaxAttempts)),
		// Attempts and the context bound a call; elapsed time is the context's business.
		backoff.WithMaxElapsedTime(0),
		backoff.WithNotify(func(err error, wait time.Duration) {
			c.log.V(1).Info("retrying", "op", cl.op, "attempt", attempts, "wait", wait, "error", err.Error())
			if c.opts.OnRetry != nil {
				c.opts.OnRetry(err, wait)
			}
		}),
	)
	if err != nil && !permanent && ctx.Err() == nil && attempts >= c.opts.MaxAttempts {
		return resp, fmt.Errorf("%w (gave up after %d attempts)", err, attempts)
	}
	return resp, err
}

// attempt is try n; on a 401 it refreshes the credential once and sends again. It holds one of
// the vendor's in-flight slots throughout.
func (c *apiClient) attempt(ctx context.Context, cl call, body []byte, n int) (response, error) {
	release, err := c.limiter.acquire(ctx)
	if err != nil {
		return response{}, backoff.Permanent(err)
	}
	defer release()
	resp, err := c.sendLogged(ctx, cl, body, n)
	if err != nil {
		return response{}, err
	}
	if resp.StatusCode == http.StatusUnauthorized && c.auth.refresh() {
		drain(resp)
		c.log.V(1).Info("access token rejected, refreshing it", "op", cl.op)
		if resp, err = c.sendLogged(ctx, cl, body, n); err != nil {
			return response{}, err
		}
	}
	defer drain(resp)
	return c.handle(cl, resp)
}

func (c *apiClient) send(ctx context.Context, cl call, body []byte) (*http.Response, error) {
	u := *c.base
	u.Path = c.base.Path + cl.path
	u.RawQuery = cl.query.Encode()
	var reader io.Reader
	if body != nil {
		reader = bytes.NewReader(body)
	}
	if err := c.limiter.wait(ctx); err != nil {
		return nil, backoff.Permanent(err)
	}
	if cl.batch {
		if err := c.batchLimiter.wait(ctx); err != nil {
			return nil, backoff.Permanent(err)
		}
	}
	req, err := http.NewRequestWithContext(ctx, cl.method, u.String(), reader)
	if err != nil {
		return nil, backoff.Permanent(fmt.Errorf("connector: %s: %s: building request: %w", c.system, cl.op, err))
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	copyHeader(req.Header, c.header)
	copyHeader(req.Header, cl.header)
	if err := c.auth.authorize(req); err != nil {
		return nil, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		err = transportError(c.system, err)
		if ctx.Err() != nil || isRefusal(err) {
			return nil, backoff.Permanent(err)
		}
		return nil, err
	}
	return resp, nil
}

func (c *apiClient) handle(cl call, resp *http.Response) (response, error) {
	r := response{status: resp.StatusCode, header: resp.Header}
	switch {
	case resp.StatusCode == http.StatusNoContent || resp.StatusCode == http.StatusNotModified:
		return r, nil
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		if cl.out == nil {
			return r, nil
		}
		dec := json.NewDecoder(io.LimitReader(resp.Body, maxResponseBytes))
		dec.UseNumber()
		if err := dec.Decode(cl.out); err != nil && !errors.Is(err, io.EOF) {
			return r, backoff.Permanent(fmt.Errorf("connector: %s: %s: answer is not the expected JSON: %w", c.system, cl.op, err))
		}
		return r, nil
	}
	statusErr := &StatusError{System: c.system, Op: cl.op, Status: resp.StatusCode}
	if c.errorCode != nil {
		errBody, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBodyBytes))
		statusErr.Code = c.errorCode(errBody)
	}
	if !statusErr.Retryable() {
		return r, backoff.Permanent(statusErr)
	}
	if wait, ok := retryAfter(resp.Header, c.opts.Now(), c.opts.MaxRetryAfter); ok {
		return r, withRetryAfter(statusErr, wait)
	}
	if resp.StatusCode == http.StatusTooManyRequests && c.rateLimitWait != nil {
		if wait, ok := c.rateLimitWait(resp.Header); ok {
			return r, withRetryAfter(statusErr, min(wait, c.opts.MaxRetryAfter))
		}
	}
	return r, statusErr
}

func copyHeader(dst, src http.Header) {
	for k, vs := range src {
		for _, v := range vs {
			dst.Add(k, v)
		}
	}
}

// drain lets the connection be reused.
func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBodyBytes))
	_ = resp.Body.Close()
}

// basicAuth is HTTP Basic authentication with static credentials.
type basicAuth struct{ user, password string }

func (a basicAuth) authorize(req *http.Request) error {
	req.SetBasicAuth(a.user, a.password)
	return nil
}

func (basicAuth) refresh() bool { return false }

// noAuth is for calls authenticated otherwise (the webhook signs its bodies).
type noAuth struct{}

func (noAuth) authorize(*http.Request) error { return nil }
func (noAuth) refresh() bool                 { return false }
