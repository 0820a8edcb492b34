// src/tls/x509.ts: issued certificates load in OpenSSL and verify against their issuer.
import assert from 'node:assert/strict';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { createSecureContext } from 'node:tls';
import { test } from 'node:test';
import { issueCertificate } from '../../src/tls/x509.ts';

test('serial numbers are minimal DER: 500 certificates in a row all load (regression: "illegal padding" about 1 start in 256)', () => {
  const ca = issueCertificate({ commonName: 'CA', isCA: true });
  for (let i = 0; i < 500; i++) {
    const c = issueCertificate({ commonName: 'h.example.com', altNames: ['h.example.com'], issuer: { commonName: 'CA', key: ca.keyObject } });
    createSecureContext({ cert: c.cert, key: c.key });
    const x = new X509Certificate(c.cert);
    assert.ok(x.checkIssued(new X509Certificate(ca.cert)));
  }
});

test('fields: subject, SAN (DNS, wildcard, IP), validity, CA flag, key match', () => {
  const notBefore = new Date('2030-01-01T00:00:00Z');
  const notAfter = new Date('2051-06-01T12:00:00Z'); // GeneralizedTime from 2050 on
  const ca = issueCertificate({ commonName: 'Test CA', isCA: true });
  const c = issueCertificate({ commonName: 'a.example.com', altNames: ['a.example.com', '*.w.example.com', '10.1.2.3'], notBefore, notAfter, issuer: { commonName: 'Test CA', key: ca.keyObject } });
  const x = new X509Certificate(c.cert);
  assert.equal(x.subject, 'CN=a.example.com');
  assert.equal(x.issuer, 'CN=Test CA');
  assert.equal(x.subjectAltName, 'DNS:a.example.com, DNS:*.w.example.com, IP Address:10.1.2.3');
  assert.equal(Date.parse(x.validFrom), notBefore.getTime());
  assert.equal(Date.parse(x.validTo), notAfter.getTime());
  assert.equal(x.ca, false);
  assert.equal(new X509Certificate(ca.cert).ca, true);
  assert.ok(x.checkPrivateKey(createPrivateKey(c.key)));
  assert.ok(x.verify(new X509Certificate(ca.cert).publicKey));
});
