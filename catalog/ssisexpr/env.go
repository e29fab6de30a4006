package ssisexpr

import (
	"fmt"
	"time"
)

// Vars is a ready-made [Types] and [Env] over a map of values: the type of
// a name is the type of its value. An unqualified variable (@X) is looked
// up as written, then in the User and System namespaces. Clock supplies
// GETDATE's time (time.Now when nil).
type Vars struct {
	Values map[Ref]Value
	Clock  func() time.Time
}

func (m Vars) find(r Ref) (Value, bool) {
	if v, ok := m.Values[r]; ok {
		return v, true
	}
	if !r.Column && r.Namespace == "" {
		for _, ns := range []string{"User", "System"} {
			if v, ok := m.Values[Ref{Namespace: ns, Name: r.Name}]; ok {
				return v, true
			}
		}
	}
	return Value{}, false
}

// TypeOf returns the type of the named value.
func (m Vars) TypeOf(r Ref) (Type, error) {
	v, ok := m.find(r)
	if !ok {
		if r.Column {
			return Type{}, fmt.Errorf("unknown column %s", r)
		}
		return Type{}, fmt.Errorf("unknown variable %s", r)
	}
	return v.T, nil
}

// Lookup returns the named value.
func (m Vars) Lookup(r Ref) (Value, error) {
	v, ok := m.find(r)
	if !ok {
		return Value{}, fmt.Errorf("unknown name %s", r)
	}
	return v, nil
}

// Now returns Clock() or time.Now().
func (m Vars) Now() time.Time {
	if m.Clock != nil {
		return m.Clock()
	}
	return time.Now()
}
