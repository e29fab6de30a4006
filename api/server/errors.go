package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/scaleout/scaleout/catalog"
	"github.com/scaleout/scaleout/catalog/pkgspec"
	"github.com/scaleout/scaleout/catalog/project"
	"github.com/scaleout/scaleout/catalog/service"
)

// errorStatuses is the one place where errors get their HTTP status: the
// services return (wrapped) sentinel errors and know nothing of HTTP. The
// first entry that matches with errors.Is wins; an error matching none is a
// 500. cluster.ErrNotLeader, ErrNoLeader, ErrShutdown and ErrUnknownPeer are
// the service package's (cluster re-exports them), so this package needs
// neither cluster nor Raft.
var errorStatuses = []struct {
	err    error
	status int
}{
	{ErrPermissionDenied, http.StatusForbidden},
	{service.ErrOlderServers, http.StatusConflict},
	{catalog.ErrNotFound, http.StatusNotFound},
	{service.ErrUnknownPeer, http.StatusNotFound},
	{catalog.ErrExists, http.StatusConflict},
	{catalog.ErrNotEmpty, http.StatusConflict},
	{catalog.ErrAlreadyEnded, http.StatusConflict},
	{catalog.ErrStaleAttempt, http.StatusConflict},
	{catalog.ErrNotPending, http.StatusConflict},
	{catalog.ErrNotCreated, http.StatusConflict},
	{catalog.ErrKeyReused, http.StatusUnprocessableEntity},
	{catalog.ErrInvalid, http.StatusBadRequest},
	{pkgspec.ErrParamType, http.StatusBadRequest},
	{pkgspec.ErrParamRequired, http.StatusBadRequest},
	{pkgspec.ErrUnknownParam, http.StatusBadRequest},
	{project.ErrTooLarge, http.StatusRequestEntityTooLarge},
	{catalog.ErrTooLarge, http.StatusRequestEntityTooLarge},
	{catalog.ErrStorage, http.StatusInsufficientStorage},
	{service.ErrNotLeader, http.StatusServiceUnavailable},
	{service.ErrNoLeader, http.StatusServiceUnavailable},
	{service.ErrShutdown, http.StatusServiceUnavailable},
	{context.Canceled, http.StatusServiceUnavailable},
	{context.DeadlineExceeded, http.StatusServiceUnavailable},
}

// errorStatus maps an error to an HTTP status: an oversize body is 413, a
// request this package refused itself (codedError) has its own status, then
// errorStatuses, else 500.
func errorStatus(err error) int {
	var mbe *http.MaxBytesError
	var coded *codedError
	switch {
	case errors.As(err, &mbe):
		return http.StatusRequestEntityTooLarge
	case errors.As(err, &coded):
		return coded.code
	}
	for _, e := range errorStatuses {
		if errors.Is(err, e.err) {
			return e.status
		}
	}
	return http.StatusInternalServerError
}

// codedError is an error of the HTTP layer itself (a malformed request, a
// missing service, forwarding): it carries its status.
type codedError struct {
	code int
	msg  string
}

func (e *codedError) Error() string { return e.msg }

func codedErr(code int, format string, args ...any) error {
	return &codedError{code: code, msg: fmt.Sprintf(format, args...)}
}
