package api

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// The client reads its writes: after an answer with IndexHeader, every GET
// asks for at least that index (Consistent's copy too); a higher index
// seen later raises it, a lower one does not lower it.
func TestClient_PassesTheIndexItSaw(t *testing.T) {
	var mu sync.Mutex
	var asked []string
	answer := "42"
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if r.Method == http.MethodGet {
			asked = append(asked, r.URL.Query().Get("index"))
		}
		w.Header().Set(IndexHeader, answer)
		w.Write([]byte(`{"id": 1, "node": "n"}`))
	}))
	defer ts.Close()
	c, err := NewClient(Config{Address: ts.URL})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := c.Status().Leader(ctx); err != nil { // before any index: none asked
		t.Fatal(err)
	}
	if _, err := c.Executions().Submit(ctx, &SubmitRequest{Package: "name: p"}); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	answer = "7"
	mu.Unlock()
	if _, err := c.Status().Leader(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Consistent().Status().Leader(ctx); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	// The first GET also saw 42 (the server always answers it).
	if len(asked) != 3 || asked[0] != "" || asked[1] != "42" || asked[2] != "42" {
		t.Fatalf("index asked by the GETs: %q", asked)
	}
}
