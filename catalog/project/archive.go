package project

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// ManifestFile is the project manifest at the root of a project.
const ManifestFile = "project.yaml"

// PackagesDir holds the packages of a project.
const PackagesDir = "packages"

// ErrTooLarge means an archive or its content is over the size limit.
var ErrTooLarge = errors.New("project archive too large")

// Limits of an archive's content, whatever limit the caller passes.
const (
	// MaxEntries is the most entries (files and directories) of an archive.
	MaxEntries = 10_000
	// MaxUnpackedBytes caps the unpacked content when the caller gives no
	// limit (0).
	MaxUnpackedBytes = 1 << 30
)

// Hash returns the hex SHA-256 of data, the content hash of an archive.
func Hash(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// Pack archives the project directory dir as tar.gz. The archive is
// deterministic (sorted entries, zero times and owners), so packing the same
// content twice gives the same hash. Symbolic links and special files are
// refused; hidden files and directories (".git") are left out. Pack stops
// with ErrTooLarge once the archive would exceed limit bytes (0: no limit).
func Pack(dir string, limit int64) ([]byte, error) {
	if _, err := os.Stat(filepath.Join(dir, ManifestFile)); err != nil {
		return nil, fmt.Errorf("%s is not a project directory: %w", dir, err)
	}
	var buf bytes.Buffer
	gz, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	tw := tar.NewWriter(gz)
	var total int64
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if rel == "." {
			return nil
		}
		if strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		name := filepath.ToSlash(rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		hdr := &tar.Header{Name: name, ModTime: time.Unix(0, 0), Format: tar.FormatPAX}
		switch {
		case d.IsDir():
			hdr.Typeflag, hdr.Name, hdr.Mode = tar.TypeDir, name+"/", 0o755
			return tw.WriteHeader(hdr)
		case info.Mode().IsRegular():
			hdr.Typeflag, hdr.Size, hdr.Mode = tar.TypeReg, info.Size(), 0o644
			if info.Mode()&0o111 != 0 {
				hdr.Mode = 0o755
			}
		default:
			return fmt.Errorf("%s: only regular files and directories can be deployed (symbolic links and devices are refused)", name)
		}
		total += info.Size()
		if limit > 0 && total > limit {
			return fmt.Errorf("%w: the files of %s add up to more than %d bytes", ErrTooLarge, dir, limit)
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(tw, f)
		return err
	})
	if err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := gz.Close(); err != nil {
		return nil, err
	}
	if limit > 0 && int64(buf.Len()) > limit {
		return nil, fmt.Errorf("%w: the archive of %s is %d bytes, over the limit of %d", ErrTooLarge, dir, buf.Len(), limit)
	}
	return buf.Bytes(), nil
}

// walk calls fn for every regular file of an archive, with a clean relative
// slash path. Paths that escape the root, links and special entries are
// errors, and so is a path that comes twice (as a file or a directory) or
// lies under a file: such an archive could be stored but not unpacked.
// limit caps the total unpacked size (0: MaxUnpackedBytes); the number of
// entries is capped at MaxEntries.
func walk(r io.Reader, limit int64, fn func(name string, mode int64, r io.Reader) error, dir func(name string) error) error {
	if limit <= 0 || limit > MaxUnpackedBytes {
		limit = MaxUnpackedBytes
	}
	gz, err := gzip.NewReader(r)
	if err != nil {
		return fmt.Errorf("not a project archive (gzip): %w", err)
	}
	tr := tar.NewReader(gz)
	var total int64
	seen := map[string]byte{} // 'f' file, 'd' directory
	for n := 1; ; n++ {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read project archive: %w", err)
		}
		if n > MaxEntries {
			return fmt.Errorf("%w: more than %d entries", ErrTooLarge, MaxEntries)
		}
		if err := checkName(hdr.Name); err != nil {
			return err
		}
		if err := checkType(hdr); err != nil {
			return err
		}
		name := path.Clean(strings.TrimSuffix(hdr.Name, "/"))
		if err := checkEntry(seen, name, hdr.Typeflag == tar.TypeDir); err != nil {
			return err
		}
		switch hdr.Typeflag {
		case tar.TypeDir:
			if dir != nil {
				if err := dir(name); err != nil {
					return err
				}
			}
		case tar.TypeReg:
			total += hdr.Size
			if limit > 0 && total > limit {
				return fmt.Errorf("%w: unpacked content over %d bytes", ErrTooLarge, limit)
			}
			if err := fn(name, hdr.Mode, tr); err != nil {
				return err
			}
		}
	}
}

// checkName refuses an entry name that is absolute, climbs out with "..",
// is empty, or is not portable: a backslash (a separator on Windows), a
// drive or stream colon, a NUL or another control character.
func checkName(raw string) error {
	name := path.Clean(strings.TrimSuffix(raw, "/"))
	switch {
	case raw == "" || name == ".":
		return fmt.Errorf("project archive entry %q has no name", raw)
	case path.IsAbs(raw) || path.IsAbs(name):
		return fmt.Errorf("project archive entry %q is an absolute path: paths must be relative to the project directory", raw)
	case name == ".." || strings.HasPrefix(name, "../") || slices.Contains(strings.Split(raw, "/"), ".."):
		return fmt.Errorf("project archive entry %q has a \"..\" element: paths must stay inside the project directory", raw)
	case strings.ContainsAny(raw, `\:`):
		return fmt.Errorf("project archive entry %q has a backslash or colon (a separator, drive or stream on Windows): use '/' between directories", raw)
	case strings.ContainsFunc(raw, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return fmt.Errorf("project archive entry %q has a control character", raw)
	}
	return nil
}

// checkType refuses every entry but a regular file or a directory, naming
// what it is: links could point out of the project directory (or at a
// file of the agent) and special files could block or reach devices.
func checkType(hdr *tar.Header) error {
	what := ""
	switch hdr.Typeflag {
	case tar.TypeReg, tar.TypeDir:
		return nil
	case tar.TypeSymlink:
		what = fmt.Sprintf("a symbolic link (to %q)", hdr.Linkname)
	case tar.TypeLink:
		what = fmt.Sprintf("a hard link (to %q)", hdr.Linkname)
	case tar.TypeChar, tar.TypeBlock:
		what = "a device file"
	case tar.TypeFifo:
		what = "a FIFO (named pipe)"
	default:
		what = fmt.Sprintf("of tar type %q", hdr.Typeflag)
	}
	return fmt.Errorf("project archive entry %q is %s: only regular files and directories are accepted", hdr.Name, what)
}

// checkEntry records name (a directory when isDir) in seen and refuses a
// second entry of the same path, unless both are directories, and a path
// under a file.
func checkEntry(seen map[string]byte, name string, isDir bool) error {
	kind := byte('f')
	if isDir {
		kind = 'd'
	}
	if prev, ok := seen[name]; ok && (prev == 'f' || kind == 'f') {
		return fmt.Errorf("project archive has the path %q twice", name)
	}
	for p := path.Dir(name); p != "."; p = path.Dir(p) {
		if seen[p] == 'f' {
			return fmt.Errorf("project archive entry %q lies under the file %q", name, p)
		}
	}
	for p := path.Dir(name); p != "."; p = path.Dir(p) {
		seen[p] = 'd' // implied by the entry
	}
	seen[name] = kind
	return nil
}

// ReadFiles returns the content of every file of an archive by path.
func ReadFiles(archive []byte, limit int64) (map[string][]byte, error) {
	files := map[string][]byte{}
	err := walk(bytes.NewReader(archive), limit, func(name string, _ int64, r io.Reader) error {
		b, err := io.ReadAll(r)
		files[name] = b
		return err
	}, nil)
	return files, err
}

// Unpack extracts an archive into dest (created if needed).
func Unpack(r io.Reader, dest string, limit int64) error {
	if err := os.MkdirAll(dest, 0o755); err != nil {
		return err
	}
	mk := func(name string) error { return os.MkdirAll(filepath.Join(dest, filepath.FromSlash(name)), 0o755) }
	return walk(r, limit, func(name string, mode int64, r io.Reader) error {
		p := filepath.Join(dest, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		perm := os.FileMode(0o644)
		if mode&0o111 != 0 {
			perm = 0o755
		}
		f, err := os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY, perm)
		if err != nil {
			return err
		}
		_, err = io.Copy(f, r)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		return err
	}, mk)
}
