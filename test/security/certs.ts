/**
 * Test TLS material made with openssl: a CA, a server certificate for 127.0.0.1 / localhost
 * signed by it, a client certificate signed by it (mutual TLS), and a second CA nobody trusts.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';

export interface TestCerts {
  dir: string;
  caFile: string;
  certFile: string;
  keyFile: string;
  clientCertFile: string;
  clientKeyFile: string;
  /** PEM contents, for clients. */
  ca: string;
  clientCert: string;
  clientKey: string;
  /** A client certificate signed by a CA the server does not trust. */
  strangerCert: string;
  strangerKey: string;
}

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

function ca(dir: string, name: string): void {
  openssl(dir, ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', `/CN=${name}`, '-keyout', `${name}.key`, '-out', `${name}.pem`]);
}

function signed(dir: string, caName: string, name: string, ext: string): void {
  openssl(dir, ['req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${name}`, '-keyout', `${name}.key`, '-out', `${name}.csr`]);
  writeFileSync(join(dir, `${name}.ext`), ext);
  openssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', `${caName}.pem`, '-CAkey', `${caName}.key`, '-CAcreateserial', '-days', '2', '-extfile', `${name}.ext`, '-out', `${name}.pem`]);
}

export function makeCerts(dir: string): TestCerts {
  ca(dir, 'ca');
  signed(dir, 'ca', 'server', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  signed(dir, 'ca', 'client', 'extendedKeyUsage=clientAuth\n');
  ca(dir, 'stranger-ca');
  signed(dir, 'stranger-ca', 'stranger', 'extendedKeyUsage=clientAuth\n');
  const f = (n: string): string => join(dir, n);
  const r = (n: string): string => readFileSync(f(n), 'utf8');
  return {
    dir,
    caFile: f('ca.pem'),
    certFile: f('server.pem'),
    keyFile: f('server.key'),
    clientCertFile: f('client.pem'),
    clientKeyFile: f('client.key'),
    ca: r('ca.pem'),
    clientCert: r('client.pem'),
    clientKey: r('client.key'),
    strangerCert: r('stranger.pem'),
    strangerKey: r('stranger.key'),
  };
}

/**
 * makeCerts in a fresh temporary directory (`prefix` names it) before the file's tests, handed to
 * `set`; the directory (certs.dir) is removed after them.
 */
export function useTempCerts(prefix: string, set: (certs: TestCerts) => void): void {
  let dir: string | undefined;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), prefix));
    set(makeCerts(dir));
  });
  afterAll(() => {
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });
}
