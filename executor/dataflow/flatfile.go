package dataflow

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"unicode/utf8"
	"unsafe"

	"github.com/scaleout/scaleout/catalog/pkgspec"
	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/unicode"
)

// TextEncoding returns the encoding a flat file (or a bulk_insert data
// file) names, nil for UTF-8.
func TextEncoding(name string) encoding.Encoding {
	switch name {
	case "latin1":
		return charmap.ISO8859_1
	case "windows-1252":
		return charmap.Windows1252
	case "utf-16le":
		return unicode.UTF16(unicode.LittleEndian, unicode.UseBOM)
	case "utf-16be":
		return unicode.UTF16(unicode.BigEndian, unicode.UseBOM)
	}
	return nil
}

// recordReader splits delimited text into records: RFC 4180 with a
// configurable delimiter, quote and escape character. A field's bytes stay
// valid until the next call.
type recordReader struct {
	r      *bufio.Reader
	delim  byte
	quote  byte // 0: none
	escape byte // == quote: doubled quotes
	line   int  // line number of the record just read (1-based)
	next   int  // line number of the next line
	buf    []byte
	ends   []int // end offset of each field in buf
}

func newRecordReader(r io.Reader, ff *pkgspec.FlatFileConfig) (*recordReader, error) {
	rr := &recordReader{r: bufio.NewReaderSize(r, 1<<16), next: 1}
	for _, c := range []struct {
		v    rune
		dst  *byte
		name string
	}{{ff.Delimiter, &rr.delim, "delimiter"}, {ff.Quote, &rr.quote, "quote"}, {ff.Escape, &rr.escape, "escape"}} {
		if c.v >= utf8.RuneSelf {
			return nil, fmt.Errorf("%s %q: only ASCII characters are supported", c.name, c.v)
		}
		*c.dst = byte(c.v)
	}
	if rr.escape == 0 {
		rr.escape = rr.quote
	}
	return rr, nil
}

// readLine returns the next line without its line ending, or io.EOF.
func (rr *recordReader) readLine() ([]byte, error) {
	line, err := rr.r.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		long := append([]byte(nil), line...)
		for errors.Is(err, bufio.ErrBufferFull) {
			line, err = rr.r.ReadSlice('\n')
			long = append(long, line...)
		}
		line = long
	}
	if len(line) == 0 && err != nil {
		return nil, err
	}
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	rr.next++
	n := len(line)
	if n > 0 && line[n-1] == '\n' {
		n--
		if n > 0 && line[n-1] == '\r' {
			n--
		}
	}
	return line[:n], nil
}

// read reads one record into buf/ends. It skips empty lines.
func (rr *recordReader) read() error {
	rr.buf, rr.ends = rr.buf[:0], rr.ends[:0]
	var line []byte
	var err error
	for {
		rr.line = rr.next
		if line, err = rr.readLine(); err != nil {
			return err
		}
		if len(line) > 0 {
			break
		}
	}
	i := 0
	for {
		// one field starting at line[i]
		if rr.quote != 0 && i < len(line) && line[i] == rr.quote {
			i++
			for {
				j := i
				for j < len(line) && line[j] != rr.quote && line[j] != rr.escape {
					j++
				}
				rr.buf = append(rr.buf, line[i:j]...)
				if j == len(line) { // the field goes on on the next line
					rr.buf = append(rr.buf, '\n')
					if line, err = rr.readLine(); err != nil {
						if errors.Is(err, io.EOF) {
							return &recordError{fmt.Sprintf("line %d: quoted field not closed at the end of the file", rr.line)}
						}
						return err
					}
					i = 0
					continue
				}
				c := line[j]
				if c == rr.escape && j+1 < len(line) && (rr.escape != rr.quote || line[j+1] == rr.quote) {
					rr.buf = append(rr.buf, line[j+1])
					i = j + 2
					continue
				}
				if c == rr.quote { // closing quote
					i = j + 1
					break
				}
				rr.buf = append(rr.buf, c) // an escape character at the end of a line
				i = j + 1
			}
			rr.ends = append(rr.ends, len(rr.buf))
			if i == len(line) {
				return nil
			}
			if line[i] != rr.delim {
				return &recordError{fmt.Sprintf("line %d: unexpected %q after a closing quote", rr.next-1, line[i])}
			}
			i++
			continue
		}
		j := bytes.IndexByte(line[i:], rr.delim)
		if j < 0 {
			rr.buf = append(rr.buf, line[i:]...)
			rr.ends = append(rr.ends, len(rr.buf))
			return nil
		}
		rr.buf = append(rr.buf, line[i:i+j]...)
		rr.ends = append(rr.ends, len(rr.buf))
		i += j + 1
	}
}

// recordError is a malformed record: a row error, after which reading
// goes on with the next line.
type recordError struct{ msg string }

func (e *recordError) Error() string { return e.msg }

// field returns field k of the current record.
func (rr *recordReader) field(k int) []byte {
	s := 0
	if k > 0 {
		s = rr.ends[k-1]
	}
	return rr.buf[s:rr.ends[k]]
}

// fieldParser converts the raw fields of a source row to typed values,
// handling failures by the component's on_error.
type fieldParser struct {
	n    *node
	cols []*pkgspec.SourceColumn
	out  *port
	null string
	raw  []Value // the row's raw text, for the error output
}

// emit converts fields (one per source column, already in column order)
// and sends the row. where names the row in messages ("line 7").
func (fp *fieldParser) emit(ctx context.Context, fields [][]byte, where func() string) error {
	dst, err := fp.out.slot(ctx)
	if err != nil {
		return err
	}
	// One string holds every text field of the row: one allocation.
	total := 0
	for i, c := range fp.cols {
		if st := c.Type.Store(); st == pkgspec.StoreString || st == pkgspec.StoreBytes {
			total += len(fields[i])
		}
	}
	var all string
	if total > 0 {
		b := make([]byte, 0, total)
		for i, c := range fp.cols {
			if st := c.Type.Store(); st == pkgspec.StoreString || st == pkgspec.StoreBytes {
				b = append(b, fields[i]...)
			}
		}
		all = unsafe.String(unsafe.SliceData(b), len(b))
	}
	off := 0
	for i, c := range fp.cols {
		f := fields[i]
		var s string
		if st := c.Type.Store(); st == pkgspec.StoreString || st == pkgspec.StoreBytes {
			s = all[off : off+len(f)]
			off += len(f)
		} else {
			s = unsafe.String(unsafe.SliceData(f), len(f)) // parsed, not kept
		}
		if fp.null != "" && s == fp.null {
			dst[i] = Value{Null: true}
			continue
		}
		v, code := fromText(s, c.Type)
		if code == 0 {
			dst[i] = v
			continue
		}
		if fp.n.c.OnError == pkgspec.OnErrorIgnore {
			dst[i] = Value{Null: true}
			continue
		}
		fp.out.undo()
		return fp.fail(ctx, fields, &rowError{code: code, column: c.Name, desc: where() + ": " + codeText(code, s, c.Type)})
	}
	return nil
}

// fail sends the raw fields to the error output (or fails).
func (fp *fieldParser) fail(ctx context.Context, fields [][]byte, e *rowError) error {
	if fp.n.c.OnError != pkgspec.OnErrorRedirect {
		return fp.n.rowFailed(ctx, nil, e)
	}
	if fp.raw == nil {
		fp.raw = make([]Value, len(fp.cols))
	}
	for i := range fp.raw {
		fp.raw[i] = Value{}
		if i < len(fields) {
			fp.raw[i] = Value{S: string(fields[i])}
		}
	}
	return fp.n.rowFailed(ctx, fp.raw, e)
}

// openInput opens a source file with its decoder.
func (n *node) openInput(path, enc string) (io.Reader, func() error, error) {
	p, err := n.env.Path("path", path)
	if err != nil {
		return nil, nil, err
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, nil, err
	}
	var r io.Reader = f
	if e := TextEncoding(enc); e != nil {
		r = e.NewDecoder().Reader(f)
	}
	return r, f.Close, nil
}

// flatFileSource reads a delimited or fixed-width text file.
func (n *node) flatFileSource(ctx context.Context) error {
	ff := n.c.FlatFile
	r, closeFn, err := n.openInput(ff.Path, ff.Encoding)
	if err != nil {
		return err
	}
	defer closeFn()
	fp := &fieldParser{n: n, cols: n.c.SourceCols, out: n.out(pkgspec.OutputDefault), null: ff.NullValue}
	if ff.Format == pkgspec.FormatFixedWidth {
		return n.fixedWidth(ctx, r, fp)
	}
	return n.delimited(ctx, r, fp, ff)
}

func (n *node) delimited(ctx context.Context, r io.Reader, fp *fieldParser, ff *pkgspec.FlatFileConfig) error {
	rr, err := newRecordReader(r, ff)
	if err != nil {
		return err
	}
	for range ff.SkipRows {
		if _, err := rr.readLine(); err != nil {
			return nil
		}
	}
	// pos[i] is the file field of source column i.
	pos := make([]int, len(fp.cols))
	for i := range pos {
		pos[i] = i
	}
	if ff.Header {
		if err := rr.read(); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		header := map[string]int{}
		var names []string
		for k := range rr.ends {
			name := strings.TrimPrefix(string(rr.field(k)), "\ufeff")
			header[name] = k
			names = append(names, name)
		}
		for i, c := range fp.cols {
			k, ok := header[c.Field]
			if !ok {
				return fmt.Errorf("column %q is not in the file's header (%s)", c.Field, strings.Join(names, ", "))
			}
			pos[i] = k
		}
	}
	fields := make([][]byte, len(fp.cols))
	where := func() string { return "line " + strconv.Itoa(rr.line) }
	for {
		if err := rr.read(); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			var re *recordError
			if errors.As(err, &re) {
				// A malformed record is a row error; the reader continues
				// with the next line.
				if err := fp.fail(ctx, nil, &rowError{code: CodeConversion, desc: err.Error()}); err != nil {
					return err
				}
				continue
			}
			return err
		}
		ok := true
		for i, k := range pos {
			if k >= len(rr.ends) {
				ok = false
				break
			}
			fields[i] = rr.field(k)
		}
		if !ok || (!ff.Header && len(rr.ends) != len(fp.cols)) {
			for i, k := range pos {
				fields[i] = nil
				if k < len(rr.ends) {
					fields[i] = rr.field(k)
				}
			}
			e := &rowError{code: CodeConversion, desc: fmt.Sprintf("%s: %d fields, want %d", where(), len(rr.ends), len(fp.cols))}
			if err := fp.fail(ctx, fields, e); err != nil {
				return err
			}
			continue
		}
		if err := fp.emit(ctx, fields, where); err != nil {
			return err
		}
	}
}

func (n *node) fixedWidth(ctx context.Context, r io.Reader, fp *fieldParser) error {
	rr := &recordReader{r: bufio.NewReaderSize(r, 1<<16), next: 1}
	for range n.c.FlatFile.SkipRows {
		if _, err := rr.readLine(); err != nil {
			return nil
		}
	}
	if n.c.FlatFile.Header {
		if _, err := rr.readLine(); err != nil {
			return nil
		}
	}
	fields := make([][]byte, len(fp.cols))
	for {
		rr.line = rr.next
		line, err := rr.readLine()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		if len(line) == 0 {
			continue
		}
		off := 0
		short := false
		for i, c := range fp.cols {
			end := off
			for k := 0; k < c.Width && end < len(line); k++ { // widths count characters
				_, size := utf8.DecodeRune(line[end:])
				end += size
			}
			if end-off < c.Width && end == len(line) && i < len(fp.cols)-1 {
				short = true
			}
			if st := c.Type.Store(); st == pkgspec.StoreString || st == pkgspec.StoreBytes {
				fields[i] = bytes.TrimRight(line[off:end], " ") // padding
			} else {
				fields[i] = bytes.TrimSpace(line[off:end]) // right-aligned numbers
			}
			off = end
		}
		where := func() string { return "line " + strconv.Itoa(rr.line) }
		if short {
			if err := fp.fail(ctx, fields, &rowError{code: CodeConversion, desc: where() + ": line is shorter than the column widths"}); err != nil {
				return err
			}
			continue
		}
		if err := fp.emit(ctx, fields, where); err != nil {
			return err
		}
	}
}

// needsQuote reports whether a field must be quoted.
func needsQuote(s []byte, delim, quote byte) bool {
	for _, c := range s {
		if c == delim || c == quote || c == '\n' || c == '\r' {
			return true
		}
	}
	return false
}

// openOutput creates (or appends to) a destination file.
func (n *node) openOutput(path, enc string, appendTo bool) (io.Writer, func() error, error) {
	p, err := n.env.Path("path", path)
	if err != nil {
		return nil, nil, err
	}
	flag := os.O_CREATE | os.O_WRONLY | os.O_TRUNC
	if appendTo {
		flag = os.O_CREATE | os.O_WRONLY | os.O_APPEND
	}
	f, err := os.OpenFile(p, flag, 0o644)
	if err != nil {
		return nil, nil, err
	}
	var w io.Writer = f
	if e := TextEncoding(enc); e != nil {
		w = e.NewEncoder().Writer(f)
	}
	bw := bufio.NewWriterSize(w, 1<<16)
	return bw, func() error {
		err := bw.Flush()
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		return err
	}, nil
}

// flatFileDest writes delimited text with a header line.
func (n *node) flatFileDest(ctx context.Context) (err error) {
	ff := n.c.FlatFile
	cols := n.c.In[0].Columns
	w, closeFn, err := n.openOutput(ff.Path, ff.Encoding, ff.Append)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := closeFn(); err == nil {
			err = cerr
		}
	}()
	delim, quote := byte(ff.Delimiter), byte(ff.Quote)
	var line []byte
	writeField := func(f []byte, k int) {
		if k > 0 {
			line = append(line, delim)
		}
		if quote != 0 && needsQuote(f, delim, quote) {
			line = append(line, quote)
			for _, c := range f {
				if c == quote {
					line = append(line, quote)
				}
				line = append(line, c)
			}
			line = append(line, quote)
			return
		}
		line = append(line, f...)
	}
	eol := []byte{'\n'}
	if ff.CRLF {
		eol = []byte{'\r', '\n'}
	}
	if ff.Header && !ff.Append {
		for k, c := range cols {
			writeField([]byte(c.Name), k)
		}
		line = append(line, eol...)
	}
	var cell []byte
	return n.writeRows(ctx, w, &line, func(row []Value) {
		for k, c := range cols {
			cell = appendText(cell[:0], row[k], c.Type)
			writeField(cell, k)
		}
		line = append(line, eol...)
	})
}
