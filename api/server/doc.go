// Package server holds the HTTP handlers of the scaleout API (/v1). The
// handlers declare, per resource, the small interfaces they need
// (StatusService, ExecutionService, WorkerService, CatalogService,
// OperatorService, and Router for forwarding), convert the domain values
// those return into the wire types of package api, and map the services'
// sentinel errors to status codes in one table (errors.go). It knows nothing
// of Raft or of package cluster.
package server
