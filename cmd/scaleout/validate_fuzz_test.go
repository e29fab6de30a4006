package main

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/scaleout/scaleout/api"
	"github.com/scaleout/scaleout/catalog"
	"github.com/scaleout/scaleout/catalog/pkgspec"
	"github.com/scaleout/scaleout/catalog/pkgspec/pkgspectest"
	"github.com/scaleout/scaleout/catalog/project"
	"github.com/scaleout/scaleout/cluster/agent"
)

// FuzzValidateMatchesDeploy generates a project directory from a seed
// (valid and invalid project.yaml and packages: names, descriptions,
// parameters, connections, tasks) and checks it with `scaleout validate`
// and with a real deploy (the deploy command's own checks, then the
// upload to an in-process dev agent). They must agree:
//
//   - every problem deploy reports, validate reports too (with the
//     project's paths relative to the archive, as deploy names them);
//   - validate reports nothing else, but for the checks deploy leaves to
//     run time (a package task naming a package the project lacks, a sql
//     task naming an undeclared connection), which validate adds;
//   - so deploy accepts a project exactly when validate finds no problem
//     but those run-time ones.
//
// The seed corpus runs in `make test`; run it longer with
//
//	go test ./cmd/scaleout -run '^$' -fuzz FuzzValidateMatchesDeploy -fuzztime 60s
func FuzzValidateMatchesDeploy(f *testing.F) {
	if testing.Short() {
		f.Skip("starts an agent: skipped with -short")
	}
	for seed := range uint64(40) {
		f.Add(seed)
	}
	c := fuzzAgent(f)
	ctx := context.Background()
	if err := c.Folders().Create(ctx, "fuzz", ""); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, seed uint64) {
		dir := t.TempDir()
		files := randomProject(rand.New(rand.NewPCG(seed, seed>>32^0x5ca1e)))
		pkgspectest.WriteFiles(t, dir, files)

		var out bytes.Buffer
		verr := runValidate(&out, dir)
		vlines := validateLines(dir, out.String(), verr == nil)

		var dlines []string
		data, m, err := packProject(dir, catalog.DefaultMaxArchiveBytes)
		if err == nil {
			dctx, cancel := context.WithTimeout(ctx, time.Minute)
			_, err = c.Projects("fuzz").Deploy(dctx, m.Name, project.Hash(data), data)
			cancel()
			if err != nil && !api.IsStatus(err, 400) && !api.IsStatus(err, 413) {
				t.Fatalf("deploy answered %v, want success or a 4xx naming the problem\nfiles: %q", err, files)
			}
		}
		if err != nil {
			dlines = deployLines(dir, err)
		}
		runtime := runtimeProblems(dir)
		var extra []string
		for _, l := range vlines {
			if !slices.Contains(dlines, l) && !slices.Contains(runtime, l) {
				extra = append(extra, l)
			}
		}
		var missing []string
		for _, l := range dlines {
			if !slices.Contains(vlines, l) {
				missing = append(missing, l)
			}
		}
		if len(missing) > 0 || len(extra) > 0 {
			t.Fatalf("validate and deploy disagree (seed %d)\ndeploy: %q\nvalidate: %q\nmissing from validate: %q\nonly in validate: %q\nfiles: %q",
				seed, dlines, vlines, missing, extra, files)
		}
	})
}

// fuzzAgent starts an in-process dev agent (no worker runs anything: the
// fuzz test only deploys) and returns a client of it.
func fuzzAgent(f *testing.F) *api.Client {
	cfg := agent.DevConfig()
	cfg.Node, cfg.DataDir, cfg.HTTPAddr = "fuzz", f.TempDir(), "127.0.0.1:0"
	cfg.ExecCommand, cfg.WarmChildren = []string{"true"}, 0
	cfg.Logger = hclog.NewNullLogger()
	key, err := catalog.ParseKey(catalog.GenerateKey())
	if err != nil {
		f.Fatal(err)
	}
	if cfg.Catalog.Cipher, err = catalog.NewCipher(key); err != nil {
		f.Fatal(err)
	}
	a, err := agent.New(cfg)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(a.Shutdown)
	c, err := api.NewClient(api.Config{Address: a.APIAddr(), Caller: "fuzz"})
	if err != nil {
		f.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if err = c.Folders().Create(context.Background(), "ready", ""); err == nil {
			return c
		}
		if time.Now().After(deadline) {
			f.Fatalf("the in-process agent does not accept writes: %v", err)
		}
		time.Sleep(50 * time.Millisecond) // the pace of the readiness check
	}
}

// validateLines returns validate's problems with dir/ taken off the
// project's paths (deploy names files as the archive does).
func validateLines(dir, out string, ok bool) []string {
	if ok {
		return nil
	}
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if l == "" {
			continue
		}
		l = strings.TrimPrefix(l, dir+string(filepath.Separator))
		l = strings.TrimPrefix(l, dir+": ")
		lines = append(lines, filepath.ToSlash(l))
	}
	return lines
}

// deployLines splits deploy's error into its problems: the deploy
// command's own check ("invalid project DIR:" and a line each) or the
// agent's answer ("invalid project:" and a line each, or one message).
func deployLines(dir string, err error) []string {
	msg := err.Error()
	if ae, ok := err.(*api.Error); ok {
		msg = ae.Message
		msg = strings.TrimPrefix(msg, "invalid: ")
	}
	for _, head := range []string{"invalid project " + filepath.Clean(dir) + ":\n", "invalid project:\n"} {
		msg = strings.TrimPrefix(msg, head)
	}
	var lines []string
	for _, l := range strings.Split(msg, "\n") {
		if l != "" {
			lines = append(lines, l)
		}
	}
	return lines
}

// runtimeProblems are the problems validate adds to deploy's: what
// projectUses finds in each package (archive paths).
func runtimeProblems(dir string) []string {
	files, _ := filepath.Glob(filepath.Join(dir, project.PackagesDir, "*.yaml"))
	names := make([]string, len(files))
	for i, f := range files {
		names[i] = strings.TrimSuffix(filepath.Base(f), ".yaml")
	}
	conns, _ := projectConnections(filepath.Join(dir, project.ManifestFile))
	var out []string
	for _, f := range files {
		if pkg, err := pkgspec.ParseFile(f); err == nil {
			for _, l := range projectUses(f, pkg, names, conns) {
				out = append(out, filepath.ToSlash(strings.TrimPrefix(l, dir+string(filepath.Separator))))
			}
		}
	}
	return out
}

// randomProject builds the files of a project from r: each part is
// mostly valid, sometimes one of its invalid (or limit-crossing) variants,
// so that whole projects come out valid and invalid in about equal parts.
func randomProject(r *rand.Rand) map[string]string {
	pick := func(opts ...string) string { return opts[r.IntN(len(opts))] }
	// vary returns good, or one of bad once in n.
	vary := func(n int, good string, bad ...string) string {
		if r.IntN(n) == 0 {
			return pick(bad...)
		}
		return good
	}
	files := map[string]string{}
	var pj strings.Builder
	pj.WriteString("name: " + vary(12, pick("proj", "p-1_2", "'my project'"), `""`, "'bad|name'", strings.Repeat("p", 129)) + "\n")
	pj.WriteString(vary(8, pick("", "description: short\n", "description: "+strings.Repeat("d", 4096)+"\n"),
		"description: "+strings.Repeat("d", 4097)+"\n"))
	projParams := []string{}
	if r.IntN(2) == 0 {
		pj.WriteString("parameters:\n")
		for range 1 + r.IntN(3) {
			p := vary(10, pick("host: {type: string, default: db.local}", "pw: {type: string, sensitive: true, required: true}",
				"n: {type: int, default: 3}", "e: {type: string, default: '"+strings.Repeat("v", 70000)+"'}"),
				"pw: {type: string, sensitive: true, default: secret}", "n: {type: int, default: abc}",
				"b: {type: bogus}", "1bad: {type: string}", "r: {type: int, required: true, default: 1}", "q: {type: string, defualt: x}")
			name, _, _ := strings.Cut(p, ":")
			if slices.Contains(projParams, name) {
				continue
			}
			projParams = append(projParams, name)
			pj.WriteString("  " + p + "\n")
		}
	}
	if r.IntN(2) == 0 {
		pj.WriteString("connections:\n")
		seen := map[string]bool{}
		for range 1 + r.IntN(2) {
			c := vary(10, pick("wh: {type: postgres, properties: {host: '${project.host}', user: etl}}", "lite: {type: sqlite, properties: {database: x.db}}"),
				"'bad|name': {type: postgres}", "x: {type: postgres, properties: {h: '${project.nope}'}}")
			name, _, _ := strings.Cut(c, ":")
			if seen[name] {
				continue
			}
			seen[name] = true
			pj.WriteString("  " + c + "\n")
		}
	}
	pj.WriteString(vary(15, "", "nmae: typo\n", "connections: [\n", "\t- tab\n"))
	// Always a project.yaml: without one, validate DIR checks a directory
	// of package files, which deploy does not take.
	files["project.yaml"] = pj.String()
	for range vary(15, pick("1", "1", "2", "3"), "0")[0] - '0' {
		file := pick("a", "b", "c", "a.b", "main")
		name := vary(12, file, "a", "other", "'Bad|Name'", strings.Repeat("n", 129))
		var pk strings.Builder
		pk.WriteString("name: '" + name + "'\n")
		pk.WriteString(vary(10, pick("", "description: pkg\n", "description: "+strings.Repeat("d", 4096)+"\n"),
			"description: "+strings.Repeat("d", 4097)+"\n"))
		pk.WriteString(vary(12, pick("", "parameters:\n  k: {type: int, default: 2}\n"), "parameters:\n  s: {type: string, sensitive: true, default: x}\n"))
		pk.WriteString(pick("", "", "connections:\n  own: {driver: sqlite, database: own.db}\n"))
		pk.WriteString(pick("", "", "entry_point: false\n"))
		pk.WriteString("tasks:\n")
		for i := range 1 + r.IntN(3) {
			pk.WriteString(fmt.Sprintf("  - name: t%d\n", i))
			pk.WriteString(vary(6, pick(
				"    exec: {command: [\"true\"]}\n",
				"    sql: {connection: wh, statement: SELECT 1}\n",
				"    sql: {connection: own, statement: SELECT 1}\n",
				"    sql: {connection: lite, statement: SELECT 1}\n",
				"    package: {name: a}\n",
			),
				"    exec: {command: [\"true\"]}\n    success_codes: [999999999999]\n",
				"    exec: {command: [\"true\"]}\n    when: '1 + 2'\n",
				"    exec: {command: [\"true\"]}\n    when: 'vars.x +'\n",
				"    sql: {connection: nowhere, statement: SELECT 1}\n",
				"    package: {name: missing}\n",
				"    exce: {command: [\"true\"]}\n",
				"    exec: {command: []}\n",
			))
		}
		files["packages/"+file+pick(".yaml", ".yaml", ".yaml", ".yml")] = pk.String()
	}
	if r.IntN(8) == 0 {
		files["data/readme.txt"] = "data file\n"
	}
	return files
}

// TestRandomProject_Varies guards the generator: different seeds give
// different projects, and both valid and invalid ones occur.
func TestRandomProject_Varies(t *testing.T) {
	dirOK, dirBad := 0, 0
	seen := map[string]bool{}
	for seed := range uint64(200) {
		files := randomProject(rand.New(rand.NewPCG(seed, seed>>32^0x5ca1e)))
		seen[fmt.Sprint(files)] = true
		dir := t.TempDir()
		pkgspectest.WriteFiles(t, dir, files)
		if runValidate(&bytes.Buffer{}, dir) == nil {
			dirOK++
		} else {
			dirBad++
		}
		os.RemoveAll(dir)
	}
	if len(seen) < 150 || dirOK < 10 || dirBad < 10 {
		t.Fatalf("generator: %d distinct projects of 200, %d valid, %d invalid", len(seen), dirOK, dirBad)
	}
	t.Logf("200 seeds: %d distinct projects, %d valid, %d invalid", len(seen), dirOK, dirBad)
}
