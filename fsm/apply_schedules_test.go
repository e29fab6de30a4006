package fsm

import (
	"encoding/json"
	"errors"
	"math/rand"
	"testing"
	"time"

	"github.com/scaleout/scaleout/catalog"
)

func testSchedule(name string, steps ...catalog.JobStep) catalog.Schedule {
	if len(steps) == 0 {
		steps = []catalog.JobStep{{Source: "name: p"}}
	}
	return catalog.Schedule{Name: name, Every: 2 * time.Second, CatchUp: "skip", Overlap: "allow", Grace: time.Minute, Steps: steps}
}

func inlineSpec() *catalog.ExecutionSpec {
	return &catalog.ExecutionSpec{PackageName: "p", Source: "name: p"}
}

func (h *harness) schedule(name string) *catalog.Schedule {
	h.t.Helper()
	s, err := catalog.Read(h.fsm.Store(), func(tx *catalog.Tx) (*catalog.Schedule, error) { return tx.Schedule(name) })
	if err != nil {
		h.t.Fatal(err)
	}
	return s
}

func (h *harness) run(id uint64) *catalog.Run {
	h.t.Helper()
	r, err := catalog.Read(h.fsm.Store(), func(tx *catalog.Tx) (*catalog.Run, error) { return tx.Run(id) })
	if err != nil {
		h.t.Fatal(err)
	}
	return r
}

func (h *harness) fire(name string, tick time.Time) (*FireResponse, error) {
	h.t.Helper()
	resp := h.apply(ScheduleFireType, &ScheduleFireRequest{Time: tick, Name: name, Tick: tick, Spec: inlineSpec()})
	if err, ok := resp.(error); ok {
		return nil, err
	}
	return resp.(*FireResponse), nil
}

// finish ends execution id (one attempt) with st.
func (h *harness) finish(id uint64, st catalog.Status, at time.Time) {
	h.t.Helper()
	r := h.apply(ExecutionLeaseType, &ExecutionLeaseRequest{Time: at, Worker: "w", Items: []LeaseItem{{ID: id, Attempt: 1}}}).(*ItemsResponse)
	if r.Err(0) != nil {
		h.t.Fatal(r.Err(0))
	}
	f := h.apply(ExecutionFinishType, &ExecutionFinishRequest{Time: at, Items: []FinishItem{{ID: id, Attempt: 1, Status: st}}}).(*ItemsResponse)
	if f.Err(0) != nil {
		h.t.Fatal(f.Err(0))
	}
}

func TestFSM_ScheduleFireOncePerTick(t *testing.T) {
	h := newHarness(t)
	if err := h.apply(SchedulePutType, &SchedulePutRequest{Time: t0, Schedule: testSchedule("s")}); err != nil {
		t.Fatal(err)
	}
	if err, _ := h.apply(SchedulePutType, &SchedulePutRequest{Time: t0, Schedule: testSchedule("s")}).(error); !errors.Is(err, catalog.ErrExists) {
		t.Fatalf("second create: %v", err)
	}
	tick := t0.Add(2 * time.Second)
	fr, err := h.fire("s", tick)
	if err != nil || fr.Run != 1 || fr.Execution != 1 {
		t.Fatalf("fire: %+v %v", fr, err)
	}
	// The same tick again (a new leader re-proposing it), and an older one.
	for _, tk := range []time.Time{tick, tick.Add(-time.Second)} {
		if _, err := h.fire("s", tk); !errors.Is(err, catalog.ErrExists) {
			t.Fatalf("duplicate fire of %s: %v", tk, err)
		}
	}
	if n := h.schedule("s").State.Fires; n != 1 {
		t.Fatalf("fires %d after duplicates", n)
	}
	// One execution only: the next id is 2.
	if ids := h.submit(1, 0); ids[0] != 2 {
		t.Fatalf("duplicates created executions: next id %d", ids[0])
	}
	// Paused: no fire; resumed: the next tick fires.
	h.apply(SchedulePauseType, &SchedulePauseRequest{Time: t0, Name: "s", Paused: true})
	if _, err := h.fire("s", tick.Add(2*time.Second)); !errors.Is(err, catalog.ErrInvalid) {
		t.Fatalf("fire while paused: %v", err)
	}
	h.apply(SchedulePauseType, &SchedulePauseRequest{Time: t0, Name: "s", Paused: false})
	if _, err := h.fire("s", tick.Add(2*time.Second)); err != nil {
		t.Fatal(err)
	}
	// A manual run is not a tick: it does not move the last tick.
	last := h.schedule("s").State.LastTick
	if r := h.apply(ScheduleFireType, &ScheduleFireRequest{Time: t0, Name: "s", Tick: t0, Manual: true, Spec: inlineSpec()}); r.(*FireResponse).Run == 0 {
		t.Fatalf("manual fire: %v", r)
	}
	if !h.schedule("s").State.LastTick.Equal(last) {
		t.Fatal("a manual run moved the last tick")
	}
	// NoRun records missed ticks without a run.
	h.apply(ScheduleFireType, &ScheduleFireRequest{Time: t0, Name: "s", Tick: tick.Add(time.Hour), Missed: 1800, NoRun: true})
	if s := h.schedule("s"); s.State.Missed != 1800 || !s.State.LastTick.Equal(tick.Add(time.Hour)) || s.State.Fires != 3 {
		t.Fatalf("after no-run fire: %+v", s.State)
	}
	// Unknown schedule; fire without spec nor error.
	if _, err := h.fire("nope", tick); !errors.Is(err, catalog.ErrNotFound) {
		t.Fatalf("unknown schedule: %v", err)
	}
	if err, _ := h.apply(ScheduleFireType, &ScheduleFireRequest{Time: t0, Name: "s", Tick: tick.Add(2 * time.Hour)}).(error); !errors.Is(err, catalog.ErrInvalid) {
		t.Fatalf("fire without spec: %v", err)
	}
	// A snapshot round trip keeps schedules and runs.
	snap := h.snapshot()
	h2 := newHarness(t)
	h2.restore(snap)
	if s := h2.schedule("s"); s.State.Fires != 3 || h2.run(1).Steps[0].Execution != 1 {
		t.Fatalf("restored: %+v", s.State)
	}
}

func TestFSM_ScheduleOverlap(t *testing.T) {
	h := newHarness(t)
	skip, queue := testSchedule("skip"), testSchedule("queue")
	skip.Overlap, queue.Overlap = "skip", "queue"
	h.apply(SchedulePutType, &SchedulePutRequest{Time: t0, Schedule: skip})
	h.apply(SchedulePutType, &SchedulePutRequest{Time: t0, Schedule: queue})
	fr, _ := h.fire("skip", t0.Add(time.Second))
	fq, _ := h.fire("queue", t0.Add(time.Second))
	// While the first runs: skip records a skipped run, queue refuses.
	sk, err := h.fire("skip", t0.Add(2*time.Second))
	if err != nil || !sk.Skipped || h.run(sk.Run).Status != catalog.RunSkipped {
		t.Fatalf("skip overlap: %+v %v", sk, err)
	}
	if _, err := h.fire("queue", t0.Add(2*time.Second)); !errors.Is(err, catalog.ErrInvalid) {
		t.Fatalf("queue overlap: %v", err)
	}
	if s := h.schedule("skip"); s.State.Skipped != 1 || s.State.LastRun != fr.Run {
		t.Fatalf("skip state %+v", s.State)
	}
	// The first runs end: both fire again.
	h.finish(fr.Execution, catalog.StatusSucceeded, t0.Add(3*time.Second))
	h.finish(fq.Execution, catalog.StatusSucceeded, t0.Add(3*time.Second))
	for _, n := range []string{"skip", "queue"} {
		r := h.run(h.schedule(n).State.LastRun)
		if err := h.apply(RunAdvanceType, &RunAdvanceRequest{Time: t0.Add(3 * time.Second), Run: r.ID, Step: 1, Try: 1}); err != nil {
			t.Fatal(err)
		}
		if res, err := h.fire(n, t0.Add(4*time.Second)); err != nil || res.Skipped || res.Execution == 0 {
			t.Fatalf("%s after the run ended: %+v %v", n, res, err)
		}
	}
}

// TestFSM_JobRun: step 1 succeeds, step 2 fails twice (one retry) and goes
// to step 3, which succeeds; every try is an execution on the run and a
// repeated advance changes nothing.
func TestFSM_JobRun(t *testing.T) {
	h := newHarness(t)
	steps := []catalog.JobStep{
		{Name: "one", Source: "name: p"},
		{Name: "two", Source: "name: p", RetryCount: 1, RetryInterval: 10 * time.Second, OnFailure: "goto:3"},
		{Name: "three", Source: "name: p"},
	}
	if err := h.apply(SchedulePutType, &SchedulePutRequest{Time: t0, Schedule: testSchedule("job", steps...)}); err != nil {
		t.Fatal(err)
	}
	fr, _ := h.fire("job", t0.Add(time.Second))
	at := t0.Add(time.Minute)
	advance := func(step, try, next, nextTry int, when time.Time) any {
		req := &RunAdvanceRequest{Time: when, Run: fr.Run, Step: step, Try: try, NextStep: next, NextTry: nextTry}
		if next != 0 {
			req.Spec = inlineSpec()
		}
		return h.apply(RunAdvanceType, req)
	}
	// Not ended yet: refused.
	if err, _ := advance(1, 1, 2, 1, at).(error); !errors.Is(err, catalog.ErrInvalid) {
		t.Fatalf("advance before the end: %v", err)
	}
	h.finish(h.run(fr.Run).Current().Execution, catalog.StatusSucceeded, at)
	// The leader must name the step the rules lead to.
	if err, _ := advance(1, 1, 3, 1, at).(error); !errors.Is(err, catalog.ErrInvalid) {
		t.Fatalf("advance to the wrong step: %v", err)
	}
	if err := advance(1, 1, 2, 1, at); err != nil {
		t.Fatal(err)
	}
	if err, _ := advance(1, 1, 2, 1, at).(error); !errors.Is(err, catalog.ErrExists) {
		t.Fatalf("repeated advance: %v", err)
	}
	h.finish(h.run(fr.Run).Current().Execution, catalog.StatusFailed, at)
	// The retry waits for its interval.
	if err, _ := advance(2, 1, 2, 2, at.Add(time.Second)).(error); !errors.Is(err, catalog.ErrInvalid) {
		t.Fatalf("retry before its interval: %v", err)
	}
	if err := advance(2, 1, 2, 2, at.Add(10*time.Second)); err != nil {
		t.Fatal(err)
	}
	h.finish(h.run(fr.Run).Current().Execution, catalog.StatusFailed, at.Add(11*time.Second))
	if err := advance(2, 2, 3, 1, at.Add(11*time.Second)); err != nil {
		t.Fatal(err)
	}
	h.finish(h.run(fr.Run).Current().Execution, catalog.StatusSucceeded, at.Add(12*time.Second))
	if err := advance(3, 1, 0, 0, at.Add(12*time.Second)); err != nil {
		t.Fatal(err)
	}
	r := h.run(fr.Run)
	var got []int
	for _, s := range r.Steps {
		got = append(got, s.Step*10+s.Try)
	}
	if r.Status != catalog.RunSucceeded || len(got) != 4 || got[0] != 11 || got[1] != 21 || got[2] != 22 || got[3] != 31 {
		t.Fatalf("run %s, step tries %v", r.Status, got)
	}
	if r.Steps[1].Status != catalog.StatusFailed || r.Steps[2].Execution == r.Steps[1].Execution {
		t.Fatalf("step tries %+v", r.Steps)
	}
}

// TestFSM_RunFailureAndDelivery: a step whose spec could not be resolved
// fails the run (on_failure quit_failure); the notification is delivered
// once and the run leaves the open index.
func TestFSM_RunFailureAndDelivery(t *testing.T) {
	h := newHarness(t)
	s := testSchedule("n")
	s.Notify = &catalog.Notify{On: []string{"failure"}, Webhook: "http://x"}
	h.apply(SchedulePutType, &SchedulePutRequest{Time: t0, Schedule: s})
	resp := h.apply(ScheduleFireType, &ScheduleFireRequest{Time: t0, Name: "n", Tick: t0.Add(time.Second), Error: "folder gone"}).(*FireResponse)
	if resp.Execution != 0 {
		t.Fatalf("fire with an error created execution %d", resp.Execution)
	}
	if err := h.apply(RunAdvanceType, &RunAdvanceRequest{Time: t0, Run: resp.Run, Step: 1, Try: 1}); err != nil {
		t.Fatal(err)
	}
	r := h.run(resp.Run)
	if r.Status != catalog.RunFailed || !r.NeedsDelivery() {
		t.Fatalf("run %+v", r)
	}
	open := func() int {
		l, _ := catalog.Read(h.fsm.Store(), (*catalog.Tx).OpenRuns)
		return len(l)
	}
	if open() != 1 {
		t.Fatal("failed run not open for its notification")
	}
	if err := h.apply(RunDeliveredType, &RunDeliveredRequest{Time: t0, Run: r.ID, Delivery: catalog.Delivery{Delivered: true, Attempts: 3}}); err != nil {
		t.Fatal(err)
	}
	if err, _ := h.apply(RunDeliveredType, &RunDeliveredRequest{Time: t0, Run: r.ID, Delivery: catalog.Delivery{Delivered: true}}).(error); !errors.Is(err, catalog.ErrExists) {
		t.Fatalf("second delivery record: %v", err)
	}
	if open() != 0 || h.run(r.ID).Delivery.Attempts != 3 {
		t.Fatal("delivered run still open")
	}
	// Retention: a running run and a run that ended after Before stay.
	running := h.apply(ScheduleFireType, &ScheduleFireRequest{Time: t0, Name: "n", Tick: t0.Add(2 * time.Second), Spec: inlineSpec()}).(*FireResponse)
	purge := func(before time.Time) int {
		return h.apply(RunPurgeType, &RunPurgeRequest{Time: t0, Before: before, IDs: []uint64{r.ID, running.Run, 999}}).(int)
	}
	if n := purge(t0); n != 0 {
		t.Fatalf("purged %d runs that ended at the cut-off", n)
	}
	if n := purge(t0.Add(time.Hour)); n != 1 {
		t.Fatalf("purged %d runs, want the ended one", n)
	}
	runs, _ := catalog.Read(h.fsm.Store(), func(tx *catalog.Tx) ([]*catalog.Run, error) { return tx.Runs("n", 10) })
	if len(runs) != 1 || runs[0].ID != running.Run {
		t.Fatalf("runs after the purge: %v", runs)
	}
}

// TestFSM_MalformedScheduleCommandsNeverPanic feeds every schedule applier
// undecodable, mistyped, empty and random payloads directly (without the
// FSM's recover): each must answer with an error, not panic.
func TestFSM_MalformedScheduleCommandsNeverPanic(t *testing.T) {
	h := newHarness(t)
	h.apply(SchedulePutType, &SchedulePutRequest{Time: t0, Schedule: testSchedule("s")})
	if _, err := h.fire("s", t0.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	payloads := []string{``, `{`, `null`, `[]`, `{"schedule":{"name":""}}`, `{"schedule":{"name":"x","every":1,"steps":[{}]}}`,
		`{"schedule":{"name":"x","cron":"* * * * *","catch_up":"all:0","overlap":"allow","steps":[{"source":"a"}]}}`,
		`{"schedule":{"name":"x","at":"2026-01-01T00:00:00Z","catch_up":"skip","overlap":"allow","steps":[{"source":"a","on_failure":"goto:9"}]}}`,
		`{"name":"s","tick":"bad"}`, `{"name":"s","tick":"2030-01-01T00:00:00Z","spec":{}}`, `{"name":"s","tick":"2030-01-01T00:00:00Z","spec":{"package_name":"p"}}`,
		`{"run":1,"step":1,"try":1,"next_step":5,"next_try":1}`, `{"run":1,"step":-1,"try":0}`, `{"run":99}`, `{"run":1,"delivery":5}`,
		`{"name":7}`, `{"run":"x"}`}
	rng := rand.New(rand.NewSource(1))
	for i := 0; i < 200; i++ {
		b := make([]byte, rng.Intn(40))
		rng.Read(b)
		payloads = append(payloads, string(b))
	}
	for _, typ := range []MessageType{SchedulePutType, ScheduleDeleteType, SchedulePauseType, ScheduleFireType, RunAdvanceType, RunDeliveredType, RunPurgeType} {
		for _, p := range payloads {
			buf := append([]byte{byte(typ)}, p...)
			err := h.fsm.Store().Update(func(tx *catalog.Tx) error {
				resp := appliers[typ](tx, buf)
				if _, ok := resp.(fatalError); ok {
					t.Errorf("%s %q: storage failure %v", typ, p, resp)
				}
				return errors.New("roll back")
			})
			if err == nil {
				t.Fatal("update did not roll back")
			}
		}
	}
	// Valid JSON of the right shape but wrong content is answered with an
	// error, never applied.
	bad := []any{
		&SchedulePutRequest{Schedule: catalog.Schedule{Name: "x"}},
		&RunAdvanceRequest{Run: 1, Step: 2, Try: 1},
	}
	for i, typ := range []MessageType{SchedulePutType, RunAdvanceType} {
		body, _ := json.Marshal(bad[i])
		r := h.fsm.Apply(h.log(typ, json.RawMessage(body)))
		if _, ok := r.(error); !ok {
			t.Errorf("%s %s: applied (%v)", typ, body, r)
		}
	}
	// A fire whose spec the FSM refuses consumes its tick deterministically:
	// the run's first step fails with the reason and no execution exists.
	r := h.apply(ScheduleFireType, &ScheduleFireRequest{Name: "s", Tick: t0.Add(time.Hour), Spec: &catalog.ExecutionSpec{}}).(*FireResponse)
	if run := h.run(r.Run); r.Execution != 0 || run.Steps[0].Status != catalog.StatusFailed || run.Steps[0].Message == "" {
		t.Fatalf("fire of an invalid spec: %+v %+v", r, run.Steps)
	}
}
