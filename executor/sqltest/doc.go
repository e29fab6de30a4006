// Package sqltest holds the database/sql helpers of the tests that read
// and write the databases a package runs against (the executor's, the
// data flow's and the end-to-end tests): open a database for the length
// of a test, run statements, read query results as strings. It is not
// linked into the scaleout binary and uses the standard library only: the
// caller's binary brings the driver (sqlite comes with executor/dataflow).
package sqltest
