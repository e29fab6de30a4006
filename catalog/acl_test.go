package catalog

import "testing"

func TestACLToken_Allows(t *testing.T) {
	admin := &ACLToken{Role: RoleAdmin}
	exec := &ACLToken{Role: RoleExecutor}
	execA := &ACLToken{Role: RoleExecutor, Folders: map[string][]string{"A": {PermRead, PermExecute}, "D": {PermModify}}}
	reader := &ACLToken{Role: RoleReader}
	readerA := &ACLToken{Role: RoleReader, Folders: map[string][]string{"A": {PermRead}}}
	worker := &ACLToken{Role: RoleWorker}
	for _, c := range []struct {
		tok          *ACLToken
		folder, perm string
		want         bool
	}{
		{admin, "X", PermModify, true},
		{exec, "X", PermExecute, true}, {exec, "X", PermRead, true}, {exec, "X", PermModify, false},
		{execA, "A", PermExecute, true}, {execA, "B", PermExecute, false}, {execA, "B", PermRead, false},
		{execA, "A", PermModify, false}, {execA, "D", PermModify, true}, {execA, "D", PermRead, false},
		{reader, "X", PermRead, true}, {reader, "X", PermExecute, false},
		{readerA, "A", PermRead, true}, {readerA, "B", PermRead, false},
		{worker, "X", PermRead, false},
	} {
		if got := c.tok.Allows(c.folder, c.perm); got != c.want {
			t.Errorf("%s %v: %s on %s = %t, want %t", c.tok.Role, c.tok.Folders, c.perm, c.folder, got, c.want)
		}
	}
}
