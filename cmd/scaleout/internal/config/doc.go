// Package config is the user configuration of `scaleout agent`: one
// Settings struct that both the YAML config file (--config) decodes into and
// every command-line flag is bound to, so that a setting is declared once
// (its field and yaml key, then one flag line), as Consul's agent/config
// does.
//
// Precedence, lowest first: the defaults (cluster/agent.DefaultConfig or,
// with dev set, DevConfig, which take theirs from the components), the
// config file, and the flags given on the command line (pflag's Changed). A
// flag's name is its key with '-' for '_'.
package config
