import { execFile } from 'node:child_process';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.js';
import { readTlsOptions, type TlsSettings } from '../../src/mqtt/tls-options.js';
import { createTestPki, type TestPki } from '../helpers/pki.js';
import { captureLogs } from '../helpers/logs.js';

const run = promisify(execFile);
const URL_TLS = 'mqtts://broker.example.org:8883';

let dir: string;
let pki: TestPki;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'ser-tls-'));
  pki = await createTestPki(dir);
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function settings(overrides: Partial<TlsSettings> = {}): TlsSettings {
  return { caFile: pki.ca.cert, certFile: pki.client.cert, keyFile: pki.client.key, rejectUnauthorized: true, servername: '', ...overrides };
}

function problemsOf(tls: TlsSettings, url = URL_TLS): string {
  try {
    readTlsOptions(tls, url, pino({ level: 'silent' }));
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error('expected a ConfigError');
}

async function file(name: string, content: string | Buffer): Promise<string> {
  const target = path.join(dir, name);
  await writeFile(target, content);
  return target;
}

describe('readTlsOptions', () => {
  it('reads the CA, the client certificate and its key, and passes the server name on', () => {
    const log = captureLogs();
    const options = readTlsOptions(settings({ servername: 'broker.internal' }), URL_TLS, log.logger);
    expect(options?.ca?.toString()).toContain('-----BEGIN CERTIFICATE-----');
    expect(options?.cert?.toString()).toContain('-----BEGIN CERTIFICATE-----');
    expect(options?.key?.toString()).toContain('PRIVATE KEY-----');
    expect(options).toMatchObject({ rejectUnauthorized: true, servername: 'broker.internal' });
    expect(log.lines).toEqual([]);
  });

  it('needs nothing for mqtts:// with the system CAs, and nothing at all without TLS', () => {
    const none = { caFile: '', certFile: '', keyFile: '', rejectUnauthorized: true, servername: '' };
    expect(readTlsOptions(none, URL_TLS, pino({ level: 'silent' }))).toEqual({ rejectUnauthorized: true });
    expect(readTlsOptions(none, 'mqtt://broker:1883', pino({ level: 'silent' }))).toBeUndefined();
    expect(readTlsOptions(none, '', pino({ level: 'silent' }))).toBeUndefined();
    expect(problemsOf(settings(), 'ws://broker/mqtt')).toContain(
      'mqtt.tls.caFile, mqtt.tls.certFile, mqtt.tls.keyFile are set but mqtt.url is "ws://broker/mqtt", without TLS',
    );
  });

  it('names the key, the path and the problem for missing files and directories', () => {
    const missing = path.join(dir, 'nope.pem');
    expect(problemsOf(settings({ caFile: missing }))).toContain(
      `mqtt.tls.caFile: ${missing} does not exist; set mqtt.tls.caFile to a PEM file the agent can read`,
    );
    expect(problemsOf(settings({ keyFile: dir }))).toContain(`mqtt.tls.keyFile: ${dir} is a directory, not a file`);
  });

  it.skipIf(process.getuid?.() === 0)('names a file the agent user may not read', async () => {
    const locked = await file('locked.key', 'x');
    await chmod(locked, 0o000);
    expect(problemsOf(settings({ keyFile: locked }))).toContain(`mqtt.tls.keyFile: ${locked} cannot be read by the agent user (EACCES)`);
  });

  it('recognises text that is not PEM, binary DER, and swapped certificate and key', async () => {
    const text = await file('notes.txt', 'this is not a certificate\n');
    expect(problemsOf(settings({ caFile: text }))).toContain(`mqtt.tls.caFile: ${text} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
    const der = path.join(dir, 'ca.der');
    await run('openssl', ['x509', '-in', pki.ca.cert, '-outform', 'der', '-out', der]);
    expect(problemsOf(settings({ caFile: der }))).toContain(`it looks like binary DER: convert it with openssl x509 -inform der -in ${der}`);
    const swapped = problemsOf(settings({ certFile: pki.client.key, keyFile: pki.client.cert }));
    expect(swapped).toContain(`mqtt.tls.certFile: ${pki.client.key} holds a private key, not a certificate; are certFile and keyFile swapped?`);
    expect(swapped).toContain(`mqtt.tls.keyFile: ${pki.client.cert} holds a certificate, not a private key`);
  });

  it('refuses a key that does not belong to the certificate, and an encrypted key', async () => {
    expect(problemsOf(settings({ keyFile: pki.rogueClient.key }))).toContain(
      `mqtt.tls.keyFile: ${pki.rogueClient.key} is not the private key of the certificate in mqtt.tls.certFile ${pki.client.cert}`,
    );
    const encrypted = path.join(dir, 'encrypted.key');
    await run('openssl', ['pkey', '-in', pki.client.key, '-aes256', '-passout', 'pass:secret', '-out', encrypted]);
    expect(problemsOf(settings({ keyFile: encrypted }))).toContain(
      `mqtt.tls.keyFile: ${encrypted} is encrypted and the agent cannot ask for a passphrase`,
    );
  });

  it('reports every problem in one error', () => {
    const message = problemsOf(settings({ caFile: path.join(dir, 'missing-ca.pem'), keyFile: pki.rogueClient.key }));
    expect(message.split('\n').filter((line) => line.startsWith('  mqtt.tls.'))).toHaveLength(2);
  });

  it('warns loudly when the broker certificate will not be checked', () => {
    const log = captureLogs();
    readTlsOptions(settings({ rejectUnauthorized: false }), 'mqtts://agent:pw@broker.example.org', log.logger);
    expect(log.lines).toEqual([
      expect.objectContaining({
        level: 40,
        module: 'mqtt',
        key: 'mqtt.tls.rejectUnauthorized',
        url: 'mqtts://agent:REDACTED@broker.example.org',
        msg: expect.stringMatching(/^TLS CERTIFICATE CHECK IS OFF: .*set mqtt\.tls\.caFile/) as unknown,
      }),
    ]);
  });

  it('warns, without refusing to start, about certificates outside their dates (the clock may be wrong)', () => {
    const later = captureLogs();
    expect(readTlsOptions(settings(), URL_TLS, later.logger, new Date('2099-01-01T00:00:00Z'))).toBeDefined();
    expect(later.lines.map((line) => [line['key'], line['msg']])).toEqual([
      ['mqtt.tls.caFile', expect.stringMatching(/^TLS certificate has expired/)],
      ['mqtt.tls.certFile', expect.stringMatching(/^TLS certificate has expired/)],
    ]);
    const earlier = captureLogs();
    readTlsOptions(settings({ caFile: '' }), URL_TLS, earlier.logger, new Date('2000-01-01T00:00:00Z'));
    expect(earlier.lines).toEqual([
      expect.objectContaining({ key: 'mqtt.tls.certFile', msg: expect.stringMatching(/not valid yet/) as unknown }),
    ]);
  });

  it('refuses a certificate without its key, an IP address as server name, and a server name with wss://', () => {
    expect(problemsOf(settings({ keyFile: '' }))).toContain('mqtt.tls.certFile is set but mqtt.tls.keyFile is empty');
    expect(problemsOf(settings({ certFile: '' }))).toContain('mqtt.tls.keyFile is set but mqtt.tls.certFile is empty');
    expect(problemsOf(settings({ servername: '10.0.0.5' }))).toContain('mqtt.tls.servername is "10.0.0.5", an IP address');
    expect(problemsOf(settings({ servername: 'broker' }), 'wss://broker/mqtt')).toContain(
      'mqtt.tls.servername works only with mqtts:// URLs',
    );
  });
});
