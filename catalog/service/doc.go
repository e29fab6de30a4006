// Package service is the vocabulary the services (cluster, cluster/master)
// and the HTTP handlers (api/server) share without importing each other: the
// sentinel errors of cluster availability that the API maps to status codes,
// and the read types of cluster and worker status that are neither replicated
// state (package catalog) nor wire format (package api).
//
// It imports only the standard library and catalog, so api/server can use it
// without pulling in Raft, and cluster can use it without pulling in HTTP.
package service
