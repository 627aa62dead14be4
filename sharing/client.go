package sharing

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"

	"github.com/hashicorp/go-retryablehttp"

	"github.com/milestone/husky/partners"
)

// NewClient returns the HTTP client for webhooks: go-retryablehttp with a
// few quick in-process retries for connection failures only (the durable
// schedule lives in the database), no redirects followed, and, unless
// allowPrivate, a dialer that refuses loopback, private, link-local and
// metadata addresses after DNS resolution.
func NewClient(allowPrivate bool, conns int) *retryablehttp.Client {
	dialer := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	if !allowPrivate {
		dialer.Control = partners.DialControl
	}
	tr := &http.Transport{
		Proxy:                 nil, // a proxy would hide the dialled address from the check
		DialContext:           dialer.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          conns * 2,
		MaxIdleConnsPerHost:   conns,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 0, // the per-attempt context bounds the whole exchange
	}
	c := retryablehttp.NewClient()
	c.HTTPClient = &http.Client{
		Transport: tr,
		// A redirect is an answer, not an instruction: 3xx is a failed attempt.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	c.Logger = nil
	c.RetryMax = 2
	c.RetryWaitMin = 50 * time.Millisecond
	c.RetryWaitMax = 300 * time.Millisecond
	c.CheckRetry = retryConnectionErrors
	c.ErrorHandler = retryablehttp.PassthroughErrorHandler
	return c
}

// retryConnectionErrors retries at once only when no answer came back for a
// reason other than the attempt's own timeout (refused, reset). Any HTTP
// answer goes to the durable schedule.
func retryConnectionErrors(ctx context.Context, resp *http.Response, err error) (bool, error) {
	if ctx.Err() != nil {
		return false, ctx.Err()
	}
	if err == nil {
		return false, nil
	}
	var ae *net.AddrError
	if errors.As(err, &ae) { // forbidden address: retrying cannot help
		return false, err
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return false, err
	}
	return true, nil
}
