package executor

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"
)

// maxHTTPVar is the largest response body an http task stores in a
// variable; output_file has no limit.
const maxHTTPVar = 16 << 20

// httpTask sends one request and checks the status. Its result is the
// status code.
func (tc *taskCtx) httpTask(ctx context.Context) taskOut {
	h := tc.task.HTTP
	url, err := tc.expand("http url", h.URL)
	if err != nil {
		return failed("%v", err)
	}
	body, err := tc.expand("http body", h.Body)
	if err != nil {
		return failed("%v", err)
	}
	var outPath string
	if h.OutputFile != "" {
		if outPath, err = tc.path("http output_file", h.OutputFile); err != nil {
			return failed("%v", err)
		}
	}
	if h.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, h.Timeout)
		defer cancel()
	}
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, h.Method, url, rd)
	if err != nil {
		return failed("http: %v", err)
	}
	for k, v := range h.Headers {
		x, err := tc.expand("http headers "+k, v)
		if err != nil {
			return failed("%v", err)
		}
		req.Header.Set(k, x)
	}
	client := tc.pr.r.opts.HTTPClient
	if client == nil {
		client = http.DefaultClient
	}
	start := time.Now()
	tc.pr.r.emit(EventInformation, tc.name(), fmt.Sprintf("%s %s", h.Method, req.URL.Redacted()))
	resp, err := client.Do(req)
	if err != nil {
		if ctx.Err() != nil && h.Timeout > 0 && req.Context().Err() != nil {
			return failed("http: no response within %s", h.Timeout)
		}
		return failed("http: %v", err)
	}
	defer resp.Body.Close()
	out := taskOut{state: stateSucceeded, result: resp.StatusCode, info: map[string]any{"status_code": resp.StatusCode},
		summary: fmt.Sprintf("%s in %s", resp.Status, roundDuration(time.Since(start)))}
	ok := resp.StatusCode >= 200 && resp.StatusCode < 300
	if len(h.ExpectStatus) > 0 {
		ok = slices.Contains(h.ExpectStatus, resp.StatusCode)
	}
	if !ok {
		snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		want := "2xx"
		if len(h.ExpectStatus) > 0 {
			want = fmt.Sprint(h.ExpectStatus)
		}
		return taskOut{state: stateFailed, info: out.info, result: resp.StatusCode,
			msg: fmt.Sprintf("http: status %s, want %s: %s", resp.Status, want, strings.TrimSpace(string(snippet)))}
	}
	switch {
	case outPath != "":
		f, err := os.Create(outPath)
		if err != nil {
			return failed("http output_file: %v", err)
		}
		n, err := io.Copy(f, resp.Body)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return failed("http output_file: %v", err)
		}
		out.info["bytes"] = int(n)
	case h.OutputVar != "":
		b, err := io.ReadAll(io.LimitReader(resp.Body, maxHTTPVar+1))
		if err != nil {
			return failed("http: reading the response: %v", err)
		}
		if len(b) > maxHTTPVar {
			return failed("http output_var: the response is over %d bytes (use output_file)", maxHTTPVar)
		}
		out.info["bytes"] = len(b)
		if err := tc.set(h.OutputVar, string(b)); err != nil {
			return failed("http output_var: %v", err)
		}
	}
	return out
}
