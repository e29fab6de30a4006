package ssis

import (
	"bytes"
	"crypto/cipher"
	"crypto/des"
	"crypto/sha1" //nolint:gosec // the key derivation SSIS uses; not a choice of ours
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
)

// ErrBadPassword is returned (wrapped) when a sensitive value does not
// decrypt with the package password given.
var ErrBadPassword = errors.New("the package password does not decrypt it (wrong password, or a damaged value)")

// Sensitive values of a package saved with EncryptSensitiveWithPassword
// are TripleDES-CBC ciphertexts of the sensitive element's own XML. The
// layout is not documented by Microsoft; it is the one the Apache-2.0
// tool rtumaykin/ssis-build reads and writes (ProjectManagement/Package.cs
// and ProjectFile.cs), built on documented pieces:
//
//   - key: .NET's PasswordDeriveBytes(password, salt).CryptDeriveKey(
//     "TripleDES", "SHA1", 192, iv), which calls CryptoAPI's
//     CryptDeriveKey on SHA-1 of the UTF-8 password (the salt and the
//     iteration count are not used by CryptDeriveKey). SHA-1's 20 bytes
//     are fewer than 3DES's 24, so CryptDeriveKey expands them as its
//     documentation says: SHA1((0x36 x 64) XOR H) || SHA1((0x5C x 64) XOR H),
//     first 24 bytes.
//   - .dtsx: an XML-Encryption <EncryptedData Salt="..." IV="..."> whose
//     CipherValue is the IV followed by the ciphertext (EncryptedXml's
//     convention), in place of the sensitive element or inside it.
//   - Project.params, .conmgr: the sensitive element itself carries Salt
//     and IV attributes and its text is the base64 ciphertext.
//
// Both pad with the block's last byte giving the pad length (PKCS #7 or
// ISO 10126).

// deriveKey is CryptDeriveKey(CALG_3DES, SHA-1 of the password).
func deriveKey(password string) []byte {
	h := sha1.Sum([]byte(password)) //nolint:gosec // see above
	var b1, b2 [64]byte
	for i := range b1 {
		b1[i], b2[i] = 0x36, 0x5C
	}
	for i, c := range h {
		b1[i] ^= c
		b2[i] ^= c
	}
	k1, k2 := sha1.Sum(b1[:]), sha1.Sum(b2[:]) //nolint:gosec // see above
	return append(k1[:], k2[:]...)[:24]
}

// decrypt3DES decrypts ct (whole blocks) with the password's key and iv
// and removes the padding.
func decrypt3DES(password string, iv, ct []byte) ([]byte, error) {
	block, err := des.NewTripleDESCipher(deriveKey(password))
	if err != nil {
		return nil, err
	}
	if len(iv) != block.BlockSize() {
		return nil, fmt.Errorf("the IV has %d bytes, want %d", len(iv), block.BlockSize())
	}
	if len(ct) == 0 || len(ct)%block.BlockSize() != 0 {
		return nil, fmt.Errorf("the ciphertext has %d bytes, not whole %d-byte blocks", len(ct), block.BlockSize())
	}
	out := make([]byte, len(ct))
	cipher.NewCBCDecrypter(block, iv).CryptBlocks(out, ct)
	n := int(out[len(out)-1])
	if n < 1 || n > block.BlockSize() {
		return nil, ErrBadPassword
	}
	return out[:len(out)-n], nil
}

// decryptSensitive returns the clear text of the sensitive element n that
// holds an encrypted value, in either layout, and reports whether n held
// one.
func decryptSensitive(n *Node, password string) (string, bool, error) {
	enc := n
	if !strings.EqualFold(n.Name.Local, "EncryptedData") {
		enc = n.child("EncryptedData")
	}
	var iv, ct []byte
	switch {
	case enc != nil:
		ivs, ok := enc.attr("IV")
		if !ok {
			return "", true, fmt.Errorf("EncryptedData has no IV attribute")
		}
		var cv string
		if cd := enc.child("CipherData"); cd != nil {
			if c := cd.child("CipherValue"); c != nil {
				cv = c.Text
			}
		}
		raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(cv))
		if err != nil {
			return "", true, fmt.Errorf("CipherValue is not base64: %w", err)
		}
		if iv, err = base64.StdEncoding.DecodeString(ivs); err != nil {
			return "", true, fmt.Errorf("IV is not base64: %w", err)
		}
		if len(raw) < des.BlockSize {
			return "", true, fmt.Errorf("CipherValue has %d bytes", len(raw))
		}
		iv, ct = raw[:des.BlockSize], raw[des.BlockSize:] // EncryptedXml puts the IV first
	default:
		ivs, ok := n.attr("IV")
		if _, salted := n.attr("Salt"); !ok || !salted {
			return "", false, nil
		}
		var err error
		if iv, err = base64.StdEncoding.DecodeString(ivs); err != nil {
			return "", true, fmt.Errorf("IV is not base64: %w", err)
		}
		if ct, err = base64.StdEncoding.DecodeString(strings.TrimSpace(n.Text)); err != nil {
			return "", true, fmt.Errorf("the value is not base64: %w", err)
		}
	}
	if password == "" {
		return "", true, fmt.Errorf("the value is encrypted with a package password (EncryptSensitiveWithPassword): give --package-password")
	}
	plain, err := decrypt3DES(password, iv, ct)
	if err != nil {
		return "", true, err
	}
	text, err := innerText(plain)
	if err != nil {
		return "", true, fmt.Errorf("%w: %v", ErrBadPassword, err)
	}
	return text, true, nil
}

// innerText returns the character data of the one element in frag, the
// decrypted XML of a sensitive element (its DTS: or SSIS: prefix is not
// declared in the fragment; encoding/xml keeps it as the space).
func innerText(frag []byte) (string, error) {
	d := xml.NewDecoder(bytes.NewReader(frag))
	depth, seen := 0, false
	var b strings.Builder
	for {
		tok, err := d.Token()
		if err != nil {
			if errors.Is(err, io.EOF) && seen && depth == 0 {
				return b.String(), nil
			}
			return "", fmt.Errorf("the decrypted value is not an XML element: %w", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if depth == 0 && seen {
				return "", errors.New("the decrypted value holds more than one element")
			}
			depth, seen = depth+1, true
		case xml.EndElement:
			depth--
		case xml.CharData:
			if depth == 1 {
				b.Write(t)
			}
		}
	}
}

// Decrypt decrypts the sensitive values of a project saved with
// EncryptSensitiveWithPassword (project parameters, package parameters,
// connection manager passwords) with the package password: a parameter
// gets its Value (Decrypted is set), a connection manager its Password.
// Values encrypted with a user key (DPAPI) cannot be decrypted off the
// author's machine and stay Encrypted. An error names the file, line and
// element that did not decrypt; a wrong password wraps ErrBadPassword.
func (p *Project) Decrypt(password string) error {
	param := func(prm *Parameter, what string) error {
		if prm.enc == nil {
			return nil
		}
		v, ok, err := decryptSensitive(prm.enc, password)
		if err != nil {
			return fmt.Errorf("%s: %s %s: %w", prm.where, what, prm.Name, err)
		}
		if ok {
			prm.Value, prm.HasValue, prm.Encrypted, prm.Decrypted = v, true, false, true
		}
		return nil
	}
	conn := func(c *ConnectionManager) error {
		for _, n := range c.encPW {
			v, ok, err := decryptSensitive(n, password)
			if err != nil {
				return fmt.Errorf("%s:%d: connection manager %s password: %w", c.file, n.Line, c.Name, err)
			}
			if ok {
				c.Password = v
			}
		}
		return nil
	}
	for _, prm := range p.Params {
		if err := param(prm, "project parameter"); err != nil {
			return err
		}
	}
	for _, c := range p.Connections {
		if err := conn(c); err != nil {
			return err
		}
	}
	for _, pkg := range p.Packages {
		for _, prm := range pkg.Params {
			if err := param(prm, "package parameter"); err != nil {
				return err
			}
		}
		for _, c := range pkg.Connections {
			if err := conn(c); err != nil {
				return err
			}
		}
	}
	return nil
}
