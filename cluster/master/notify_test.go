package master

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scaleout/scaleout/api"
	"github.com/scaleout/scaleout/catalog"
	"github.com/scaleout/scaleout/cluster/clustertest/poll"
)

// fakeNotifier fails the first fail deliveries, then records the bodies.
type fakeNotifier struct {
	mu      sync.Mutex
	fail    int
	calls   int
	bodies  []string
	headers []map[string]string
	mails   []string // subject: to
}

func (f *fakeNotifier) Mail(_ context.Context, to []string, subject string, body []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.calls <= f.fail {
		return errors.New("554 try later")
	}
	f.mails = append(f.mails, subject+": "+strings.Join(to, ","))
	f.bodies = append(f.bodies, string(body))
	return nil
}

func (f *fakeNotifier) Deliver(_ context.Context, webhook string, headers map[string]string, body []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.calls <= f.fail {
		return errors.New("webhook answered 500 Internal Server Error")
	}
	f.bodies = append(f.bodies, string(body))
	f.headers = append(f.headers, headers)
	return nil
}

// newNotifyingScheduler starts a master with a cipher, its catalog and a
// scheduler with fast loops that delivers notifications through a
// fakeNotifier failing the first fail deliveries.
func newNotifyingScheduler(t *testing.T, fail int) (*Master, *fakeNotifier) {
	t.Helper()
	m := newMasterWith(t, 10*time.Second, newCipher(t))
	c := newCatalog(t, m)
	cfg := DefaultSchedulerConfig()
	cfg.Interval, cfg.DeliveryBackoff = 20*time.Millisecond, 10*time.Millisecond
	fake := &fakeNotifier{fail: fail}
	cfg.Notifier = fake
	s, err := NewScheduler(cfg, m, c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return m, fake
}

const notifyPkg = `name: n
notify: {webhook: "http://127.0.0.1:1/hook", on: [failure], headers: {Authorization: Bearer hdr-secret}}
parameters:
  token: {type: string, sensitive: true}
tasks:
  - name: t
    exec: {command: [/bin/false]}
`

// TestScheduler_ExecutionNotification: an inline package's notify is
// frozen into its execution with the header sealed; when the execution
// fails the leader delivers it (through two failures), with the header
// opened and the sensitive value masked in the message (here the worker
// did not mask it), and records it once.
func TestScheduler_ExecutionNotification(t *testing.T) {
	m, fake := newNotifyingScheduler(t, 2)
	ctx := context.Background()
	id, err := m.Submit(ctx, &api.SubmitRequest{Package: notifyPkg, Params: map[string]string{"token": "tok-s3cret"}}, "me")
	if err != nil {
		t.Fatal(err)
	}
	e, _ := m.Execution(id)
	if e.Notify == nil || !catalog.IsSealed(e.Notify.Headers["Authorization"]) {
		t.Fatalf("stored notify %+v", e.Notify)
	}
	// The parse cache's package is not changed by the sealing.
	if p, _ := m.parsed.parse(ctx, "package.yaml", notifyPkg); p.Notify.Headers["Authorization"] != "Bearer hdr-secret" {
		t.Fatalf("cached package's notify %+v", p.Notify)
	}
	task := leaseOne(t, m)
	if err := m.ReportResult(ctx, id, task.Attempt, &api.ResultReport{Status: api.StatusFailed, Message: "task t failed: tok-s3cret is wrong"}, nil); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, 30*time.Second, "the notification to be recorded", func() (bool, string) {
		e, _ = m.Execution(id)
		return e.Notified != nil, string(e.Status)
	})
	if !e.Notified.Delivered || e.Notified.Attempts != 3 {
		t.Fatalf("recorded %+v", e.Notified)
	}
	fake.mu.Lock()
	defer fake.mu.Unlock()
	if len(fake.bodies) != 1 || fake.headers[0]["Authorization"] != "Bearer hdr-secret" {
		t.Fatalf("deliveries %q %v", fake.bodies, fake.headers)
	}
	if strings.Contains(fake.bodies[0], "tok-s3cret") {
		t.Fatalf("the body holds the sensitive value: %s", fake.bodies[0])
	}
	var n api.Notification
	if err := json.Unmarshal([]byte(fake.bodies[0]), &n); err != nil || n.Execution != id || n.Event != "execution.failed" ||
		n.Message != "task t failed: "+api.Masked+" is wrong" || n.Caller != "me" || n.Run != 0 || n.Schedule != "" {
		t.Fatalf("body %s (%v)", fake.bodies[0], err)
	}
}

// TestScheduler_ExecutionMail: a package notifying by e-mail only is
// mailed (after one failure) with a subject naming the execution.
func TestScheduler_ExecutionMail(t *testing.T) {
	m, fake := newNotifyingScheduler(t, 1)
	ctx := context.Background()
	pkg := "name: m\nnotify: {email: [ops@example.com], on: completion}\ntasks:\n  - name: t\n    exec: {command: [/bin/true]}\n"
	id, err := m.Submit(ctx, &api.SubmitRequest{Package: pkg}, "me")
	if err != nil {
		t.Fatal(err)
	}
	task := leaseOne(t, m)
	if err := m.ReportResult(ctx, id, task.Attempt, &api.ResultReport{Status: api.StatusSucceeded}, nil); err != nil {
		t.Fatal(err)
	}
	var e *catalog.Execution
	poll.Until(t, 30*time.Second, "the mail to be recorded", func() (bool, string) {
		e, _ = m.Execution(id)
		return e.Notified != nil, string(e.Status)
	})
	fake.mu.Lock()
	defer fake.mu.Unlock()
	want := fmt.Sprintf("scaleout: execution %d (m) succeeded: ops@example.com", id)
	if !e.Notified.Delivered || e.Notified.Attempts != 2 || len(fake.mails) != 1 || fake.mails[0] != want {
		t.Fatalf("recorded %+v, mails %q (want %q)", e.Notified, fake.mails, want)
	}
}
