package main

import (
	"regexp"
	"runtime"
	"strings"
	"testing"
)

// `scaleout --version` names the version, the commit and the Go toolchain
// (make stamps version and commit; a plain go build, as here, says what it
// knows).
func TestE2E_Version(t *testing.T) {
	r := cli(t, "", "--version")
	re := regexp.MustCompile(`^scaleout version \S+ \(commit \S+, (go\S+) (\S+)\)$`)
	m := re.FindStringSubmatch(strings.TrimSpace(r.stdout))
	if r.code != 0 || m == nil || m[1] != runtime.Version() || m[2] != runtime.GOOS+"/"+runtime.GOARCH {
		t.Fatalf("--version: exit %d, %q", r.code, r.stdout)
	}
}
