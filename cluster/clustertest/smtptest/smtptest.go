// Package smtptest is the one fake SMTP server of the tests: it listens on
// 127.0.0.1, accepts mail (or refuses recipients whose address contains
// "refused") and keeps what it got. It imports only the standard library,
// so the tests of every package (agent notifications, the executor's mail
// task, the end-to-end tests) can use it.
package smtptest

import (
	"bufio"
	"net"
	"net/textproto"
	"strings"
	"sync"
	"testing"
	"time"
)

// Message is one mail the server accepted.
type Message struct {
	// From is the MAIL FROM address, To the accepted RCPT TO addresses
	// (without angle brackets).
	From string
	To   []string
	// Data is the message as sent after DATA, its lines joined with "\n".
	Data string
}

// Server is a fake SMTP server.
type Server struct {
	ln   net.Listener
	mu   sync.Mutex
	msgs []Message
	cmds []string
}

// New starts a server on a random port of 127.0.0.1; it stops when the
// test ends.
func New(t testing.TB) *Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{ln: ln}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go s.serve(c)
		}
	}()
	return s
}

// Addr is the server's host:port.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Messages returns a copy of the messages accepted so far.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.msgs...)
}

// Commands returns the command lines received so far.
func (s *Server) Commands() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.cmds...)
}

// addr takes the address out of "MAIL FROM:<a>" or "RCPT TO:<a>".
func addr(line string) string {
	if i := strings.IndexByte(line, '<'); i >= 0 {
		if j := strings.IndexByte(line[i:], '>'); j >= 0 {
			return line[i+1 : i+j]
		}
	}
	if i := strings.IndexByte(line, ':'); i >= 0 {
		return strings.TrimSpace(line[i+1:])
	}
	return ""
}

func (s *Server) serve(c net.Conn) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Minute))
	r := textproto.NewReader(bufio.NewReader(c))
	say := func(l string) { _, _ = c.Write([]byte(l + "\r\n")) }
	say("220 fake ESMTP")
	var cur Message
	for {
		line, err := r.ReadLine()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.cmds = append(s.cmds, line)
		s.mu.Unlock()
		switch strings.ToUpper(strings.SplitN(line, " ", 2)[0]) {
		case "EHLO", "HELO":
			say("250-fake greets you")
			say("250 8BITMIME")
		case "MAIL":
			cur = Message{From: addr(line)}
			say("250 ok")
		case "RCPT":
			if strings.Contains(line, "refused") {
				say("550 no such user")
				continue
			}
			cur.To = append(cur.To, addr(line))
			say("250 ok")
		case "RSET":
			cur = Message{}
			say("250 ok")
		case "DATA":
			say("354 go on")
			lines, err := r.ReadDotLines()
			if err != nil {
				return
			}
			cur.Data = strings.Join(lines, "\n")
			s.mu.Lock()
			s.msgs = append(s.msgs, cur)
			s.mu.Unlock()
			cur = Message{}
			say("250 queued")
		case "QUIT":
			say("221 bye")
			return
		default:
			say("502 not implemented")
		}
	}
}
