import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** PEM files of one certificate and its private key. */
export interface KeyPair {
  cert: string;
  key: string;
}

/** A certificate authority and the certificates it issued, all as files in one directory. */
export interface TestPki {
  /** The CA the broker and the agent trust. */
  ca: KeyPair;
  /** The broker's certificate, for localhost and 127.0.0.1 (subjectAltName), signed by `ca`. */
  server: KeyPair;
  /** A client certificate signed by `ca`. */
  client: KeyPair;
  /** A second CA nobody trusts, and a server and a client certificate it signed. */
  rogueCa: KeyPair;
  rogueServer: KeyPair;
  rogueClient: KeyPair;
}

/**
 * Makes real certificates with the openssl CLI (EC P-256 keys: fast to generate), valid for two
 * days, into `dir`.
 */
export async function createTestPki(dir: string): Promise<TestPki> {
  const ca = await createCa(dir, 'ca', 'ser-agent test CA');
  const rogueCa = await createCa(dir, 'rogue-ca', 'untrusted test CA');
  const serverExtensions = 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n';
  const clientExtensions = 'extendedKeyUsage=clientAuth\nbasicConstraints=CA:FALSE\n';
  return {
    ca,
    rogueCa,
    server: await issue(dir, 'server', 'localhost', ca, serverExtensions),
    client: await issue(dir, 'client', 'kiosk-01', ca, clientExtensions),
    rogueServer: await issue(dir, 'rogue-server', 'localhost', rogueCa, serverExtensions),
    rogueClient: await issue(dir, 'rogue-client', 'kiosk-01', rogueCa, clientExtensions),
  };
}

async function createCa(dir: string, name: string, commonName: string): Promise<KeyPair> {
  const pair = files(dir, name);
  await openssl([
    'req', '-x509', '-new', '-nodes', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1',
    '-keyout', pair.key, '-out', pair.cert, '-days', '2', '-subj', `/CN=${commonName}`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  return pair;
}

async function issue(dir: string, name: string, commonName: string, ca: KeyPair, extensions: string): Promise<KeyPair> {
  const pair = files(dir, name);
  const request = path.join(dir, `${name}.csr`);
  const extensionFile = path.join(dir, `${name}.ext`);
  await writeFile(extensionFile, extensions);
  await openssl([
    'req', '-new', '-nodes', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1',
    '-keyout', pair.key, '-out', request, '-subj', `/CN=${commonName}`,
  ]);
  await openssl([
    'x509', '-req', '-in', request, '-CA', ca.cert, '-CAkey', ca.key, '-set_serial', String(Date.now()),
    '-days', '2', '-extfile', extensionFile, '-out', pair.cert,
  ]);
  return pair;
}

function files(dir: string, name: string): KeyPair {
  return { cert: path.join(dir, `${name}.crt`), key: path.join(dir, `${name}.key`) };
}

async function openssl(args: string[]): Promise<void> {
  try {
    await run('openssl', args);
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? '';
    throw new Error(`openssl ${args.slice(0, 2).join(' ')} failed (is openssl installed?): ${stderr}`, { cause: error });
  }
}
