package master

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/scaleout/scaleout/api"
	"github.com/scaleout/scaleout/catalog"
	"github.com/scaleout/scaleout/fsm"
)

// Notifications: one delivery loop for schedules' runs and packages'
// executions. The leader's pass finds what is to be delivered in replicated
// indexes (schedule_runs_open, notify_pending), sends each in the
// background with retries and records the outcome with one Raft command,
// after which the index no longer lists it. Nothing but the in-flight
// bookkeeping lives in memory: a new leader finds the rest in the indexes.

// MaxExecutionDeliveries bounds the executions' notifications in flight at
// once on the leader (each a goroutine retrying its webhook); the rest
// wait in the index for a later pass.
const MaxExecutionDeliveries = 64

// notifyKey names a notification: a run's, or an execution's (exec).
type notifyKey struct {
	exec bool
	id   uint64
}

// outbound is one notification to deliver.
type outbound struct {
	key    notifyKey
	notify *catalog.Notify
	// subject is the mail's subject line.
	subject string
	// body builds the JSON body (once, when the first attempt is made).
	body func() ([]byte, error)
	// record proposes the outcome; catalog.ErrExists and ErrNotFound mean
	// there is nothing left to record.
	record func(ctx context.Context, d *catalog.Delivery) error
	log    []any
}

// sealNotify copies a package's notify key with its header values sealed
// (as a schedule's are); nil stays nil. Without a cipher (tests) the values
// stay clear.
func sealNotify(n *catalog.Notify, c *catalog.Cipher) (*catalog.Notify, error) {
	if n == nil {
		return nil, nil
	}
	out := &catalog.Notify{On: slices.Clone(n.On), Webhook: n.Webhook, Email: slices.Clone(n.Email)}
	if len(n.Headers) > 0 {
		out.Headers = make(map[string]string, len(n.Headers))
	}
	for k, v := range n.Headers {
		if c == nil || catalog.IsSealed(v) {
			out.Headers[k] = v
			continue
		}
		sealed, err := c.Seal(v)
		if err != nil {
			return nil, fmt.Errorf("seal notify header %s: %w", k, err)
		}
		out.Headers[k] = sealed
	}
	return out, nil
}

// deliverExecutions starts the deliveries of ended executions listed in
// the notify index, up to MaxExecutionDeliveries in flight.
func (s *Scheduler) deliverExecutions() {
	var todo []*catalog.Execution
	err := s.view(func(tx *catalog.Tx) error {
		s.mu.Lock()
		free := MaxExecutionDeliveries - s.execInFlight
		s.mu.Unlock()
		for id := range tx.NotifyPending() {
			if len(todo) >= free {
				break
			}
			s.mu.Lock()
			busy := s.delivering[notifyKey{exec: true, id: id}]
			s.mu.Unlock()
			if busy {
				continue
			}
			e, err := tx.Execution(id)
			if err != nil {
				return err
			}
			todo = append(todo, e)
		}
		return nil
	})
	if err != nil {
		s.logger.Error("read executions to notify", "error", err)
		return
	}
	for _, e := range todo {
		s.deliverExecution(e)
	}
}

func (s *Scheduler) deliverExecution(e *catalog.Execution) {
	s.deliver(outbound{
		key: notifyKey{exec: true, id: e.ID}, notify: e.Notify,
		subject: fmt.Sprintf("scaleout: execution %d (%s) %s", e.ID, e.PackageName, e.Status),
		body:    func() ([]byte, error) { return json.Marshal(s.m.ExecutionNotification(e)) },
		record: func(ctx context.Context, d *catalog.Delivery) error {
			_, err := s.m.apply(ctx, fsm.ExecutionNotifiedType|fsm.IgnoreUnknownTypeFlag,
				&fsm.ExecutionNotifiedRequest{Time: s.m.now(), ID: e.ID, Delivery: *d})
			return err
		},
		log: []any{"execution", e.ID, "package", e.PackageName},
	})
}

// ExecutionNotification builds the JSON body of an ended execution's
// webhook. Every sensitive value of the execution (parameters, project
// parameters, connection properties, opened here) is masked in its message.
func (m *Master) ExecutionNotification(e *catalog.Execution) api.Notification {
	n := api.Notification{Event: "execution." + string(e.Status), Status: string(e.Status), Created: e.CreatedAt, Ended: e.EndedAt,
		Execution: e.ID, Package: e.PackageName, Folder: e.Folder, Project: e.Project, ProjectVersion: e.ProjectVersion,
		Environment: e.Environment, Caller: e.Caller, Attempts: e.Attempt, Worker: e.Worker, Started: e.StartedAt}
	t, err := m.task(e, e.Attempt)
	if err != nil {
		// Without the clear values nothing can be masked: leave the
		// message out rather than risk a secret in it.
		n.Message = "(message withheld: the execution's sensitive values cannot be opened to mask it: " + err.Error() + ")"
		return n
	}
	n.Message = maskSecrets(e.Message, t.Secrets)
	return n
}

// maskSecrets replaces every secret (longest first) in s with api.Masked.
func maskSecrets(s string, secrets []string) string {
	secrets = slices.Clone(secrets)
	slices.SortFunc(secrets, func(a, b string) int { return len(b) - len(a) })
	for _, v := range secrets {
		if v != "" && strings.Contains(s, v) {
			s = strings.ReplaceAll(s, v, api.Masked)
		}
	}
	return s
}

// deliver sends a notification in the background (at most one delivery in
// flight per run or execution), retrying with backoff while this server
// leads, then records the outcome with one command. A delivery sent but
// not recorded before a leader change is sent again by the next leader: at
// least once. A delivery sent but not recorded by this leader (the record
// failed) is not sent again by it: only the record is retried.
func (s *Scheduler) deliver(o outbound) {
	s.mu.Lock()
	if s.delivering[o.key] {
		s.mu.Unlock()
		return
	}
	s.delivering[o.key] = true
	if o.key.exec {
		s.execInFlight++
	}
	d := s.toRecord[o.key]
	s.mu.Unlock()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer func() {
			s.mu.Lock()
			delete(s.delivering, o.key)
			if o.key.exec {
				s.execInFlight--
			}
			s.mu.Unlock()
		}()
		if d == nil {
			d = s.send(o)
			if d == nil {
				return // no longer leading, or closing
			}
			s.mu.Lock()
			s.toRecord[o.key] = d
			s.mu.Unlock()
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		err := o.record(ctx, d)
		if err == nil || errors.Is(err, catalog.ErrExists) || errors.Is(err, catalog.ErrNotFound) {
			s.mu.Lock()
			delete(s.toRecord, o.key)
			s.mu.Unlock()
			s.logger.Info("notification", append(o.log, "delivered", d.Delivered, "attempts", d.Attempts, "error", d.Error)...)
			return
		}
		s.logger.Warn("record notification", append(o.log, "error", err)...)
	}()
}

// send tries the webhook until it answers or the attempts are spent; nil
// when this server stopped leading or is closing.
func (s *Scheduler) send(o outbound) *catalog.Delivery {
	body, err := o.body()
	if err != nil {
		return &catalog.Delivery{Attempts: 0, Error: err.Error(), Time: s.m.now()}
	}
	headers := maps.Clone(o.notify.Headers)
	for k, v := range headers {
		if !catalog.IsSealed(v) {
			continue
		}
		if headers[k], err = s.c.cfg.Cipher.Open(v); err != nil {
			return &catalog.Delivery{Error: fmt.Sprintf("header %s: %v", k, err), Time: s.m.now()}
		}
	}
	// Each channel (the webhook, the mail) is tried until it has gone
	// through once; the notification is delivered when every one has.
	webhookDone, mailDone := o.notify.Webhook == "", len(o.notify.Email) == 0
	wait := s.cfg.DeliveryBackoff
	var last error
	for attempt := 1; attempt <= s.cfg.DeliveryAttempts; attempt++ {
		if s.m.requireLeader() != nil {
			return nil
		}
		var errs []error
		if s.cfg.Notifier == nil {
			errs = append(errs, errors.New("no notifier configured"))
		} else {
			if !webhookDone {
				ctx, cancel := context.WithTimeout(s.ctx, 30*time.Second)
				err := s.cfg.Notifier.Deliver(ctx, o.notify.Webhook, headers, body)
				cancel()
				webhookDone = err == nil
				if err != nil {
					errs = append(errs, fmt.Errorf("webhook: %w", err))
				}
			}
			if !mailDone {
				ctx, cancel := context.WithTimeout(s.ctx, 30*time.Second)
				err := s.cfg.Notifier.Mail(ctx, o.notify.Email, o.subject, body)
				cancel()
				mailDone = err == nil
				if err != nil {
					errs = append(errs, fmt.Errorf("mail: %w", err))
				}
			}
		}
		if last = errors.Join(errs...); last == nil {
			return &catalog.Delivery{Delivered: true, Attempts: attempt, Time: s.m.now()}
		}
		if s.ctx.Err() != nil {
			return nil // closing: the next leader delivers it
		}
		s.logger.Warn("notification failed", append(o.log, "webhook", api.MaskURL(o.notify.Webhook), "email", o.notify.Email, "attempt", attempt, "error", last)...)
		if attempt == s.cfg.DeliveryAttempts {
			break
		}
		select {
		case <-s.done:
			return nil
		case <-time.After(wait):
		}
		wait = min(2*wait, time.Minute)
	}
	return &catalog.Delivery{Attempts: s.cfg.DeliveryAttempts, Error: last.Error(), Time: s.m.now()}
}
