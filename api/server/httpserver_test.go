package server

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// limitedServer serves h on a listener capped at n connections, with a
// header timeout long enough that no slow client is timed out during a test.
func limitedServer(t *testing.T, n int, h http.Handler) (string, *limitListener) {
	t.Helper()
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hc := DefaultHTTPConfig()
	hc.ReadHeaderTimeout = 10 * time.Minute
	srv := NewHTTPServer(hc, h)
	ln := LimitListener(raw, n)
	TrackConns(srv, ln)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return raw.Addr().String(), ln.(*limitListener)
}

// slowClients opens n connections that send half a request header and
// never the rest.
func slowClients(t *testing.T, addr string, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		if _, err := c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ")); err != nil {
			t.Fatal(err)
		}
	}
}

// TestLimitListener_SlowClientsMakeRoom: with every connection of the cap
// held by clients that never finish their header (and a header timeout of
// minutes), a client that sends its request gets in at once: the slow
// connection that waited longest is closed for it. Before, it waited in the
// kernel's queue until a slow client timed out.
func TestLimitListener_SlowClientsMakeRoom(t *testing.T) {
	addr, l := limitedServer(t, 4, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		fmt.Fprint(w, "ok")
	}))
	slowClients(t, addr, 12)
	client := &http.Client{Timeout: time.Minute} // only a hang reaches it
	for i := 0; i < 3; i++ {
		resp, err := client.Post("http://"+addr+"/", "text/plain", strings.NewReader("a body"))
		if err != nil {
			t.Fatalf("request %d behind slow clients: %v", i, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(body) != "ok" {
			t.Fatalf("request %d: %q", i, body)
		}
		client.CloseIdleConnections() // the next one needs a new connection again
	}
	if got := len(l.sem); got > 4 {
		t.Fatalf("%d connections open, over the cap of 4", got)
	}
	if l.Evicted() < 8 {
		t.Fatalf("%d connections closed to make room, want at least 8", l.Evicted())
	}
}

// TestLimitListener_ServedRequestsAreNotClosed: connections whose request
// is being served (a long-poll) are never closed for a new one; the new one
// waits until a slot frees, and every request is answered.
func TestLimitListener_ServedRequestsAreNotClosed(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{}, 10)
	addr, l := limitedServer(t, 3, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hold" {
			started <- struct{}{}
			<-release
		}
		fmt.Fprint(w, "ok")
	}))
	get := func(path string) error {
		// One connection each, closed after its answer (so that a slot
		// frees without an idle connection to close).
		c := &http.Client{Timeout: time.Minute, Transport: &http.Transport{DisableKeepAlives: true}}
		resp, err := c.Get("http://" + addr + path)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if string(b) != "ok" {
			return fmt.Errorf("%s: %q", path, b)
		}
		return nil
	}
	var wg sync.WaitGroup
	errs := make(chan error, 10)
	for i := 0; i < 3; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); errs <- get("/hold") }()
	}
	for i := 0; i < 3; i++ {
		<-started
	}
	fourth := make(chan error, 1)
	go func() { fourth <- get("/") }()
	select {
	case err := <-fourth:
		t.Fatalf("a fourth request was answered while three were served on a cap of 3: %v", err)
	case <-time.After(300 * time.Millisecond): // it must still wait; a wrong answer would come at once
	}
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("a served request: %v", err)
		}
	}
	if err := <-fourth; err != nil {
		t.Fatalf("the waiting request: %v", err)
	}
	if n := l.Evicted(); n != 0 {
		t.Fatalf("%d served connections closed", n)
	}
}
