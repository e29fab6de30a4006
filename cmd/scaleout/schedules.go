package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/scaleout/scaleout/api"
	"github.com/spf13/cobra"
	yaml "go.yaml.in/yaml/v3"
)

// scheduleFlags are the flags of `schedules create` and `update`.
type scheduleFlags struct {
	desc, pkg, file, job, env, logging string
	params                             []string
	retries                            int
	cron, every, at, tz, start, end    string
	catchUp, grace, overlap            string
	webhook                            string
	notifyEmail                        []string
	notifyOn, headers                  []string
	paused                             bool
}

func (f *scheduleFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.desc, "description", "", "description")
	fl.StringVar(&f.pkg, "package", "", "run this deployed package, FOLDER/PROJECT/PACKAGE")
	fl.StringVar(&f.file, "file", "", "run this inline package file (its YAML is stored with the schedule)")
	fl.StringVar(&f.job, "job", "", "run the job of steps in this YAML file (docs/schedules.md)")
	fl.StringVar(&f.env, "env", "", "environment of the deployed package (\"name\" or \"folder/name\")")
	fl.StringArrayVarP(&f.params, "param", "p", nil, "parameter value NAME=VALUE (repeatable)")
	fl.IntVar(&f.retries, "retries", 0, "retries of an execution whose worker is lost")
	fl.StringVar(&f.logging, "logging-level", "", "none, basic, performance or verbose")
	fl.StringVar(&f.cron, "cron", "", "cron expression (5 fields: minute hour day month weekday; or @daily, @hourly...)")
	fl.StringVar(&f.every, "every", "", "fire every interval (whole seconds: 10m, 2s), at multiples of it since --start or the Unix epoch")
	fl.StringVar(&f.at, "at", "", "fire once at this time (RFC 3339, e.g. 2026-12-24T18:00:00Z)")
	fl.StringVar(&f.tz, "tz", "", "time zone of --cron (IANA name such as Europe/Rome; default UTC)")
	fl.StringVar(&f.start, "start", "", "no ticks before this time (RFC 3339)")
	fl.StringVar(&f.end, "end", "", "no ticks after this time (RFC 3339)")
	fl.StringVar(&f.catchUp, "catch-up", "skip", "ticks missed by more than --grace (cluster down, paused): skip, once or all:N")
	fl.StringVar(&f.grace, "grace", "1m", "how late a tick may still fire (a leader change delays ticks; it does not lose them)")
	fl.StringVar(&f.overlap, "overlap", "allow", "a tick while the previous run still runs: allow, skip or queue")
	fl.StringVar(&f.webhook, "notify-webhook", "", "POST a JSON notification here when a run ends (see --notify-on)")
	fl.StringSliceVar(&f.notifyEmail, "notify-email", nil, "mail the notification to these addresses through the agents' --smtp-addr server (comma-separated or repeated)")
	fl.StringSliceVar(&f.notifyOn, "notify-on", nil, "failure, success and/or completion (default failure)")
	fl.StringArrayVar(&f.headers, "notify-header", nil, "header NAME=VALUE sent with the webhook (sealed; shown masked; repeatable)")
	fl.BoolVar(&f.paused, "paused", false, "create the schedule paused")
}

func parseTime(flag, s string) (*time.Time, error) {
	if s == "" {
		return nil, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return nil, exitf(exitUsage, "--%s %q: want RFC 3339, e.g. 2026-12-24T18:00:00Z", flag, s)
	}
	return &t, nil
}

// jobFile is the YAML of --job.
type jobFile struct {
	Steps []struct {
		Name          string            `yaml:"name"`
		Package       string            `yaml:"package"`
		File          string            `yaml:"file"`
		Environment   string            `yaml:"environment"`
		Params        map[string]string `yaml:"params"`
		Retries       int               `yaml:"retries"`
		LoggingLevel  string            `yaml:"logging_level"`
		OnSuccess     string            `yaml:"on_success"`
		OnFailure     string            `yaml:"on_failure"`
		RetryCount    int               `yaml:"retry_count"`
		RetryInterval string            `yaml:"retry_interval"`
	} `yaml:"steps"`
}

func readJob(path string) ([]api.JobStep, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, exitf(exitUsage, "--job: %v", err)
	}
	var jf jobFile
	dec := yaml.NewDecoder(strings.NewReader(string(src)))
	dec.KnownFields(true)
	if err := dec.Decode(&jf); err != nil {
		return nil, exitf(exitUsage, "--job %s: %v", path, err)
	}
	if len(jf.Steps) == 0 {
		return nil, exitf(exitUsage, "--job %s: no steps", path)
	}
	var out []api.JobStep
	for i, s := range jf.Steps {
		st := api.JobStep{Name: s.Name, Package: s.Package, Environment: s.Environment, Params: s.Params, Retries: s.Retries,
			LoggingLevel: s.LoggingLevel, OnSuccess: s.OnSuccess, OnFailure: s.OnFailure, RetryCount: s.RetryCount, RetryInterval: s.RetryInterval}
		if s.File != "" {
			p := s.File
			if !filepath.IsAbs(p) {
				p = filepath.Join(filepath.Dir(path), p)
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return nil, exitf(exitUsage, "--job %s step %d: %v", path, i+1, err)
			}
			st.Source, st.File = string(b), filepath.Base(p)
		}
		out = append(out, st)
	}
	return out, nil
}

func (f *scheduleFlags) request(name string) (*api.ScheduleRequest, error) {
	req := &api.ScheduleRequest{Name: name, Description: f.desc, Cron: f.cron, Every: f.every, TZ: f.tz,
		CatchUp: f.catchUp, Grace: f.grace, Overlap: f.overlap, Paused: f.paused}
	var err error
	if req.At, err = parseTime("at", f.at); err != nil {
		return nil, err
	}
	if req.Start, err = parseTime("start", f.start); err != nil {
		return nil, err
	}
	if req.End, err = parseTime("end", f.end); err != nil {
		return nil, err
	}
	n := 0
	for _, s := range []string{f.pkg, f.file, f.job} {
		if s != "" {
			n++
		}
	}
	if n != 1 {
		return nil, exitf(exitUsage, "give exactly one of --package, --file and --job")
	}
	params, err := parseParams(f.params)
	if err != nil {
		return nil, exitf(exitUsage, "%v", err)
	}
	switch {
	case f.job != "":
		if len(params) > 0 || f.env != "" || f.retries != 0 {
			return nil, exitf(exitUsage, "--param, --env and --retries belong to the steps of --job")
		}
		if req.Steps, err = readJob(f.job); err != nil {
			return nil, err
		}
	case f.file != "":
		src, err := os.ReadFile(f.file)
		if err != nil {
			return nil, exitf(exitUsage, "--file: %v", err)
		}
		req.JobStep = api.JobStep{Source: string(src), File: filepath.Base(f.file), Params: params, Retries: f.retries, LoggingLevel: f.logging}
	default:
		req.JobStep = api.JobStep{Package: f.pkg, Environment: f.env, Params: params, Retries: f.retries, LoggingLevel: f.logging}
	}
	if f.webhook != "" || len(f.notifyEmail) > 0 {
		hs, err := parseParams(f.headers)
		if err != nil {
			return nil, exitf(exitUsage, "--notify-header: %v", err)
		}
		req.Notify = &api.Notify{On: f.notifyOn, Webhook: f.webhook, Email: f.notifyEmail, Headers: hs}
	} else if len(f.notifyOn) > 0 || len(f.headers) > 0 {
		return nil, exitf(exitUsage, "--notify-on and --notify-header need --notify-webhook or --notify-email")
	}
	return req, nil
}

func timingOf(s *api.Schedule) string {
	switch {
	case s.Cron != "":
		t := "cron " + s.Cron
		if s.TZ != "" {
			t += " (" + s.TZ + ")"
		}
		return t
	case s.Every != "":
		return "every " + s.Every
	case s.At != nil:
		return "at " + s.At.Format(time.RFC3339)
	}
	return "-"
}

func targetOf(s *api.Schedule) string {
	switch {
	case len(s.Steps) > 0:
		return fmt.Sprintf("job of %d steps", len(s.Steps))
	case s.Package != "":
		return s.Package
	}
	return "inline " + s.File
}

func fmtTimes(ts []time.Time) string {
	if len(ts) == 0 {
		return "-"
	}
	var out []string
	for _, t := range ts {
		out = append(out, t.Local().Format("2006-01-02 15:04:05"))
	}
	return strings.Join(out, ", ")
}

func newSchedulesCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "schedules", Aliases: []string{"schedule"}, Short: "Run packages and jobs of steps on a schedule (SQL Server Agent's jobs)",
		Long: `Schedules fire runs at their ticks: --cron, --every or --at. A run executes a deployed
package (--package), an inline package file (--file) or a job of steps (--job FILE.yaml), each
step an execution. The leader fires each tick exactly once, across leader changes. See
docs/schedules.md for the policies, the job file and the webhook body.`}
	var cf, uf scheduleFlags
	create := clientCmd("create NAME", "Create a schedule", 1, func(x *cmdCtx) error {
		req, err := cf.request(x.args[0])
		if err != nil {
			return err
		}
		return x.c.Schedules().Create(x.ctx, req)
	})
	create.Example = `  scaleout schedules create nightly --package etl/sales/load --env prod --cron "0 2 * * *" --tz Europe/Rome
  scaleout schedules create poll --file testdata/hello.yaml --every 10m --overlap skip
  scaleout schedules create chain --job job.yaml --cron "@hourly" --notify-webhook https://hooks.example/x --notify-on failure`
	cf.register(create)
	update := clientCmd("update NAME", "Replace a schedule's definition (all flags as for create; its fire history is kept)", 1, func(x *cmdCtx) error {
		req, err := uf.request(x.args[0])
		if err != nil {
			return err
		}
		return x.c.Schedules().Update(x.ctx, req)
	})
	uf.register(update)
	var limit int
	runs := listCmd("runs NAME", "List a schedule's runs, newest first", 1,
		func(x *cmdCtx) ([]api.Run, error) { return x.c.Schedules().Runs(x.ctx, x.args[0], limit) },
		"RUN\tTICK\tSTATUS\tSTEP\tEXECUTIONS\tNOTIFIED\tMESSAGE", func(r api.Run) string {
			var ids []string
			for _, s := range r.Steps {
				ids = append(ids, strconv.FormatUint(s.Execution, 10))
			}
			tick := r.Tick.Local().Format("2006-01-02 15:04:05")
			if r.Manual {
				tick += " (run-now)"
			}
			return fmt.Sprintf("%d\t%s\t%s\t%d/%d\t%s\t%s\t%s", r.ID, tick, r.Status, r.Step, r.Try, dash(strings.Join(ids, ",")), delivery(r.Delivery), oneLine(r.Message))
		})
	runs.Flags().IntVar(&limit, "limit", 20, "runs to show")
	cmd.AddCommand(create, update,
		listCmd("list", "List schedules with their next 3 fire times", 0,
			func(x *cmdCtx) ([]api.Schedule, error) { return x.c.Schedules().List(x.ctx) },
			"NAME\tSTATE\tTIMING\tTARGET\tFIRES\tNEXT", func(s api.Schedule) string {
				state := "active"
				if s.Paused {
					state = "paused"
				}
				return fmt.Sprintf("%s\t%s\t%s\t%s\t%d\t%s", s.Name, state, timingOf(&s), targetOf(&s), s.Fires, fmtTimes(s.Next))
			}),
		clientCmd("show NAME", "Show a schedule: timing, policies, what it runs, its state and next fire times", 1, func(x *cmdCtx) error {
			s, err := x.c.Schedules().Info(x.ctx, x.args[0])
			if err != nil {
				return err
			}
			return showSchedule(x, s)
		}),
		clientCmd("pause NAME", "Pause a schedule (ticks while paused are missed: --catch-up decides)", 1, func(x *cmdCtx) error {
			return x.c.Schedules().Pause(x.ctx, x.args[0])
		}),
		clientCmd("resume NAME", "Resume a paused schedule", 1, func(x *cmdCtx) error {
			return x.c.Schedules().Resume(x.ctx, x.args[0])
		}),
		clientCmd("delete NAME", "Delete a schedule (its runs end as usual and stay readable)", 1, func(x *cmdCtx) error {
			return x.c.Schedules().Delete(x.ctx, x.args[0])
		}),
		clientCmd("run-now NAME", "Start a run at once, outside the schedule's ticks", 1, func(x *cmdCtx) error {
			r, err := x.c.Schedules().RunNow(x.ctx, x.args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(x.out, "run %d, execution %d\n", r.Run, r.Execution)
			return nil
		}),
		runs,
		clientCmd("run NAME RUN", "Show one run: its status and every step try (each an execution)", 2, func(x *cmdCtx) error {
			id, err := strconv.ParseUint(x.args[1], 10, 64)
			if err != nil {
				return exitf(exitUsage, "run %q: want a number", x.args[1])
			}
			r, err := x.c.Schedules().Run(x.ctx, x.args[0], id)
			if err != nil {
				return err
			}
			end := "-"
			if r.Ended != nil {
				end = r.Ended.Local().Format(time.RFC3339)
			}
			fmt.Fprintf(x.out, "Run       %d of %s\nTick      %s\nStatus    %s\nMessage   %s\nEnded     %s\nNotified  %s\n\n",
				r.ID, r.Schedule, r.Tick.Local().Format(time.RFC3339), r.Status, dash(r.Message), end, delivery(r.Delivery))
			return printTable(x.out, "STEP\tNAME\tTRY\tEXECUTION\tSTATUS\tMESSAGE", r.Steps, func(s api.StepRun) string {
				return fmt.Sprintf("%d\t%s\t%d\t%d\t%s\t%s", s.Step, dash(s.Name), s.Try, s.Execution, dash(s.Status), oneLine(s.Message))
			})
		}),
	)
	return cmd
}

func delivery(d *api.Delivery) string {
	switch {
	case d == nil:
		return "-"
	case d.Delivered:
		return fmt.Sprintf("delivered (%d attempts)", d.Attempts)
	}
	return fmt.Sprintf("failed after %d attempts: %s", d.Attempts, d.Error)
}

func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) > 120 {
		s = s[:117] + "..."
	}
	return dash(s)
}

func showSchedule(x *cmdCtx, s *api.Schedule) error {
	state := "active"
	if s.Paused {
		state = "paused"
	}
	last := "-"
	if s.LastTick != nil {
		last = s.LastTick.Local().Format(time.RFC3339)
	}
	fmt.Fprintf(x.out, "Schedule     %s (%s)\nDescription  %s\nTiming       %s\n", s.Name, state, dash(s.Description), timingOf(s))
	if s.Start != nil || s.End != nil {
		fmt.Fprintf(x.out, "Window       %s .. %s\n", fmtTimes(optTime(s.Start)), fmtTimes(optTime(s.End)))
	}
	fmt.Fprintf(x.out, "Catch-up     %s (grace %s)\nOverlap      %s\nTarget       %s\nFires        %d (missed %d, skipped %d); last tick %s, last run %d\nNext         %s\n",
		s.CatchUp, s.Grace, s.Overlap, targetOf(s), s.Fires, s.Missed, s.Skipped, last, s.LastRun, fmtTimes(s.Next))
	if s.Notify != nil {
		fmt.Fprintf(x.out, "Notify       %s on %s", notifyTargets(s.Notify.Webhook, s.Notify.Email), strings.Join(s.Notify.On, ","))
		for k, v := range s.Notify.Headers {
			fmt.Fprintf(x.out, "; %s: %s", k, v)
		}
		fmt.Fprintln(x.out)
	}
	if len(s.Steps) > 0 {
		fmt.Fprintln(x.out)
		n := 0
		return printTable(x.out, "STEP\tNAME\tRUNS\tON SUCCESS\tON FAILURE\tRETRIES", s.Steps, func(st api.JobStep) string {
			n++
			what := st.Package
			if what == "" {
				what = "inline " + st.File
			}
			retry := fmt.Sprint(st.RetryCount)
			if st.RetryCount > 0 && st.RetryInterval != "" {
				retry += " every " + st.RetryInterval
			}
			return fmt.Sprintf("%d\t%s\t%s\t%s\t%s\t%s", n, dash(st.Name), what, orDefault(st.OnSuccess, "next"), orDefault(st.OnFailure, "quit_failure"), retry)
		})
	}
	return nil
}

func optTime(t *time.Time) []time.Time {
	if t == nil {
		return nil
	}
	return []time.Time{*t}
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// notifyTargets names a notification's webhook and e-mail addresses.
func notifyTargets(webhook string, email []string) string {
	var parts []string
	if webhook != "" {
		parts = append(parts, webhook)
	}
	if len(email) > 0 {
		parts = append(parts, "mail to "+strings.Join(email, ","))
	}
	return strings.Join(parts, " and ")
}
