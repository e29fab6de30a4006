//go:build unix

package executor

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/scaleout/scaleout/catalog/pkgspec"
	"github.com/scaleout/scaleout/catalog/pkgspec/pkgspectest"
)

// helloYAML is the shared fixture (see pkgspectest).
const helloYAML = pkgspectest.HelloYAML

func TestRun_Hello(t *testing.T) {
	tests := []struct {
		name       string
		params     map[string]string
		status     Status
		msg        string
		greeting   string
		finishPost string
	}{
		{"defaults", nil, StatusSucceeded, "2 tasks succeeded", "hello world", "succeeded in "},
		{"who given", map[string]string{"who": "scale out"}, StatusSucceeded, "2 tasks succeeded", "hello scale out", "succeeded in "},
		{"code 3 fails", map[string]string{"code": "3"}, StatusFailed, `task "finish" failed: exit status 3`, "hello world", "failed: exit status 3 in "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{}
			res := Run(context.Background(), mustParse(t, helloYAML), tt.params, Options{}, rec)
			if res.Status != tt.status || res.Message != tt.msg {
				t.Errorf("Run = %+v, want %s %q\n%s", res, tt.status, tt.msg, rec)
			}
			if got := rec.messages(EventStdout, "greet"); !slices.Equal(got, []string{tt.greeting}) {
				t.Errorf("greet stdout = %q, want %q", got, tt.greeting)
			}
			post := rec.messages(EventPostExecute, "finish")
			if len(post) != 1 || !strings.HasPrefix(post[0], tt.finishPost) {
				t.Errorf("finish post_execute = %q, want prefix %q", post, tt.finishPost)
			}
			if failed := rec.of(EventTaskFailed, "*"); (tt.status == StatusFailed) != (len(failed) == 1) {
				t.Errorf("task_failed events = %v", failed)
			}
			// finish starts only after greet has ended.
			if g, f := rec.index(EventPostExecute, "greet"), rec.index(EventPreExecute, "finish"); g < 0 || f < g {
				t.Errorf("greet post_execute at %d, finish pre_execute at %d\n%s", g, f, rec)
			}
		})
	}
}

// TestRun_Parallel has two tasks that each wait (bounded) for the other's
// marker file, so both succeed only if they run at the same time.
func TestRun_Parallel(t *testing.T) {
	// Each task marks itself started, then polls (at most ~10s) for the other.
	script := func(me, other string) string {
		return fmt.Sprintf(`touch %s.mark; n=0; while [ ! -e %s.mark ]; do n=$((n+1)); [ $n -gt 1000 ] && exit 9; sleep 0.01; done`, me, other)
	}
	pkg := mustParse(t, fmt.Sprintf(`name: par
tasks:
  - {name: a, exec: {command: [/bin/sh, -c, '%s']}}
  - {name: b, exec: {command: [/bin/sh, -c, '%s']}}
`, script("a", "b"), script("b", "a")))
	rec := &recorder{}
	res := Run(context.Background(), pkg, nil, Options{WorkDir: t.TempDir()}, rec)
	if res.Status != StatusSucceeded {
		t.Fatalf("Run = %+v\n%s", res, rec)
	}
}

func TestRun_MaxParallel(t *testing.T) {
	pkg := mustParse(t, `name: serial
tasks:
  - {name: a, exec: {command: ["true"]}}
  - {name: b, exec: {command: ["true"]}}
  - {name: c, exec: {command: ["true"]}}
  - {name: d, after: [a], exec: {command: ["true"]}}
`)
	rec := &recorder{}
	if res := Run(context.Background(), pkg, nil, Options{MaxParallel: 1}, rec); res.Status != StatusSucceeded {
		t.Fatalf("Run = %+v\n%s", res, rec)
	}
	var seq []string
	for _, e := range rec.all() {
		switch e.Type {
		case EventPreExecute:
			seq = append(seq, "+"+e.Task)
		case EventPostExecute:
			seq = append(seq, "-"+e.Task)
		}
	}
	// One at a time, ready tasks in file order.
	if want := []string{"+a", "-a", "+b", "-b", "+c", "-c", "+d", "-d"}; !slices.Equal(seq, want) {
		t.Errorf("task sequence = %v, want %v", seq, want)
	}
}

func TestRun_SkipPropagation(t *testing.T) {
	tests := []struct {
		name    string
		src     string
		skipped map[string]string // task -> post_execute message
		ran     []string
		msg     string
	}{
		{"chain", `name: s
tasks:
  - {name: a, exec: {command: [/bin/sh, -c, 'exit 1']}}
  - {name: b, after: [a], exec: {command: ["true"]}}
  - {name: c, after: [b], exec: {command: ["true"]}}
  - {name: d, exec: {command: ["true"]}}
  - {name: e, after: [d], exec: {command: ["true"]}}
`, map[string]string{"b": `skipped: dependency "a" failed`, "c": `skipped: dependency "b" was skipped`},
			[]string{"a", "d", "e"}, `task "a" failed: exit status 1; 2 tasks skipped`},
		{"diamond with one failed branch", `name: s
tasks:
  - {name: a, exec: {command: ["true"]}}
  - {name: b, after: [a], exec: {command: ["false"]}}
  - {name: c, after: [a], exec: {command: ["true"]}}
  - {name: d, after: [b, c], exec: {command: ["true"]}}
`, map[string]string{"d": `skipped: dependency "b" failed`},
			[]string{"a", "b", "c"}, `task "b" failed: exit status 1; 1 task skipped`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{}
			res := Run(context.Background(), mustParse(t, tt.src), nil, Options{}, rec)
			if res.Status != StatusFailed || res.Message != tt.msg {
				t.Errorf("Run = %+v, want failed %q\n%s", res, tt.msg, rec)
			}
			for task, msg := range tt.skipped {
				if got := rec.messages(EventPostExecute, task); !slices.Equal(got, []string{msg}) {
					t.Errorf("%s post_execute = %q, want %q", task, got, msg)
				}
				if rec.index(EventPreExecute, task) >= 0 {
					t.Errorf("skipped task %s was started", task)
				}
			}
			for _, task := range tt.ran {
				if rec.index(EventPreExecute, task) < 0 {
					t.Errorf("task %s did not run\n%s", task, rec)
				}
			}
		})
	}
}

func TestRun_EnvDirAndOutput(t *testing.T) {
	work := t.TempDir()
	if err := os.Mkdir(filepath.Join(work, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	pkg := mustParse(t, `name: env
parameters:
  who: {default: world}
  d:   {default: sub}
  pw:  {default: s3cret, sensitive: true}
tasks:
  - name: t
    exec:
      command: [sh, -c, 'echo "$GREETING"; echo "$BASE"; pwd -P; echo oops >&2; printf "a\r\n\nb"', '${param.pw}']
      env: {GREETING: 'hi ${param.who}'}
      dir: ${param.d}
`)
	rec := &recorder{}
	opts := Options{WorkDir: work, Env: []string{"PATH=" + os.Getenv("PATH"), "BASE=base", "GREETING=overridden"}}
	if res := Run(context.Background(), pkg, nil, opts, rec); res.Status != StatusSucceeded {
		t.Fatalf("Run = %+v\n%s", res, rec)
	}
	dir, err := filepath.EvalSymlinks(filepath.Join(work, "sub"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := rec.messages(EventStdout, "t"), []string{"hi world", "base", dir, "a", "", "b"}; !slices.Equal(got, want) {
		t.Errorf("stdout = %q, want %q", got, want)
	}
	if got := rec.messages(EventStderr, "t"); !slices.Equal(got, []string{"oops"}) {
		t.Errorf("stderr = %q, want [oops]", got)
	}
	info := strings.Join(rec.messages(EventInformation, "t"), "\n")
	if !strings.Contains(info, `"`+Masked+`" in `+filepath.Join(work, "sub")) || strings.Contains(info, "s3cret") {
		t.Errorf("information events should show the command with the sensitive value masked:\n%s", info)
	}
}

func TestRun_LongLines(t *testing.T) {
	const n = 3*MaxMessage + 1000
	pkg := mustParse(t, `name: long
tasks:
  - name: t
    exec:
      command: [/bin/sh, -c, 'head -c `+strconv.Itoa(n)+` /dev/zero | tr "\0" x; echo; head -c `+strconv.Itoa(MaxMessage)+` /dev/zero | tr "\0" y; echo; echo after']
  - name: many
    exec:
      command: [/bin/sh, -c, 'yes 0123456789 | head -n 100000; yes err | head -n 50000 >&2']
`)
	rec := &recorder{}
	if res := Run(context.Background(), pkg, nil, Options{}, rec); res.Status != StatusSucceeded {
		t.Fatalf("Run = %+v", res)
	}
	out := rec.messages(EventStdout, "t")
	var lens []int
	for _, m := range out {
		lens = append(lens, len(m))
	}
	want := []int{MaxMessage, MaxMessage, len("after")}
	if !slices.Equal(lens, want) {
		t.Errorf("stdout event lengths = %v, want %v", lens, want)
	}
	if len(out) > 0 && out[0] != strings.Repeat("x", MaxMessage-len(CutMarker))+CutMarker {
		t.Errorf("long line not cut with the marker: %.40q...", out[0])
	}
	if got := len(rec.of(EventStdout, "many")); got != 100000 {
		t.Errorf("many: %d stdout events, want 100000", got)
	}
	if got := len(rec.of(EventStderr, "many")); got != 50000 {
		t.Errorf("many: %d stderr events, want 50000", got)
	}
}

func TestRun_Failures(t *testing.T) {
	tests := []struct {
		name   string
		pkg    *pkgspec.Package
		params map[string]string
		opts   Options
		msg    string // substring of Result.Message
		event  string // substring of an error event
		ran    bool   // whether pre_execute was emitted
	}{
		{name: "command not found", pkg: &pkgspec.Package{Name: "p", Tasks: []*pkgspec.Task{{Name: "t", Exec: &pkgspec.ExecTask{Command: []string{"no-such-command-xyz"}}}}},
			msg: `task "t" failed: command not found: "no-such-command-xyz" is not in PATH`, event: "command not found", ran: true},
		{name: "not in task PATH", pkg: &pkgspec.Package{Name: "p", Tasks: []*pkgspec.Task{{Name: "t", Exec: &pkgspec.ExecTask{Command: []string{"sh"}}}}},
			opts: Options{Env: []string{"PATH=/nonexistent"}}, msg: `"sh" is not in PATH (/nonexistent)`, event: "command not found", ran: true},
		{name: "missing absolute program", pkg: &pkgspec.Package{Name: "p", Tasks: []*pkgspec.Task{{Name: "t", Exec: &pkgspec.ExecTask{Command: []string{"/no/such/program"}}}}},
			msg: "cannot start: fork/exec /no/such/program: no such file or directory", event: "cannot start", ran: true},
		{name: "missing directory", pkg: &pkgspec.Package{Name: "p", Tasks: []*pkgspec.Task{{Name: "t", Exec: &pkgspec.ExecTask{Command: []string{"true"}, Dir: "/no/such/dir"}}}},
			msg: "working directory: stat /no/such/dir: no such file or directory", event: "working directory", ran: true},
		{name: "directory is a file", pkg: &pkgspec.Package{Name: "p", Tasks: []*pkgspec.Task{{Name: "t", Exec: &pkgspec.ExecTask{Command: []string{"true"}, Dir: "/etc/passwd"}}}},
			msg: "working directory /etc/passwd is not a directory", event: "working directory", ran: true},
		{name: "killed by signal", pkg: &pkgspec.Package{Name: "p", Tasks: []*pkgspec.Task{{Name: "t", Exec: &pkgspec.ExecTask{Command: []string{"/bin/sh", "-c", "kill -9 $$"}}}}},
			msg: `task "t" failed: signal: killed`, ran: true},
		{name: "bad interpolation", pkg: &pkgspec.Package{Name: "p", Tasks: []*pkgspec.Task{{Name: "t", Exec: &pkgspec.ExecTask{Command: []string{"echo", "${param.x}"}}}}},
			msg: `unknown parameter "x"`, event: "unknown parameter", ran: true},
		{name: "unsupported task type", pkg: &pkgspec.Package{Name: "p", Tasks: []*pkgspec.Task{{Name: "t"}}},
			msg: `task "t" failed: unsupported task type ""`, event: "unsupported task type", ran: true},
		{name: "unknown parameter given", pkg: mustParse(t, helloYAML), params: map[string]string{"whom": "x"},
			msg: `invalid parameters: unknown parameter "whom" (known: who, code)`, event: "invalid parameters"},
		{name: "mistyped parameter", pkg: mustParse(t, helloYAML), params: map[string]string{"code": "x"},
			msg: `parameter "code" (int): invalid value "x"`, event: "invalid parameters"},
		{name: "nil package", msg: "no package to run", event: "no package to run"},
		{name: "duplicate task", pkg: &pkgspec.Package{Name: "p", Tasks: []*pkgspec.Task{{Name: "t"}, {Name: "t"}}},
			msg: `invalid package: duplicate task name "t"`, event: "invalid package"},
		{name: "unknown dependency", pkg: &pkgspec.Package{Name: "p", Tasks: []*pkgspec.Task{{Name: "t", After: []string{"u"}}}},
			msg: `invalid package: task "t" runs after unknown task "u"`, event: "invalid package"},
		{name: "cycle", pkg: &pkgspec.Package{Name: "p", Tasks: []*pkgspec.Task{{Name: "t"}, {Name: "a", After: []string{"b"}}, {Name: "b", After: []string{"a"}}}},
			msg: "invalid package: 2 tasks are on or behind a dependency cycle", event: "invalid package"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{}
			res := Run(context.Background(), tt.pkg, tt.params, tt.opts, rec)
			if res.Status != StatusFailed || !strings.Contains(res.Message, tt.msg) {
				t.Errorf("Run = %+v, want failed containing %q\n%s", res, tt.msg, rec)
			}
			if tt.event != "" && !rec.has(EventError, "*", tt.event) {
				t.Errorf("no error event containing %q\n%s", tt.event, rec)
			}
			if ran := rec.index(EventPreExecute, "t") >= 0; ran != tt.ran {
				t.Errorf("task started = %v, want %v", ran, tt.ran)
			}
			if tt.ran && !rec.has(EventPostExecute, "t", "failed: ") {
				t.Errorf("no failed post_execute\n%s", rec)
			}
		})
	}
}

func TestRun_NilSink(t *testing.T) {
	if res := Run(context.Background(), mustParse(t, helloYAML), nil, Options{}, nil); res.Status != StatusSucceeded {
		t.Errorf("Run = %+v", res)
	}
}
