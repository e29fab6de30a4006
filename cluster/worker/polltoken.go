package worker

import (
	"crypto/rand"
	"encoding/hex"
	"strconv"
	"sync"
	"time"

	"github.com/scaleout/scaleout/api"
)

// pollTokens names this worker process's polls and remembers those whose
// answer did not arrive. An answer that is lost (the worker gave up
// waiting, a forwarding agent or the leader died while answering, the
// master failed after leasing) may have leased attempts that never
// started; the worker lists the poll in later polls and the master hands
// those attempts over again instead of expiring them, which would cost an
// attempt and, with no retries left, fail the execution.
type pollTokens struct {
	mu         sync.Mutex
	boot       string // random per process: a restarted worker's tokens never match
	seq        uint64
	unanswered []unansweredPoll // oldest first
}

type unansweredPoll struct {
	token string
	at    time.Time
}

func newPollTokens() *pollTokens {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return &pollTokens{boot: hex.EncodeToString(b[:])}
}

// next returns the token of a new poll and the unanswered polls younger
// than keep (at most api.MaxUnanswered, the newest).
func (p *pollTokens) next(keep time.Duration) (string, []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.seq++
	cut := time.Now().Add(-keep)
	i := 0
	for i < len(p.unanswered) && (p.unanswered[i].at.Before(cut) || len(p.unanswered)-i > api.MaxUnanswered) {
		i++
	}
	p.unanswered = p.unanswered[i:]
	var out []string
	for _, u := range p.unanswered {
		out = append(out, u.token)
	}
	return p.boot + "-" + strconv.FormatUint(p.seq, 10), out
}

// lost records that the answer of the poll token did not arrive.
func (p *pollTokens) lost(token string) {
	p.mu.Lock()
	p.unanswered = append(p.unanswered, unansweredPoll{token: token, at: time.Now()})
	p.mu.Unlock()
}
