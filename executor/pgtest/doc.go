// Package pgtest starts throw-away PostgreSQL servers for tests and
// benchmarks (the executor's and the end-to-end tests, dfbench). It is
// not linked into the scaleout binary.
//
// The server comes from the machine's Debian package (apt-get install
// postgresql; .ci/run installs it): the newest /usr/lib/postgresql/*/bin.
// It listens on a free loopback port, trusts every local connection for
// the user scaleout, and keeps its files (data, log, socket) in one
// directory. As root, initdb and the server run as the postgres user,
// since PostgreSQL refuses to run as root.
package pgtest
