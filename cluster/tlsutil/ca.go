package tlsutil

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"strings"
	"time"
)

// Roles a certificate grants; written into the certificate as the URI SAN
// urn:scaleout:role:<role> (and as its subject's OU, for people reading it).
const (
	// RoleServer may join Raft, serve the API and call every agent.
	RoleServer = "server"
	// RoleWorker lets a worker-only agent serve its API and poll for work.
	RoleWorker = "worker"
	// RoleClient lets a person or program use the API.
	RoleClient = "client"
)

// ServerName is a DNS name in every server certificate: servers dial each
// other's Raft port by IP address and verify this name (and the server
// role) instead of the address, as Nomad verifies server.<region>.nomad.
const ServerName = "server.scaleout"

// Validity defaults.
const (
	DefaultCAValidity   = 5 * 365 * 24 * time.Hour
	DefaultCertValidity = 365 * 24 * time.Hour
)

const (
	roleURIPrefix = "urn:scaleout:role:"
	nodeURIPrefix = "urn:scaleout:node:"
)

// ErrNoRole means a certificate was not issued by `scaleout tls cert create`
// (it names no role).
var ErrNoRole = errors.New("certificate names no scaleout role")

// CreateCA returns a new self-signed ECDSA P-256 CA certificate and its key,
// PEM-encoded.
func CreateCA(validity time.Duration) (certPEM, keyPEM []byte, err error) {
	if validity <= 0 {
		validity = DefaultCAValidity
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	serial, err := serialNumber()
	if err != nil {
		return nil, nil, err
	}
	now := time.Now()
	skid := keyID(&key.PublicKey)
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "scaleout CA " + hex.EncodeToString(skid[:4]), Organization: []string{"scaleout"}},
		NotBefore:             now.Add(-time.Minute),
		NotAfter:              now.Add(validity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
		SubjectKeyId:          skid,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	keyPEM, err = encodeKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), keyPEM, nil
}

// CertRequest describes a certificate to issue.
type CertRequest struct {
	// Role is RoleServer, RoleWorker or RoleClient.
	Role string
	// Node names the agent (server and worker) or the user (client); it is
	// the subject's common name and a URI SAN.
	Node string
	// IPs and DNS are extra subject alternative names. Server and worker
	// certificates always hold 127.0.0.1, ::1 and localhost; server
	// certificates also ServerName.
	IPs []net.IP
	DNS []string
	// Validity defaults to DefaultCertValidity.
	Validity time.Duration
}

// CreateCert issues a certificate for req, signed by the CA, and returns it
// and its new key, PEM-encoded.
func CreateCert(caCertPEM, caKeyPEM []byte, req CertRequest) (certPEM, keyPEM []byte, err error) {
	ca, caKey, err := parseCA(caCertPEM, caKeyPEM)
	if err != nil {
		return nil, nil, err
	}
	if req.Validity <= 0 {
		req.Validity = DefaultCertValidity
	}
	if req.Node == "" {
		return nil, nil, errors.New("a certificate needs a node (or user) name")
	}
	if strings.ContainsAny(req.Node, " /:?#") {
		return nil, nil, fmt.Errorf("name %q: use letters, digits, '.', '-' and '_' only", req.Node)
	}
	tmpl := &x509.Certificate{
		Subject:               pkix.Name{CommonName: req.Node, Organization: []string{"scaleout"}, OrganizationalUnit: []string{req.Role}},
		KeyUsage:              x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		DNSNames:              append([]string(nil), req.DNS...),
		IPAddresses:           append([]net.IP(nil), req.IPs...),
	}
	switch req.Role {
	case RoleServer, RoleWorker:
		// Agents serve the API and dial each other.
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
		tmpl.DNSNames = append(tmpl.DNSNames, "localhost")
		tmpl.IPAddresses = append(tmpl.IPAddresses, net.IPv4(127, 0, 0, 1), net.IPv6loopback)
		if req.Role == RoleServer {
			tmpl.DNSNames = append(tmpl.DNSNames, ServerName)
		}
	case RoleClient:
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	default:
		return nil, nil, fmt.Errorf("unknown role %q (want %s, %s or %s)", req.Role, RoleServer, RoleWorker, RoleClient)
	}
	tmpl.URIs = []*url.URL{mustURL(roleURIPrefix + req.Role), mustURL(nodeURIPrefix + req.Node)}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	if tmpl.SerialNumber, err = serialNumber(); err != nil {
		return nil, nil, err
	}
	now := time.Now()
	tmpl.NotBefore = now.Add(-time.Minute)
	tmpl.NotAfter = now.Add(req.Validity)
	if tmpl.NotAfter.After(ca.NotAfter) {
		tmpl.NotAfter = ca.NotAfter // a certificate cannot outlive its CA
	}
	tmpl.SubjectKeyId = keyID(&key.PublicKey)
	tmpl.AuthorityKeyId = ca.SubjectKeyId
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, nil, err
	}
	if keyPEM, err = encodeKey(key); err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), keyPEM, nil
}

// Role returns the role a certificate issued by CreateCert grants, or
// ErrNoRole.
func Role(c *x509.Certificate) (string, error) {
	for _, u := range c.URIs {
		if s := u.String(); strings.HasPrefix(s, roleURIPrefix) {
			switch r := strings.TrimPrefix(s, roleURIPrefix); r {
			case RoleServer, RoleWorker, RoleClient:
				return r, nil
			}
		}
	}
	return "", ErrNoRole
}

// Name returns the node or user name a certificate issued by CreateCert
// was made for (its common name otherwise).
func Name(c *x509.Certificate) string {
	for _, u := range c.URIs {
		if s := u.String(); strings.HasPrefix(s, nodeURIPrefix) {
			return strings.TrimPrefix(s, nodeURIPrefix)
		}
	}
	return c.Subject.CommonName
}

func parseCA(certPEM, keyPEM []byte) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	ca, err := parseCert(certPEM)
	if err != nil {
		return nil, nil, fmt.Errorf("CA certificate: %w", err)
	}
	if !ca.IsCA {
		return nil, nil, errors.New("CA certificate: not a CA")
	}
	b, _ := pem.Decode(keyPEM)
	if b == nil {
		return nil, nil, errors.New("CA key: no PEM block")
	}
	k, err := x509.ParseECPrivateKey(b.Bytes)
	if err != nil {
		pk, err2 := x509.ParsePKCS8PrivateKey(b.Bytes)
		ek, ok := pk.(*ecdsa.PrivateKey)
		if err2 != nil || !ok {
			return nil, nil, fmt.Errorf("CA key: %w", err)
		}
		k = ek
	}
	if !k.PublicKey.Equal(ca.PublicKey) {
		return nil, nil, errors.New("CA key does not belong to the CA certificate")
	}
	return ca, k, nil
}

func parseCert(certPEM []byte) (*x509.Certificate, error) {
	b, _ := pem.Decode(certPEM)
	if b == nil || b.Type != "CERTIFICATE" {
		return nil, errors.New("no PEM certificate")
	}
	return x509.ParseCertificate(b.Bytes)
}

func encodeKey(k *ecdsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), nil
}

func serialNumber() (*big.Int, error) {
	return rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
}

func keyID(pub *ecdsa.PublicKey) []byte {
	der, _ := x509.MarshalPKIXPublicKey(pub)
	sum := sha256.Sum256(der)
	return sum[:20]
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}
