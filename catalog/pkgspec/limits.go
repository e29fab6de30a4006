package pkgspec

import "go.yaml.in/yaml/v3"

// Limits of one package file. They bound the memory and time a parse takes
// whatever is submitted: an alias bomb of a few hundred bytes would
// otherwise expand to billions of nodes.
const (
	// MaxPackageBytes is the largest package file.
	MaxPackageBytes = 1 << 20
	// MaxNodes is the most YAML nodes a package may hold once its aliases
	// are expanded (each use of an alias counts its whole value again).
	MaxNodes = 250_000
	// MaxTasks is the most tasks of a package, counting the tasks of
	// containers.
	MaxTasks = 10_000
	// MaxExitCode is the largest exit code success_codes may name: an exit
	// status is one byte on Unix.
	MaxExitCode = 255
	// MaxProblems is the most problems a failed parse lists; the rest are
	// counted in a last line.
	MaxProblems = 200
	// MaxDescriptionBytes bounds the description of a package and of a
	// project (catalog.MaxDescriptionBytes is this limit).
	MaxDescriptionBytes = 4 << 10
	// MaxParameters bounds the parameters a package or a project declares
	// (each execution carries a value for each: catalog.MaxParams is this
	// limit), MaxConnections the connections each declares.
	MaxParameters  = 1024
	MaxConnections = 1024
)

// expandedNodes counts the nodes of the tree under n with every alias
// expanded, stopping once the count is over max. It also returns the line
// of the node where the count went over (0 if it did not). Each distinct
// node is counted once and its expanded size remembered, so the work is
// linear in the size of the document however the aliases nest.
func expandedNodes(n *yaml.Node, max int) (int, int) {
	memo := map[*yaml.Node]int{}
	line := 0
	var size func(n *yaml.Node) int
	size = func(n *yaml.Node) int {
		if n == nil {
			return 0
		}
		if s, ok := memo[n]; ok {
			return s
		}
		memo[n] = max + 1 // a cycle (refused by the YAML decoder) counts as too many
		s := 1
		if n.Kind == yaml.AliasNode {
			s += size(n.Alias)
		}
		for _, c := range n.Content {
			if s += size(c); s > max {
				break
			}
		}
		if s > max {
			s = max + 1
			if line == 0 {
				line = n.Line
			}
		}
		memo[n] = s
		return s
	}
	return size(n), line
}

// done reports whether the parse's context has ended.
func (p *parser) done() bool { return p.ctx != nil && p.ctx.Err() != nil }
