package failpoint

import (
	"os"
	"os/exec"
	"testing"
)

func TestParse(t *testing.T) {
	m := parse(" a, b ,,c")
	if len(m) != 3 || !m["a"] || !m["b"] || !m["c"] {
		t.Fatalf("parse = %v", m)
	}
	if parse("") != nil || parse(" , ") != nil {
		t.Fatal("an empty list arms something")
	}
}

// An armed failpoint ends the process with ExitCode; an unarmed one does
// nothing. The test binary re-executes itself to be that process.
func TestHit(t *testing.T) {
	if name := os.Getenv("FAILPOINT_TEST_HIT"); name != "" {
		Hit("not-armed")
		Hit(name)
		os.Exit(0)
	}
	for _, c := range []struct {
		armed string
		want  int
	}{{"x,here", ExitCode}, {"elsewhere", 0}} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHit$")
		cmd.Env = append(os.Environ(), "FAILPOINT_TEST_HIT=here", "SCALEOUT_FAILPOINTS="+c.armed)
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if code != c.want {
			t.Errorf("armed %q: exit %d, want %d", c.armed, code, c.want)
		}
	}
}
