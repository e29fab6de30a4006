package catalog

import "strconv"

// Cluster settings, replicated with the catalog (scaleout operator settings).

// SettingAutoApproveWorkers: whether a new worker gets work without an
// admin's 'workers approve'. Unset: on until acl bootstrap has run, off
// after. On with the access control lists bootstrapped, only a worker that
// registered with a certificate of the cluster CA is approved by itself.
const SettingAutoApproveWorkers = "auto_approve_workers"

// SettingACLRequired: every request needs an ACL token from the cluster's
// first start, before acl bootstrap too (only the health checks, acl
// bootstrap and the agents' own routes pass without one). The leader sets
// it when it, or any alive server, runs with TLS and without --insecure;
// it can only be switched on (docs/SECURITY.md, "Secure by default").
const SettingACLRequired = "acl_required"

// settingPrefix keys settings in the meta bucket.
const settingPrefix = "setting:"

// CheckSetting validates a setting's name and value.
func CheckSetting(name, value string) error {
	switch name {
	case SettingAutoApproveWorkers:
		if _, err := strconv.ParseBool(value); err != nil {
			return invalidf("setting %s: %q is not true or false", name, value)
		}
		return nil
	case SettingACLRequired:
		if b, err := strconv.ParseBool(value); err != nil || !b {
			return invalidf("setting %s: %q: it can only be switched on (true); a cluster whose servers run with TLS "+
				"and without --insecure requires ACL tokens, acl bootstrap makes the first", name, value)
		}
		return nil
	}
	return invalidf("unknown setting %q (known: %s, %s)", name, SettingAutoApproveWorkers, SettingACLRequired)
}

// PutSetting changes a setting.
func (t *Tx) PutSetting(name, value string) error {
	if err := CheckSetting(name, value); err != nil {
		return err
	}
	if name == SettingAutoApproveWorkers || name == SettingACLRequired {
		b, _ := strconv.ParseBool(value)
		value = strconv.FormatBool(b)
	}
	return t.tx.Bucket(bucketMeta).Put([]byte(settingPrefix+name), []byte(value))
}

// Setting reads a setting; ok is false when it was never set.
func (t *Tx) Setting(name string) (value string, ok bool) {
	v := t.tx.Bucket(bucketMeta).Get([]byte(settingPrefix + name))
	return string(v), v != nil
}

// ACLRequired reports whether acl_required is on.
func (t *Tx) ACLRequired() bool {
	v, ok := t.Setting(SettingACLRequired)
	b, _ := strconv.ParseBool(v)
	return ok && b
}

// ACLOn reports whether requests need a token: acl bootstrap has run or
// acl_required is on.
func (t *Tx) ACLOn() bool { return t.ACLBootstrapped() || t.ACLRequired() }

// AutoApproveWorkers is the effective auto_approve_workers: the setting,
// or, unset, on until acl bootstrap.
func (t *Tx) AutoApproveWorkers() bool {
	if v, ok := t.Setting(SettingAutoApproveWorkers); ok {
		b, _ := strconv.ParseBool(v)
		return b
	}
	return !t.ACLBootstrapped()
}

// ApprovedAtRegistration says whether a worker registering for the first
// time gets work at once: auto approval on, and either no access control
// lists or a worker that registered with a certificate of the cluster CA.
func (t *Tx) ApprovedAtRegistration(w *Worker) bool {
	return t.AutoApproveWorkers() && (!t.ACLBootstrapped() || w.Certificate)
}
