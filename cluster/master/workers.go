package master

import (
	"context"

	"github.com/scaleout/scaleout/catalog"
	"github.com/scaleout/scaleout/catalog/service"
	"github.com/scaleout/scaleout/fsm"
)

// Registered workers: the catalog's list with the leader's soft state.

func (m *Master) catalogWorkers() ([]*catalog.Worker, error) {
	return catalog.Read(m.store, (*catalog.Tx).Workers)
}

// Workers lists registered workers with the leader's soft state: when it last
// heard from each and how many attempts each holds.
func (m *Master) Workers() ([]service.WorkerStatus, error) {
	list, err := m.catalogWorkers()
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	running := map[string]int{}
	for _, l := range m.leases {
		running[l.worker]++
	}
	out := make([]service.WorkerStatus, 0, len(list))
	for _, w := range list {
		out = append(out, service.WorkerStatus{Worker: *w, LastSeen: m.lastSeen[w.ID], Running: running[w.ID]})
	}
	return out, nil
}

// SetWorkerEnabled enables or disables a worker.
func (m *Master) SetWorkerEnabled(ctx context.Context, id string, enabled bool) error {
	_, err := m.apply(ctx, fsm.WorkerEnableType, &fsm.WorkerEnableRequest{Time: m.now(), ID: id, Enabled: enabled})
	return err
}

// RemoveWorker forgets a worker. A live agent registers again at its next
// poll; disable a worker to keep it from getting tasks.
func (m *Master) RemoveWorker(ctx context.Context, id string) error {
	_, err := m.apply(ctx, fsm.WorkerRemoveType, &fsm.WorkerRemoveRequest{Time: m.now(), ID: id})
	if err == nil {
		// What the leader remembers of its polls goes with it (a worker
		// that registers again starts afresh).
		m.mu.Lock()
		delete(m.lastSeen, id)
		delete(m.newest, id)
		m.mu.Unlock()
	}
	return err
}
