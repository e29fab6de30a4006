// Command latreport reads the stamps a -tags lattrace build wrote
// (internal/lattrace) and prints, for the executions the bench ran one at a
// time, the median and 90th percentile of each stage of their path, in
// path order, and what that adds up to.
//
//	go run ./internal/lattrace/cmd/latreport [-skip 5] /tmp/lattrace.log
package main

import (
	"bufio"
	"cmp"
	"flag"
	"fmt"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// order is the path of one execution; stamps with id 0 (taken before the
// id is known) belong to the execution whose submission came last before.
var order = []string{
	"b.t0", "m.sub.in", "m.sub.prop", "m.poll.wake", "m.lease.prop", "m.sub.applied", "m.lease.applied", "m.poll.ret",
	"w.polled", "w.run", "w.prepared", "w.child", "w.sent", "c.job", "c.parsed", "x.fork", "x.started", "x.waited",
	"x.drained", "c.ran", "w.result", "c.resline", "w.report", "w.saved", "m.res.in", "m.fin.prop", "m.fin.applied",
	"w.delivered", "b.seen",
}

type stamp struct {
	t     int64
	id    uint64
	stage string
}

func main() {
	skip := flag.Int("skip", 5, "executions at the start not counted (warm-up)")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: latreport [-skip N] FILE")
		os.Exit(2)
	}
	f, err := os.Open(flag.Arg(0))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer f.Close()
	var all []stamp
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		p := strings.Fields(sc.Text())
		if len(p) != 4 {
			continue
		}
		t, err1 := strconv.ParseInt(p[0], 10, 64)
		id, err2 := strconv.ParseUint(p[2], 10, 64)
		if err1 != nil || err2 != nil {
			continue
		}
		all = append(all, stamp{t, id, p[3]})
	}
	slices.SortFunc(all, func(a, b stamp) int { return cmp.Compare(a.t, b.t) })
	var t0s []stamp
	for _, s := range all {
		if s.stage == "b.t0" {
			t0s = append(t0s, s)
		}
	}
	by := map[uint64]map[string]int64{}
	for _, s := range all {
		id := s.id
		if id == 0 {
			k := sort.Search(len(t0s), func(i int) bool { return t0s[i].t > s.t }) - 1
			if k < 0 {
				continue
			}
			id = t0s[k].id
		}
		if by[id] == nil {
			by[id] = map[string]int64{}
		}
		if _, seen := by[id][s.stage]; !seen {
			by[id][s.stage] = s.t
		}
	}
	if len(t0s) <= *skip {
		fmt.Fprintln(os.Stderr, "not enough executions")
		os.Exit(1)
	}
	type pair struct{ from, to string }
	deltas := map[pair][]float64{}
	var pairs []pair
	var ends []float64
	for _, t0 := range t0s[*skip:] {
		d := by[t0.id]
		prev := ""
		for _, s := range order {
			t, ok := d[s]
			if !ok {
				continue
			}
			if prev != "" {
				p := pair{prev, s}
				if _, seen := deltas[p]; !seen {
					pairs = append(pairs, p)
				}
				deltas[p] = append(deltas[p], float64(t-d[prev])/1e6)
			}
			prev = s
		}
		if t, ok := d["m.fin.prop"]; ok {
			ends = append(ends, float64(t-t0.t)/1e6)
		}
	}
	n := len(t0s) - *skip
	fmt.Printf("%d executions; submission to the leader's end stamp (the bench's 'end'): p50 %.2f ms\n", n, pct(ends, 50))
	idx := func(s string) int { return slices.Index(order, s) }
	slices.SortFunc(pairs, func(a, b pair) int {
		return cmp.Or(cmp.Compare(idx(a.from), idx(b.from)), cmp.Compare(idx(a.to), idx(b.to)))
	})
	sum := 0.0
	for _, p := range pairs {
		v := deltas[p]
		if len(v) < n/2 {
			continue // a path few executions took
		}
		sum += pct(v, 50)
		fmt.Printf("%-16s -> %-16s n=%4d  p50 %6.3f ms  p90 %6.3f ms  sum of p50s %6.2f ms\n", p.from, p.to, len(v), pct(v, 50), pct(v, 90), sum)
	}
}

func pct(v []float64, q int) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	return s[min(len(s)-1, len(s)*q/100)]
}
