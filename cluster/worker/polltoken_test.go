package worker

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scaleout/scaleout/api"
)

func TestPollTokens(t *testing.T) {
	p, q := newPollTokens(), newPollTokens()
	a, un := p.next(time.Minute)
	b, _ := p.next(time.Minute)
	c, _ := q.next(time.Minute)
	if a == b || a == c || len(un) != 0 || len(a) > api.MaxPollToken || !strings.HasPrefix(b, p.boot+"-") {
		t.Fatalf("tokens %q %q %q (unanswered %v)", a, b, c, un)
	}
	p.lost(a)
	if _, un = p.next(time.Minute); !slices.Equal(un, []string{a}) {
		t.Fatalf("unanswered %v, want [%s]", un, a)
	}
	// Old ones are forgotten after keep; at most MaxUnanswered are listed,
	// the newest.
	if _, un = p.next(0); len(un) != 0 {
		t.Fatalf("unanswered %v after keep", un)
	}
	for i := range api.MaxUnanswered + 10 {
		p.lost(fmt.Sprint("t", i))
	}
	if _, un = p.next(time.Minute); len(un) != api.MaxUnanswered || un[len(un)-1] != fmt.Sprint("t", api.MaxUnanswered+9) {
		t.Fatalf("%d unanswered, last %q", len(un), un[len(un)-1])
	}
}
