package api

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
)

// Names in a path are escaped once: a folder or project whose name needs
// escaping (a space, "!", "/") reaches the server's router as that name.
// Before, the escaped path was escaped again ("a b" arrived as "a%20b").
func TestClient_EscapesNamesInPathsOnce(t *testing.T) {
	mux := http.NewServeMux()
	var folder, project string
	mux.HandleFunc("GET /base/v1/folders/{folder}/projects/{name}", func(w http.ResponseWriter, r *http.Request) {
		folder, project = r.PathValue("folder"), r.PathValue("name")
		w.Write([]byte(`{"name": "x"}`))
	})
	ts := httptest.NewServer(mux)
	defer ts.Close()
	c, err := NewClient(Config{Address: ts.URL + "/base/"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Projects("my folder/2").Info(context.Background(), "bad name!%"); err != nil {
		t.Fatal(err)
	}
	if folder != "my folder/2" || project != "bad name!%" {
		t.Fatalf("server saw folder %q, project %q", folder, project)
	}
}
