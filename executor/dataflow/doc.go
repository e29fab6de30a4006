// Package dataflow runs the Data Flow task of a package: a graph of
// components (sources, transformations, destinations) validated by
// catalog/pkgspec, through which rows stream in buffers.
//
// Each component runs in a goroutine of its own. Components are joined by
// channels of at most a few buffers (Batch, 4096 rows by default), so a
// slow destination holds the sources back and the memory of the streaming
// part is bounded by the number of paths, not by the input. Blocking
// components (sort, aggregate, the lookup cache, one key group of a merge
// join) hold rows in memory up to the flow's memory_limit and fail clearly
// beyond it.
//
// A row is a slice of Value, a plain struct, so that moving rows between
// components copies memory and never allocates per cell. Expressions (of
// derived_column and conditional_split) run on compiled expr programs with
// one environment and VM per component.
//
// The package knows nothing of the executor: Env carries the few things it
// needs (paths, connections, expression roots, events). It must not import
// cluster, fsm, api, cmd, raft or bbolt (.ci/check-imports).
package dataflow
