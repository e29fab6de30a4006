package project

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"strings"
	"testing"
)

// rawTarGz builds an archive of the given headers (a regular file gets the
// content "x").
func rawTarGz(t *testing.T, hdrs ...*tar.Header) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, h := range hdrs {
		if h.Typeflag == tar.TypeReg {
			h.Size = 1
		}
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			tw.Write([]byte("x"))
		}
	}
	tw.Close()
	gz.Close()
	return buf.Bytes()
}

// Archives are refused, by ReadFiles (deploy) and Unpack (the worker)
// alike, with an error naming the entry, when an entry could land outside
// the project directory or is anything but a regular file or directory.
func TestReadFiles_RefusesUnsafeEntries(t *testing.T) {
	manifest := &tar.Header{Name: "project.yaml", Typeflag: tar.TypeReg}
	for _, tt := range []struct {
		name string
		hdr  *tar.Header
		want string
	}{
		{"dot dot", &tar.Header{Name: "../evil", Typeflag: tar.TypeReg}, `entry "../evil" has a ".." element`},
		{"dot dot inside", &tar.Header{Name: "packages/../../evil", Typeflag: tar.TypeReg}, `entry "packages/../../evil" has a ".." element`},
		{"dot dot that stays inside", &tar.Header{Name: "packages/../a.yaml", Typeflag: tar.TypeReg}, `entry "packages/../a.yaml" has a ".." element`},
		{"absolute", &tar.Header{Name: "/etc/cron.d/evil", Typeflag: tar.TypeReg}, `entry "/etc/cron.d/evil" is an absolute path`},
		{"backslash", &tar.Header{Name: `a\..\..\evil`, Typeflag: tar.TypeReg}, `has a backslash or colon`},
		{"drive", &tar.Header{Name: `C:evil`, Typeflag: tar.TypeReg}, `entry "C:evil" has a backslash or colon`},
		{"control character", &tar.Header{Name: "a\nb", Typeflag: tar.TypeReg}, `has a control character`},
		{"symlink", &tar.Header{Name: "packages/link", Typeflag: tar.TypeSymlink, Linkname: "/etc/passwd"}, `entry "packages/link" is a symbolic link (to "/etc/passwd")`},
		{"hard link", &tar.Header{Name: "hard", Typeflag: tar.TypeLink, Linkname: "project.yaml"}, `entry "hard" is a hard link (to "project.yaml")`},
		{"char device", &tar.Header{Name: "null", Typeflag: tar.TypeChar, Devmajor: 1, Devminor: 3}, `entry "null" is a device file`},
		{"block device", &tar.Header{Name: "sda", Typeflag: tar.TypeBlock, Devmajor: 8}, `entry "sda" is a device file`},
		{"fifo", &tar.Header{Name: "pipe", Typeflag: tar.TypeFifo}, `entry "pipe" is a FIFO`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			data := rawTarGz(t, &tar.Header{Name: manifest.Name, Typeflag: tar.TypeReg}, tt.hdr)
			if _, err := ReadFiles(data, 0); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ReadFiles: %v, want %q", err, tt.want)
			}
			dest := t.TempDir()
			if err := Unpack(bytes.NewReader(data), dest, 0); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Unpack: %v, want %q", err, tt.want)
			}
		})
	}
}
