package worker

import (
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
)

// The package processes a worker starts (its hidden `exec` child and the
// task processes that child starts) do not inherit the agent's
// environment: an agent may hold credentials there (SCALEOUT_TOKEN, the
// catalog key, an SMTP password, TLS key paths) that a package must never
// see, print or pass on. They get only the variables named by
// DefaultTaskEnv and by Config.TaskEnvAllow, and never one of
// CredentialEnv.

// DefaultTaskEnv lists the variables of the agent's environment that
// package processes get without being named by the operator: what
// programs need to find commands, a home, a locale, a time zone and a
// temporary directory (and on Windows, the system's own variables). A name
// ending in '*' is a prefix.
var DefaultTaskEnv = []string{
	"PATH", "HOME", "USER", "LOGNAME", "SHELL", "TERM", "LANG", "LANGUAGE", "LC_*", "TZ",
	"TMPDIR", "TEMP", "TMP", "SSL_CERT_FILE", "SSL_CERT_DIR",
	// Windows
	"SYSTEMROOT", "SYSTEMDRIVE", "WINDIR", "COMSPEC", "PATHEXT", "USERPROFILE", "USERNAME",
	"USERDOMAIN", "APPDATA", "LOCALAPPDATA", "PROGRAMDATA", "PROGRAMFILES", "PROGRAMFILES(X86)",
	"PROGRAMW6432", "COMMONPROGRAMFILES", "COMMONPROGRAMFILES(X86)", "COMPUTERNAME",
	"NUMBER_OF_PROCESSORS", "PROCESSOR_ARCHITECTURE", "HOMEDRIVE", "HOMEPATH", "PUBLIC",
}

// CredentialEnv lists the variables through which an agent or the CLI
// takes a credential. They never reach a package process, even when the
// operator names them (Config.Validate refuses that) or a pattern covers
// them.
var CredentialEnv = []string{
	"SCALEOUT_TOKEN", "SCALEOUT_ENCRYPT_KEY", "SCALEOUT_GOSSIP_KEY", "SCALEOUT_CLIENT_KEY",
	"SCALEOUT_TLS_KEY", "SCALEOUT_SMTP_PASSWORD",
}

// envName normalises a variable name for comparison: Windows names are
// case-insensitive.
func envName(s string) string {
	if runtime.GOOS == "windows" {
		return strings.ToUpper(s)
	}
	return s
}

// envMatch reports whether the variable name matches pattern (a name, or a
// prefix ending in '*').
func envMatch(pattern, name string) bool {
	pattern, name = envName(pattern), envName(name)
	if p, ok := strings.CutSuffix(pattern, "*"); ok {
		return strings.HasPrefix(name, p)
	}
	return pattern == name
}

// isCredentialEnv reports whether name is one of CredentialEnv.
func isCredentialEnv(name string) bool {
	for _, c := range CredentialEnv {
		if envMatch(c, name) {
			return true
		}
	}
	return false
}

// checkTaskEnvAllow reports the first entry of allow (Config.TaskEnvAllow)
// that is not a variable name or a NAME* prefix, or that names an agent
// credential.
func checkTaskEnvAllow(allow []string) error {
	for _, a := range allow {
		name := strings.TrimSuffix(a, "*")
		switch {
		case name == "" || strings.ContainsAny(name, "=*\x00"):
			return fmt.Errorf("task env allow %q: not a variable name or a NAME* prefix", a)
		case len(a) > 256:
			return fmt.Errorf("task env allow %q...: over 256 bytes", a[:32])
		case isCredentialEnv(a):
			return fmt.Errorf("task env allow %q: an agent credential is never passed to package processes", a)
		}
	}
	return nil
}

// TaskEnv returns the environment of package processes: the entries of
// environ ("KEY=value") whose name DefaultTaskEnv or allow names, less
// every credential (CredentialEnv), in their order.
func TaskEnv(environ, allow []string) []string {
	out := []string{}
	for _, kv := range environ {
		name, _, ok := strings.Cut(kv, "=")
		if !ok || name == "" || isCredentialEnv(name) {
			continue
		}
		for _, lists := range [][]string{DefaultTaskEnv, allow} {
			if matchAny(lists, name) {
				out = append(out, kv)
				break
			}
		}
	}
	return out
}

func matchAny(patterns []string, name string) bool {
	for _, p := range patterns {
		if envMatch(p, name) {
			return true
		}
	}
	return false
}

// dropCredentials returns environ without CredentialEnv: the child applies
// it to its own environment as well, in case it was started by hand.
func dropCredentials(environ []string) []string {
	out := make([]string, 0, len(environ))
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if !isCredentialEnv(name) {
			out = append(out, kv)
		}
	}
	return out
}

// CheckTaskSettings reports the first problem with Config.TaskEnvAllow
// and Config.TaskAllowPaths: the agent checks them before it starts
// anything.
func CheckTaskSettings(allow, paths []string) error {
	if err := checkTaskEnvAllow(allow); err != nil {
		return err
	}
	return checkTaskAllowPaths(paths)
}

// checkTaskAllowPaths reports the first entry of Config.TaskAllowPaths
// that is not an absolute path.
func checkTaskAllowPaths(roots []string) error {
	for _, r := range roots {
		if !filepath.IsAbs(r) {
			return fmt.Errorf("task allow path %q is not an absolute path", r)
		}
	}
	return nil
}
