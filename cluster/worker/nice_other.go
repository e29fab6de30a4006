//go:build !linux

package worker

import "github.com/hashicorp/go-hclog"

// lowerPriority is a no-op off Linux: package processes run at the
// agent's priority.
func lowerPriority(int, int, hclog.Logger) {}
