package server

import (
	"container/list"
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// HTTPConfig bounds what clients may hold of the API server: the time to
// send a request's header and body, the time a response may take (longer
// than the longest wait: a worker's long-poll and the blocking events
// query), idle keep-alive connections, and open connections.
type HTTPConfig struct {
	// ReadHeaderTimeout is the time a client has to send a request's header.
	ReadHeaderTimeout time.Duration
	// ReadTimeout is the time a client has to send a whole request (header
	// and body: an archive chunk of 1 MiB, a snapshot).
	ReadTimeout time.Duration
	// WriteTimeout bounds a request from the end of its header to the end
	// of the answer; it must exceed MaxEventsWait and the poll wait.
	WriteTimeout time.Duration
	// IdleTimeout closes keep-alive connections idle this long.
	IdleTimeout time.Duration
	// MaxConns caps the connections open at once; a new one closes the
	// connection that has waited longest without a request being served,
	// or waits while every one is served (0: no cap). LimitListener.
	MaxConns int
}

// DefaultHTTPConfig returns the defaults: 10 s for a header, 10 min for a
// request, the events wait (5 min) + 1 min for an answer, 2 min idle, 4096
// connections.
func DefaultHTTPConfig() HTTPConfig {
	return HTTPConfig{ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 10 * time.Minute,
		WriteTimeout: DefaultConfig().MaxEventsWait + time.Minute, IdleTimeout: 2 * time.Minute, MaxConns: 4096}
}

// NewHTTPServer returns the http.Server for h with c's timeouts; serve it
// on LimitListener(ln, c.MaxConns), tracked with TrackConns.
func NewHTTPServer(c HTTPConfig, h http.Handler) *http.Server {
	return &http.Server{Handler: h, ReadHeaderTimeout: c.ReadHeaderTimeout, ReadTimeout: c.ReadTimeout,
		WriteTimeout: c.WriteTimeout, IdleTimeout: c.IdleTimeout, MaxHeaderBytes: 64 << 10}
}

// LimitListener returns a listener that has at most n connections open at
// once (n <= 0: ln itself). When all n are open and another arrives, it
// closes one that has gone at least EvictAge without a request being served
// to make room: first one that has not yet sent a whole request (a slow
// client), then one idle between requests, then one whose handler still
// waits for the rest of a request body; the longest waiting of each kind
// first. Only when there is none does the new connection wait (the one
// extra connection accepted; the rest in the kernel's queue). So a flood of
// slow clients cannot hold every connection for a header timeout while a
// worker's poll or heartbeat, or anyone's request, waits behind them: a
// client that sends its request promptly gets in, and a client that has been
// served keeps its connection while fresh ones come and go. Call TrackConns
// with the server that serves it, so that it knows which connections are
// being served.
func LimitListener(ln net.Listener, n int) net.Listener {
	if n <= 0 {
		return ln
	}
	return &limitListener{Listener: ln, sem: make(chan struct{}, n), done: make(chan struct{})}
}

// TrackConns tells the listener ln (from LimitListener; anything else is
// left alone) which of srv's connections are being served: it sets srv's
// ConnContext and ConnState and wraps its Handler.
func TrackConns(srv *http.Server, ln net.Listener) {
	l, ok := ln.(*limitListener)
	if !ok {
		return
	}
	srv.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
		if lc := asLimitConn(c); lc != nil {
			ctx = context.WithValue(ctx, limitConnKey{}, lc)
		}
		return ctx
	}
	srv.ConnState = func(c net.Conn, st http.ConnState) {
		lc := asLimitConn(c)
		if lc == nil {
			return
		}
		switch st {
		case http.StateIdle:
			l.wait(lc, &l.idle) // between requests
		case http.StateClosed, http.StateHijacked:
			l.forget(lc)
		}
	}
	h := srv.Handler
	srv.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if lc, ok := r.Context().Value(limitConnKey{}).(*limitConn); ok {
			if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
				l.serve(lc)
			} else {
				l.wait(lc, &l.body)
				r.Body = &bodyWatch{ReadCloser: r.Body, l: l, c: lc}
			}
		}
		h.ServeHTTP(w, r)
	})
}

type limitConnKey struct{}

func asLimitConn(c net.Conn) *limitConn {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	lc, _ := c.(*limitConn)
	return lc
}

type limitListener struct {
	net.Listener
	sem       chan struct{}
	closeOnce sync.Once
	done      chan struct{}

	mu sync.Mutex
	// The connections without a request being served, each list in the
	// order they got there: fresh ones (no request read yet), idle ones
	// (between requests), and those whose handler waits for the rest of a
	// request body.
	fresh, idle, body list.List
	evicted           atomic.Int64
}

// EvictAge is how long a connection must have gone without a request being
// served before it may be closed for a new one: a client that connects and
// sends its request at once is not closed for the next, and a flood cannot
// make the listener close more than MaxConns connections per EvictAge.
const EvictAge = 250 * time.Millisecond

// Evicted returns how many connections were closed to make room.
func (l *limitListener) Evicted() int64 { return l.evicted.Load() }

func (l *limitListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	for {
		select {
		case l.sem <- struct{}{}:
			return l.admitted(c), nil
		case <-l.done:
			return nil, l.refuse(c)
		default:
		}
		if old := l.oldest(); old != nil {
			l.evicted.Add(1)
			old.Close() // frees its slot at once
			continue
		}
		// Every connection is being served or got there just now: wait for
		// a slot, looking again now and then for one to close.
		select {
		case l.sem <- struct{}{}:
			return l.admitted(c), nil
		case <-l.done:
			return nil, l.refuse(c)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// admitted wraps a connection that holds a slot and lists it as fresh.
func (l *limitListener) admitted(c net.Conn) net.Conn {
	lc := &limitConn{Conn: c, l: l}
	l.wait(lc, &l.fresh)
	return lc
}

// refuse closes a connection accepted as the listener closed.
func (l *limitListener) refuse(c net.Conn) error {
	c.Close()
	return net.ErrClosed
}

// oldest takes the connection to close for a new one out of its list
// (fresh, idle, body, in that order; in each the one there longest, if for
// at least EvictAge); nil if there is none.
func (l *limitListener) oldest() *limitConn {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, q := range []*list.List{&l.fresh, &l.idle, &l.body} {
		if e := q.Front(); e != nil && time.Since(e.Value.(*limitConn).since) >= EvictAge {
			c := e.Value.(*limitConn)
			q.Remove(e)
			c.elem, c.in = nil, nil
			return c
		}
	}
	return nil
}

// wait puts c at the end of q (out of any other list).
func (l *limitListener) wait(c *limitConn, q *list.List) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if c.closed {
		return
	}
	if c.in != nil {
		c.in.Remove(c.elem)
	}
	c.elem, c.in, c.since = q.PushBack(c), q, time.Now()
}

// serve takes c out of the lists: a request is being served on it.
func (l *limitListener) serve(c *limitConn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if c.in != nil {
		c.in.Remove(c.elem)
		c.elem, c.in = nil, nil
	}
}

func (l *limitListener) forget(c *limitConn) {
	l.mu.Lock()
	c.closed = true
	l.mu.Unlock()
	l.serve(c)
}

func (l *limitListener) Close() error {
	err := l.Listener.Close()
	l.closeOnce.Do(func() { close(l.done) })
	return err
}

type limitConn struct {
	net.Conn
	l    *limitListener
	once sync.Once
	// Guarded by l.mu: the list c is in, its element there, since when.
	in     *list.List
	elem   *list.Element
	since  time.Time
	closed bool
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		c.l.forget(c)
		<-c.l.sem
	})
	return err
}

// bodyWatch marks its connection as served once the request body has been
// read to its end.
type bodyWatch struct {
	io.ReadCloser
	l    *limitListener
	c    *limitConn
	seen bool
}

func (b *bodyWatch) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF && !b.seen {
		b.seen = true
		b.l.serve(b.c)
	}
	return n, err
}
