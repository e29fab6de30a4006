package dataflow

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/scaleout/scaleout/catalog/pkgspec"
)

// Event kinds passed to Env.Event.
const (
	// EventRowsSent reports the rows sent along one path so far (SSIS
	// OnPipelineRowsSent); verbose.
	EventRowsSent = "rows_sent"
	// EventProgress reports rows read and written so far.
	EventProgress = "progress"
	// EventSummary carries the table of rows and elapsed time per
	// component at the end.
	EventSummary = "summary"
	// EventWarning reports something that did not fail the flow.
	EventWarning = "warning"
	// EventInformation reports what a component did (a lookup's queries
	// and cache hits).
	EventInformation = "information"
)

// Env is what a data flow needs from the task that runs it. Every
// function must be safe for concurrent use.
type Env struct {
	// Path expands a path template and resolves it against the project or
	// work directory, checking that it is allowed.
	Path func(field, tpl string) (string, error)
	// Value evaluates a template keeping its type (SQL parameters).
	Value func(field, tpl string) (any, error)
	// DB returns the pool and driver (a pkgspec.Driver*) of a connection.
	DB func(name string) (*sql.DB, string, error)
	// Query runs a query with ? markers bound to the values of the
	// parameter templates on a connection.
	Query func(ctx context.Context, conn, query string, params []string) (*sql.Rows, error)
	// Prepare prepares a statement whose ? markers are rewritten into the
	// connection driver's; the caller closes it. Lookups without a full
	// cache run it per row.
	Prepare func(ctx context.Context, conn, stmt string) (*sql.Stmt, error)
	// Roots are the expression roots besides columns: param, vars, sys.
	Roots map[string]any
	// Event receives events; nil drops them.
	Event func(kind, msg string)
	// ProgressEvery is the interval of progress events; 0 means 5s.
	ProgressEvery time.Duration
}

// Stats is the outcome of a data flow run.
type Stats struct {
	Components []*ComponentStats // in the flow's order
	// RowCounts holds the value of each row_count variable.
	RowCounts map[string]int64
	// Recordsets holds the rows of each recordset_destination variable: a
	// list of maps from column name to value, as a sql task's rowset.
	Recordsets map[string][]any
	Elapsed    time.Duration
}

// ComponentStats counts the rows of one component.
type ComponentStats struct {
	Name, Type string
	RowsIn     int64
	Outputs    []OutputStats
	// Elapsed is the time the component spent working, not waiting for
	// rows or for room downstream.
	Elapsed time.Duration
}

// OutputStats counts the rows sent on one output.
type OutputStats struct {
	Name string
	To   string // the reading component, "" when nothing reads it
	Rows int64
}

// Written returns the rows that reached destinations.
func (s *Stats) Written() int64 {
	var n int64
	for _, c := range s.Components {
		if pkgspec.IsDestination(c.Type) {
			n += c.RowsIn
		}
	}
	return n
}

// Table formats the stats as an aligned text table.
func (s *Stats) Table() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-20s %-22s %12s  %-40s %10s\n", "component", "type", "rows in", "rows out", "elapsed")
	for _, c := range s.Components {
		var outs []string
		for _, o := range c.Outputs {
			if o.To == "" && o.Rows == 0 {
				continue
			}
			to := ""
			if o.To == "" {
				to = " (unused)"
			}
			outs = append(outs, fmt.Sprintf("%s %d%s", o.Name, o.Rows, to))
		}
		in := fmt.Sprint(c.RowsIn)
		if pkgspec.IsSource(c.Type) {
			in = "-"
		}
		fmt.Fprintf(&b, "%-20s %-22s %12s  %-40s %10s\n", c.Name, c.Type, in, strings.Join(outs, ", "), c.Elapsed.Round(time.Millisecond))
	}
	return strings.TrimRight(b.String(), "\n")
}

// chanDepth is the number of buffers a path holds besides the one being
// filled and the one being read: the backpressure bound.
const chanDepth = 4

// node is a component being run.
type node struct {
	c      *pkgspec.Component
	flow   *pkgspec.DataFlowTask
	env    *Env
	ins    []chan *Batch
	outs   []*port
	rowsIn atomic.Int64
	waited time.Duration
	stats  *ComponentStats
	// rowCount is the row_count result.
	rowCount int64
	// recordset is the recordset_destination's rows (maps by column).
	recordset []any
	pools     pools
}

// pools recycle buffers by row width: a buffer goes back once the
// component that received it has read every row, which keeps the garbage
// collector's work flat. The map is filled before the components start.
type pools map[int]*sync.Pool

func (ps pools) get(w, size int) *Batch {
	if b, ok := ps[w].Get().(*Batch); ok {
		b.N = 0
		return b
	}
	return newBatch(w, size)
}

func (ps pools) put(b *Batch) {
	if p := ps[b.W]; p != nil && len(b.V) > 0 {
		p.Put(b)
	}
}

// port is one output of a node.
type port struct {
	name string
	ch   chan *Batch // nil when nothing reads the output
	to   string
	w    int
	size int
	cur  *Batch
	rows atomic.Int64
	n    *node
}

// slot returns the next row of the output's buffer for the caller to fill,
// sending the buffer downstream first when it is full.
func (p *port) slot(ctx context.Context) ([]Value, error) {
	if p.cur != nil && p.cur.N == p.size {
		if err := p.flush(ctx); err != nil {
			return nil, err
		}
	}
	if p.cur == nil {
		p.cur = p.n.pools.get(p.w, p.size)
	}
	i := p.cur.N
	p.cur.N++
	return p.cur.V[i*p.w : (i+1)*p.w : (i+1)*p.w], nil
}

// undo takes back the last slot.
func (p *port) undo() { p.cur.N-- }

// put copies row into the output.
func (p *port) put(ctx context.Context, row []Value) error {
	dst, err := p.slot(ctx)
	if err != nil {
		return err
	}
	copy(dst, row)
	return nil
}

// flush sends the current buffer.
func (p *port) flush(ctx context.Context) error {
	b := p.cur
	if b == nil || b.N == 0 {
		return nil
	}
	p.rows.Add(int64(b.N))
	if p.ch == nil {
		b.N = 0 // nothing reads it: reuse the buffer
		return nil
	}
	p.cur = nil
	t := time.Now()
	select {
	case p.ch <- b:
	case <-ctx.Done():
		return context.Cause(ctx)
	}
	p.n.waited += time.Since(t)
	return nil
}

// recv returns the next buffer of input i, or nil at its end.
func (n *node) recv(ctx context.Context, i int) (*Batch, error) {
	t := time.Now()
	select {
	case b, ok := <-n.ins[i]:
		n.waited += time.Since(t)
		if !ok {
			return nil, nil
		}
		n.rowsIn.Add(int64(b.N))
		return b, nil
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	}
}

// each calls fn for every row of input 0.
func (n *node) each(ctx context.Context, fn func(row []Value) error) error {
	for {
		b, err := n.recv(ctx, 0)
		if err != nil || b == nil {
			return err
		}
		for i := 0; i < b.N; i++ {
			if err := fn(b.V[i*b.W : (i+1)*b.W : (i+1)*b.W]); err != nil {
				return err
			}
		}
		n.pools.put(b) // fn copies what it keeps
	}
}

// out returns the port of the output called name.
func (n *node) out(name string) *port {
	for _, p := range n.outs {
		if p.name == name {
			return p
		}
	}
	panic("dataflow: no output " + name + " on " + n.c.Name)
}

// sourceRow converts one row a source read into the next slot of out:
// value(i) is the declared column i as read, raw(i) what an error row shows
// of it. A value that does not convert is NULL with on_error: ignore;
// otherwise the row is taken back and handed to rowFailed, described as
// "<unit> <no>" (line 3, row 7).
func (n *node) sourceRow(ctx context.Context, out *port, raw []Value, unit string, no int, value, rawAt func(i int) any) error {
	dst, err := out.slot(ctx)
	if err != nil {
		return err
	}
	for i, c := range n.c.SourceCols {
		x := value(i)
		v, code := fromAny(x, c.Type)
		if code == 0 {
			dst[i] = v
			continue
		}
		if n.c.OnError == pkgspec.OnErrorIgnore {
			dst[i] = Value{Null: true}
			continue
		}
		out.undo()
		for k := range n.c.SourceCols {
			y := rawAt(k)
			raw[k] = Value{S: fmt.Sprint(y), Null: y == nil}
		}
		return n.rowFailed(ctx, raw, &rowError{code: code, column: c.Name, desc: fmt.Sprintf("%s %d: %s", unit, no, codeText(code, fmt.Sprint(x), c.Type))})
	}
	return nil
}

// writeRows calls add for every input row to append its text to *buf, and
// writes *buf to w whenever it holds 32 KiB, and at the end.
func (n *node) writeRows(ctx context.Context, w io.Writer, buf *[]byte, add func(row []Value)) error {
	err := n.each(ctx, func(row []Value) error {
		add(row)
		if len(*buf) >= 1<<15 {
			if _, err := w.Write(*buf); err != nil {
				return err
			}
			*buf = (*buf)[:0]
		}
		return nil
	})
	if err == nil && len(*buf) > 0 {
		_, err = w.Write(*buf)
	}
	return err
}

// rowFailed handles a failing row by the component's on_error: fail
// returns the error; redirect sends in plus the error columns to the error
// output; ignore does nothing (the caller sets the column NULL).
func (n *node) rowFailed(ctx context.Context, in []Value, e *rowError) error {
	switch n.c.OnError {
	case pkgspec.OnErrorRedirect:
		dst, err := n.out(pkgspec.OutputError).slot(ctx)
		if err != nil {
			return err
		}
		k := copy(dst, in)
		dst[k] = Value{I: int64(e.code)}
		dst[k+1] = Value{S: e.column}
		dst[k+2] = Value{S: e.desc}
		return nil
	case pkgspec.OnErrorIgnore:
		return nil
	}
	return fmt.Errorf("%w (on_error: fail; use ignore or redirect to let the row through)", e)
}

// Run runs the data flow until every component has finished, ctx is
// canceled, or a component fails (which stops the others). It returns the
// statistics in both cases.
func Run(ctx context.Context, flow *pkgspec.DataFlowTask, env Env) (*Stats, error) {
	if len(flow.Order) != len(flow.Components) {
		return nil, errors.New("data flow is not validated (parse it with pkgspec)")
	}
	if env.Event == nil {
		env.Event = func(string, string) {}
	}
	if env.ProgressEvery <= 0 {
		env.ProgressEvery = 5 * time.Second
	}
	size := flow.BufferRows
	if size <= 0 {
		size = pkgspec.DefaultBufferRows
	}
	start := time.Now()
	nodes := make(map[string]*node, len(flow.Order))
	var order []*node
	stats := &Stats{RowCounts: map[string]int64{}, Recordsets: map[string][]any{}}
	ps := pools{}
	for _, c := range flow.Order {
		for _, o := range c.Outputs {
			if ps[len(o.Columns)] == nil {
				ps[len(o.Columns)] = &sync.Pool{}
			}
		}
	}
	for _, c := range flow.Order {
		n := &node{c: c, flow: flow, env: &env, stats: &ComponentStats{Name: c.Name, Type: c.Type}, pools: ps}
		for _, o := range c.Outputs {
			p := &port{name: o.Name, w: len(o.Columns), size: size, n: n}
			n.outs = append(n.outs, p)
		}
		nodes[c.Name] = n
		order = append(order, n)
		stats.Components = append(stats.Components, n.stats)
	}
	for _, n := range order {
		for _, in := range n.c.Inputs {
			up := nodes[in.Component]
			p := up.out(in.Output)
			p.ch = make(chan *Batch, chanDepth)
			p.to = n.c.Name
			n.ins = append(n.ins, p.ch)
		}
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	for _, n := range order {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := time.Now()
			err := n.run(ctx)
			if err == nil {
				for _, p := range n.outs {
					if err = p.flush(ctx); err != nil {
						break
					}
				}
			}
			for _, p := range n.outs {
				if p.ch != nil {
					close(p.ch)
				}
			}
			n.stats.Elapsed = max(time.Since(t)-n.waited, 0)
			if err != nil {
				mu.Lock()
				if first == nil && ctx.Err() == nil {
					first = fmt.Errorf("component %q (%s): %w", n.c.Name, n.c.Type, err)
				}
				mu.Unlock()
				cancel(err)
				return
			}
			// A component that stops early (top) leaves its input: drain it
			// so that upstream components finish.
			for _, ch := range n.ins {
				for b := range ch {
					n.rowsIn.Add(int64(b.N))
				}
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	tick := time.NewTicker(env.ProgressEvery)
	defer tick.Stop()
loop:
	for {
		select {
		case <-done:
			break loop
		case <-tick.C:
			progress(&env, order, time.Since(start))
		}
	}
	stats.Elapsed = time.Since(start)
	for _, n := range order {
		n.stats.RowsIn = n.rowsIn.Load()
		for _, p := range n.outs {
			n.stats.Outputs = append(n.stats.Outputs, OutputStats{Name: p.name, To: p.to, Rows: p.rows.Load()})
			if p.to != "" {
				env.Event(EventRowsSent, fmt.Sprintf("path %s.%s -> %s: %d rows sent", n.c.Name, p.name, p.to, p.rows.Load()))
			}
		}
		if n.c.Type == pkgspec.CompRowCount {
			stats.RowCounts[n.c.RowCount] = n.rowCount
		}
		if n.c.Type == pkgspec.CompRecordsetDest {
			stats.Recordsets[n.c.Recordset] = n.recordset
		}
	}
	if first == nil && ctx.Err() != nil {
		first = context.Cause(ctx)
	}
	return stats, first
}

// progress reports the rows read by sources and written by destinations.
func progress(env *Env, order []*node, took time.Duration) {
	var parts []string
	for _, n := range order {
		switch {
		case pkgspec.IsSource(n.c.Type):
			var rows int64
			for _, p := range n.outs {
				rows += p.rows.Load()
			}
			parts = append(parts, fmt.Sprintf("%s read %d", n.c.Name, rows))
		case pkgspec.IsDestination(n.c.Type):
			parts = append(parts, fmt.Sprintf("%s wrote %d", n.c.Name, n.rowsIn.Load()))
		}
		for _, p := range n.outs {
			if p.to != "" {
				env.Event(EventRowsSent, fmt.Sprintf("path %s.%s -> %s: %d rows sent", n.c.Name, p.name, p.to, p.rows.Load()))
			}
		}
	}
	env.Event(EventProgress, fmt.Sprintf("after %s: %s", took.Round(time.Second), strings.Join(parts, ", ")))
}

// run runs the component's work.
func (n *node) run(ctx context.Context) error {
	switch n.c.Type {
	case pkgspec.CompFlatFileSource:
		return n.flatFileSource(ctx)
	case pkgspec.CompJSONSource:
		return n.jsonSource(ctx)
	case pkgspec.CompSQLSource:
		return n.sqlSource(ctx)
	case pkgspec.CompExcelSource:
		return n.excelSource(ctx)
	case pkgspec.CompParquetSource:
		return n.parquetSource(ctx)
	case pkgspec.CompParquetDest:
		return n.parquetDest(ctx)
	case pkgspec.CompDerivedColumn:
		return n.derivedColumn(ctx)
	case pkgspec.CompConditionalSplt:
		return n.conditionalSplit(ctx)
	case pkgspec.CompDataConversion:
		return n.dataConversion(ctx)
	case pkgspec.CompLookup:
		return n.lookup(ctx)
	case pkgspec.CompMergeJoin:
		return n.mergeJoin(ctx)
	case pkgspec.CompSort:
		return n.sort(ctx)
	case pkgspec.CompAggregate:
		return n.aggregate(ctx)
	case pkgspec.CompUnionAll:
		return n.unionAll(ctx)
	case pkgspec.CompMulticast:
		return n.multicast(ctx)
	case pkgspec.CompRowCount:
		return n.each(ctx, func(row []Value) error {
			n.rowCount++
			return n.outs[0].put(ctx, row)
		})
	case pkgspec.CompTop:
		return n.top(ctx)
	case pkgspec.CompFlatFileDest:
		return n.flatFileDest(ctx)
	case pkgspec.CompJSONDest:
		return n.jsonDest(ctx)
	case pkgspec.CompSQLDest:
		return n.sqlDest(ctx)
	case pkgspec.CompSQLCommand:
		return n.sqlCommand(ctx)
	case pkgspec.CompRecordsetDest:
		return n.recordsetDest(ctx)
	}
	return fmt.Errorf("unknown component type %q", n.c.Type)
}
