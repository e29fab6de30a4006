package convert

import (
	"fmt"
	"strings"

	"github.com/scaleout/scaleout/catalog/ssis"
)

// ftpReport is why an FTP task is not converted, with what it does, so
// that its replacement can be written: scaleout has no FTP client (no
// server is reachable to test one against), and the common replacement is
// an exec task running curl or lftp, given with --substitute.
func (pc *pkgConv) ftpReport(e *ssis.Executable) error {
	d, err := data(e, "FtpData")
	if err != nil {
		return fmt.Errorf("the FTP task is not converted (scaleout has no FTP client) and %v", err)
	}
	a := func(n string) string { return attr(d, n) }
	server := a("ConnectionName")
	if ci, err := pc.conn(server); err == nil {
		server = ci.cm.Name
		if s := ci.cm.ConnectionString; s != "" {
			server += " (" + s + ")"
		}
	}
	path := func(p, isVar string) string {
		if isTrueS(isVar) || p == "" {
			return p
		}
		if ci, err := pc.conn(p); err == nil {
			return ci.cm.ConnectionString
		}
		return p
	}
	local := path(a("TaskLocalPath"), a("TaskIsLocalPathVariable"))
	remote := path(a("TaskRemotePath"), a("TaskIsRemotePathVariable"))
	op := a("TaskOperationType")
	var what string
	switch strings.ToLower(op) {
	case "send":
		what = fmt.Sprintf("sends %s to %s on %s", local, remote, server)
	case "receive":
		what = fmt.Sprintf("receives %s from %s into %s", remote, server, local)
	default:
		what = fmt.Sprintf("runs %s (local %q, remote %q) on %s", op, local, remote, server)
	}
	return fmt.Errorf("the FTP task %s; scaleout has no FTP client: write an exec task (e.g. curl --ftp-ssl or lftp) and give it with --substitute '%s=FILE.yaml'", what, e.Path)
}
