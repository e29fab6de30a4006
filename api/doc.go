// Package api holds the wire types of the scaleout HTTP API (/v1) and a Go
// client for it. It imports only the standard library, so that programs can
// use it without pulling in the agent; the handlers live in api/server.
package api
