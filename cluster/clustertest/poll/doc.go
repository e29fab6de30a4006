// Package poll is the one wait-with-a-deadline of the cluster tests:
// conditions are polled, never slept on, and a timeout reports what was
// waited for and what was last seen. It imports only the standard library,
// so the tests of every cluster package can use it (clustertest itself
// imports those packages).
package poll
