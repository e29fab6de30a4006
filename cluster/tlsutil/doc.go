// Package tlsutil is the cluster's built-in certificate authority and the
// TLS configurations of an agent: it creates a CA and certificates whose
// role (server, worker, client) is written into the certificate, loads an
// agent's CA, certificate and key from files and reloads them when they
// change, and builds the tls.Config of each listener and dialer (the HTTP
// API, Raft, the agent's own clients) from what is loaded at the time of
// each handshake. It uses the standard library only.
package tlsutil
