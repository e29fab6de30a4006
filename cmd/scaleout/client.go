package main

import (
	"context"
	"errors"
	"os"
	"os/user"

	"github.com/scaleout/scaleout/api"
	"github.com/spf13/cobra"
)

// clientFlags holds the flags every client command shares.
type clientFlags struct {
	address string
}

func (f *clientFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.address, "address", "", "agent API address (default: $SCALEOUT_ADDR, else "+api.DefaultAddress+")")
}

func (f *clientFlags) client() (*api.Client, error) {
	addr := f.address
	if addr == "" {
		addr = api.AddressFromEnv()
	}
	c, err := api.NewClient(api.Config{Address: addr, Caller: callerName()})
	if err != nil {
		return nil, &exitError{code: exitUsage, err: err}
	}
	return c, nil
}

func callerName() string {
	name := "unknown"
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	if h, err := os.Hostname(); err == nil {
		name += "@" + h
	}
	return name
}

// apiErr turns a client error into an exit code: 4xx answers are the
// caller's problem (2); another answer (5xx: no leader, a storage failure)
// is a failed command (1) whose message says what the agent answered; 3 is
// only for no answer at all (the agent could not be reached).
func apiErr(err error) error {
	if err == nil {
		return nil
	}
	var ae *api.Error
	switch {
	case errors.As(err, &ae) && ae.StatusCode >= 400 && ae.StatusCode < 500:
		return &exitError{code: exitUsage, err: err}
	case errors.As(err, &ae), errors.Is(err, context.Canceled):
		return &exitError{code: exitFailed, err: err}
	}
	return &exitError{code: exitUnreached, err: err}
}
