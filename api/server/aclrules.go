package server

import (
	"net/http"
	"slices"

	"github.com/scaleout/scaleout/catalog"
)

// What each route needs once ACLs are on. A route missing from the table
// needs an admin token (fail closed). Rules on an execution's folder are
// checked where the request is served (withExecPerm), the others as the
// request arrives.

type ruleKind int

const (
	ruleAdmin     ruleKind = iota // an admin token
	rulePublic                    // nothing (health checks)
	ruleAny                       // any token or agent
	ruleToken                     // any token (not an agent)
	ruleAgent                     // an agent, a worker-role token or an admin token
	ruleFolder                    // perm on the folder in the path
	ruleAnyFolder                 // perm on some folder (archive uploads before a deploy)
	ruleExec                      // perm on the execution's folder: checked by the handler
	ruleList                      // any token; the handler leaves out what it may not read
)

type rule struct {
	kind ruleKind
	perm string
}

var (
	admin    = rule{kind: ruleAdmin}
	anyone   = rule{kind: ruleAny}
	agents   = rule{kind: ruleAgent}
	readF    = rule{kind: ruleFolder, perm: catalog.PermRead}
	modifyF  = rule{kind: ruleFolder, perm: catalog.PermModify}
	executeF = rule{kind: ruleFolder, perm: catalog.PermExecute}
	readE    = rule{kind: ruleExec, perm: catalog.PermRead}
	executeE = rule{kind: ruleExec, perm: catalog.PermExecute}
)

var rules = map[string]rule{
	"GET /v1/health/live":  {kind: rulePublic},
	"GET /v1/health/ready": {kind: rulePublic},
	// The second bootstrap answers 409 (bootstrapped already), not 401.
	"POST /v1/acl/bootstrap": {kind: rulePublic},
	// The web console: its login page and assets need nothing; it calls
	// the API with the token of the person using it, and the API decides
	// (api/console/login.go).
	"/ui/": {kind: rulePublic}, "GET /{$}": {kind: rulePublic},

	"GET /v1/status/leader": anyone, "GET /v1/status/health": anyone, "GET /v1/status/peers": anyone,
	"GET /v1/members": anyone, "GET /v1/caps": anyone, "GET /v1/workers": anyone,
	"GET /v1/schedules": anyone, "GET /v1/schedules/{name}": anyone, "GET /v1/schedules/{name}/runs": anyone,
	"GET /v1/schedules/{name}/runs/{id}": anyone,
	"GET /v1/acl/token/self":             {kind: ruleToken},

	// The worker protocol and the agents' own calls.
	"POST /v1/workers": agents, "POST /v1/workers/{id}/poll": agents,
	"POST /v1/executions/{id}/attempts/{attempt}/events": agents,
	"POST /v1/executions/{id}/attempts/{attempt}/result": agents,
	"GET /v1/archives/{hash}":                            agents,
	"GET /v1/operator/keyring":                           agents, "POST /v1/operator/keyring": agents,
	"GET /v1/metrics": agents,

	"GET /v1/executions":                                                         {kind: ruleList},
	"GET /v1/executions/{id}":                                                    readE,
	"GET /v1/executions/{id}/events":                                             readE,
	"GET /v1/executions/{id}/attempts/{attempt}/log":                             readE,
	"POST /v1/executions/{id}/stop":                                              executeE,
	"POST /v1/executions/{id}/start":                                             executeE,
	"POST /v1/executions/{id}/values":                                            executeE,
	"POST /v1/executions/stop":                                                   {kind: ruleExec, perm: catalog.PermExecute}, // checked per id
	"GET /v1/folders":                                                            {kind: ruleList},
	"GET /v1/folders/{folder}":                                                   readF,
	"POST /v1/archives":                                                          {kind: ruleAnyFolder, perm: catalog.PermModify},
	"PUT /v1/archives/{hash}/chunks/{n}":                                         {kind: ruleAnyFolder, perm: catalog.PermModify},
	"GET /v1/folders/{folder}/projects":                                          readF,
	"GET /v1/folders/{folder}/projects/{project}":                                readF,
	"DELETE /v1/folders/{folder}/projects/{project}":                             modifyF,
	"POST /v1/folders/{folder}/projects/{project}/versions":                      modifyF,
	"GET /v1/folders/{folder}/projects/{project}/versions":                       readF,
	"POST /v1/folders/{folder}/projects/{project}/restore":                       modifyF,
	"PUT /v1/folders/{folder}/projects/{project}/values":                         modifyF,
	"POST /v1/folders/{folder}/projects/{project}/references":                    modifyF,
	"GET /v1/folders/{folder}/projects/{project}/packages":                       readF,
	"POST /v1/folders/{folder}/projects/{project}/packages/{package}/executions": executeF,
	"GET /v1/folders/{folder}/environments":                                      readF,
	"POST /v1/folders/{folder}/environments":                                     modifyF,
	"GET /v1/folders/{folder}/environments/{env}":                                readF,
	"DELETE /v1/folders/{folder}/environments/{env}":                             modifyF,
	"PUT /v1/folders/{folder}/environments/{env}/variables/{name}":               modifyF,
	"DELETE /v1/folders/{folder}/environments/{env}/variables/{name}":            modifyF,
}

func ruleFor(pattern string) rule {
	if r, ok := rules[pattern]; ok {
		return r
	}
	return admin
}

// check applies the rule's path-only part; ruleExec and ruleList pass
// here (the handler checks them).
func (rl rule) check(p *principal, r *http.Request) error {
	isAdmin := p.token != nil && p.token.Role == catalog.RoleAdmin
	if isAdmin {
		return nil
	}
	switch rl.kind {
	case rulePublic, ruleAny:
		return nil
	case ruleExec, ruleList:
		if p.token == nil {
			return codedErr(http.StatusForbidden, "permission denied: %s needs an ACL token, not an agent's credential", r.URL.Path)
		}
		return nil
	case ruleToken:
		if p.token == nil {
			return codedErr(http.StatusForbidden, "permission denied: %s needs an ACL token", r.URL.Path)
		}
		return nil
	case ruleAgent:
		if p.token == nil || p.token.Role == catalog.RoleWorker {
			return nil
		}
		return codedErr(http.StatusForbidden, "permission denied: %s %s is for agents (the worker protocol): token %q has role %s; it needs role worker or admin",
			r.Method, r.URL.Path, p.token.Name, p.token.Role)
	case ruleFolder:
		return allowed(p, r.PathValue("folder"), rl.perm)
	case ruleAnyFolder:
		if p.token != nil && holdsAnywhere(p.token, rl.perm) {
			return nil
		}
	}
	name, role := "an agent", "agent"
	if p.token != nil {
		name, role = "token \""+p.token.Name+"\"", p.token.Role
	}
	if rl.kind == ruleAnyFolder {
		return codedErr(http.StatusForbidden, "permission denied: %s (role %s) holds %s on no folder; %s %s needs it", name, role, rl.perm, r.Method, r.URL.Path)
	}
	return codedErr(http.StatusForbidden, "permission denied: %s %s needs an admin token; %s has role %s", r.Method, r.URL.Path, name, role)
}

func holdsAnywhere(t *catalog.ACLToken, perm string) bool {
	if len(t.Folders) == 0 {
		return t.Allows("", perm)
	}
	for _, perms := range t.Folders {
		if slices.Contains(perms, perm) && slices.Contains(catalog.RolePerms[t.Role], perm) {
			return true
		}
	}
	return false
}
