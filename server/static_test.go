package server

import (
	"compress/gzip"
	"io"
	"io/fs"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"
)

func TestStaticServing(t *testing.T) {
	f := newFixture(t)
	root := fstest.MapFS{
		"dist/index.html":         {Data: []byte("<html>app</html>")},
		"dist/assets/app-1a2b.js": {Data: []byte("console.log(1)")},
		"dist/favicon.svg":        {Data: []byte("<svg/>")},
		"secret.txt":              {Data: []byte("SECRET")},
	}
	ui, _ := fs.Sub(root, "dist")
	f.srv = New(f.store, Config{Build: "test", UI: ui, Logger: f.srv.log})
	get := func(target string) (int, string, string) {
		req := httptest.NewRequest("GET", "/", nil)
		req.URL.RawPath, req.URL.Path = target, target
		req.RequestURI = target
		res, err := f.srv.App().Test(req, -1)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, res.Header.Get("Cache-Control"), string(b)
	}
	tests := []struct {
		target, body, cache string
		status              int
	}{
		{"/", "<html>app</html>", "no-cache", 200},
		{"/wall", "<html>app</html>", "no-cache", 200},
		{"/projects/JY22-P001", "<html>app</html>", "no-cache", 200},
		{"/assets/app-1a2b.js", "console.log(1)", "public, max-age=31536000, immutable", 200},
		{"/assets/missing.js", "", "", 404},
		{"/favicon.svg", "<svg/>", "no-cache", 200},
	}
	for _, tt := range tests {
		status, cache, body := get(tt.target)
		if status != tt.status || (tt.body != "" && body != tt.body) || (tt.cache != "" && cache != tt.cache) {
			t.Errorf("%s: got %d %q %q, want %d %q %q", tt.target, status, cache, body, tt.status, tt.cache, tt.body)
		}
	}
	for _, target := range []string{"/../secret.txt", "/..%2fsecret.txt", "/%2e%2e/secret.txt", "/%2e%2e%2fsecret.txt",
		"/..%252fsecret.txt", "/assets/..%2f..%2fsecret.txt", "/assets/%2e%2e/%2e%2e/secret.txt", "/..\\secret.txt",
		"/%252e%252e%252fsecret.txt", "/secret.txt"} {
		status, _, body := get(target)
		if strings.Contains(body, "SECRET") || status >= 500 {
			t.Errorf("%s: got %d %q", target, status, body)
		}
	}
	// Text files over 1 KiB go out gzip-compressed to clients that accept it.
	big := strings.Repeat("console.log('projectboard');\n", 200)
	root["dist/assets/big-9z.js"] = &fstest.MapFile{Data: []byte(big)}
	req := httptest.NewRequest("GET", "/assets/big-9z.js", nil)
	req.Header.Set("Accept-Encoding", "br, gzip;q=0.9")
	res, _ := f.srv.App().Test(req, -1)
	zr, err := gzip.NewReader(res.Body)
	if err != nil || res.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("got Content-Encoding %q, %v", res.Header.Get("Content-Encoding"), err)
	}
	if plain, _ := io.ReadAll(zr); string(plain) != big {
		t.Fatal("gzip body differs from the file")
	}
	if status, _, body := get("/assets/big-9z.js"); status != 200 || body != big {
		t.Fatal("a client without gzip got something else than the file")
	}
	// Without a built UI, every page explains how to build it.
	f.srv = New(f.store, Config{Build: "test", UI: fstest.MapFS{}, Logger: f.srv.log})
	if status, _, body := get("/wall"); status != 200 || !strings.Contains(body, "make build") {
		t.Errorf("unbuilt UI: got %d %q", status, body)
	}
}
