// Package nettest holds network fakes for tests: a peer that accepts
// connections and never answers, as a dead host looks from outside (it
// sends no reset). It imports only the standard library, so the tests of
// every package (api/server, executor/smtpsend, ...) can use it.
package nettest

import (
	"net"
	"testing"
)

// Silent listens on a random port of 127.0.0.1 and returns its address.
// It never accepts: the kernel completes each handshake and queues the
// connection (up to the listen backlog), so a client connects, writes,
// and then waits for an answer that never comes. The listener closes
// when the test ends.
func Silent(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln.Addr().String()
}
