package api

import (
	"context"
	"fmt"
	"net/http"
)

// StartResponse is the answer of POST /v1/executions/{id}/start: the
// execution's status afterwards (pending).
type StartResponse struct {
	Status string `json:"status"`
}

// Start queues an execution created with start=false.
func (e *Executions) Start(ctx context.Context, id uint64) (string, error) {
	var out StartResponse
	err := e.c.do(ctx, http.MethodPost, fmt.Sprintf("/v1/executions/%d/start", id), nil, struct{}{}, &out)
	return out.Status, err
}

// Set changes the values, targets or priority of an execution created
// with start=false, before it starts.
func (e *Executions) Set(ctx context.Context, id uint64, req *SetExecutionRequest) error {
	return e.c.do(ctx, http.MethodPost, fmt.Sprintf("/v1/executions/%d/values", id), nil, req, nil)
}

// Caps is the handle of the concurrency caps (GET/PUT /v1/caps).
type Caps struct{ c *Client }

// Caps returns the caps handle.
func (c *Client) Caps() *Caps { return &Caps{c} }

// List returns the configured caps with the executions running under each.
func (c *Caps) List(ctx context.Context) ([]CapStatus, error) {
	return getList[CapStatus](ctx, c.c, "/v1/caps")
}

// Set sets a cap; MaxConcurrent 0 removes it.
func (c *Caps) Set(ctx context.Context, cp Cap) error {
	return c.c.do(ctx, http.MethodPut, "/v1/caps", nil, &cp, nil)
}
