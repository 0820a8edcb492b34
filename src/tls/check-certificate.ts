// The deep certificate check translate uses (TranslateOptions.checkCertificate): the PEM parses as
// an X.509 certificate, the key parses, and the key belongs to the certificate. Deterministic (no
// clock: an expired certificate is still served, and its expiry is exported as a metric).
// Memoized by content: a rebuild re-checks nothing that did not change.
import { X509Certificate, createPrivateKey } from 'node:crypto';
import type { CertificateChecker } from '../model/snapshot.ts';

type Outcome = ReturnType<CertificateChecker>;

const MAX_CACHED = 20_000;
const cache = new Map<string, Outcome>();

export const checkCertificate: CertificateChecker = (certificate, key) => {
  const id = certificate + '\u0000' + key;
  let outcome = cache.get(id);
  if (outcome === undefined) {
    outcome = check(certificate, key);
    if (cache.size >= MAX_CACHED) cache.clear();
    cache.set(id, outcome);
  }
  return outcome;
};

function check(certificate: string, key: string): Outcome {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(certificate); // the first certificate of the chain: the leaf
  } catch (err) {
    return { ok: false, error: `tls.crt cannot be parsed (${(err as Error).message})` };
  }
  let privateKey;
  try {
    privateKey = createPrivateKey(key);
  } catch (err) {
    return { ok: false, error: `tls.key cannot be parsed (${(err as Error).message})` };
  }
  if (!cert.checkPrivateKey(privateKey)) return { ok: false, error: 'tls.key does not match the certificate in tls.crt' };
  return { ok: true, notAfter: Math.floor(Date.parse(cert.validTo) / 1000) };
}
