// Test TLS material made with the JDK's keytool: a CA, a broker keystore signed by it (valid for
// 127.0.0.1 and localhost) and a truststore. Made once and cached: keytool is a JVM start per step.
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { withLock } from './lock.mjs';
import { kafkaCacheDir, run } from './resolve.mjs';

/** Password of every store; test material only, never a secret. */
export const TLS_PASSWORD = 'tidewatch-test';

/**
 * @typedef {object} TlsMaterial
 * @property {string} keystore     PKCS12 broker keystore (key + chain)
 * @property {string} truststore   PKCS12 truststore with the CA
 * @property {string} password
 * @property {string} caPem        the CA certificate, PEM, for clients (`ssl: { ca: [caPem] }`)
 * @property {string} caFile
 */

/**
 * @param {{ log?: (line: string) => void }} [options]
 * @returns {Promise<TlsMaterial>}
 */
export async function ensureTls(options = {}) {
  const dir = path.join(kafkaCacheDir(), 'tls');
  const material = async () => ({
    keystore: path.join(dir, 'broker.p12'),
    truststore: path.join(dir, 'truststore.p12'),
    password: TLS_PASSWORD,
    caFile: path.join(dir, 'ca.pem'),
    caPem: await readFile(path.join(dir, 'ca.pem'), 'utf8'),
  });
  if (existsSync(path.join(dir, '.complete'))) return material();
  await mkdir(kafkaCacheDir(), { recursive: true });
  return withLock(`${dir}.lock`, async () => {
    if (existsSync(path.join(dir, '.complete'))) return material();
    options.log?.('making test TLS material with keytool');
    const tmp = `${dir}.staging`;
    await rm(tmp, { recursive: true, force: true });
    await mkdir(tmp, { recursive: true });
    const p = (/** @type {string} */ f) => path.join(tmp, f);
    const pw = ['-storepass', TLS_PASSWORD, '-keypass', TLS_PASSWORD, '-storetype', 'PKCS12'];
    const kt = (/** @type {string[]} */ args) => run('keytool', [...args, '-noprompt']);
    await kt(['-genkeypair', '-alias', 'ca', '-dname', 'CN=tidewatch test CA', '-keyalg', 'RSA', '-keysize', '2048',
      '-validity', '3650', '-ext', 'bc:c', '-keystore', p('ca.p12'), ...pw]);
    await kt(['-exportcert', '-rfc', '-alias', 'ca', '-file', p('ca.pem'), '-keystore', p('ca.p12'), '-storepass', TLS_PASSWORD]);
    await kt(['-genkeypair', '-alias', 'broker', '-dname', 'CN=localhost', '-keyalg', 'RSA', '-keysize', '2048',
      '-validity', '3650', '-keystore', p('broker.p12'), ...pw]);
    await kt(['-certreq', '-alias', 'broker', '-file', p('broker.csr'), '-keystore', p('broker.p12'), '-storepass', TLS_PASSWORD]);
    await kt(['-gencert', '-alias', 'ca', '-infile', p('broker.csr'), '-outfile', p('broker.pem'), '-rfc', '-validity', '3650',
      '-ext', 'san=ip:127.0.0.1,dns:localhost', '-ext', 'eku=serverAuth', '-keystore', p('ca.p12'), '-storepass', TLS_PASSWORD]);
    await kt(['-importcert', '-alias', 'ca', '-file', p('ca.pem'), '-keystore', p('broker.p12'), ...pw]);
    await kt(['-importcert', '-alias', 'broker', '-file', p('broker.pem'), '-keystore', p('broker.p12'), ...pw]);
    await kt(['-importcert', '-alias', 'ca', '-file', p('ca.pem'), '-keystore', p('truststore.p12'), ...pw]);
    await writeFile(p('.complete'), 'ok\n');
    await rm(dir, { recursive: true, force: true });
    await rename(tmp, dir);
    return material();
  });
}
