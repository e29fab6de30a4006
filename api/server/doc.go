// Package server holds the HTTP handlers of the scaleout API (/v1). It
// declares the Backend interface it needs and knows nothing of Raft: errors
// are mapped to status codes from the catalog's sentinel errors and from any
// error that carries an HTTPStatus() method.
package server
