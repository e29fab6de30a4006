package master

import (
	"fmt"

	"github.com/scaleout/scaleout/catalog"
	"github.com/scaleout/scaleout/catalog/service"
)

// The services return domain errors only; api/server maps them to status
// codes in one table (errorStatus). The kinds used here:
//
//   - catalog.ErrInvalid, pkgspec.ErrParamType/ErrParamRequired/ErrUnknownParam,
//     ErrSensitiveBinding: the request is wrong (400).
//   - catalog.ErrNotFound, cluster.ErrUnknownPeer: no such object (404).
//   - catalog.ErrExists, ErrNotEmpty, ErrAlreadyEnded, ErrStaleAttempt,
//     ErrNotPending: the state forbids it (409).
//   - project.ErrTooLarge: over a size limit (413).
//   - cluster.ErrNotLeader, ErrNoLeader, ErrShutdown: ask again later or
//     elsewhere (503).

// invalid marks err as a bad request (catalog.ErrInvalid) without changing
// its message.
func invalid(err error) error { return service.Classify(catalog.ErrInvalid, err) }

// invalidf is invalid(fmt.Errorf(format, args...)).
func invalidf(format string, args ...any) error {
	return invalid(fmt.Errorf(format, args...))
}
