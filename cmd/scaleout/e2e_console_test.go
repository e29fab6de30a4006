package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/scaleout/scaleout/api"
	"github.com/scaleout/scaleout/catalog"
)

// slowPkg is a package added to the sample project for the console test:
// four tasks, two of them in parallel, so the timeline has a shape and runs
// long enough to be watched.
const slowPkg = `name: slow
description: Extracts, transforms in two parallel branches and publishes; takes a few seconds.
parameters:
  seconds: {type: string, default: "1"}
tasks:
  - name: extract
    exec: {command: [/bin/sh, -c, 'echo extracting; sleep ${param.seconds}']}
  - name: transform_orders
    after: [extract]
    exec: {command: [/bin/sh, -c, 'sleep ${param.seconds}; sleep ${param.seconds}; echo 1200 orders']}
  - name: transform_customers
    after: [extract]
    exec: {command: [/bin/sh, -c, 'sleep ${param.seconds}; echo 310 customers']}
  - name: publish
    after: [transform_orders, transform_customers]
    exec: {command: [/bin/sh, -c, 'echo publishing; sleep ${param.seconds}']}
`

// chromium returns the path of a Chromium to drive, or skips the test.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("browser test: no chromium on PATH (Debian: apt-get install chromium; .ci/run installs it)")
	return ""
}

// browser is a headless Chromium tab with a generous deadline per step.
type browser struct {
	t   *testing.T
	ctx context.Context
	// shots is the directory screenshots go to ("" when not asked for).
	shots string
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	path := chromium(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox,
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.WindowSize(1280, 860), chromedp.UserDataDir(t.TempDir()))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	ctx, cancel2 := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	t.Cleanup(cancel2)
	b := &browser{t: t, ctx: ctx}
	if os.Getenv("SCALEOUT_SCREENSHOTS") == "1" {
		b.shots = "../../docs/console"
		if err := os.MkdirAll(b.shots, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// The first run starts the browser; it must use the tab's own context
	// (a derived one with a deadline would close the browser when done).
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return b
}

// run runs actions, failing the test with what was being done.
func (b *browser) run(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 90*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.t.Fatalf("browser: %s: %v\npage:\n%s", what, err, b.page())
	}
}

// page is the text of the page shown, for failure messages.
func (b *browser) page() string {
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	loc, _ := chromedp.Run(ctx, chromedp.Location())
	s, err := chromedp.Run(ctx, chromedp.Text(css("body")))
	if err != nil {
		return loc + ": " + err.Error()
	}
	return loc + "\n" + s
}

// get runs one action that returns a value.
func get[T any](b *browser, what string, a chromedp.Action[T]) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 90*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		b.t.Fatalf("browser: %s: %v", what, err)
	}
	return v
}

// text returns the text of the first element matching the CSS selector sel.
func (b *browser) text(sel string) string {
	b.t.Helper()
	return get(b, "read "+sel, chromedp.Text(chromedp.CSS(sel)))
}

func css(sel string) chromedp.CSS { return chromedp.CSS(sel) }

// waitText polls until the text of sel satisfies ok (the page may update
// itself or need a reload, per reload).
func (b *browser) waitText(what, sel string, reload bool, ok func(string) bool) string {
	b.t.Helper()
	var last string
	waitFor(b.t, what, 90*time.Second, func() (bool, string) {
		ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
		defer cancel()
		if reload {
			// The page may be navigating (a form just posted): try again.
			if err := chromedp.Do(ctx, chromedp.Reload()); err != nil {
				return false, "reload: " + err.Error()
			}
		}
		s, err := chromedp.Run(ctx, chromedp.Text(css(sel)))
		if err != nil {
			return false, err.Error()
		}
		last = s
		return ok(s), s
	})
	return last
}

// shot saves a screenshot of the whole page as docs/console/NAME.png when
// SCALEOUT_SCREENSHOTS=1.
func (b *browser) shot(name string) {
	b.t.Helper()
	if b.shots == "" {
		return
	}
	png := get(b, "screenshot "+name, chromedp.FullScreenshot(100))
	if err := os.WriteFile(filepath.Join(b.shots, name+".png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// TestE2E_ConsoleInBrowser drives the web console in headless Chromium
// against a three-server cluster of real processes: the sample project is
// deployed, a package is run from the form and its timeline followed live
// to the end, a running execution is stopped, a worker disabled, and every
// page checked for what it shows (secrets masked included).
func TestE2E_ConsoleInBrowser(t *testing.T) {
	b := newBrowser(t)
	key := catalog.GenerateKey()
	var agents []*agentProc
	var join string
	for _, name := range []string{"s1", "s2", "s3"} {
		args := []string{"agent", "--node", name, "--data-dir", t.TempDir(), "--encrypt-key", key, "--http-addr", "127.0.0.1:0",
			"--bind", "127.0.0.1", "--raft-port", "0", "--gossip-port", "0", "--bootstrap-expect", "3", "--kill-grace", "1s",
			"--labels", "rack=r" + name[1:], "--insecure"}
		if join != "" {
			args = append(args, "--join", join)
		}
		a := spawnAgent(t, "", args...)
		if join == "" {
			join = a.gossip
		}
		agents = append(agents, a)
	}
	for _, a := range agents {
		a.waitStarted()
	}
	// The console of s2: whatever it writes is forwarded to the leader.
	ui := agents[1].api
	c := agents[1].client(t)
	waitFor(t, "a leader and 3 registered workers", 60*time.Second, func() (bool, string) {
		ws, err := c.Workers().List(context.Background())
		return err == nil && len(ws) == 3, fmt.Sprint(len(ws), err)
	})

	proj := filepath.Join(t.TempDir(), "etl-sample")
	copyDir(t, "../../testdata/projects/etl-sample", proj)
	if err := os.WriteFile(filepath.Join(proj, "packages", "slow.yaml"), []byte(slowPkg), 0o644); err != nil {
		t.Fatal(err)
	}
	const token, password = "tok-5c1e77", "pw-9a02be"
	// The CLI talks to the leader: `run --wait` through a follower may read
	// the new execution before the follower applied it (404).
	lead, err := c.Status().Leader(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	must := mustCLI(t, lead.API)
	must("folders", "create", "demo", "--description", "sample deployments")
	must("deploy", proj, "--folder", "demo")
	must("environments", "create", "demo/prod")
	must("environments", "set-var", "demo/prod", "TOKEN", token, "--sensitive")
	must("environments", "set-var", "demo/prod", "PW", password, "--sensitive")
	must("environments", "set-var", "demo/prod", "REGION", "emea")
	must("projects", "reference-env", "demo/etl-sample", "prod")
	must("projects", "set-value", "demo/etl-sample", "api_token", "--package", "load", "--variable", "TOKEN")
	must("projects", "set-value", "demo/etl-sample", "db_password", "--variable", "PW")
	// Some history for the executions and performance pages.
	for i := 0; i < 4; i++ {
		must("run", "demo/etl-sample/load", "--env", "prod", "--wait")
		must("run", "demo/etl-sample/slow", "--env", "prod", "--param", "seconds=0."+strconv.Itoa(2+i), "--wait")
	}
	must("run", "testdata/hello.yaml", "--wait")

	// Cluster: three alive servers, a leader, the peers.
	b.run("open the console", chromedp.Navigate(ui+"/"), chromedp.WaitVisible(css("#members")))
	members := b.text("#members")
	for _, n := range []string{"s1", "s2", "s3"} {
		if !strings.Contains(members, n) {
			t.Errorf("cluster page members lack %s:\n%s", n, members)
		}
	}
	if strings.Count(members, "alive") != 3 || !strings.Contains(b.text("#peers"), "leader") {
		t.Errorf("cluster page: want 3 alive members and a leader:\n%s\n%s", members, b.text("#peers"))
	}
	b.shot("cluster")

	// Catalog: the folder, the project, the environment with masked values.
	b.run("catalog", chromedp.Navigate(ui+"/ui/catalog"), chromedp.WaitVisible(css(".folder")))
	b.run("open the environment", chromedp.Click(css("details.env summary")))
	cat := b.text("main")
	if !strings.Contains(cat, "etl-sample") || !strings.Contains(cat, "REGION") || strings.Contains(cat, token) || strings.Contains(cat, password) {
		t.Errorf("catalog page (want etl-sample, REGION, no secrets):\n%s", cat)
	}
	b.shot("catalog")

	// Run slow from the form with a parameter and the environment, then
	// watch its timeline fill in live on the execution page.
	b.run("project page", chromedp.Navigate(ui+"/ui/catalog/demo/etl-sample?package=slow"), chromedp.WaitVisible(css("#runform")))
	b.shot("project")
	b.run("fill the form",
		chromedp.SetValue(css(`#runform select[name="environment"]`), "prod"),
		chromedp.SendKeys(css(`#runform input[name="p.slow.seconds"]`), "1.5"),
		chromedp.Click(css("#run")),
		chromedp.WaitVisible(css("#live")))
	loc := get(b, "location", chromedp.Location())
	id, err := strconv.ParseUint(loc[strings.LastIndex(loc, "/")+1:strings.Index(loc+"?", "?")], 10, 64)
	if err != nil {
		t.Fatalf("the form did not lead to an execution page: %s", loc)
	}
	// While it runs, without reloading: a running bar appears, then all
	// four tasks end succeeded.
	b.waitText("a running task on the live timeline", "#live", false, func(s string) bool {
		return strings.Contains(s, "extract") || strings.Contains(s, "transform")
	})
	b.shot("execution-running")
	b.waitText("the timeline to complete live", "#live", false, func(s string) bool {
		return strings.Contains(s, "publish") && strings.Contains(s, "succeeded")
	})
	b.run("wait for publish", chromedp.WaitVisible(css(`#timeline .row[data-task="publish"][data-status="succeeded"]`)))
	statuses := get(b, "read the timeline", chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("#timeline .row")).map(r => r.dataset.task + "=" + r.dataset.status)`))
	if len(statuses) != 4 || strings.Count(strings.Join(statuses, " "), "=succeeded") != 4 {
		t.Errorf("timeline rows = %v, want 4 tasks succeeded", statuses)
	}
	e, err := c.Executions().Info(context.Background(), id)
	if err != nil || e.Status != "succeeded" || e.Params["seconds"] != "1.5" || e.Environment != "demo/prod" {
		t.Errorf("execution %d from the form: %+v %v", id, e, err)
	}
	report := b.text("main")
	if strings.Contains(report, token) || strings.Contains(report, password) {
		t.Errorf("the execution report shows a secret:\n%s", report)
	}
	b.shot("execution")

	// Messages: the level filter keeps errors only (there are none).
	b.run("messages filtered", chromedp.Navigate(fmt.Sprintf("%s/ui/executions/%d?level=error", ui, id)), chromedp.WaitVisible(css("#messages")))
	if rows := b.text("#messages tbody"); strings.Contains(rows, "stdout") {
		t.Errorf("level=error shows stdout lines:\n%s", rows)
	}

	// Run again with the same values: a new execution of slow.
	b.run("run again", chromedp.Navigate(fmt.Sprintf("%s/ui/executions/%d", ui, id)), chromedp.WaitVisible(css("#rerun")),
		chromedp.Click(css("#rerun")))
	waitFor(t, "the page of the new execution", 60*time.Second, func() (bool, string) {
		loc = get(b, "location", chromedp.Location())
		return strings.Contains(loc, "flash=") && strings.Contains(loc, "again"), loc
	})
	again, _ := strconv.ParseUint(loc[strings.LastIndex(loc, "/")+1:strings.Index(loc+"?", "?")], 10, 64)
	if again <= id {
		t.Fatalf("run again did not create an execution: %s", loc)
	}
	if e := waitStatus(t, c, again, 90*time.Second, "succeeded"); e.Params["seconds"] != "1.5" || e.Environment != "demo/prod" || e.PackageName != "slow" {
		t.Errorf("run again used other values: %+v", e)
	}

	// Stop a running one from its page.
	r := must("run", "demo/etl-sample/slow", "--env", "prod", "--param", "seconds=60")
	long := parseOutID(t, r)
	waitStatus(t, c, long, 60*time.Second, "running")
	b.run("open the long one", chromedp.Navigate(fmt.Sprintf("%s/ui/executions/%d", ui, long)), chromedp.WaitVisible(css("#stop")))
	get(b, "accept confirmations", chromedp.Evaluate[bool](`(window.confirm = () => true, true)`))
	b.run("stop", chromedp.Click(css("#stop")))
	waitStatus(t, c, long, 60*time.Second, "canceled")
	b.waitText("the page to show canceled", "#live", true, func(s string) bool { return strings.Contains(s, "canceled") })

	// Executions: filters by package and status.
	b.run("executions", chromedp.Navigate(ui+"/ui/executions?package=slow&status=succeeded"), chromedp.WaitVisible(css("#executions")))
	list := b.text("#executions tbody")
	if strings.Contains(list, "canceled") || strings.Contains(list, "hello") || !strings.Contains(list, "slow") {
		t.Errorf("filtered list (slow, succeeded):\n%s", list)
	}
	b.run("all executions", chromedp.Navigate(ui+"/ui/executions"), chromedp.WaitVisible(css("#executions")))
	b.shot("executions")

	// Performance of slow: a bar per ended run, average and deviation.
	b.run("performance", chromedp.Navigate(ui+"/ui/performance?folder=demo&project=etl-sample&package=slow"), chromedp.WaitVisible(css("#perfchart")))
	bars := get(b, "count bars", chromedp.Evaluate[int](`document.querySelectorAll("#perfchart rect.b").length`))
	if bars < 6 || b.text("#avg") == "" || b.text("#stddev") == "" {
		t.Errorf("performance: %d bars (want >= 6), avg %q, stddev %q", bars, b.text("#avg"), b.text("#stddev"))
	}
	b.shot("performance")

	// Workers: disable s3's worker; the page and the API say so.
	b.run("workers", chromedp.Navigate(ui+"/ui/workers"), chromedp.WaitVisible(css("#workers")),
		chromedp.Click(css(`tr[data-worker="s3"] form[action$="/disable"] button`)),
		chromedp.WaitVisible(css(".flash")))
	if f := b.text(".flash"); f != "worker s3 disabled" {
		t.Errorf("flash after disable = %q", f)
	}
	row := b.text(`tr[data-worker="s3"]`)
	if !strings.Contains(row, "disabled") || !strings.Contains(row, "Enable") {
		t.Errorf("worker s3 after disable:\n%s", row)
	}
	ws, err := c.Workers().List(context.Background())
	for _, w := range ws {
		if w.ID == "s3" && w.Enabled {
			t.Errorf("worker s3 is still enabled in the API")
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	b.shot("workers")

	// Versions: deploy again, then restore version 1 from the project page.
	must("deploy", proj, "--folder", "demo")
	b.run("restore version 1", chromedp.Navigate(ui+"/ui/catalog/demo/etl-sample"), chromedp.WaitVisible(css("#versions")))
	// s2 serves reads from its own copy: wait until it has applied version 2.
	b.waitText("version 2 on the project page", "h1", true, func(s string) bool { return strings.Contains(s, "version 2") })
	get(b, "accept confirmations", chromedp.Evaluate[bool](`(window.confirm = () => true, true)`))
	b.run("click restore", chromedp.Click(css(`#versions tr[data-version="1"] button`)), chromedp.WaitVisible(css(".flash")))
	waitFor(t, "version 1 current again", 30*time.Second, func() (bool, string) {
		p, err := c.Consistent().Projects("demo").Info(context.Background(), "etl-sample")
		if err != nil {
			return false, err.Error()
		}
		return p.Version == 1, fmt.Sprint("current version ", p.Version)
	})

	// On a phone: the execution report still reads.
	if b.shots != "" {
		b.run("phone", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile), chromedp.Navigate(fmt.Sprintf("%s/ui/executions/%d", ui, id)),
			chromedp.WaitVisible(css("#timeline")))
		b.shot("execution-phone")
	}
	_ = api.Terminal
}

// TestE2E_ConsoleLogin drives the console in headless Chromium on an agent
// whose ACLs are bootstrapped: the login page comes first and says why; a
// reader's token is kept by the tab and sent with every request (links,
// typed addresses, the live view of a running execution), its write
// buttons answer the API's 403 and change nothing; a refused token brings
// the login back with the API's message; logging out forgets the token;
// the management token's write works.
func TestE2E_ConsoleLogin(t *testing.T) {
	b := newBrowser(t)
	a := startAgent(t, t.TempDir())
	ui := a.api
	boot := tokenCLI(t, a.api, "", "acl", "bootstrap")
	if boot.code != 0 {
		t.Fatalf("bootstrap: %d %s", boot.code, boot.stderr)
	}
	root := secretOf(t, boot)
	reader := secretOf(t, mustToken(t, a.api, root, "acl", "token", "create", "--name", "auditor", "--role", "reader"))
	mustToken(t, a.api, root, "run", "testdata/hello.yaml", "--wait")
	pkg := filepath.Join(t.TempDir(), "nap.yaml")
	if err := os.WriteFile(pkg, []byte("name: nap\ntasks:\n  - name: nap\n    exec: {command: [/bin/sh, -c, 'sleep 4; echo rested']}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	logIn := func(tok string) {
		t.Helper()
		b.run("log in", chromedp.WaitVisible(css("#login")), chromedp.SetValue(css("#token"), tok), chromedp.Click(css("#login-go")))
	}

	// Without a token: the login page, saying why.
	b.run("open the console", chromedp.Navigate(ui+"/ui/executions"), chromedp.WaitVisible(css("#login")))
	if s := b.text("main"); !strings.Contains(s, "requires an ACL token") {
		t.Errorf("login page:\n%s", s)
	}
	b.shot("login")
	// A token the API refuses: the login again, with the API's message.
	logIn("not-a-token")
	b.waitText("the refusal on the login page", "main", false, func(s string) bool { return strings.Contains(s, "ACL token not accepted") })

	// The reader: the executions page it asked for, then a link, then a
	// typed address (the tab re-asks with its token).
	logIn(reader)
	b.run("executions as the reader", chromedp.WaitVisible(css("#executions")), chromedp.WaitVisible(css("#logout")))
	if list := b.text("#executions tbody"); !strings.Contains(list, "hello") {
		t.Errorf("the reader's executions page:\n%s", list)
	}
	b.run("follow the Workers link", chromedp.Click(css(`nav a[href="/ui/workers"]`)), chromedp.WaitVisible(css(`tr[data-worker="e2e"]`)))
	if loc := get(b, "location", chromedp.Location()); !strings.HasSuffix(loc, "/ui/workers") {
		t.Errorf("after the Workers link the address is %s", loc)
	}
	b.run("a typed address", chromedp.Navigate(ui+"/ui/catalog"), chromedp.WaitVisible(css("#logout")), chromedp.WaitVisible(css("main h1")))
	if h := b.text("main h1"); h != "Catalog" {
		t.Errorf("typed /ui/catalog shows %q", h)
	}
	// A write button answers the API's 403, and changes nothing.
	b.run("disable as the reader", chromedp.Navigate(ui+"/ui/workers"),
		chromedp.WaitVisible(css(`tr[data-worker="e2e"] form[action$="/disable"] button`)),
		chromedp.Click(css(`tr[data-worker="e2e"] form[action$="/disable"] button`)),
		chromedp.WaitVisible(css(".flash.bad")))
	if msg := b.text(".flash.bad"); !strings.Contains(msg, "permission denied") || !strings.Contains(msg, "auditor") {
		t.Errorf("the reader's disable says %q; want the API's 403 naming the token", msg)
	}
	admin, err := api.NewClient(api.Config{Address: a.api, Token: root})
	if err != nil {
		t.Fatal(err)
	}
	if ws, err := admin.Workers().List(context.Background()); err != nil || len(ws) != 1 || !ws[0].Enabled {
		t.Fatalf("after the reader's disable: %+v %v; want e2e still enabled", ws, err)
	}
	// The live view of a running execution fetches with the token too.
	id := parseOutID(t, mustToken(t, a.api, root, "run", pkg))
	waitStatus(t, admin, id, 60*time.Second, "running")
	b.run("the running execution", chromedp.Navigate(fmt.Sprintf("%s/ui/executions/%d", ui, id)), chromedp.WaitVisible(css("#live")))
	b.waitText("the live view to show the end", "#live", false, func(s string) bool { return strings.Contains(s, "succeeded") })
	b.shot("execution-reader")

	// Logging out forgets the token: the login page again, also on reload.
	b.run("log out", chromedp.Click(css("#logout")), chromedp.WaitVisible(css("#login")))
	if s := b.text("main"); !strings.Contains(s, "Logged out") {
		t.Errorf("after logging out:\n%s", s)
	}
	b.run("reload", chromedp.Reload(), chromedp.WaitVisible(css("#login")))

	// The management token's write works.
	logIn(root)
	b.run("disable as admin", chromedp.WaitVisible(css("#logout")), chromedp.Navigate(ui+"/ui/workers"),
		chromedp.WaitVisible(css(`tr[data-worker="e2e"] form[action$="/disable"] button`)),
		chromedp.Click(css(`tr[data-worker="e2e"] form[action$="/disable"] button`)),
		chromedp.WaitVisible(css(".flash")))
	if f := b.text(".flash"); f != "worker e2e disabled" {
		t.Errorf("flash after the admin's disable = %q", f)
	}
	if ws, err := admin.Workers().List(context.Background()); err != nil || len(ws) != 1 || ws[0].Enabled {
		t.Errorf("after the admin's disable: %+v %v", ws, err)
	}
}
