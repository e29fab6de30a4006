package worker

import (
	"slices"
	"strings"
	"testing"

	"github.com/scaleout/scaleout/api"
)

func TestTaskEnv_AllowListAndCredentials(t *testing.T) {
	environ := []string{
		"PATH=/usr/bin", "HOME=/home/a", "LC_ALL=C", "TZ=UTC",
		"SCALEOUT_TOKEN=tok", "SCALEOUT_ENCRYPT_KEY=key", "SCALEOUT_SMTP_PASSWORD=pw", "SCALEOUT_CLIENT_KEY=/k.pem",
		"AWS_SECRET_ACCESS_KEY=aws", "DB_PASSWORD=db", "MY_VAR=1", "APP_A=2", "APP_B=3", "SCALEOUT_ADDR=http://x",
		"=C:=C:\\", "broken",
	}
	got := TaskEnv(environ, []string{"MY_VAR", "APP_*", "SCALEOUT_*"})
	want := []string{"PATH=/usr/bin", "HOME=/home/a", "LC_ALL=C", "TZ=UTC", "MY_VAR=1", "APP_A=2", "APP_B=3", "SCALEOUT_ADDR=http://x"}
	if !slices.Equal(got, want) {
		t.Errorf("TaskEnv = %q, want %q", got, want)
	}
	if got := TaskEnv(environ, nil); got == nil || slices.ContainsFunc(got, func(kv string) bool {
		return strings.HasPrefix(kv, "SCALEOUT_") || strings.HasPrefix(kv, "DB_") || strings.HasPrefix(kv, "AWS_")
	}) {
		t.Errorf("TaskEnv without allow = %q (must be non-nil: a nil Env inherits everything)", got)
	}
}

func TestConfig_ValidateTaskEnvAllowAndPaths(t *testing.T) {
	base := DefaultConfig()
	base.ID, base.Command, base.WorkDir = "w", []string{"x"}, "/tmp/w"
	base.Client, _ = api.NewClient(api.Config{Address: "http://127.0.0.1:1"})
	for _, tt := range []struct {
		allow, paths []string
		want         string
	}{
		{[]string{"SCALEOUT_TOKEN"}, nil, `task env allow "SCALEOUT_TOKEN": an agent credential is never passed to package processes`},
		{[]string{"A=B"}, nil, `task env allow "A=B": not a variable name`},
		{[]string{"*"}, nil, `task env allow "*": not a variable name`},
		{[]string{"A*B"}, nil, `task env allow "A*B": not a variable name`},
		{nil, []string{"data"}, `task allow path "data" is not an absolute path`},
		{[]string{"MY_VAR", "APP_*"}, []string{"/srv/data"}, ""},
	} {
		c := base
		c.TaskEnvAllow, c.TaskAllowPaths = tt.allow, tt.paths
		err := c.Validate()
		if (tt.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("Validate(%q, %q) = %v, want %q", tt.allow, tt.paths, err, tt.want)
		}
	}
}
