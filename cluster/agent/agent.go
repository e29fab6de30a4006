package agent

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/memberlist"
	"github.com/scaleout/scaleout/api"
	"github.com/scaleout/scaleout/api/server"
	"github.com/scaleout/scaleout/cluster"
	"github.com/scaleout/scaleout/cluster/master"
	"github.com/scaleout/scaleout/cluster/metrics"
	"github.com/scaleout/scaleout/cluster/tlsutil"
	"github.com/scaleout/scaleout/cluster/worker"
)

// Config is the runtime configuration of an agent. The fields a user sets
// carry the key they have in the agent's config file (cmd/scaleout reads
// the file straight into a Config; the flag of a key is the key with '-'
// for '_'); the others are set by the program.
type Config struct {
	// Node is the agent's name in gossip, Raft and as worker id. Required.
	Node string `yaml:"node"`
	// DataDir holds Raft state, the catalog and attempt work directories. Required.
	DataDir string `yaml:"data_dir"`
	// Dev runs a one-node cluster: bootstrap alone, loopback, tight timings.
	Dev bool `yaml:"dev"`
	// Server makes the agent a Raft server; false is a worker-only agent.
	Server bool `yaml:"server"`
	// HTTPAddr is where the API listens (port 0 picks one).
	HTTPAddr string `yaml:"http_addr"`
	// Bind is the address Raft and gossip listen on; Advertise the address
	// other agents use (default: Bind, or a private address of this host
	// when Bind is 0.0.0.0).
	Bind      string `yaml:"bind"`
	Advertise string `yaml:"advertise"`
	// RaftPort and GossipPort (0 picks a free port).
	RaftPort   int `yaml:"raft_port"`
	GossipPort int `yaml:"gossip_port"`
	// Join lists gossip addresses of agents to join (retried until one answers).
	Join []string `yaml:"join"`
	// BootstrapExpect is the number of servers that bootstrap the cluster.
	BootstrapExpect int `yaml:"bootstrap_expect"`
	// MaxVoters caps the Raft voters.
	MaxVoters int `yaml:"max_voters"`
	// DeadServerGrace is how long a failed server stays a Raft peer.
	DeadServerGrace time.Duration `yaml:"dead_server_grace"`
	// Labels describe this worker for targeting.
	Labels map[string]string `yaml:"labels"`
	// MaxTasks is the number of executions this worker runs at once.
	MaxTasks int `yaml:"max_tasks"`
	// ReuseChildren and WarmChildren configure the worker's package
	// processes (worker.Config).
	ReuseChildren bool `yaml:"reuse_children"`
	WarmChildren  int  `yaml:"warm_children"`
	// Cgroups starts each package process in a cgroup v2 of its own where
	// the kernel allows (worker.Config).
	Cgroups bool `yaml:"cgroups"`
	// TaskRequestMaxCPU (percent) and TaskRequestMinMemoryMB are the
	// worker's admission thresholds (worker.Config; 0: off).
	TaskRequestMaxCPU float64 `yaml:"task_request_max_cpu"`
	// TaskNice lowers the CPU priority of package processes below the
	// agent's by this much (worker.Config.TaskNice).
	TaskNice               int `yaml:"task_nice"`
	TaskRequestMinMemoryMB int `yaml:"task_request_min_memory_mb"`
	// TaskEnvAllow names the variables of the agent's environment its
	// package processes get besides worker.DefaultTaskEnv; TaskAllowPaths
	// the directories a package's allow_paths may open (worker.Config).
	TaskEnvAllow   []string `yaml:"task_env_allow"`
	TaskAllowPaths []string `yaml:"task_allow_paths"`
	// LeaseTimeout, Heartbeat, KillGrace and DrainTimeout are the dispatch
	// timings (see master.Config and worker.Config).
	LeaseTimeout time.Duration `yaml:"lease_timeout"`
	Heartbeat    time.Duration `yaml:"heartbeat"`
	KillGrace    time.Duration `yaml:"kill_grace"`
	DrainTimeout time.Duration `yaml:"drain_timeout"`
	// MaxBodyBytes limits API request bodies.
	MaxBodyBytes int64 `yaml:"max_request_bytes"`
	// MaxConnections caps the API's open connections; HeaderTimeout is
	// the time a client has to send a request header (server.HTTPConfig).
	MaxConnections int           `yaml:"max_connections"`
	HeaderTimeout  time.Duration `yaml:"http_header_timeout"`
	// EnableDebug serves Go's profiler at /debug/pprof/ on the API address.
	EnableDebug bool `yaml:"enable_debug"`
	// SMTP is the mail server of notifications with e-mail addresses.
	SMTP SMTPConfig `yaml:",inline"`
	// CoalesceMax is the most requests the leader gathers into one Raft
	// command (master.Config.CoalesceMax); 0 keeps the master's default.
	CoalesceMax int `yaml:"coalesce_max"`
	// TLSCA, TLSCert and TLSKey are PEM files (`scaleout tls`): with them
	// every TCP port speaks mutual TLS (API, Raft, forwarding, polls).
	// They are reloaded on Reload (SIGHUP) and when they change.
	TLSCA   string `yaml:"tls_ca"`
	TLSCert string `yaml:"tls_cert"`
	TLSKey  string `yaml:"tls_key"`
	// GossipKey (base64 of 16, 24 or 32 bytes, `scaleout keygen`)
	// encrypts gossip; a keyring in the data dir (rotations) takes
	// precedence over it.
	GossipKey string `yaml:"gossip_key"`
	// ACLAgentToken is the ACL token (role worker, or admin) this agent
	// presents to other agents for its own calls once ACLs are
	// bootstrapped: needed without TLS (with TLS the agent's certificate
	// identifies it). Empty: none.
	ACLAgentToken string `yaml:"acl_agent_token"`
	// Insecure lets a non-dev agent run without TLS (plain HTTP, Raft and
	// forwarding); it is logged at start and every hour and reported by
	// GET /v1/status/health.
	Insecure bool `yaml:"insecure"`
	// TLSWatchInterval is how often the TLS files are checked for changes
	// (0: 5 s).
	TLSWatchInterval time.Duration `yaml:"-"`
	// Catalog configures the SSISDB catalog service (servers only; its
	// Cipher must be the same on every server).
	Catalog master.CatalogConfig `yaml:"-"`
	// Scheduler configures the schedules service (servers only); its
	// Notifier is set by the agent (webhooks over HTTP, mail through SMTP).
	Scheduler master.SchedulerConfig `yaml:"-"`
	// ExecCommand is the command line of the child that runs one attempt.
	ExecCommand []string `yaml:"-"`
	// Version is gossiped and reported.
	Version string `yaml:"-"`
	// FastTimings uses loopback Raft and gossip timings (tests).
	FastTimings bool `yaml:"-"`
	// RaftDialer wraps outgoing Raft connections (tests cut the network with it).
	RaftDialer func(addr string, timeout time.Duration) (net.Conn, error) `yaml:"-"`
	// GossipTransport wraps gossip's transport (tests cut gossip with it).
	GossipTransport func(memberlist.NodeAwareTransport) memberlist.NodeAwareTransport `yaml:"-"`
	// Logger receives every log line.
	Logger hclog.Logger `yaml:"-"`
}

// DefaultConfig returns the defaults of `scaleout agent`. Every value
// comes from the component it configures (cluster, master, catalog, worker,
// API server); only the agent's own settings (API address, drain timeout)
// are set here.
func DefaultConfig() Config {
	cc, mc, wc := cluster.DefaultConfig(), master.DefaultConfig(), worker.DefaultConfig()
	_, raftPort, err := net.SplitHostPort(cc.RaftBind)
	if err != nil {
		panic(fmt.Sprintf("cluster.DefaultConfig().RaftBind %q: %v", cc.RaftBind, err))
	}
	c := Config{
		Server: cc.Server, HTTPAddr: ":8391", Bind: cc.GossipBind, GossipPort: cc.GossipPort,
		MaxVoters: cc.MaxVoters, DeadServerGrace: cc.DeadServerGrace, MaxTasks: wc.MaxTasks,
		ReuseChildren: wc.ReuseChildren, WarmChildren: wc.WarmChildren, Cgroups: wc.Cgroups, TaskNice: wc.TaskNice,
		LeaseTimeout: mc.LeaseTimeout, Heartbeat: wc.PollWait, KillGrace: wc.KillGrace,
		DrainTimeout: 30 * time.Second, MaxBodyBytes: server.DefaultConfig().MaxBodyBytes, CoalesceMax: mc.CoalesceMax,
		MaxConnections: server.DefaultHTTPConfig().MaxConns, HeaderTimeout: server.DefaultHTTPConfig().ReadHeaderTimeout,
		Catalog: master.DefaultCatalogConfig(), Scheduler: master.DefaultSchedulerConfig(),
	}
	if c.RaftPort, err = strconv.Atoi(raftPort); err != nil {
		panic(fmt.Sprintf("cluster.DefaultConfig().RaftBind %q: %v", cc.RaftBind, err))
	}
	return c
}

// DevConfig returns DefaultConfig for `scaleout agent --dev`: a one-node
// cluster on loopback, the API on the default port of 127.0.0.1, Raft and
// gossip on free ports.
func DevConfig() Config {
	c := DefaultConfig()
	c.Dev = true
	c.Bind = "127.0.0.1"
	_, port, _ := net.SplitHostPort(c.HTTPAddr)
	c.HTTPAddr = net.JoinHostPort(c.Bind, port)
	c.RaftPort, c.GossipPort = 0, 0
	return c
}

// Validate reports the first problem with c.
func (c *Config) Validate() error {
	switch {
	case c.Node == "":
		return errors.New("node name is empty")
	case c.DataDir == "":
		return errors.New("data dir is empty")
	case c.MaxTasks <= 0:
		return fmt.Errorf("max tasks must be positive (got %d)", c.MaxTasks)
	case c.WarmChildren < 0 || c.WarmChildren > c.MaxTasks:
		return fmt.Errorf("warm children must be between 0 and max tasks (%d), got %d", c.MaxTasks, c.WarmChildren)
	case c.MaxBodyBytes <= 0:
		return fmt.Errorf("max request bytes must be positive (got %d)", c.MaxBodyBytes)
	case c.Heartbeat <= 0 || c.LeaseTimeout <= c.Heartbeat:
		return fmt.Errorf("heartbeat (%s) must be positive and shorter than the lease timeout (%s)", c.Heartbeat, c.LeaseTimeout)
	case c.KillGrace <= 0:
		return errors.New("kill grace must be positive")
	case c.TaskRequestMaxCPU < 0 || c.TaskRequestMaxCPU > 100:
		return fmt.Errorf("task request max CPU must be between 0 (off) and 100 percent (got %g)", c.TaskRequestMaxCPU)
	case c.TaskNice < 0 || c.TaskNice > 19:
		return fmt.Errorf("task nice must be between 0 and 19 (got %d)", c.TaskNice)
	case c.TaskRequestMinMemoryMB < 0:
		return fmt.Errorf("task request min memory must not be negative (got %d MB; 0 is off)", c.TaskRequestMinMemoryMB)
	case c.DrainTimeout < 0:
		return errors.New("drain timeout must not be negative")
	case c.MaxConnections < 0:
		return fmt.Errorf("max connections must not be negative (got %d; 0 means no cap)", c.MaxConnections)
	case c.HeaderTimeout < 0:
		return fmt.Errorf("HTTP header timeout must not be negative (got %s)", c.HeaderTimeout)
	case c.RaftPort < 0 || c.RaftPort > 65535 || c.GossipPort < 0 || c.GossipPort > 65535:
		return errors.New("ports must be between 0 and 65535")
	case len(c.ExecCommand) == 0:
		return errors.New("exec command is empty")
	case !c.Dev && c.Server && c.BootstrapExpect == 0 && len(c.Join) == 0:
		return errors.New("a server needs --bootstrap-expect N (to form a new cluster) or --join (to join one)")
	case !c.Server && len(c.Join) == 0:
		return errors.New("a worker-only agent needs --join to find the servers")
	case (c.TLSCA != "" || c.TLSCert != "" || c.TLSKey != "") && (c.TLSCA == "" || c.TLSCert == "" || c.TLSKey == ""):
		return errors.New("TLS needs all three of --tls-ca, --tls-cert and --tls-key")
	case !c.Dev && !c.Insecure && c.TLSCert == "":
		return errors.New("a non-dev agent needs TLS: --tls-ca, --tls-cert and --tls-key ('scaleout tls init' writes them), " +
			"or --insecure to run without it (plain HTTP, Raft and forwarding anyone on the network can use)")
	}
	return worker.CheckTaskSettings(c.TaskEnvAllow, c.TaskAllowPaths)
}

// Agent is a running agent.
type Agent struct {
	cfg     Config
	logger  hclog.Logger
	cluster *cluster.Cluster
	master  *master.Master
	catalog *master.Catalog // nil on worker-only agents
	// scheduler is nil on worker-only agents.
	scheduler *master.Scheduler
	worker    *worker.Worker
	// logs is the worker once started, for the attempt-log route (the API
	// starts before the worker).
	logs    atomic.Pointer[worker.Worker]
	httpSrv *http.Server
	apiURL  string
	metrics *metrics.Metrics

	// stops holds what New started, undone in reverse by Shutdown (or by
	// New itself when a later step fails).
	stops stack
	// tls is the agent's TLS material (nil without TLS); stopSec ends
	// its file watch and the insecure warning.
	tls        *tlsutil.Reloader
	stopSec    chan struct{}
	workerDone chan struct{}
	httpDone   chan error
	// internalToken authenticates this agent's own API clients to itself
	// once ACLs are on (random per process; security.go).
	internalToken string
}

// New starts an agent: the API listener, the cluster, the master and the
// worker. It returns once everything is started (not necessarily connected).
// Each step pushes its own cleanup; if one fails, what the earlier ones
// started is stopped in reverse order.
func New(cfg Config) (*Agent, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	logger := cfg.Logger
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	a := &Agent{cfg: cfg, logger: logger, workerDone: make(chan struct{}), httpDone: make(chan error, 1), stopSec: make(chan struct{})}
	a.newMetrics()
	tok, err := newInternalToken()
	if err != nil {
		return nil, err
	}
	a.internalToken = tok
	if err := a.startSecurity(); err != nil {
		return nil, err
	}
	advertise, err := advertiseHost(cfg.Bind, cfg.Advertise)
	if err != nil {
		return nil, err
	}
	ln, err := a.listenAPI(advertise)
	if err != nil {
		return nil, err
	}
	for _, step := range []func() error{
		func() error { return a.startCluster(advertise) },
		// The API stops after the master and the catalog (closing them ends
		// the long polls its requests wait in) and before the cluster
		// (requests in flight are still answered): its cleanup goes here,
		// between theirs.
		func() error { a.stops.push(a.stopHTTP); return nil },
		a.startMaster,
		a.startCatalog,
		func() error { a.startHTTP(ln); return nil },
		a.startWorker,
	} {
		if err := step(); err != nil {
			a.stops.run()
			return nil, err
		}
	}
	return a, nil
}

// stack is a cleanup stack: run calls the functions pushed onto it in
// reverse order, once. It is safe for concurrent use; a second run waits for
// the first and then has nothing left to do.
type stack struct {
	mu  sync.Mutex
	fns []func()
}

func (s *stack) push(fn func()) {
	s.mu.Lock()
	s.fns = append(s.fns, fn)
	s.mu.Unlock()
}

func (s *stack) run() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.fns) > 0 {
		fn := s.fns[len(s.fns)-1]
		s.fns = s.fns[:len(s.fns)-1]
		fn()
	}
}

// listenAPI opens the API listener (port 0 is resolved here, because the
// cluster gossips the API's URL) and works out that URL.
func (a *Agent) listenAPI(advertise string) (net.Listener, error) {
	ln, err := net.Listen("tcp", a.cfg.HTTPAddr)
	if err != nil {
		return nil, fmt.Errorf("HTTP API cannot listen on %s: %w", a.cfg.HTTPAddr, err)
	}
	scheme := "http://"
	if a.tls != nil {
		scheme = "https://" // startHTTP puts TLS on the listener
	}
	// Until the server serves it (and closes it on shutdown), the listener
	// is ours to close; a second Close is harmless.
	a.stops.push(func() { ln.Close() })
	port := ln.Addr().(*net.TCPAddr).Port
	if h, _, _ := net.SplitHostPort(a.cfg.HTTPAddr); h != "" && !net.ParseIP(h).IsUnspecified() {
		a.apiURL = scheme + ln.Addr().String()
	} else {
		a.apiURL = scheme + net.JoinHostPort(advertise, strconv.Itoa(port))
	}
	return ln, nil
}

// startCluster starts gossip and, on servers, Raft.
func (a *Agent) startCluster(advertise string) error {
	cfg := a.cfg
	var err error
	ccfg := cluster.DefaultConfig()
	if cfg.Dev || cfg.FastTimings {
		ccfg = cluster.DevConfig()
		ccfg.Bootstrap = cfg.Dev
	}
	ccfg.NodeName = cfg.Node
	ccfg.DataDir = cfg.DataDir
	ccfg.Server = cfg.Server
	ccfg.RaftBind = net.JoinHostPort(cfg.Bind, strconv.Itoa(cfg.RaftPort))
	if net.ParseIP(cfg.Bind).IsUnspecified() || cfg.Advertise != "" {
		ccfg.RaftAdvertise = net.JoinHostPort(advertise, strconv.Itoa(cfg.RaftPort))
	}
	ccfg.GossipBind = cfg.Bind
	ccfg.GossipPort = cfg.GossipPort
	if cfg.Advertise != "" {
		ccfg.GossipAdvertise = advertise
	}
	ccfg.Join = cfg.Join
	ccfg.APIAddr = a.apiURL
	ccfg.Labels = cfg.Labels
	ccfg.Version = cfg.Version
	if cfg.Catalog.Cipher != nil {
		ccfg.KeyID = cfg.Catalog.Cipher.KeyID()
	}
	ccfg.BootstrapExpect = cfg.BootstrapExpect
	if cfg.MaxVoters > 0 {
		ccfg.MaxVoters = cfg.MaxVoters
	}
	if cfg.DeadServerGrace > 0 {
		ccfg.DeadServerGrace = cfg.DeadServerGrace
	}
	if cfg.FastTimings {
		ccfg.ReconcileInterval = 100 * time.Millisecond
		ccfg.ReconnectInterval = 500 * time.Millisecond
	}
	ccfg.Dialer = cfg.RaftDialer
	ccfg.GossipTransport = cfg.GossipTransport
	ccfg.PeerClient = newPeerClient(a.agentTLS(tlsutil.RoleServer), a.cfg.ACLAgentToken)
	ccfg.OperationRetention = a.cfg.Catalog.Retention
	if ccfg.OperationRetention <= 0 {
		ccfg.OperationRetention = master.DefaultCatalogConfig().Retention
	}
	if a.tls != nil && cfg.Server {
		ccfg.RaftTLSServer = a.tls.ServerConfig(true, tlsutil.RoleServer)
		ccfg.RaftTLSClient = a.tls.ClientConfig(tlsutil.RoleServer)
	}
	if cfg.GossipKey != "" {
		if ccfg.GossipKey, err = cluster.ParseGossipKey(cfg.GossipKey); err != nil {
			return err
		}
	}
	ccfg.ACLRequired = a.aclRequired()
	ccfg.ObserveApply = a.observeApply
	ccfg.Logger = a.logger
	if cfg.RaftPort == 0 && ccfg.RaftAdvertise != "" {
		// An ephemeral port is only known after listening: let the cluster
		// advertise the listener's address.
		ccfg.RaftAdvertise = ""
	}
	c, err := cluster.New(ccfg)
	if err != nil {
		return err
	}
	a.cluster = c
	a.stops.push(func() {
		if err := c.Shutdown(); err != nil && !errors.Is(err, cluster.ErrShutdown) {
			a.logger.Warn("raft shutdown", "error", err)
		}
	})
	return nil
}

// startMaster starts the master service (it leads while its server does).
func (a *Agent) startMaster() error {
	mcfg := master.DefaultConfig()
	mcfg.LeaseTimeout = a.cfg.LeaseTimeout
	mcfg.Cipher = a.cfg.Catalog.Cipher
	mcfg.MaxEvents = a.cfg.Catalog.MaxEvents
	if a.cfg.CoalesceMax > 0 {
		mcfg.CoalesceMax = a.cfg.CoalesceMax
	}
	mcfg.ACLRequired = a.aclRequired()
	mcfg.Logger = a.logger
	m, err := master.New(mcfg, a.cluster)
	if err != nil {
		return err
	}
	a.master = m
	a.stops.push(m.Close)
	return nil
}

// startCatalog starts the catalog service on servers; a worker-only agent
// has none (its API forwards catalog calls). Executions of deployed
// packages are created through the master, like every other.
func (a *Agent) startCatalog() error {
	if !a.cfg.Server {
		return nil
	}
	ccfg := a.cfg.Catalog
	if ccfg.Logger == nil {
		ccfg.Logger = a.logger
	}
	c, err := master.NewCatalog(ccfg, a.cluster, a.master)
	if err != nil {
		return err
	}
	a.catalog = c
	a.stops.push(c.Close)
	scfg := a.cfg.Scheduler
	if scfg.Logger == nil {
		scfg.Logger = a.logger
	}
	if scfg.Notifier == nil {
		scfg.Notifier = notifier{client: &http.Client{Timeout: 30 * time.Second}, smtp: a.cfg.SMTP}
	}
	sch, err := master.NewScheduler(scfg, a.master, c)
	if err != nil {
		return err
	}
	a.scheduler = sch
	a.stops.push(sch.Close)
	return nil
}

// startHTTP serves the API on ln. Its cleanup (stopHTTP) was pushed before
// the master's: see New.
func (a *Agent) startHTTP(ln net.Listener) {
	scfg := server.DefaultConfig()
	scfg.MaxBodyBytes = a.cfg.MaxBodyBytes
	scfg.Logger = a.logger
	scfg.EnableDebug = a.cfg.EnableDebug
	scfg.ForwardError = a.metrics.ForwardError
	scfg.Served = a.metrics.HTTPServed
	scfg.Transport = a.httpTransport(tlsutil.RoleServer) // forwarding goes to the leader
	scfg.Security = a.security()
	scfg.InternalToken, scfg.AgentToken = a.internalToken, a.cfg.ACLAgentToken
	svc := server.Services{Router: a.master, Status: a.master, Executions: executionService{a.master, a}, Queue: a.master,
		Workers: workerService{a.master, a}, Ready: readiness{a.cluster}, Metrics: a.metricsHandler()}
	if a.catalog != nil { // worker-only agents forward every catalog route
		svc.Catalog, svc.Operator, svc.Schedules = catalogService{a.catalog, a}, a.catalog, a.scheduler
		svc.ACL = a.master
	} else {
		svc.ACL = newRemoteACL(a) // checks the routes this agent answers itself
	}
	svc.UI = a.console(svc.ACL)
	svc.Keyring = newKeyringService(a)
	hc := server.DefaultHTTPConfig()
	hc.MaxConns = a.cfg.MaxConnections
	if a.cfg.HeaderTimeout > 0 {
		hc.ReadHeaderTimeout = a.cfg.HeaderTimeout
	}
	srv := server.NewHTTPServer(hc, a.authenticate(server.New(scfg, svc)))
	// TLS handshake failures (a client without the CA, plain HTTP) go to
	// the agent's log, at debug level: anyone can cause them.
	srv.ErrorLog = a.logger.Named("http").StandardLogger(&hclog.StandardLoggerOptions{ForceLevel: hclog.Debug})
	a.httpSrv = srv
	ln = server.LimitListener(ln, hc.MaxConns)
	server.TrackConns(srv, ln) // under the TLS listener: it unwraps *tls.Conn
	if a.tls != nil {
		// Outermost, so that the server sees *tls.Conn (r.TLS).
		ln = tls.NewListener(ln, a.tls.ServerConfig(false))
	}
	go func() { a.httpDone <- srv.Serve(ln) }()
}

// stopHTTP stops the API server, if it was started, giving requests in
// flight up to 5 s.
func (a *Agent) stopHTTP() {
	if a.httpSrv == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	_ = a.httpSrv.Shutdown(ctx)
	cancel()
}

// startWorker starts the worker, which reaches the master through this
// agent's own API.
func (a *Agent) startWorker() error {
	cfg := a.cfg
	client, err := api.NewClient(api.Config{Address: a.apiURL, Caller: "worker " + cfg.Node, HTTPClient: a.ownClient(), TLS: noEnvTLS,
		Token: a.ownToken(), Worker: cfg.Node})
	if err != nil {
		return err
	}
	wcfg := worker.DefaultConfig()
	wcfg.ID = cfg.Node
	wcfg.Node = cfg.Node
	wcfg.Labels = cfg.Labels
	wcfg.MaxTasks = cfg.MaxTasks
	wcfg.ReuseChildren = cfg.ReuseChildren
	wcfg.WarmChildren = cfg.WarmChildren
	wcfg.Cgroups = cfg.Cgroups
	wcfg.TaskRequestMaxCPU = cfg.TaskRequestMaxCPU
	wcfg.TaskNice = cfg.TaskNice
	wcfg.TaskRequestMinMemory = uint64(cfg.TaskRequestMinMemoryMB) << 20
	wcfg.TaskEnvAllow = cfg.TaskEnvAllow
	wcfg.TaskAllowPaths = cfg.TaskAllowPaths
	wcfg.PollWait = cfg.Heartbeat
	wcfg.LeaseTimeout = cfg.LeaseTimeout
	wcfg.KillGrace = cfg.KillGrace
	wcfg.Command = cfg.ExecCommand
	wcfg.WorkDir = filepath.Join(cfg.DataDir, "work")
	wcfg.Client = client
	wcfg.Logger = a.logger
	w, err := worker.New(wcfg)
	if err != nil {
		return err
	}
	a.worker = w
	a.logs.Store(w)
	ctx, cancel := context.WithCancel(context.Background())
	go func() { defer close(a.workerDone); w.Run(ctx) }()
	// Running attempts are stopped and reported as interrupted before
	// anything below the worker stops.
	a.stops.push(func() { cancel(); <-a.workerDone })
	return nil
}

// advertiseHost picks the address other agents reach this one at.
func advertiseHost(bind, advertise string) (string, error) {
	if advertise != "" {
		if net.ParseIP(advertise) == nil {
			return "", fmt.Errorf("advertise address %q is not an IP address", advertise)
		}
		return advertise, nil
	}
	ip := net.ParseIP(bind)
	if ip == nil {
		return "", fmt.Errorf("bind address %q is not an IP address", bind)
	}
	if !ip.IsUnspecified() {
		return bind, nil
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return "", fmt.Errorf("bind is %s and no --advertise given: list interfaces: %w", bind, err)
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && !n.IP.IsLoopback() && !n.IP.IsLinkLocalUnicast() {
			return n.IP.String(), nil
		}
	}
	return "127.0.0.1", nil
}

// APIAddr returns the URL of this agent's API.
func (a *Agent) APIAddr() string { return a.apiURL }

// GossipAddr returns the address other agents join this one at.
func (a *Agent) GossipAddr() string { return a.cluster.GossipAddr() }

// Cluster returns the agent's cluster (tests).
func (a *Agent) Cluster() *cluster.Cluster { return a.cluster }

// Worker returns the agent's worker (tests).
func (a *Agent) Worker() *worker.Worker { return a.worker }

// Ready is closed once the worker is connected to a master.
func (a *Agent) Ready() <-chan struct{} { return a.worker.Ready() }

// Done delivers an error if the API server stops on its own.
func (a *Agent) Done() <-chan error { return a.httpDone }

// Leave is a graceful exit from the cluster: the worker drains (no new
// tasks; running ones get up to DrainTimeout, then are handed back for
// another worker), leadership is transferred, gossip announces the leave,
// and everything stops. In dev mode (nowhere else to run) running attempts
// are stopped and recorded instead.
func (a *Agent) Leave() {
	if !a.cfg.Dev {
		a.worker.Drain(a.cfg.DrainTimeout)
		a.cluster.Leave(5 * time.Second)
	}
	a.Shutdown()
}

// Crash stops the agent as abruptly as one process allows: attempts are
// killed without a report, gossip is not told, Raft just stops. Tests use
// it to simulate kill -9 of an in-process agent.
func (a *Agent) Crash() {
	a.worker.Abandon()
	a.Shutdown()
}

// Shutdown stops the agent: running attempts are stopped and reported as
// interrupted, then the master, the catalog, the API and the cluster stop.
// It may be called more than once.
func (a *Agent) Shutdown() { a.stops.run() }

// workerService is the master's side of the worker protocol plus the
// attempt logs this agent's own worker keeps (served by the agent that ran
// the attempt: they never enter Raft).
type workerService struct {
	*master.Master
	a *Agent
}

// AttemptLog opens the log of attempt n of execution id kept by this
// agent's worker.
func (s workerService) AttemptLog(id uint64, attempt int) (io.ReadCloser, int64, error) {
	w := s.a.logs.Load()
	if w == nil {
		return nil, 0, fmt.Errorf("attempt %d of execution %d: the worker has not started: %w", attempt, id, fs.ErrNotExist)
	}
	return w.AttemptLog(id, attempt)
}
