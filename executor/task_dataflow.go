package executor

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/scaleout/scaleout/catalog/pkgspec"
	"github.com/scaleout/scaleout/executor/dataflow"
)

// dataflowTask runs a Data Flow task with executor/dataflow: paths are
// resolved like file task paths, connections like sql task connections,
// and row_count and recordset_destination variables are set when the flow
// has succeeded.
func (tc *taskCtx) dataflowTask(ctx context.Context) taskOut {
	env, err := tc.env()
	if err != nil {
		return failed("%v", err)
	}
	name := tc.name()
	r := tc.pr.r
	denv := dataflow.Env{
		Path:  tc.path,
		Value: tc.value,
		DB: func(conn string) (*sql.DB, string, error) {
			c, err := tc.connection(conn)
			if err != nil {
				return nil, "", err
			}
			db, err := r.db(c)
			if err != nil {
				return nil, "", fmt.Errorf("connection %q: %w", conn, err)
			}
			return db, c.Driver, nil
		},
		Query: func(ctx context.Context, conn, query string, params []string) (*sql.Rows, error) {
			p, err := tc.prepare(&pkgspec.SQLTask{Connection: conn, Statement: query, Params: params}, "query")
			if err != nil {
				return nil, err
			}
			return p.db.QueryContext(ctx, p.stmt, p.args...)
		},
		Prepare: func(ctx context.Context, conn, stmt string) (*sql.Stmt, error) {
			c, err := tc.connection(conn)
			if err != nil {
				return nil, err
			}
			db, err := r.db(c)
			if err != nil {
				return nil, fmt.Errorf("connection %q: %w", conn, err)
			}
			stmt, _ = placeholders(c.Driver, stmt)
			r.emit(EventDiagnostic, name, fmt.Sprintf("prepare on %q: %s", conn, stmt))
			return db.PrepareContext(ctx, stmt)
		},
		Roots: map[string]any{
			pkgspec.RootParam: env[pkgspec.RootParam],
			pkgspec.RootVars:  env[pkgspec.RootVars],
			pkgspec.RootSys:   env[pkgspec.RootSys],
		},
		Event: func(kind, msg string) {
			switch kind {
			case dataflow.EventRowsSent:
				r.emit(EventDiagnostic, name, msg)
			case dataflow.EventProgress:
				r.emit(EventProgress, name, msg)
			case dataflow.EventWarning:
				r.emit(EventWarning, name, msg)
			default:
				r.emit(EventInformation, name, msg)
			}
		},
		ProgressEvery: tc.pr.r.dataflowProgress,
	}
	stats, err := dataflow.Run(ctx, tc.task.DataFlow, denv)
	var out taskOut
	if stats != nil {
		r.emit(EventInformation, name, fmt.Sprintf("data flow summary (%s):\n%s", roundDuration(stats.Elapsed), stats.Table()))
		comps := map[string]any{}
		for _, c := range stats.Components {
			outs := map[string]any{}
			for _, o := range c.Outputs {
				outs[o.Name] = int(o.Rows)
			}
			comps[c.Name] = map[string]any{"rows_in": int(c.RowsIn), "outputs": outs, "elapsed": c.Elapsed.Seconds()}
		}
		written := int(stats.Written())
		out.info = map[string]any{"rows": written, "components": comps}
		out.result = written
		out.summary = fmt.Sprintf("%s written", plural(written, "row"))
	}
	if err != nil {
		out.state, out.msg = stateFailed, err.Error()
		return out
	}
	for v, n := range stats.RowCounts {
		if err := tc.set(v, int(n)); err != nil {
			return failed("row_count %s: %v", v, err)
		}
	}
	for v, rows := range stats.Recordsets {
		if rows == nil {
			rows = []any{}
		}
		if err := tc.set(v, rows); err != nil {
			return failed("recordset_destination %s: %v", v, err)
		}
	}
	out.state = stateSucceeded
	return out
}
