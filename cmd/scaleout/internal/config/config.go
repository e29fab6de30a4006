package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/scaleout/scaleout/cluster/agent"
	"github.com/spf13/pflag"
	"go.yaml.in/yaml/v3"
)

// Settings is everything a user sets for an agent: the agent's own Config
// (whose yaml tags are the file keys) plus what the command resolves itself
// (log level, encryption key) and the catalog service's settings.
type Settings struct {
	agent.Config `yaml:",inline"`
	// LogLevel is the agent's log level: trace, debug, info, warn or error.
	LogLevel string `yaml:"log_level"`
	// EncryptKey (base64 of 32 bytes) or EncryptKeyFile (a file holding
	// it) seals sensitive values; every server needs the same key.
	EncryptKey     string `yaml:"encrypt_key"`
	EncryptKeyFile string `yaml:"encrypt_key_file"`
	// KeepVersions, MaxArchiveBytes, MaxEvents, LoggingLevel and Retention
	// are the catalog service's settings (Config.Catalog).
	KeepVersions    int           `yaml:"keep_versions"`
	MaxArchiveBytes int64         `yaml:"max_archive_bytes"`
	MaxEvents       uint64        `yaml:"max_events"`
	LoggingLevel    string        `yaml:"logging_level"`
	Retention       time.Duration `yaml:"retention"`
	// UnstartedTTL is how long an execution created with start=false is
	// kept unstarted before the leader removes it.
	UnstartedTTL time.Duration `yaml:"unstarted_ttl"`
}

// Default returns the defaults: agent.DefaultConfig, or agent.DevConfig
// when dev is set.
func Default(dev bool) Settings {
	c := agent.DefaultConfig()
	if dev {
		c = agent.DevConfig()
	}
	return Settings{
		Config:          c,
		LogLevel:        "info",
		KeepVersions:    c.Catalog.KeepVersions,
		MaxArchiveBytes: c.Catalog.MaxArchiveBytes,
		MaxEvents:       c.Catalog.MaxEvents,
		LoggingLevel:    c.Catalog.DefaultLoggingLevel,
		Retention:       c.Catalog.Retention,
		UnstartedTTL:    c.Catalog.UnstartedTTL,
	}
}

// AgentConfig returns the agent's runtime configuration. The program sets
// the rest (command, version, logger, the catalog's cipher).
func (s *Settings) AgentConfig() agent.Config {
	c := s.Config
	c.Catalog.KeepVersions = s.KeepVersions
	c.Catalog.MaxArchiveBytes = s.MaxArchiveBytes
	c.Catalog.MaxEvents = s.MaxEvents
	c.Catalog.DefaultLoggingLevel = s.LoggingLevel
	c.Catalog.Retention = s.Retention
	c.Catalog.UnstartedTTL = s.UnstartedTTL
	if c.SMTP.Password == "" {
		c.SMTP.Password = os.Getenv("SCALEOUT_SMTP_PASSWORD")
	}
	return c
}

// Flags holds the agent's command-line flags.
type Flags struct {
	// ConfigFile is --config: the YAML file to read, if any.
	ConfigFile string

	own *pflag.FlagSet // the settings' flags (not --config)
	set Settings       // what those flags were parsed into
}

// AddFlags registers a flag for every setting on fs, bound to a Settings
// that starts at the (non-dev) defaults, which are shown in the help.
func AddFlags(fs *pflag.FlagSet) *Flags {
	f := &Flags{own: pflag.NewFlagSet("settings", pflag.ContinueOnError), set: Default(false)}
	fs.StringVar(&f.ConfigFile, "config", "", "YAML config file (keys as the flags, '-' written '_'); flags override it")
	s, dev, own := &f.set, Default(true), f.own
	own.BoolVar(&s.Dev, "dev", s.Dev, "one-node cluster on loopback for trying scaleout out and for tests")
	own.StringVar(&s.Node, "node", s.Node, "node name, unique in the cluster (default: the host name)")
	own.StringVar(&s.DataDir, "data-dir", s.DataDir, "directory for Raft state, the catalog and work dirs (required; --dev: a temporary directory if empty)")
	own.BoolVar(&s.Server, "server", s.Server, "hold Raft state and take part in elections; false = worker-only agent")
	own.StringVar(&s.Bind, "bind", s.Bind, fmt.Sprintf("address Raft and gossip listen on (--dev: %s)", dev.Bind))
	own.StringVar(&s.Advertise, "advertise", s.Advertise, "address other agents reach this one at (default: --bind, or a private address of this host)")
	own.StringVar(&s.HTTPAddr, "http-addr", s.HTTPAddr, fmt.Sprintf("address the HTTP API listens on; port 0 picks a free one (--dev: %s)", dev.HTTPAddr))
	own.IntVar(&s.RaftPort, "raft-port", s.RaftPort, "Raft port (--dev: a free port)")
	own.IntVar(&s.GossipPort, "gossip-port", s.GossipPort, "gossip port, TCP and UDP (--dev: a free port)")
	own.StringArrayVar(&s.Join, "join", s.Join, "gossip address HOST:PORT of an agent to join (repeatable; retried until one answers)")
	own.IntVar(&s.BootstrapExpect, "bootstrap-expect", s.BootstrapExpect, "number of servers that form a new cluster together; give every initial server the same value")
	own.IntVar(&s.MaxVoters, "max-voters", s.MaxVoters, "Raft voters at most; further servers join as non-voters")
	own.DurationVar(&s.DeadServerGrace, "dead-server-grace", s.DeadServerGrace, "a server failed this long is removed from Raft by the leader")
	own.Var((*labels)(&s.Labels), "labels", "worker labels k=v,... (executions can target them with run --label)")
	own.IntVar(&s.MaxTasks, "max-tasks", s.MaxTasks, "executions this worker runs at once")
	own.BoolVar(&s.ReuseChildren, "reuse-children", s.ReuseChildren, "run successive executions in the same package process when a run left nothing behind (false: a new process for every execution)")
	own.BoolVar(&s.Cgroups, "cgroups", s.Cgroups, "start each package process in a cgroup v2 of its own where the kernel allows (Linux; kills what tasks leave behind even after setsid); false: process groups and a pid record in the data dir")
	own.IntVar(&s.WarmChildren, "warm-children", s.WarmChildren, "package processes kept started and waiting for an execution when idle (0 to --max-tasks)")
	own.IntVar(&s.TaskNice, "task-nice", s.TaskNice, "run package processes this much below the agent's CPU priority (nice, 0-19; Linux only), so that heartbeats and the API come first")
	own.Float64Var(&s.TaskRequestMaxCPU, "task-request-max-cpu", s.TaskRequestMaxCPU, "ask for no new work while the machine's CPU use is above this percent (SSIS TaskRequestMaxCPU, e.g. 70; 0: off; Linux only)")
	own.IntVar(&s.TaskRequestMinMemoryMB, "task-request-min-memory-mb", s.TaskRequestMinMemoryMB, "ask for no new work while less than this many MB of memory are available (SSIS TaskRequestMinMemory, e.g. 100; 0: off; Linux only)")
	own.StringArrayVar(&s.TaskEnvAllow, "task-env-allow", s.TaskEnvAllow, "variable of the agent's environment that package processes get as well (repeatable; NAME or a NAME* prefix; PATH, HOME, LANG, TZ, TMPDIR and the like always pass, agent credentials such as SCALEOUT_TOKEN never; docs/SECURITY.md)")
	own.StringArrayVar(&s.TaskAllowPaths, "task-allow-paths", s.TaskAllowPaths, "directory outside an execution's work directory that a package's allow_paths may open to file operations, with everything below it (repeatable; default: none)")
	own.DurationVar(&s.LeaseTimeout, "lease-timeout", s.LeaseTimeout, "an execution whose worker is silent this long is expired and retried")
	own.DurationVar(&s.Heartbeat, "heartbeat", s.Heartbeat, "worker heartbeat (long-poll) interval; shorter than --lease-timeout")
	own.DurationVar(&s.KillGrace, "kill-grace", s.KillGrace, "time a stopped task gets between SIGTERM and SIGKILL")
	own.DurationVar(&s.DrainTimeout, "drain-timeout", s.DrainTimeout, "on SIGTERM, time running executions get to finish before they are handed back")
	own.Int64Var(&s.MaxBodyBytes, "max-request-bytes", s.MaxBodyBytes, "largest accepted API request body; larger ones get 413")
	own.IntVar(&s.MaxConnections, "max-connections", s.MaxConnections, "API connections open at once; a new one closes the one longest without a request served, else waits (0: no cap)")
	own.DurationVar(&s.HeaderTimeout, "http-header-timeout", s.HeaderTimeout, "time an API client has to send a request header (0: the default)")
	own.BoolVar(&s.EnableDebug, "enable-debug", s.EnableDebug, "serve Go's profiler at /debug/pprof/ on the API address (CPU, heap, goroutines; leave off in production unless needed)")
	own.StringVar(&s.SMTP.Addr, "smtp-addr", s.SMTP.Addr, "host:port of the SMTP server that mails notifications with e-mail addresses (notify: email); every server should have it, the leader sends")
	own.StringVar(&s.SMTP.From, "smtp-from", s.SMTP.From, "sender address of notification mails (default scaleout@HOSTNAME)")
	own.StringVar(&s.SMTP.Username, "smtp-username", s.SMTP.Username, "SMTP user (PLAIN auth, only over STARTTLS or to localhost)")
	own.StringVar(&s.SMTP.Password, "smtp-password", s.SMTP.Password, "SMTP password (better: the config file's smtp_password or $SCALEOUT_SMTP_PASSWORD, which a process listing does not show)")
	own.StringVar(&s.LogLevel, "log-level", s.LogLevel, "log level: trace, debug, info, warn, error")
	own.IntVar(&s.CoalesceMax, "coalesce-max", s.CoalesceMax, fmt.Sprintf("most requests the leader gathers into one Raft command (0: default %d; 1: none, for benchmarks)", s.CoalesceMax))
	_ = own.MarkHidden("coalesce-max")
	own.StringVar(&s.EncryptKey, "encrypt-key", s.EncryptKey, "key that seals sensitive values, base64 of 32 bytes ('scaleout keygen'); every server needs the same one (default: $SCALEOUT_ENCRYPT_KEY; --dev makes one)")
	own.StringVar(&s.EncryptKeyFile, "encrypt-key-file", s.EncryptKeyFile, "file holding the --encrypt-key")
	own.StringVar(&s.TLSCA, "tls-ca", s.TLSCA, "PEM file of the cluster CA: peers' and clients' certificates must chain to it ('scaleout tls ca create')")
	own.StringVar(&s.TLSCert, "tls-cert", s.TLSCert, "PEM certificate of this agent ('scaleout tls cert create --server|--worker'); with --tls-ca and --tls-key every TCP port speaks mutual TLS; reloaded on SIGHUP and when the files change")
	own.StringVar(&s.TLSKey, "tls-key", s.TLSKey, "PEM key of --tls-cert")
	own.StringVar(&s.GossipKey, "gossip-key", s.GossipKey, "key that encrypts gossip, base64 of 32 bytes ('scaleout keygen'); the same on every agent; a rotated keyring in the data dir takes precedence ('scaleout operator keyring')")
	own.StringVar(&s.ACLAgentToken, "acl-agent-token", s.ACLAgentToken, "ACL token (role worker) this agent presents to other agents once ACLs are bootstrapped; needed without TLS (with TLS its certificate identifies it)")
	own.BoolVar(&s.Insecure, "insecure", s.Insecure, "run a non-dev agent without TLS (plain HTTP, Raft and forwarding; warned at start and every hour)")
	own.IntVar(&s.KeepVersions, "keep-versions", s.KeepVersions, "versions kept per project")
	own.Int64Var(&s.MaxArchiveBytes, "max-archive-bytes", s.MaxArchiveBytes, "largest project archive accepted by deploy (413 above)")
	own.Uint64Var(&s.MaxEvents, "max-events", s.MaxEvents, "events kept per execution; the last one says the log was truncated")
	own.StringVar(&s.LoggingLevel, "logging-level", s.LoggingLevel, "default logging level of executions: none, basic, performance, verbose")
	own.DurationVar(&s.Retention, "retention", s.Retention, "ended executions with their events, and ended schedule runs, are removed after this long")
	own.DurationVar(&s.UnstartedTTL, "unstarted-ttl", s.UnstartedTTL, "executions created with --no-start (status created) are removed if not started within this long")

	// The same *pflag.Flag values: fs parses them, own lists them.
	fs.AddFlagSet(own)
	return f
}

// Load merges the defaults, the config file and the flags given on the
// command line (each overriding the one before), checks what only the
// combination can tell, and fills in the node name from the host name.
func (f *Flags) Load() (Settings, error) {
	var raw []byte
	if f.ConfigFile != "" {
		var err error
		if raw, err = os.ReadFile(f.ConfigFile); err != nil {
			return Settings{}, err
		}
	}
	// --dev changes the defaults, so it is resolved first.
	var probe Settings
	if err := decode(raw, &probe); err != nil {
		return Settings{}, fmt.Errorf("config file %s: %w", f.ConfigFile, err)
	}
	dev := probe.Dev
	if f.own.Lookup("dev").Changed {
		dev = f.set.Dev
	}
	s := Default(dev)
	if err := decode(raw, &s); err != nil {
		return Settings{}, fmt.Errorf("config file %s: %w", f.ConfigFile, err)
	}
	dst, src := reflect.ValueOf(&s).Elem(), reflect.ValueOf(&f.set).Elem()
	f.own.VisitAll(func(fl *pflag.Flag) {
		if !fl.Changed {
			return
		}
		idx, ok := fieldsByKey[strings.ReplaceAll(fl.Name, "-", "_")]
		if !ok {
			panic(fmt.Sprintf("config: flag --%s has no Settings field with key %q", fl.Name, strings.ReplaceAll(fl.Name, "-", "_")))
		}
		dst.FieldByIndex(idx).Set(src.FieldByIndex(idx))
	})
	if err := s.check(); err != nil {
		return Settings{}, err
	}
	if s.Node == "" {
		h, err := os.Hostname()
		if err != nil {
			return Settings{}, fmt.Errorf("no --node given and the host name is unknown: %w", err)
		}
		s.Node = h
	}
	return s, nil
}

// check reports combinations of settings the command refuses; the agent
// and its components validate the rest when they start.
func (s *Settings) check() error {
	switch {
	case s.CoalesceMax < 0:
		return fmt.Errorf("--coalesce-max must not be negative (got %d)", s.CoalesceMax)
	case s.Dev && (s.BootstrapExpect > 1 || len(s.Join) > 0 || !s.Server):
		return errors.New("--dev is a one-node cluster: it cannot be combined with --bootstrap-expect, --join or --server=false")
	}
	return nil
}

// decode reads a config file into s; keys it does not set keep their value
// and an unknown key is an error naming it.
func decode(raw []byte, s *Settings) error {
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(s); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}

// fieldsByKey maps each config-file key to its field in Settings (inline
// structs included), for copying the value of a flag that was set.
var fieldsByKey = func() map[string][]int {
	out := map[string][]int{}
	var walk func(t reflect.Type, prefix []int)
	walk = func(t reflect.Type, prefix []int) {
		for i := range t.NumField() {
			sf := t.Field(i)
			name, opts, _ := strings.Cut(sf.Tag.Get("yaml"), ",")
			idx := append(append([]int(nil), prefix...), i)
			switch {
			case opts == "inline":
				walk(sf.Type, idx)
			case name != "" && name != "-":
				out[name] = idx
			}
		}
	}
	walk(reflect.TypeFor[Settings](), nil)
	return out
}()

// labels is the --labels flag: "k=v,..." on the command line, a map in the
// config file.
type labels map[string]string

func (l *labels) String() string {
	if l == nil || len(*l) == 0 {
		return ""
	}
	kv := make([]string, 0, len(*l))
	for k, v := range *l {
		kv = append(kv, k+"="+v)
	}
	sort.Strings(kv)
	return strings.Join(kv, ",")
}

// Set replaces the labels with those in s; an empty s means none.
func (l *labels) Set(s string) error {
	m, err := parseLabels(s)
	if err != nil {
		return err
	}
	*l = m
	return nil
}

func (l *labels) Type() string { return "string" }

// parseLabels reads "k=v,k2=v2" (spaces around pairs ignored).
func parseLabels(s string) (map[string]string, error) {
	out := map[string]string{}
	if strings.TrimSpace(s) == "" {
		return out, nil
	}
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("label %q: want key=value", kv)
		}
		out[k] = v
	}
	return out, nil
}
