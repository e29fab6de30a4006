package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/scaleout/scaleout/catalog"
	"github.com/scaleout/scaleout/cluster/tlsutil"
	"github.com/spf13/cobra"
)

func newTLSCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "tls",
		Short: "Built-in certificate authority: create the CA and the agents' and clients' certificates",
		Long: `scaleout has its own certificate authority, as Nomad and Consul do. Every
certificate is ECDSA P-256 and names its role (server, worker or client) in a
URI SAN (urn:scaleout:role:<role>) and in its subject's OU:

  server  joins Raft, serves the API, forwards to the leader
          (tls_cert of a server agent)
  worker  serves a worker-only agent's API and polls for work
          (tls_cert of an agent started with --server=false)
  client  uses the API (the CLI's --client-cert, SCALEOUT_CLIENT_CERT)

'scaleout tls init --nodes a,b,c' writes everything a three-server cluster
needs in one step. Keys are written with mode 0600; existing files are only
replaced with --force. docs/SECURITY.md describes setup and rotation.`,
	}
	ca := &cobra.Command{Use: "ca", Short: "Create the cluster's certificate authority"}
	ca.AddCommand(newTLSCACreateCmd())
	cert := &cobra.Command{Use: "cert", Short: "Create certificates signed by the cluster's CA"}
	cert.AddCommand(newTLSCertCreateCmd())
	cmd.AddCommand(ca, cert, newTLSInitCmd())
	return cmd
}

func newTLSCACreateCmd() *cobra.Command {
	var dir string
	var days int
	var force bool
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Create a CA: ca.pem (give it to every agent and client) and ca-key.pem (keep it safe)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			certPEM, keyPEM, err := tlsutil.CreateCA(time.Duration(days) * 24 * time.Hour)
			if err != nil {
				return exitf(exitFailed, "create CA: %v", err)
			}
			return writeOutFiles(cmd.OutOrStdout(), force, []outFile{
				{filepath.Join(dir, "ca.pem"), certPEM, 0o644}, {filepath.Join(dir, "ca-key.pem"), keyPEM, 0o600}})
		},
	}
	cmd.Flags().StringVar(&dir, "dir", ".", "directory to write the files into")
	cmd.Flags().IntVar(&days, "days", int(tlsutil.DefaultCAValidity/(24*time.Hour)), "days the CA is valid")
	cmd.Flags().BoolVar(&force, "force", false, "replace existing files")
	return cmd
}

type certFlags struct {
	server, worker, client bool
	node, dir, ca, caKey   string
	ips, dns               []string
	days                   int
	force                  bool
}

func newTLSCertCreateCmd() *cobra.Command {
	var f certFlags
	cmd := &cobra.Command{
		Use:   "create --server|--worker|--client",
		Short: "Create a certificate and its key for an agent or a client, signed by the CA",
		Long: `Create a certificate and its key, signed by the CA (--ca, --ca-key), into
--dir as <role>-<node>.pem and <role>-<node>-key.pem.

Server and worker certificates hold 127.0.0.1, ::1 and localhost, plus every
--ip and --dns: give the addresses clients use to reach the agent's API (with
https:// the CLI checks the address against them). Server certificates also
hold the name ` + tlsutil.ServerName + `, which servers check when they dial each
other's Raft port.`,
		Example: `  scaleout tls cert create --server --node a --ip 10.0.0.1
  scaleout tls cert create --worker --node w1 --ip 10.0.1.7
  scaleout tls cert create --client --node alice`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runCertCreate(cmd.OutOrStdout(), &f) },
	}
	fl := cmd.Flags()
	fl.BoolVar(&f.server, "server", false, "a server agent's certificate (joins Raft)")
	fl.BoolVar(&f.worker, "worker", false, "a worker-only agent's certificate (polls for work)")
	fl.BoolVar(&f.client, "client", false, "a client's certificate (uses the API)")
	fl.StringVar(&f.node, "node", "", "node name of the agent (required for --server and --worker); user name for --client (default: client)")
	fl.StringArrayVar(&f.ips, "ip", nil, "IP address the agent is reached at (repeatable)")
	fl.StringArrayVar(&f.dns, "dns", nil, "DNS name the agent is reached at (repeatable)")
	fl.StringVar(&f.ca, "ca", "ca.pem", "CA certificate")
	fl.StringVar(&f.caKey, "ca-key", "ca-key.pem", "CA key")
	fl.StringVar(&f.dir, "dir", ".", "directory to write the files into")
	fl.IntVar(&f.days, "days", int(tlsutil.DefaultCertValidity/(24*time.Hour)), "days the certificate is valid (at most as long as the CA)")
	fl.BoolVar(&f.force, "force", false, "replace existing files")
	return cmd
}

func runCertCreate(out io.Writer, f *certFlags) error {
	role := ""
	for _, r := range []struct {
		on   bool
		role string
	}{{f.server, tlsutil.RoleServer}, {f.worker, tlsutil.RoleWorker}, {f.client, tlsutil.RoleClient}} {
		if r.on {
			if role != "" {
				return exitf(exitUsage, "give exactly one of --server, --worker and --client")
			}
			role = r.role
		}
	}
	switch {
	case role == "":
		return exitf(exitUsage, "give one of --server, --worker and --client")
	case role == tlsutil.RoleClient && f.node == "":
		f.node = "client"
	case f.node == "":
		return exitf(exitUsage, "--node is required for a %s certificate", role)
	case role == tlsutil.RoleClient && (len(f.ips) > 0 || len(f.dns) > 0):
		return exitf(exitUsage, "--ip and --dns are for agents' certificates; a client certificate names no address")
	}
	caPEM, err := os.ReadFile(f.ca)
	if err != nil {
		return exitf(exitUsage, "read CA certificate: %v (create one with 'scaleout tls ca create')", err)
	}
	caKeyPEM, err := os.ReadFile(f.caKey)
	if err != nil {
		return exitf(exitUsage, "read CA key: %v", err)
	}
	ips, err := parseIPs(f.ips)
	if err != nil {
		return err
	}
	files, err := issue(caPEM, caKeyPEM, f.dir, tlsutil.CertRequest{Role: role, Node: f.node, IPs: ips, DNS: f.dns,
		Validity: time.Duration(f.days) * 24 * time.Hour})
	if err != nil {
		return err
	}
	return writeOutFiles(out, f.force, files)
}

// issue creates one certificate and returns its two files.
func issue(caPEM, caKeyPEM []byte, dir string, req tlsutil.CertRequest) ([]outFile, error) {
	certPEM, keyPEM, err := tlsutil.CreateCert(caPEM, caKeyPEM, req)
	if err != nil {
		return nil, exitf(exitUsage, "create certificate: %v", err)
	}
	base := filepath.Join(dir, req.Role+"-"+req.Node)
	return []outFile{{base + ".pem", certPEM, 0o644}, {base + "-key.pem", keyPEM, 0o600}}, nil
}

func parseIPs(raw []string) ([]net.IP, error) {
	var out []net.IP
	for _, s := range raw {
		for _, p := range strings.Split(s, ",") {
			ip := net.ParseIP(strings.TrimSpace(p))
			if ip == nil {
				return nil, exitf(exitUsage, "--ip %q is not an IP address", p)
			}
			out = append(out, ip)
		}
	}
	return out, nil
}

func newTLSInitCmd() *cobra.Command {
	var nodes []string
	var dir, client string
	var force bool
	cmd := &cobra.Command{
		Use:   "init --nodes a,b,c",
		Short: "Write everything a cluster of servers needs: CA, server and client certificates, gossip and catalog keys, agent configs",
		Long: `Write into --dir everything a new cluster of servers needs:

  ca.pem, ca-key.pem                 the cluster's CA (keep ca-key.pem off the agents)
  server-<node>.pem, -key.pem        each server's certificate
  client-<name>.pem, -key.pem        a client certificate for the CLI
  gossip.key                         the gossip encryption key (gossip_key)
  catalog.key                        the key that seals sensitive values (encrypt_key_file)
  <node>.yaml                        each server's agent config (--config)

A node may be given as name=IP: its certificate then holds the IP and the
configs join the others at IP:8393. Copy the directory to the same path on
every server (or edit the paths in the configs), then run
  scaleout agent --config <dir>/<node>.yaml
and use the cluster with
  scaleout members --address https://IP:8391 --ca-cert <dir>/ca.pem \
    --client-cert <dir>/client-<name>.pem --client-key <dir>/client-<name>-key.pem`,
		Example: `  scaleout tls init --nodes a=10.0.0.1,b=10.0.0.2,c=10.0.0.3 --dir /etc/scaleout
  scaleout tls init --nodes a,b,c --dir ./tls`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runTLSInit(cmd.OutOrStdout(), nodes, dir, client, force)
		},
	}
	cmd.Flags().StringSliceVar(&nodes, "nodes", nil, "server node names, each optionally name=IP (comma-separated or repeated)")
	cmd.Flags().StringVar(&dir, "dir", ".", "directory to write into (created)")
	cmd.Flags().StringVar(&client, "client", "admin", "name in the client certificate")
	cmd.Flags().BoolVar(&force, "force", false, "replace existing files")
	return cmd
}

type initNode struct {
	name string
	ip   net.IP
}

func runTLSInit(out io.Writer, specs []string, dir, client string, force bool) error {
	if len(specs) == 0 {
		return exitf(exitUsage, "--nodes is required (e.g. --nodes a,b,c)")
	}
	var nodes []initNode
	seen := map[string]bool{}
	for _, s := range specs {
		name, ip, hasIP := strings.Cut(strings.TrimSpace(s), "=")
		n := initNode{name: name}
		if hasIP {
			if n.ip = net.ParseIP(ip); n.ip == nil {
				return exitf(exitUsage, "--nodes %q: %q is not an IP address", s, ip)
			}
		}
		if name == "" || seen[name] {
			return exitf(exitUsage, "--nodes: empty or repeated node name in %q", s)
		}
		seen[name] = true
		nodes = append(nodes, n)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return exitf(exitUsage, "--dir: %v", err)
	}
	caPEM, caKeyPEM, err := tlsutil.CreateCA(0)
	if err != nil {
		return exitf(exitFailed, "create CA: %v", err)
	}
	files := []outFile{{filepath.Join(abs, "ca.pem"), caPEM, 0o644}, {filepath.Join(abs, "ca-key.pem"), caKeyPEM, 0o600}}
	for _, n := range nodes {
		req := tlsutil.CertRequest{Role: tlsutil.RoleServer, Node: n.name}
		if n.ip != nil {
			req.IPs = []net.IP{n.ip}
		}
		f, err := issue(caPEM, caKeyPEM, abs, req)
		if err != nil {
			return err
		}
		files = append(files, f...)
	}
	f, err := issue(caPEM, caKeyPEM, abs, tlsutil.CertRequest{Role: tlsutil.RoleClient, Node: client})
	if err != nil {
		return err
	}
	files = append(files, f...)
	gossipKey, catalogKey := catalog.GenerateKey(), catalog.GenerateKey()
	files = append(files, outFile{filepath.Join(abs, "gossip.key"), []byte(gossipKey + "\n"), 0o600},
		outFile{filepath.Join(abs, "catalog.key"), []byte(catalogKey + "\n"), 0o600})
	for _, n := range nodes {
		files = append(files, outFile{filepath.Join(abs, n.name+".yaml"), []byte(initConfig(abs, n, nodes, gossipKey)), 0o600})
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return exitf(exitFailed, "%v", err)
	}
	return writeOutFiles(out, force, files)
}

// initConfig is the agent config of server n.
func initConfig(dir string, n initNode, all []initNode, gossipKey string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# scaleout agent --config %s\n", filepath.Join(dir, n.name+".yaml"))
	fmt.Fprintf(&b, "node: %s\ndata_dir: /var/lib/scaleout  # change if needed\nbootstrap_expect: %d\n", n.name, len(all))
	if n.ip != nil {
		fmt.Fprintf(&b, "advertise: %s\n", n.ip)
	}
	var join []string
	for _, o := range all {
		if o.name != n.name && o.ip != nil {
			join = append(join, fmt.Sprintf("%q", net.JoinHostPort(o.ip.String(), "8393")))
		}
	}
	if len(join) > 0 {
		fmt.Fprintf(&b, "join: [%s]\n", strings.Join(join, ", "))
	} else {
		b.WriteString("# join: [\"IP-of-another-server:8393\"]  # set: the servers find each other through it\n")
	}
	fmt.Fprintf(&b, "tls_ca: %s\ntls_cert: %s\ntls_key: %s\n", filepath.Join(dir, "ca.pem"),
		filepath.Join(dir, "server-"+n.name+".pem"), filepath.Join(dir, "server-"+n.name+"-key.pem"))
	fmt.Fprintf(&b, "gossip_key: %q\nencrypt_key_file: %s\n", gossipKey, filepath.Join(dir, "catalog.key"))
	return b.String()
}

// outFile is a file to write.
type outFile struct {
	path string
	data []byte
	mode os.FileMode
}

// writeOutFiles writes every file, or none if one exists and force is off.
func writeOutFiles(out io.Writer, force bool, files []outFile) error {
	if !force {
		var exist []string
		for _, f := range files {
			if _, err := os.Stat(f.path); err == nil {
				exist = append(exist, f.path)
			} else if !errors.Is(err, os.ErrNotExist) {
				return exitf(exitFailed, "%v", err)
			}
		}
		if len(exist) > 0 {
			return exitf(exitUsage, "not replacing existing %s (use --force)", strings.Join(exist, ", "))
		}
	}
	for _, f := range files {
		// Remove first: WriteFile keeps the mode of an existing file.
		_ = os.Remove(f.path)
		if err := os.WriteFile(f.path, f.data, f.mode); err != nil {
			return exitf(exitFailed, "%v", err)
		}
		fmt.Fprintf(out, "wrote %s\n", f.path)
	}
	return nil
}
