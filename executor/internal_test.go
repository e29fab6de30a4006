//go:build unix

package executor

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestPump(t *testing.T) {
	long := strings.Repeat("x", MaxMessage)
	kept := strings.Repeat("x", MaxMessage-len(CutMarker)) // what a cut line keeps, before the marker
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{"empty", "", nil},
		{"one line", "a\n", []string{"a"}},
		{"no final newline", "a\nb", []string{"a", "b"}},
		{"empty lines", "\n\nx\n", []string{"", "", "x"}},
		{"crlf", "a\r\nb\r\n", []string{"a", "b"}},
		{"lone cr kept", "a\rb\n", []string{"a\rb"}},
		{"exactly MaxMessage", long + "\nz\n", []string{long, "z"}},
		{"exactly MaxMessage crlf", long + "\r\nz\n", []string{long, "z"}},
		{"MaxMessage without newline", long, []string{long}},
		{"one over", long + "y\n", []string{kept + CutMarker}},
		{"long line cut, rest dropped", long + long + long + "tail\nnext\n", []string{kept + CutMarker, "next"}},
		{"cut then empty line", long + "y\n\n", []string{kept + CutMarker, ""}},
		{"cut at a character boundary", strings.Repeat("x", MaxMessage-len(CutMarker)-1) + "é" + long + "\n", []string{strings.Repeat("x", MaxMessage-len(CutMarker)-1) + CutMarker}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{}
			r := &runner{sink: rec}
			var wg sync.WaitGroup
			wg.Add(1)
			r.pump(&wg, strings.NewReader(tt.in), EventStdout, "t", nil)
			wg.Wait()
			if got := rec.messages(EventStdout, "t"); !slices.Equal(got, tt.want) {
				t.Errorf("events = %d %q, want %d %q", len(got), abbrev(got), len(tt.want), abbrev(tt.want))
			}
		})
	}
}

func abbrev(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		if len(s) > 20 {
			s = fmt.Sprintf("%s...(%d bytes)", s[:10], len(s))
		}
		out[i] = s
	}
	return out
}

func TestLookPath(t *testing.T) {
	dir1, dir2 := t.TempDir(), t.TempDir()
	write := func(dir, name string, mode os.FileMode) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"), mode); err != nil {
			t.Fatal(err)
		}
	}
	write(dir1, "tool", 0o755)
	write(dir1, "data", 0o644)
	write(dir2, "data", 0o755)
	if err := os.Mkdir(filepath.Join(dir1, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, file string
		env        []string
		want       string
	}{
		{"found", "tool", []string{"PATH=" + dir1}, filepath.Join(dir1, "tool")},
		{"skips non-executable", "data", []string{"PATH=" + dir1 + ":" + dir2}, filepath.Join(dir2, "data")},
		{"skips directories", "sub", []string{"PATH=" + dir1}, ""},
		{"last PATH wins", "tool", []string{"PATH=" + dir1, "PATH=" + dir2}, ""},
		{"relative entries ignored", "tool", []string{"PATH=.:" + filepath.Base(dir1)}, ""},
		{"no PATH", "tool", nil, ""},
		{"slash used as is", "./x/tool", nil, "./x/tool"},
		{"absolute used as is", "/bin/sh", []string{"PATH="}, "/bin/sh"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := lookPath(tt.file, tt.env)
			if tt.want == "" {
				if !errors.Is(err, errNotFound) {
					t.Errorf("lookPath = %q, %v; want errNotFound", got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("lookPath = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestQuoteArgs(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"ls", "-l"}, "ls -l"},
		{[]string{"sh", "-c", "echo hi"}, `sh -c "echo hi"`},
		{[]string{"printf", ""}, `printf ""`},
		{[]string{"echo", `a"b`, "$HOME"}, `echo "a\"b" "$HOME"`},
	}
	for _, tt := range tests {
		if got := quoteArgs(tt.args); got != tt.want {
			t.Errorf("quoteArgs(%q) = %s, want %s", tt.args, got, tt.want)
		}
	}
}

func TestOptions_Defaults(t *testing.T) {
	o := Options{}.withDefaults()
	if o.KillGrace != DefaultKillGrace || o.MaxParallel < 3 || o.Env == nil {
		t.Errorf("defaults = %+v", o)
	}
	o = Options{KillGrace: -1, MaxParallel: 1, Env: []string{}}.withDefaults()
	if o.KillGrace != 0 || o.MaxParallel != 1 || o.Env == nil || len(o.Env) != 0 {
		t.Errorf("explicit = %+v", o)
	}
}

func TestRoundDuration(t *testing.T) {
	tests := []struct {
		in   time.Duration
		want string
	}{
		{1234567 * time.Nanosecond, "1ms"},
		{512345 * time.Nanosecond, "512µs"},
		{2500 * time.Millisecond, "2.5s"},
		{12*time.Millisecond + 600*time.Microsecond, "13ms"},
	}
	for _, tt := range tests {
		if got := roundDuration(tt.in).String(); got != tt.want {
			t.Errorf("roundDuration(%v) = %s, want %s", tt.in, got, tt.want)
		}
	}
}
