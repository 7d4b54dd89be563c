package gateway_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/anxin-care/anxin/gateway"
	"github.com/anxin-care/anxin/gateway/gatewaytest"
)

// TestPressOverTLS: a device that reaches the gateway over the internet
// connects with TLS (verifying the gateway's certificate), presses, and
// hears "received".
func TestPressOverTLS(t *testing.T) {
	certFile, keyFile, pool := selfSigned(t)
	g := gatewaytest.Start(t, gateway.Config{MQTTTLSAddr: "127.0.0.1:0", TLSCertFile: certFile, TLSKeyFile: keyFile})
	pw := g.Provision("band-far", "safety_band")

	got := make(chan gateway.Reassure, 4)
	c := paho.NewClient(paho.NewClientOptions().AddBroker("ssl://" + g.MQTTTLSAddr()).
		SetTLSConfig(&tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}).
		SetClientID("band-far").SetUsername("band-far").SetPassword(pw).SetConnectTimeout(5 * time.Second))
	if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("connect over TLS: %v", tok.Error())
	}
	defer c.Disconnect(0)
	c.Subscribe("anxin/v1/band-far/cmd", 1, func(_ paho.Client, m paho.Message) {
		var r gateway.Reassure
		if json.Unmarshal(m.Payload(), &r) == nil {
			got <- r
		}
	}).WaitTimeout(5 * time.Second)
	if tok := c.Publish("anxin/v1/band-far/event", 1, false, `{"seq":1,"type":"band.sos"}`); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("publish: %v", tok.Error())
	}
	select {
	case r := <-got:
		if r.Seq != 1 || r.State != "received" {
			t.Fatalf("reassurance %+v", r)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no reassurance over TLS")
	}
	// A client that does not trust the certificate cannot connect.
	bad := paho.NewClient(paho.NewClientOptions().AddBroker("ssl://" + g.MQTTTLSAddr()).
		SetTLSConfig(&tls.Config{MinVersion: tls.VersionTLS12}).SetClientID("band-far:x").
		SetUsername("band-far").SetPassword(pw).SetConnectTimeout(2 * time.Second))
	if tok := bad.Connect(); tok.WaitTimeout(3*time.Second) && tok.Error() == nil {
		bad.Disconnect(0)
		t.Fatal("connected without trusting the gateway's certificate")
	}
}

// selfSigned writes a certificate for 127.0.0.1 and its key, and returns a
// pool that trusts it.
func selfSigned(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "anxin test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600)
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}
