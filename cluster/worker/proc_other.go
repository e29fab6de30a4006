//go:build !unix

package worker

import (
	"io"
	"os"
	"os/exec"
)

// stopSignals are the signals that ask a child to stop its package.
var stopSignals = []os.Signal{os.Interrupt}

// setGroup does nothing: process groups are a Unix feature. Killing the
// whole tree of a package process on Windows needs a job object, which is
// not built: only the child process itself is killed (docs/ARCHITECTURE.md).
func setGroup(*exec.Cmd) {}

// askToStop closes the child's stdin, which the child treats as a request
// to stop (there is no SIGTERM to send).
func askToStop(_ *exec.Cmd, stdin io.Closer) {
	if stdin != nil {
		_ = stdin.Close()
	}
}

// killTree kills the child process (not its descendants; see setGroup).
func killTree(p *os.Process) { _ = p.Kill() }

// killGroup does nothing: no process groups are announced off Unix.
func killGroup(int) {}

// hasChildren cannot tell off Unix; a child without process groups is not
// a subreaper either, so it reports false.
func hasChildren() bool { return false }

// ignoreSIGPIPE does nothing: there is no SIGPIPE.
func ignoreSIGPIPE() {}
