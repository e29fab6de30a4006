package server

import (
	"net"
	"net/http"
	"sync"
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
	// MaxConns caps the connections open at once; further ones wait in the
	// kernel's accept queue until one closes (0: no cap).
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
// on LimitListener(ln, c.MaxConns).
func NewHTTPServer(c HTTPConfig, h http.Handler) *http.Server {
	return &http.Server{Handler: h, ReadHeaderTimeout: c.ReadHeaderTimeout, ReadTimeout: c.ReadTimeout,
		WriteTimeout: c.WriteTimeout, IdleTimeout: c.IdleTimeout, MaxHeaderBytes: 64 << 10}
}

// LimitListener returns a listener that has at most n connections open at
// once (n <= 0: ln itself). Accept waits for a slot before it accepts, so
// connections beyond n hold no descriptor of this process: they wait in the
// kernel's queue (golang.org/x/net/netutil.LimitListener does the same).
func LimitListener(ln net.Listener, n int) net.Listener {
	if n <= 0 {
		return ln
	}
	return &limitListener{Listener: ln, sem: make(chan struct{}, n), done: make(chan struct{})}
}

type limitListener struct {
	net.Listener
	sem       chan struct{}
	closeOnce sync.Once
	done      chan struct{}
}

func (l *limitListener) Accept() (net.Conn, error) {
	select {
	case l.sem <- struct{}{}:
	case <-l.done:
		return nil, net.ErrClosed
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.sem
		return nil, err
	}
	return &limitConn{Conn: c, release: func() { <-l.sem }}, nil
}

func (l *limitListener) Close() error {
	err := l.Listener.Close()
	l.closeOnce.Do(func() { close(l.done) })
	return err
}

type limitConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
