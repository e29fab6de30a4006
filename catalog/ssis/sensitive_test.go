package ssis

import (
	"crypto/cipher"
	"crypto/des"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// encryptSensitive encrypts the XML of a sensitive element following the
// EncryptSensitiveWithPassword layout (sensitive.go) with a fixed salt and
// IV, returning the ciphertext with ISO 10126-style padding (the last
// byte is the pad length).
func encryptSensitive(t *testing.T, password, elementXML string, iv []byte) []byte {
	t.Helper()
	block, err := des.NewTripleDESCipher(deriveKey(password))
	if err != nil {
		t.Fatal(err)
	}
	pt := []byte(elementXML)
	n := des.BlockSize - len(pt)%des.BlockSize
	for i := 0; i < n; i++ {
		pt = append(pt, byte(0xA0+i)) // ISO 10126: arbitrary bytes, then the length
	}
	pt[len(pt)-1] = byte(n)
	ct := make([]byte, len(pt))
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(ct, pt)
	return ct
}

// The key is CryptoAPI's CryptDeriveKey expansion of SHA-1 of the
// password (two SHA-1 of the 0x36 and 0x5C pads): a fixed vector computed
// independently with Python's hashlib.
func TestDeriveKey(t *testing.T) {
	got := base64.StdEncoding.EncodeToString(deriveKey("P@ssw0rd"))
	if got != wantKey {
		t.Errorf("deriveKey = %s, want %s", got, wantKey)
	}
}

// A project saved with EncryptSensitiveWithPassword: the project
// parameter (Salt and IV on the element), the package parameter and the
// connection manager's password (XML-Encryption EncryptedData with the IV
// before the ciphertext) decrypt with the password; a wrong or missing
// password is an error naming the file, line and element; values
// encrypted with a user key stay encrypted.
func TestProject_Decrypt(t *testing.T) {
	const pw = "P@ssw0rd"
	iv := []byte{1, 2, 3, 4, 5, 6, 7, 8}
	salt := base64.StdEncoding.EncodeToString([]byte("saltsal"))
	b64 := base64.StdEncoding.EncodeToString
	projCT := encryptSensitive(t, pw, `<SSIS:Property SSIS:Name="Value" SSIS:Sensitive="1">api &amp; key</SSIS:Property>`, iv)
	pkgCT := encryptSensitive(t, pw, `<DTS:Property DTS:Name="ParameterValue" DTS:DataType="8">pkg-secret</DTS:Property>`, iv)
	connCT := encryptSensitive(t, pw, `<DTS:Password DTS:Name="Password" Sensitive="1">conn pw</DTS:Password>`, iv)
	encData := func(ct []byte) string {
		return `<EncryptedData Type="http://www.w3.org/2001/04/xmlenc#Element" Salt="` + salt + `" IV="` + b64(iv) + `" xmlns="http://www.w3.org/2001/04/xmlenc#"><EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#tripledes-cbc" /><CipherData><CipherValue>` + b64(append(append([]byte{}, iv...), ct...)) + `</CipherValue></CipherData></EncryptedData>`
	}
	dir := filepath.Join(t.TempDir(), "proj")
	files := map[string]string{
		"Project.params": `<?xml version="1.0"?>
<SSIS:Parameters xmlns:SSIS="www.microsoft.com/SqlServer/SSIS">
  <SSIS:Parameter SSIS:Name="ApiKey">
    <SSIS:Properties>
      <SSIS:Property SSIS:Name="Sensitive">1</SSIS:Property>
      <SSIS:Property SSIS:Name="Value" SSIS:Sensitive="1" SSIS:Encrypted="1" SSIS:Salt="` + salt + `" SSIS:IV="` + b64(iv) + `">` + b64(projCT) + `</SSIS:Property>
      <SSIS:Property SSIS:Name="DataType">18</SSIS:Property>
    </SSIS:Properties>
  </SSIS:Parameter>
  <SSIS:Parameter SSIS:Name="UserKeyed">
    <SSIS:Properties>
      <SSIS:Property SSIS:Name="Sensitive">1</SSIS:Property>
      <SSIS:Property SSIS:Name="Value" SSIS:Sensitive="1" SSIS:Encrypted="1">AQAAANCMnd8BFdERjHoAwE/Cl+sBAAAA</SSIS:Property>
    </SSIS:Properties>
  </SSIS:Parameter>
</SSIS:Parameters>`,
		"Load.dtsx": `<?xml version="1.0"?>
<DTS:Executable xmlns:DTS="www.microsoft.com/SqlServer/Dts" DTS:refId="Package" DTS:CreationName="Microsoft.Package" DTS:ExecutableType="Microsoft.Package" DTS:ObjectName="Load" DTS:ProtectionLevel="2">
  <DTS:Property DTS:Name="PackageFormatVersion">8</DTS:Property>
  <DTS:ConnectionManagers>
    <DTS:ConnectionManager DTS:refId="Package.ConnectionManagers[DB]" DTS:CreationName="OLEDB" DTS:DTSID="{C3D4E5F6-0F01-4A5B-8C9D-0E1F2A3B4C5D}" DTS:ObjectName="DB">
      <DTS:ObjectData>
        <DTS:ConnectionManager DTS:ConnectionString="Data Source=db1;User ID=etl;Initial Catalog=W;Provider=SQLNCLI11.1;">
          ` + encData(connCT) + `
        </DTS:ConnectionManager>
      </DTS:ObjectData>
    </DTS:ConnectionManager>
  </DTS:ConnectionManagers>
  <DTS:PackageParameters>
    <DTS:PackageParameter DTS:CreationName="" DTS:DataType="8" DTS:ObjectName="Token" DTS:Sensitive="True">
      <DTS:Property DTS:Name="ParameterValue" Sensitive="1" Encrypted="1">` + encData(pkgCT) + `</DTS:Property>
    </DTS:PackageParameter>
  </DTS:PackageParameters>
  <DTS:Variables />
  <DTS:Executables />
</DTS:Executable>`,
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	load := func() *Project {
		t.Helper()
		p, err := Load(dir)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}

	p := load()
	if err := p.Decrypt(pw); err != nil {
		t.Fatalf("Decrypt: %v", err)
	}
	if prm := p.Params[0]; prm.Value != "api & key" || !prm.HasValue || prm.Encrypted || !prm.Decrypted {
		t.Errorf("project parameter = %+v", prm)
	}
	if prm := p.Params[1]; !prm.Encrypted || prm.Decrypted || prm.HasValue {
		t.Errorf("a user-key value must stay encrypted: %+v", prm)
	}
	pkg := p.Packages[0]
	if prm := pkg.Params[0]; prm.Value != "pkg-secret" || !prm.Decrypted {
		t.Errorf("package parameter = %+v", prm)
	}
	if c := pkg.Connections[0]; c.Password != "conn pw" || !c.Sensitive {
		t.Errorf("connection manager password = %q (sensitive %v)", c.Password, c.Sensitive)
	}

	err := load().Decrypt("wrong")
	if !errors.Is(err, ErrBadPassword) || !strings.Contains(err.Error(), "Project.params:6: project parameter ApiKey") {
		t.Errorf("wrong password: %v", err)
	}
	err = load().Decrypt("")
	if err == nil || !strings.Contains(err.Error(), "Project.params:6: project parameter ApiKey: the value is encrypted with a package password (EncryptSensitiveWithPassword): give --package-password") {
		t.Errorf("no password: %v", err)
	}
}

// wantKey is deriveKey("P@ssw0rd"), computed with Python:
// h = sha1(b"P@ssw0rd"); (sha1(0x36-pad ^ h) + sha1(0x5c-pad ^ h))[:24].
const wantKey = "+ozf4aUzwRWHs6Jcyn3unbXLVmJYcebZ"
