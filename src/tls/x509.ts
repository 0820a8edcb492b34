// Just enough X.509 to issue certificates with node:crypto alone (Node can parse certificates but
// not create them): a DER encoder for a v3 TBSCertificate with subject CN, subjectAltName (DNS
// names, IP addresses) and basicConstraints, signed with ECDSA P-256 / SHA-256. Used for the
// self-signed default certificate (served when nothing else matches, like ingress-nginx's "Fake
// Certificate") and by the tests to build a CA and its leaf certificates. ~100 lines instead of a
// dependency (node-forge is 1.6 MB for this).
import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { isIP } from 'node:net';

function length(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

function tlv(tag: number, ...content: Buffer[]): Buffer {
  const body = Buffer.concat(content);
  return Buffer.concat([Buffer.from([tag]), length(body.length), body]);
}

const seq = (...c: Buffer[]): Buffer => tlv(0x30, ...c);

function oid(dotted: string): Buffer {
  const parts = dotted.split('.').map(Number);
  const bytes: number[] = [parts[0] * 40 + parts[1]];
  for (const p of parts.slice(2)) {
    const chunk: number[] = [p & 0x7f];
    for (let v = Math.floor(p / 128); v > 0; v = Math.floor(v / 128)) chunk.unshift(0x80 | (v & 0x7f));
    bytes.push(...chunk);
  }
  return tlv(0x06, Buffer.from(bytes));
}

function time(date: Date): Buffer {
  const iso = date.toISOString().replace(/[-:T]/g, '').slice(0, 14) + 'Z'; // YYYYMMDDHHMMSSZ
  const year = date.getUTCFullYear();
  return year >= 1950 && year < 2050 ? tlv(0x17, Buffer.from(iso.slice(2))) : tlv(0x18, Buffer.from(iso));
}

function name(commonName: string): Buffer {
  return seq(tlv(0x31, seq(oid('2.5.4.3'), tlv(0x0c, Buffer.from(commonName)))));
}

const ECDSA_SHA256 = seq(oid('1.2.840.10045.4.3.2'));

export interface IssueOptions {
  readonly commonName: string;
  /** DNS names ("*.example.com" allowed) and IP addresses for subjectAltName. */
  readonly altNames?: readonly string[];
  readonly notBefore?: Date;
  readonly notAfter?: Date;
  /** basicConstraints CA:TRUE (a CA that can sign the test leaves). */
  readonly isCA?: boolean;
  /** Signer: its certificate's subject CN and private key; omitted = self-signed. */
  readonly issuer?: { readonly commonName: string; readonly key: KeyObject | string };
  /** Key pair to certify; generated (P-256) when omitted. */
  readonly key?: KeyObject;
}

export interface IssuedCertificate {
  /** PEM certificate. */
  readonly cert: string;
  /** PEM private key (PKCS#8). */
  readonly key: string;
  readonly keyObject: KeyObject;
}

/** Issues a certificate (self-signed unless `issuer` is given). */
export function issueCertificate(options: IssueOptions): IssuedCertificate {
  const privateKey = options.key ?? generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  const spki = createPublicKeyDer(privateKey);
  const notBefore = options.notBefore ?? new Date(Date.now() - 60_000);
  const notAfter = options.notAfter ?? new Date(notBefore.getTime() + 365 * 86_400_000);
  const serial = randomBytes(16);
  // A positive INTEGER in minimal DER form: first byte 0x40..0x7f (no sign bit, never a leading 0x00,
  // which DER forbids when the next byte is below 0x80: "illegal padding").
  serial[0] = (serial[0] & 0x3f) | 0x40;
  const extensions: Buffer[] = [seq(oid('2.5.29.19'), tlv(0x01, Buffer.from([0xff])), tlv(0x04, seq(...(options.isCA ? [tlv(0x01, Buffer.from([0xff]))] : []))))];
  const alt = options.altNames ?? [];
  if (alt.length > 0) {
    const names = alt.map((n) => {
      if (isIP(n) === 4) return tlv(0x87, Buffer.from(n.split('.').map(Number)));
      return tlv(0x82, Buffer.from(n));
    });
    extensions.push(seq(oid('2.5.29.17'), tlv(0x04, seq(...names))));
  }
  const tbs = seq(
    tlv(0xa0, tlv(0x02, Buffer.from([2]))),
    tlv(0x02, serial),
    ECDSA_SHA256,
    name(options.issuer?.commonName ?? options.commonName),
    seq(time(notBefore), time(notAfter)),
    name(options.commonName),
    spki,
    tlv(0xa3, seq(...extensions)),
  );
  const signer = options.issuer === undefined ? privateKey : typeof options.issuer.key === 'string' ? createPrivateKey(options.issuer.key) : options.issuer.key;
  const signature = sign('sha256', tbs, signer);
  const der = seq(tbs, ECDSA_SHA256, tlv(0x03, Buffer.from([0]), signature));
  const b64 = der.toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '');
  return {
    cert: `-----BEGIN CERTIFICATE-----\n${b64}\n-----END CERTIFICATE-----\n`,
    key: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    keyObject: privateKey,
  };
}

function createPublicKeyDer(privateKey: KeyObject): Buffer {
  // SubjectPublicKeyInfo DER of the key pair's public half.
  return createPublicKey(privateKey).export({ type: 'spki', format: 'der' });
}
