package main

import (
	"cmp"
	"context"
	"errors"
	"os"
	"os/user"

	"github.com/scaleout/scaleout/api"
	"github.com/spf13/cobra"
)

// clientFlags holds the flags every client command shares.
type clientFlags struct {
	address                       string
	caCert, clientCert, clientKey string
	token                         string
}

func (f *clientFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.address, "address", "", "agent API address, https:// for an agent with TLS (default: $SCALEOUT_ADDR, else "+api.DefaultAddress+")")
	cmd.Flags().StringVar(&f.caCert, "ca-cert", "", "PEM file of the cluster CA that signed the agents' certificates (default: $SCALEOUT_CACERT)")
	cmd.Flags().StringVar(&f.clientCert, "client-cert", "", "PEM client certificate for agents with TLS, 'scaleout tls cert create --client' (default: $SCALEOUT_CLIENT_CERT)")
	cmd.Flags().StringVar(&f.clientKey, "client-key", "", "PEM key of --client-cert (default: $SCALEOUT_CLIENT_KEY)")
	cmd.Flags().StringVar(&f.token, "token", "", "ACL token, once 'scaleout acl bootstrap' has run (default: $SCALEOUT_TOKEN)")
}

// tlsConfig is the client's TLS files: each flag, else its variable.
func (f *clientFlags) tlsConfig() *api.TLSConfig {
	t := api.TLSConfigFromEnv()
	t.CACert = cmp.Or(f.caCert, t.CACert)
	t.ClientCert = cmp.Or(f.clientCert, t.ClientCert)
	t.ClientKey = cmp.Or(f.clientKey, t.ClientKey)
	return t
}

func (f *clientFlags) client() (*api.Client, error) {
	addr := f.address
	if addr == "" {
		addr = api.AddressFromEnv()
	}
	c, err := api.NewClient(api.Config{Address: addr, Caller: callerName(), TLS: f.tlsConfig(), Token: f.token})
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
