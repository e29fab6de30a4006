package ssis

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Limits of one XML document.
const (
	// MaxFileBytes is the largest .dtsx, .conmgr, .params or .dtproj file
	// read (SSIS packages of tens of megabytes exist; beyond this one is
	// refused rather than held in memory).
	MaxFileBytes = 64 << 20
	// MaxElements is the most XML elements of one document.
	MaxElements = 2_000_000
	// MaxDepth is the deepest element nesting of one document.
	MaxDepth = 256
)

// fileLimit and archiveLimit are MaxFileBytes and MaxArchiveBytes; tests
// lower them.
var (
	fileLimit    = MaxFileBytes
	archiveLimit = int64(MaxArchiveBytes)
)

// ErrTooLarge means a file or an archive is over one of the limits.
var ErrTooLarge = errors.New("over the size limit")

// DTS is the XML namespace of SSIS package elements.
const DTS = "www.microsoft.com/SqlServer/Dts"

// Node is an XML element: its name, attributes, children and text.
type Node struct {
	Name     xml.Name
	Attr     []xml.Attr
	Children []*Node
	Text     string
	Line     int
	buf      []byte // text collected until the element ends
}

// parseXML reads a whole document into a tree, within the limits.
func parseXML(file string, data []byte) (*Node, error) {
	if len(data) > fileLimit {
		return nil, fmt.Errorf("%s: %d bytes: %w (%d bytes)", file, len(data), ErrTooLarge, fileLimit)
	}
	d := xml.NewDecoder(bytes.NewReader(data))
	d.Strict = true
	d.CharsetReader = charsetReader
	var stack []*Node
	var root *Node
	count := 0
	line := func() int { l, _ := d.InputPos(); return l }
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			where := ""
			if len(stack) > 0 {
				where = " in element <" + stack[len(stack)-1].qname() + "> opened at line " + fmt.Sprint(stack[len(stack)-1].Line)
			}
			return nil, fmt.Errorf("%s: XML error%s: %v", file, where, err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			count++
			if count > MaxElements {
				return nil, fmt.Errorf("%s:%d: more than %d XML elements: %w", file, line(), MaxElements, ErrTooLarge)
			}
			if len(stack) >= MaxDepth {
				return nil, fmt.Errorf("%s:%d: XML nested deeper than %d elements: %w", file, line(), MaxDepth, ErrTooLarge)
			}
			n := &Node{Name: t.Name, Attr: t.Copy().Attr, Line: line()}
			if len(stack) == 0 {
				if root != nil {
					return nil, fmt.Errorf("%s:%d: more than one root element", file, n.Line)
				}
				root = n
			} else {
				p := stack[len(stack)-1]
				p.Children = append(p.Children, n)
			}
			stack = append(stack, n)
		case xml.EndElement:
			n := stack[len(stack)-1]
			n.Text, n.buf = string(n.buf), nil
			stack = stack[:len(stack)-1]
		case xml.CharData:
			// Text between child elements is layout only.
			if len(stack) > 0 && len(stack[len(stack)-1].Children) == 0 {
				n := stack[len(stack)-1]
				n.buf = append(n.buf, t...)
			}
		}
	}
	if root == nil {
		return nil, fmt.Errorf("%s: no XML element (empty or not XML)", file)
	}
	if len(stack) > 0 {
		return nil, fmt.Errorf("%s: XML is truncated: element <%s> opened at line %d is never closed", file, stack[len(stack)-1].qname(), stack[len(stack)-1].Line)
	}
	return root, nil
}

// charsetReader accepts the encodings SSIS writes: UTF-8 (also declared as
// utf-8 or us-ascii). UTF-16 files are converted before parsing (decodeText).
func charsetReader(charset string, in io.Reader) (io.Reader, error) {
	switch strings.ToLower(charset) {
	case "utf-8", "utf8", "us-ascii", "ascii", "utf-16", "unicode":
		return in, nil
	}
	return nil, fmt.Errorf("unsupported XML encoding %q", charset)
}

// decodeText turns UTF-16 input (with its byte order mark) into UTF-8 and
// strips a UTF-8 byte order mark.
func decodeText(data []byte) []byte {
	switch {
	case bytes.HasPrefix(data, []byte{0xEF, 0xBB, 0xBF}):
		return data[3:]
	case len(data) >= 2 && (data[0] == 0xFF && data[1] == 0xFE || data[0] == 0xFE && data[1] == 0xFF):
		le := data[0] == 0xFF
		var b strings.Builder
		var hi rune
		for i := 2; i+1 < len(data); i += 2 {
			var u rune
			if le {
				u = rune(data[i]) | rune(data[i+1])<<8
			} else {
				u = rune(data[i])<<8 | rune(data[i+1])
			}
			switch {
			case u >= 0xD800 && u < 0xDC00:
				hi = u
				continue
			case u >= 0xDC00 && u < 0xE000 && hi != 0:
				u = (hi-0xD800)<<10 + (u - 0xDC00) + 0x10000
				hi = 0
			}
			b.WriteRune(u)
		}
		return []byte(b.String())
	}
	return data
}

func (n *Node) qname() string {
	if n.Name.Space == DTS {
		return "DTS:" + n.Name.Local
	}
	return n.Name.Local
}

// attr returns the attribute called local (any namespace), and whether it
// is there. In format 3 packages most attributes are child
// <DTS:Property DTS:Name="local"> elements instead; attr reads those too.
func (n *Node) attr(local string) (string, bool) {
	if n == nil {
		return "", false
	}
	for _, a := range n.Attr {
		if a.Name.Local == local && a.Name.Space != "xmlns" {
			return a.Value, true
		}
	}
	for _, c := range n.Children {
		if c.Name.Local == "Property" && c.Name.Space == DTS {
			if name, _ := c.attrOnly("Name"); name == local {
				return c.Text, true
			}
		}
	}
	return "", false
}

// attrOnly is attr without the property fallback.
func (n *Node) attrOnly(local string) (string, bool) {
	for _, a := range n.Attr {
		if a.Name.Local == local && a.Name.Space != "xmlns" {
			return a.Value, true
		}
	}
	return "", false
}

// get returns the attribute or property local, or "".
func (n *Node) get(local string) string {
	v, _ := n.attr(local)
	return v
}

// child returns the first child element called local, or nil.
func (n *Node) child(local string) *Node {
	if n == nil {
		return nil
	}
	for _, c := range n.Children {
		if c.Name.Local == local {
			return c
		}
	}
	return nil
}

// all returns the children called local.
func (n *Node) all(local string) []*Node {
	if n == nil {
		return nil
	}
	var out []*Node
	for _, c := range n.Children {
		if c.Name.Local == local {
			out = append(out, c)
		}
	}
	return out
}

// path returns the elements reached by following the local names.
func (n *Node) path(locals ...string) []*Node {
	cur := []*Node{n}
	for _, l := range locals {
		var next []*Node
		for _, c := range cur {
			next = append(next, c.all(l)...)
		}
		cur = next
	}
	return cur
}

// props returns the <property name="X">value</property> children of a
// pipeline object's <properties> element, by name.
func (n *Node) props() map[string]string {
	out := map[string]string{}
	for _, p := range n.path("properties", "property") {
		name, _ := p.attrOnly("name")
		out[name] = p.Text
	}
	return out
}

// unescapeSSIS decodes SSIS's _xHHHH_ escapes in delimiters and
// qualifiers (_x002C_ is a comma, _x000D__x000A_ CR LF).
func unescapeSSIS(s string) string {
	if !strings.Contains(s, "_x") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		if i+7 <= len(s) && s[i] == '_' && s[i+1] == 'x' && s[i+6] == '_' {
			var r rune
			ok := true
			for _, c := range s[i+2 : i+6] {
				switch {
				case c >= '0' && c <= '9':
					r = r*16 + c - '0'
				case c >= 'a' && c <= 'f':
					r = r*16 + c - 'a' + 10
				case c >= 'A' && c <= 'F':
					r = r*16 + c - 'A' + 10
				default:
					ok = false
				}
			}
			if ok {
				b.WriteRune(r)
				i += 7
				continue
			}
		}
		b.WriteByte(s[i])
		i++
	}
	return b.String()
}

// Local is the element's local name.
func (n *Node) Local() string { return n.Name.Local }

// Attr1 returns the attribute (or format 3 property) called local.
func (n *Node) Attr1(local string) (string, bool) { return n.attr(local) }

// Child returns the first child element called local, or nil.
func (n *Node) Child(local string) *Node { return n.child(local) }

// All returns the child elements called local.
func (n *Node) All(local string) []*Node { return n.all(local) }

// Props returns a pipeline object's properties by name.
func (n *Node) Props() map[string]string { return n.props() }
